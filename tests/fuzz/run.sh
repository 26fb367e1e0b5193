#!/usr/bin/env bash
# Runs every libFuzzer target of a FERRY_FUZZ build for SECONDS each, two at a
# time (JOBS), from its seed corpus (tests/fuzz/corpus/<target>/) plus the
# corpus earlier runs grew (BUILD/fuzz-corpus/<target>/, never committed).
# A crash, leak, sanitizer report or failed invariant fails the run and
# leaves the input in BUILD/fuzz-artifacts/<target>/ with the log next to it.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
set -euo pipefail

build_dir=${1:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}
seconds=${2:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
jobs=${JOBS:-2}
src_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir=$(cd "$build_dir" && pwd)

targets=("$@")
if (( ${#targets[@]} == 0 )); then
  for f in "$src_dir"/*_fuzz.cc; do targets+=("$(basename "$f" .cc)"); done
fi

run_one() {
  local name=$1 seconds=$2 build_dir=$3 src_dir=$4
  local bin="$build_dir/tests/fuzz/$name"
  local corpus="$build_dir/fuzz-corpus/$name" artifacts="$build_dir/fuzz-artifacts/$name"
  local log="$artifacts/last.log"
  mkdir -p "$corpus" "$artifacts"
  local seeds=()
  [[ -d "$src_dir/corpus/$name" ]] && seeds=("$src_dir/corpus/$name")
  # halt_on_error / abort_on_error: the first report is the finding.
  if ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1 \
     UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 \
     "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "${seeds[@]}" >"$log" 2>&1; then
    local execs rate
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    printf 'fuzz: %-20s ok    %10s execs %8s exec/s %6s corpus files\n' "$name" "${execs:-?}" "${rate:-?}" \
      "$(find "$corpus" -type f | wc -l)"
  else
    printf 'fuzz: %-20s FAILED (log and input in %s)\n' "$name" "$artifacts"
    grep -m 20 -E 'ERROR|runtime error|invariant failed|Test unit written|SUMMARY' "$log" | sed 's/^/  /' || true
    return 1
  fi
}
export -f run_one

printf '%s\n' "${targets[@]}" |
  xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} "$seconds" "$build_dir" "$src_dir"
