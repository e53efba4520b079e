#!/usr/bin/env bash
# Runs every libFuzzer target built in build/fuzz (cmake --preset fuzz && cmake --build --preset fuzz),
# one after another, for SECONDS each. Builds nothing itself.
#
#   fuzz/run.sh [SECONDS] [TARGET...]      default 60 s; default every build/fuzz/bin/fuzz_* target
#   FUZZ_BUILD_DIR=...  FUZZ_ARGS="-only_ascii=1 ..."  (extra libFuzzer flags for every target)
#
# Per target: first every input kept in fuzz/regressions/<target>/ (past crashes) is replayed
# once (FUZZ_SKIP_REGRESSIONS=1 skips that); then seeds are copied from fuzz/corpus/<target>/ into
# build/fuzz/corpus-work/<target>/ (the working corpus grows there across runs; the repository is
# never written), crashes go to build/fuzz/artifacts/<target>/, the full log to
# build/fuzz/logs/<target>.log, and fuzz/dict/<target>.dict is used when present.
# Exit status: 0 when no target found anything and every regression input passes; 1 otherwise
# (the reproducer paths are printed).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

seconds=${1:-60}
[ $# -gt 0 ] && shift
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz/run.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2; }
build=${FUZZ_BUILD_DIR:-build/fuzz}

targets=()
if [ $# -gt 0 ]; then
  targets=("$@")
else
  for bin in "$build"/bin/fuzz_*; do
    [ -f "$bin" ] && [ -x "$bin" ] && targets+=("$(basename "$bin")")
  done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz/run.sh: no fuzz targets in $build/bin (build them: cmake --preset fuzz && cmake --build --preset fuzz)" >&2
  exit 2
fi

# Sanitizer reports must stop the run (libFuzzer then saves the input) and be readable.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

mkdir -p "$build/logs"
failed=()
summary=()
total_start=$(date +%s)
for t in "${targets[@]}"; do
  bin="$build/bin/$t"
  if [ ! -x "$bin" ]; then
    echo "fuzz/run.sh: $bin is not built" >&2
    failed+=("$t (not built)")
    continue
  fi
  work="$build/corpus-work/$t"
  artifacts="$build/artifacts/$t"
  log="$build/logs/$t.log"
  mkdir -p "$work" "$artifacts"
  [ -d "fuzz/corpus/$t" ] && cp -n fuzz/corpus/"$t"/* "$work"/ 2>/dev/null
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=("-dict=fuzz/dict/$t.dict")

  regressed=0
  if [ -d "fuzz/regressions/$t" ] && [ "${FUZZ_SKIP_REGRESSIONS:-0}" != 1 ]; then
    while IFS= read -r input; do
      if ! "$bin" "$input" >"$build/logs/$t.regression.log" 2>&1; then
        regressed=$((regressed + 1))
        echo "fuzz: $t: regression input still fails: $input"
        grep -E '==FUZZ==|ERROR: |SUMMARY: |runtime error' "$build/logs/$t.regression.log" | head -n 6 | sed 's/^/    /'
      fi
    done < <(find "fuzz/regressions/$t" -type f | sort)
  fi

  echo "fuzz: $t for ${seconds} s ..."
  start=$(date +%s)
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dict[@]}" ${FUZZ_ARGS:-} "$work" >"$log" 2>&1
  rc=$?
  elapsed=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  corpus=$(find "$work" -type f | wc -l)
  line=$(printf '%-24s %10s execs  %4d s  corpus %5d' "$t" "${execs:-?}" "$elapsed" "$corpus")
  if [ $regressed -gt 0 ]; then
    line="$line  $regressed regression input(s) FAIL"
    [ $rc -eq 0 ] && failed+=("$t (regressions)")
  fi
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    line="$line  FAILED (exit $rc)"
    echo "---- $t: from $log"
    grep -E '==FUZZ==|ERROR: |SUMMARY: |runtime error|deadly signal' "$log" | head -n 40
    grep -o 'Test unit written to .*' "$log" | sed "s|^Test unit written to |  reproducer: |"
    echo "  reproduce: $bin <reproducer>    (log: $log)"
  fi
  summary+=("$line")
done

echo
echo "fuzz: summary ($(( $(date +%s) - total_start )) s)"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FOUND PROBLEMS in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: no crashes"
