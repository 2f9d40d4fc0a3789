#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/, one at a time, and prints executions per target.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; no TARGET means every target (`cargo fuzz list`).
# Installs cargo-fuzz if it is missing (needs the nightly toolchain, which it does not
# install), seeds fuzz/corpus/<target>/ from fuzz/seeds/<target>/ and from the test vectors
# in tests/data/, then runs each target with -max_total_time. Crash inputs are left in
# fuzz/artifacts/<target>/; libFuzzer's log of each run is in fuzz/target/fuzz-logs/.
# Exits non-zero if any target crashed (or failed to run).
#
# Environment: FUZZ_TIMEOUT (seconds one input may take before it counts as a crash,
# default 30), FUZZ_RSS_LIMIT_MB (default 2048), FUZZ_ARGS (more libFuzzer flags), FUZZ_LOGS
# (log and summary directory, default fuzz/target/fuzz-logs; give each parallel run its own).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

SECONDS_PER_TARGET=${1:-60}
if [[ $# -gt 0 ]]; then
    shift
fi
if ! [[ $SECONDS_PER_TARGET =~ ^[0-9]+$ ]] || [[ $SECONDS_PER_TARGET -eq 0 ]]; then
    echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz.sh: cargo-fuzz needs the nightly toolchain (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

F=fuzz # cargo fuzz runs from the repository root and finds fuzz/ itself
if [[ $# -gt 0 ]]; then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <(cargo +nightly fuzz list)
fi
for t in "${TARGETS[@]}"; do
    if [[ ! -f "$F/fuzz_targets/$t.rs" ]]; then
        echo "fuzz.sh: no fuzz target $t (see fuzz/fuzz_targets/)" >&2
        exit 2
    fi
done

# Seed the corpora: the committed seeds, then inputs taken from the test vectors.
for t in "${TARGETS[@]}"; do
    mkdir -p "$F/corpus/$t"
    if [[ -d "$F/seeds/$t" ]]; then
        cp -n "$F/seeds/$t"/* "$F/corpus/$t"/ 2>/dev/null || true
    fi
done
if command -v python3 >/dev/null 2>&1; then
    python3 - "$ROOT" "${TARGETS[@]}" <<'PY'
import base64, binascii, json, os, pathlib, struct, sys

root = pathlib.Path(sys.argv[1])
wanted = set(sys.argv[2:])
vec = root / "tests/data/vectors"
seeds = {}

def add(target, data):
    if isinstance(data, str):
        data = data.encode()
    seeds.setdefault(target, []).append(data)

def load(name):
    try:
        return json.loads((vec / name).read_text())
    except (OSError, ValueError):
        return {}

note = load("signed-note.json")
for n in note.get("valid_notes", []):
    add("note", n["note"])
    add("checkpoint", n["note"])
for n in note.get("malformed_notes", []):
    add("note", n["note"])
if "invalid_signature" in note:
    add("note", note["invalid_signature"]["note"])
for k in note.get("keys", {}).values():
    for field in ("signer", "verifier"):
        if field in k:
            add("keys", k[field])
for k in note.get("bad_verifier_keys", []):
    add("keys", k)
for s in note.get("sign", []):
    add("cosignature", s["signature_line"])
cos = note.get("cosignature_v1", {})
if cos:
    add("keys", cos["cosigner_verifier"])
    add("checkpoint", cos["checkpoint_text"])
    add("cosignature", cos["signature_line"])
    for line in cos.get("must_ignore_lines", []):
        add("cosignature", line)

tiles = load("tiles.json")
for p in tiles.get("full_level0_tile_path_by_N", {}).values():
    add("tile_path", p)
for v in tiles.get("hash_tiles_for_tree_size", {}).values():
    if isinstance(v, dict):
        v = [p for key in ("partial_tiles", "first_full", "last_full") for p in v.get(key, [])]
    for p in v:
        add("tile_path", p)
log8 = tiles.get("eight_leaf_log", {})
# tiles input: selector, level, index (u64), width (u16), size (u64), 6 bytes, then the body.
head = lambda selector: bytes([selector, 0]) + struct.pack("<QHQ", 0, 8, 8) + bytes(6)
for key, selector in (("entry_bundle_hex", 1), ("level0_tile_hex", 0)):
    if key in log8:
        add("tiles", head(selector) + binascii.unhexlify(log8[key]))
for key in ("entry_bundle_path", "level0_tile_path"):
    if key in log8:
        add("tile_path", log8[key])

for f in sorted((vec / "sev").glob("*.bin")):
    add("measure", f.read_bytes())
for f in sorted((root / "tests/data/entry").glob("*.json")):
    data = f.read_bytes()
    add("dsse_entry", data)
    try:
        add("statement", base64.b64decode(json.loads(data)["payload"]))
    except (ValueError, KeyError, TypeError):
        pass

for target, inputs in seeds.items():
    if target not in wanted:
        continue
    d = root / "fuzz/corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(inputs):
        (d / f"vector-{i:03}").write_bytes(data)
PY
else
    echo "fuzz.sh: python3 not found; seeding from fuzz/seeds only" >&2
fi

echo "fuzz.sh: building ${#TARGETS[@]} target(s)" >&2
if [[ $# -gt 0 ]]; then
    for t in "${TARGETS[@]}"; do
        cargo +nightly fuzz build "$t"
    done
else
    cargo +nightly fuzz build
fi

BIN=$F/target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release
LOGS=${FUZZ_LOGS:-$F/target/fuzz-logs}
mkdir -p "$LOGS"
SUMMARY=$LOGS/summary.tsv
printf 'target\tseconds\texecutions\texec_per_s\tcrashes\n' >"$SUMMARY"
failed=0
for t in "${TARGETS[@]}"; do
    mkdir -p "$F/artifacts/$t"
    before=$(find "$F/artifacts/$t" -type f | wc -l)
    log=$LOGS/$t.log
    echo "fuzz.sh: $t for ${SECONDS_PER_TARGET}s" >&2
    start=$(date +%s)
    status=0
    # The binary built above, run directly: `cargo fuzz run` would rebuild it whenever src/
    # changes, in the middle of a campaign.
    # shellcheck disable=SC2086
    "$BIN/$t" -artifact_prefix="$F/artifacts/$t/" \
        -max_total_time="$SECONDS_PER_TARGET" \
        -timeout="${FUZZ_TIMEOUT:-30}" \
        -rss_limit_mb="${FUZZ_RSS_LIMIT_MB:-2048}" \
        -print_final_stats=1 ${FUZZ_ARGS:-} "$F/corpus/$t" >"$log" 2>&1 || status=$?
    elapsed=$(($(date +%s) - start))
    after=$(find "$F/artifacts/$t" -type f | wc -l)
    crashes=$((after - before))
    if [[ $status -ne 0 && $crashes -eq 0 ]]; then
        crashes=1 # failed without an artifact (e.g. the binary did not start): count it
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    if [[ -z $execs ]]; then
        execs=$(sed -n 's/^#\([0-9]*\)[[:space:]]*\(DONE\|INITED\|NEW\|REDUCE\|pulse\).*/\1/p' "$log" | tail -n 1)
    fi
    execs=${execs:-0}
    rate=$(sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    if [[ -z $rate ]]; then
        rate=$((execs / (elapsed > 0 ? elapsed : 1)))
    fi
    seconds=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    printf '%s\t%s\t%s\t%s\t%s\n' "$t" "${seconds:-$elapsed}" "$execs" "$rate" "$crashes" >>"$SUMMARY"
    if [[ $crashes -gt 0 ]]; then
        failed=1
        echo "fuzz.sh: $t FAILED (exit $status); see $log and $F/artifacts/$t/" >&2
        grep -E '^(==[0-9]+==ERROR|SUMMARY|thread .* panicked)' "$log" | head -n 5 >&2 || true
    fi
done

echo
column -t -s $'\t' "$SUMMARY" 2>/dev/null || cat "$SUMMARY"
echo
echo "summary: $SUMMARY"
exit "$failed"
