#!/usr/bin/env bash
# Runs fwlog's ignored stress tests, release mode, and prints a count summary per command.
#
#   scripts/stress.sh [ITERATIONS]        (default 200)
#
# 1. tests/cli_concurrency.rs (--ignored): concurrent appenders
#    (FWLOG_STRESS_WRITERS x FWLOG_STRESS_APPENDS), SIGKILLed appends
#    (FWLOG_CRASH_ITERATIONS = ITERATIONS unless already set) and appends SIGKILLed while they
#    merge packs (FWLOG_MERGE_KILL_ITERATIONS, default 40).
# 2. tests/hostile.rs stress_kill_* (--ignored), FWLOG_STRESS_ITERATIONS = ITERATIONS each:
#    - stress_kill_integrate: `fwlog log integrate` SIGKILLed after a random delay; the log
#      must verify, the batch be all-or-nothing, the next integrate finish the job;
#    - stress_kill_witness_cosign: `fwlog witness cosign` killed; the witness state must parse
#      and be the state before or the checkpoint being cosigned, the next cosign succeed;
#    - stress_kill_monitor: `fwlog monitor` killed (its git child lives on); monitor.json must
#      be the old file or a complete new one, the next run succeed.
#
# Other environment passed through: FWLOG_STRESS_SEED (reproduce a hostile.rs run: each test
# prints its seed), FWLOG_STRESS_WRITERS, FWLOG_STRESS_APPENDS.
set -euo pipefail
cd "$(dirname "$0")/.."

iterations=${1:-200}
case "$iterations" in
'' | *[!0-9]*)
    echo "usage: $0 [ITERATIONS]" >&2
    exit 2
    ;;
esac

log=$(mktemp "${TMPDIR:-/tmp}/fwlog-stress.XXXXXX")
trap 'rm -f "$log"' EXIT

status=0
echo "== cli_concurrency (ignored): FWLOG_CRASH_ITERATIONS=${FWLOG_CRASH_ITERATIONS:-$iterations}"
FWLOG_CRASH_ITERATIONS=${FWLOG_CRASH_ITERATIONS:-$iterations} \
    cargo test --release --test cli_concurrency -- --ignored --nocapture --test-threads 1 \
    2>&1 | tee -a "$log" || status=1

echo "== hostile.rs stress_kill_*: FWLOG_STRESS_ITERATIONS=$iterations"
FWLOG_STRESS_ITERATIONS=$iterations \
    cargo test --release --test hostile -- --ignored --nocapture --test-threads 1 stress_kill_ \
    2>&1 | tee -a "$log" || status=1

echo
echo "== summary (ITERATIONS=$iterations)"
grep -E '^(concurrency:|crash safety:)|STRESS ' "$log" | sed -e 's/^.*STRESS /STRESS /' || true
grep -E '^test result:|^test .* FAILED' "$log" || true
if [ "$status" -ne 0 ]; then
    echo "stress: FAILED" >&2
fi
exit "$status"
