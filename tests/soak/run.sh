#!/bin/sh
# run.sh: the soak form of the reliability gates (make soak): every tests/integration/
# test_hostile_*.py with M2M_SOAK=1 (larger counts and longer attacks), then tests/soak/kill9.py
# with 50+ SIGKILLs. Prints each file's results table; exits 1 if anything failed.
#
#   tests/soak/run.sh [BUILD_DIR]          (default build/asan; env KILLS=50)
set -u
BUILD=${1:-build/asan}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(cd "$BUILD" && pwd)/m2msec
[ -x "$BIN" ] || { echo "run.sh: no binary at $BIN" >&2; exit 2; }
LOGS=$(cd "$BUILD" && pwd)/soak-logs
mkdir -p "$LOGS"
export M2M_SOAK=1 PYTHONDONTWRITEBYTECODE=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
failed=""
t_all=$(date +%s)
for f in "$ROOT"/tests/integration/test_hostile_*.py; do
    name=$(basename "$f" .py)
    t0=$(date +%s)
    # test_hostile_kill9 is the short form of kill9.py below: skip it here
    [ "$name" = test_hostile_kill9 ] && continue
    python3 "$f" --bin "$BIN" >"$LOGS/$name.log" 2>&1
    rc=$?
    grep -E '^(\||test_hostile|hostile)' "$LOGS/$name.log"
    printf '%s: rc=%d in %ds (log %s)\n\n' "$name" "$rc" "$(($(date +%s) - t0))" \
        "$LOGS/$name.log"
    [ $rc -eq 0 ] || failed="$failed $name"
done
t0=$(date +%s)
python3 "$ROOT/tests/soak/kill9.py" --bin "$BIN" --kills "${KILLS:-50}" >"$LOGS/kill9.log" 2>&1
rc=$?
grep -E '^(kill|FAIL)' "$LOGS/kill9.log" | tail -3
printf 'kill9: rc=%d in %ds (log %s)\n' "$rc" "$(($(date +%s) - t0))" "$LOGS/kill9.log"
[ $rc -eq 0 ] || failed="$failed kill9"
echo "soak: $(($(date +%s) - t_all)) s in all"
[ -z "$failed" ] || { echo "soak: FAILED:$failed"; exit 1; }
echo "soak: all passed"
