#!/usr/bin/env bash
# Prints a short digest of the tests that failed in the last ctest run of a
# build directory: each one's assertion lines, then the warnings and errors of
# the service and broker logs its output names. CI keeps only the end of the
# output, so tests/run.sh prints this last, after ctest's summary.
#   tests/ci/failure-digest.sh BUILD_DIR
set -uo pipefail
build=${1:?usage: tests/ci/failure-digest.sh BUILD_DIR}
failed="$build/Testing/Temporary/LastTestsFailed.log"
log="$build/Testing/Temporary/LastTest.log"
[[ -s $failed && -f $log ]] || exit 0

echo "=== failure digest (from $log) ==="
# LastTestsFailed.log lines are "<number>:<name>".
while IFS=: read -r _ name; do
  [[ -n $name ]] || continue
  echo "--- $name"
  # The test's output is between its "Testing: <name>" header and "<end of output>".
  output=$(awk -v t="Testing: $name" '
    index($0, t) && length($0) == index($0, t) + length(t) - 1 { inside = 1; next }
    inside && /^<end of output>/ { inside = 0 }
    inside { print }' "$log")
  grep -E -A4 'Failure|FAILED|error:|Error|never held|timed out|Timeout' <<<"$output" | grep -v '^\[  PASSED' | head -40
  # Logs the output names (service processes, redis, the broker): their
  # warnings and errors, last ones first in importance.
  grep -oE '/[^ "]*/(test-logs|test-kafka/logs)/[^ "]+\.log' <<<"$output" | sort -u | head -5 |
    while read -r f; do
      [[ -f $f ]] || continue
      echo "  [$f: last warnings and errors]"
      grep -E '"level":"(warn|error)"|ERROR|WARN' "$f" | tail -8 | cut -c1-400 | sed 's/^/    /'
    done
done <"$failed"
