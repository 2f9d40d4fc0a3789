#!/usr/bin/env bash
# Runs fwlog's benchmarks and robustness stress tests, release mode.
#
#   scripts/bench-log.sh core            criterion: hashing, tile proofs, verification, roots
#   scripts/bench-log.sh growth [N]      grow a real Git-backed log to N entries (default 100000)
#   scripts/bench-log.sh growth-bare [N] the same in a bare repository (no checkout to sync)
#   scripts/bench-log.sh stress          concurrency and SIGKILL stress tests (#[ignore]d ones)
#   scripts/bench-log.sh all             core, then growth
#
# Environment passed through: FWLOG_BENCH_BATCH, FWLOG_BENCH_ENTRY_BYTES, FWLOG_BENCH_KEEP,
# FWLOG_STRESS_WRITERS, FWLOG_STRESS_APPENDS, FWLOG_CRASH_ITERATIONS.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-all}
case "$what" in
core)
    cargo bench --bench core
    ;;
growth)
    FWLOG_BENCH_ENTRIES=${2:-${FWLOG_BENCH_ENTRIES:-100000}} cargo bench --bench log_growth
    ;;
growth-bare)
    FWLOG_BENCH_BARE=1 FWLOG_BENCH_ENTRIES=${2:-${FWLOG_BENCH_ENTRIES:-100000}} \
        cargo bench --bench log_growth
    ;;
stress)
    cargo test --release --test cli_concurrency -- --ignored --nocapture \
        concurrent_appends_stress sigkilled_appends_stress
    ;;
all)
    "$0" core
    "$0" growth "${2:-}"
    ;;
*)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac
