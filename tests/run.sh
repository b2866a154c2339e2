#!/usr/bin/env bash
# The whole test suite: installs what it needs, configures, builds, and runs
# every test (ctest labels unit, integration, e2e). Exits non-zero on any failure.
#   tests/run.sh                 everything
#   tests/run.sh -L unit         extra arguments go to ctest
# DOCKET_BUILD_DIR overrides the build directory (default: build/).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${DOCKET_BUILD_DIR:-$root/build}
jobs=$(nproc)

start=$(date +%s)
"$root/tools/install-deps.sh" --test
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDOCKET_WERROR=ON >/dev/null
cmake --build "$build" -j"$jobs"
echo "tests/run.sh: built in $(( $(date +%s) - start ))s" >&2
# Resolve the Apache Kafka broker's jars once per machine, before the clock of
# any test fixture starts.
"$root/tools/kafka/apache-kafka.sh" fetch

cd "$build"
status=0
ctest --output-on-failure --no-tests=error -j"$((jobs + 1))" "$@" || status=$?
if [[ $status -ne 0 ]]; then "$root/tests/ci/failure-digest.sh" "$build" >&2; fi
echo "tests/run.sh: finished in $(( $(date +%s) - start ))s with status $status" >&2
exit $status
