#!/usr/bin/env bash
# Runs the libFuzzer targets of a fuzz build (-DSHOAL_FUZZ=ON) over their
# committed seed corpus.
#
#   tests/fuzz/run.sh [--smoke] <fuzz build dir> <seconds> [target...]
#
# Each target (default: every fuzz_* binary of the build) runs for <seconds>,
# starting from tests/fuzz/corpus/<target>/ (read only) and a scratch corpus
# in <build dir>/fuzz-corpus/<target>/ that keeps what it finds between runs.
# A crash, leak, sanitizer report or violated invariant stops that target and
# makes the script fail; the input that did it is written to
# <build dir>/fuzz-artifacts/<target>/ and its path printed. Replay one with
#   <build dir>/tests/fuzz/<target> <that file>
# With --smoke (the fuzz-* tests of `make test`) the scratch corpus is a
# fresh temporary directory, so the run reads only the seeds and its length
# does not grow with what earlier runs found.
# Exit codes: 0 all passed, 1 a target failed, 77 a target is not built
# (ctest reports the smoke test as skipped: run `make fuzz-build`).
# SHOAL_FUZZ_DIR, when set, replaces <fuzz build dir> (`make test` sets it).
set -uo pipefail

smoke=0
if [ "${1:-}" = "--smoke" ]; then
  smoke=1
  shift
fi
if [ $# -lt 2 ]; then
  echo "usage: $0 [--smoke] <fuzz build dir> <seconds> [target...]" >&2
  exit 2
fi
build=$(cd "${SHOAL_FUZZ_DIR:-$1}" 2>/dev/null && pwd) || { echo "fuzz: no build dir ${SHOAL_FUZZ_DIR:-$1} (make fuzz-build)"; exit 77; }
seconds=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for b in "$build"/tests/fuzz/fuzz_*; do
    [ -x "$b" ] && targets+=("$(basename "$b")")
  done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no fuzz targets in $build/tests/fuzz (make fuzz-build)"
  exit 77
fi

failed=()
summary=()
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/$t"
  if [ ! -x "$bin" ]; then
    echo "fuzz: $bin is not built (make fuzz-build)"
    exit 77
  fi
  scratch="$build/fuzz-corpus/$t"
  log="$build/fuzz-artifacts/$t.log"
  if [ $smoke -eq 1 ]; then
    # Its own corpus and log, so a smoke test beside a long run clobbers neither.
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/shoal-fuzz-$t.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    scratch="$tmp/corpus"
    log="$tmp/$t.log"
  fi
  artifacts="$build/fuzz-artifacts/$t/"
  mkdir -p "$scratch" "$artifacts"
  args=(-max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts"
        -timeout=25 -rss_limit_mb=2048)
  [ -f "$src/corpus/$t.dict" ] && args+=(-dict="$src/corpus/$t.dict")
  echo "fuzz: $t for ${seconds}s"
  # New inputs go to the scratch corpus (the first directory), never to the
  # committed one.
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$bin" "${args[@]}" "$scratch" "$src/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  line="$t: ${seconds}s, ${execs:-?} execs, ${cov:-no coverage line}"
  if [ $rc -ne 0 ]; then
    tail -n 60 "$log"
    if [ $smoke -eq 1 ]; then
      cp "$log" "$build/fuzz-artifacts/$t.smoke.log"
      log="$build/fuzz-artifacts/$t.smoke.log"
    fi
    reproducer=$(grep -Eo 'Test unit written to [^ ]+' "$log" | tail -1 | sed 's/Test unit written to //')
    line="$line: FAILED (exit $rc), reproducer ${reproducer:-none written}, log $log"
    failed+=("$t")
  fi
  echo "fuzz: $line"
  summary+=("$line")
  if [ $smoke -eq 1 ]; then
    rm -rf "$tmp"
  fi
done

echo "fuzz: summary"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
exit 0
