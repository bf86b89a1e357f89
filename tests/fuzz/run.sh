#!/usr/bin/env bash
# run.sh: the `make fuzz` driver. Runs every libFuzzer target built in BUILD_DIR/tests/ for SECONDS
# each, one after the other, on a copy of its seed corpus, and prints a summary table.
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS [TARGETS]
# TARGETS (optional) is a space-separated list of target names ("x509_ident keyfile"; the fuzz_
# prefix may be given) to run instead of all of them, e.g. a new target alone; a name that is not
# built is a usage error.
# Each target fuzz_<name> starts from a fresh copy of tests/fuzz/corpus/<name>/ in
# BUILD_DIR/fuzz-work/<name>/ (the tree's corpus grows only by deliberate commits), uses
# tests/fuzz/<name>.dict when it exists, and writes crash inputs to BUILD_DIR/fuzz-artifacts/ and
# its output to BUILD_DIR/fuzz-logs/<name>.log. One input running over 10 s counts as a crash
# (-timeout=10). Exits 1 when any target crashed, 2 on bad usage.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ] || ! [[ "$2" =~ ^[0-9]+$ ]] || [ "$2" -eq 0 ]; then
  echo "usage: $0 BUILD_DIR SECONDS [TARGETS]" >&2
  exit 2
fi
if [ ! -d "$1/tests" ]; then
  echo "run.sh: $1/tests does not exist; build with -DM2M_FUZZ=ON first" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
seconds=$2
work="$build/fuzz-work"
artifacts="$build/fuzz-artifacts"
logs="$build/fuzz-logs"
mkdir -p "$work" "$artifacts" "$logs"

targets=()
if [ $# -eq 3 ] && [ -n "${3// /}" ]; then
  for name in $3; do
    exe="$build/tests/fuzz_${name#fuzz_}"
    if [ ! -f "$exe" ] || [ ! -x "$exe" ]; then
      echo "run.sh: no fuzz target $exe (configure with -DM2M_FUZZ=ON and build it)" >&2
      exit 2
    fi
    targets+=("$exe")
  done
else
  for exe in "$build"/tests/fuzz_*; do
    [ -f "$exe" ] && [ -x "$exe" ] || continue
    case "$exe" in *_replay) continue ;; esac
    targets+=("$exe")
  done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "run.sh: no fuzz_* executables in $build/tests (configure with -DM2M_FUZZ=ON)" >&2
  exit 2
fi

count_files() { find "$1" -maxdepth 1 -type f | wc -l; }

rows=()
failed=0
for exe in "${targets[@]}"; do
  fname=$(basename "$exe")
  name=${fname#fuzz_}
  corpus="$work/$name"
  rm -rf "$corpus"
  mkdir -p "$corpus"
  if [ -d "$root/tests/fuzz/corpus/$name" ]; then
    cp -R "$root/tests/fuzz/corpus/$name/." "$corpus/"
  fi
  args=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1
        -artifact_prefix="$artifacts/$name-")
  [ -f "$root/tests/fuzz/$name.dict" ] && args+=(-dict="$root/tests/fuzz/$name.dict")

  before_files=$(count_files "$corpus")
  stamp="$logs/$name.stamp"
  touch "$stamp"
  sleep 1 # artifacts of this run are those newer than the stamp, rewritten ones included
  echo "== $fname: ${seconds}s on $before_files seed files" >&2
  status=0
  (cd "$build" && "$exe" "${args[@]}" "$corpus") >"$logs/$name.log" 2>&1 || status=$?
  crashes=$(find "$artifacts" -maxdepth 1 -type f -name "$name-*" -newer "$stamp" | wc -l)
  if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    crashes=1 # died without writing an artifact (e.g. out of memory in the runner)
  fi
  [ "$crashes" -gt 0 ] && failed=1

  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$name.log" | tail -n 1)
  cov=$(sed -n 's/.*[ ]cov: \([0-9]*\).*/\1/p' "$logs/$name.log" | tail -n 1)
  new=$(( $(count_files "$corpus") - before_files ))
  rows+=("$(printf '%-20s %12s %8s %8s %8s' "$fname" "${execs:--}" "${cov:--}" "$new" "$crashes")")
  if [ "$crashes" -gt 0 ]; then
    echo "!! $fname: exit $status; see $logs/$name.log" >&2
    grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' "$logs/$name.log" >&2 || true
  fi
done

echo
printf '%-20s %12s %8s %8s %8s\n' target executions cov new crashes
printf '%s\n' "${rows[@]}"
echo
echo "logs: $logs   artifacts: $artifacts   working corpora: $work"
if [ "$failed" -ne 0 ]; then
  echo "FUZZ: crashes found; reproduce with BUILD_DIR/tests/fuzz_<name> <artifact>" >&2
  exit 1
fi
echo "FUZZ: no crashes"
