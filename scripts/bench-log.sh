#!/usr/bin/env bash
# Runs fwlog's benchmarks and robustness stress tests, release mode.
#
#   scripts/bench-log.sh [N]                 the log-growth benchmark (benches/log_growth.rs):
#                                            grow a fwlog/v1 log of signed DSSE release and
#                                            reproduction entries in a bare Git repository to N
#                                            entries (default 1000000) and measure appends,
#                                            proofs, bundles, audits, RSS and disk; writes
#                                            results.json and bench.svg to $FWLOG_BENCH_OUT
#   scripts/bench-log.sh growth [N]          the same
#   scripts/bench-log.sh growth-checkout [N] the same in a repository with a checkout of the log
#                                            branch (what `fwlog log init` creates)
#   scripts/bench-log.sh core                criterion: hashing, tile proofs, verification, roots
#   scripts/bench-log.sh stress              concurrency and SIGKILL stress tests (#[ignore]d ones)
#   scripts/bench-log.sh all [N]             core, then growth
#
# Environment passed through to the growth benchmark:
#   FWLOG_BENCH_BATCH       entries per batch append (default 1000)
#   FWLOG_BENCH_AUDIT_UPTO  audit at every measuring point up to this size, and at the final
#                           size (default 100000; 0: only at the final size)
#   FWLOG_BENCH_SIG_SAMPLE  signatures in the Ed25519 verification loop (default 20000)
#   FWLOG_BENCH_OUT         output directory (default target/bench-log/)
#   FWLOG_BENCH_KEEP        keep the grown repository and print its path
# and to the stress tests: FWLOG_STRESS_WRITERS, FWLOG_STRESS_APPENDS, FWLOG_CRASH_ITERATIONS.
#
# The 1,000,000-entry run takes an hour or more on a 2-core machine and about 1 GiB of disk in $TMPDIR;
# its stdout is also saved as $FWLOG_BENCH_OUT/report.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    sed -n '2,27p' "$0" >&2
    exit 2
}

growth() {
    local n=${1:-${FWLOG_BENCH_ENTRIES:-1000000}}
    [[ $n =~ ^[0-9]+$ ]] || usage
    local out=${FWLOG_BENCH_OUT:-target/bench-log}
    mkdir -p "$out"
    FWLOG_BENCH_ENTRIES=$n FWLOG_BENCH_OUT=$out cargo bench --bench log_growth |
        tee "$out/report.txt"
}

what=${1:-growth}
case "$what" in
[0-9]*)
    growth "$what"
    ;;
growth)
    growth "${2:-}"
    ;;
growth-checkout)
    FWLOG_BENCH_BARE=0 growth "${2:-}"
    ;;
growth-bare)
    # The default now; kept for old command lines.
    growth "${2:-}"
    ;;
core)
    cargo bench --bench core
    ;;
stress)
    cargo test --release --test cli_concurrency -- --ignored --nocapture \
        concurrent_appends_stress sigkilled_appends_stress
    ;;
all)
    "$0" core
    growth "${2:-}"
    ;;
-h | --help | *)
    usage
    ;;
esac
