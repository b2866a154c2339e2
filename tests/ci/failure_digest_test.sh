#!/usr/bin/env bash
# Proves tests/ci/failure-digest.sh names each failed test with its assertion
# lines and the warnings of the service log its output points at, and says
# nothing of a passing test or of a run without failures.
set -euo pipefail
digest="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/failure-digest.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/Testing/Temporary" "$dir/test-logs"
svc_log="$dir/test-logs/Suite.Fails.compliance.1.2.log"
cat >"$svc_log" <<'LOG'
{"ts":"t1","level":"info","logger":"runtime","msg":"serving"}
{"ts":"t2","level":"warn","logger":"compliance","msg":"publishing the audit record failed; retried"}
LOG
cat >"$dir/Testing/Temporary/LastTest.log" <<LOG
----------------------------------------------------------
7/9 Testing: Suite.Fails
7/9 Test: Suite.Fails
Output:
----------------------------------------------------------
[ RUN      ] Suite.Fails
/src/x_itest.cc:101: Failure
Value of: there
  Actual: false
Expected: true
docket.audit.v1 never held 2 records; log: $svc_log
[  FAILED  ] Suite.Fails (30012 ms)
<end of output>
----------------------------------------------------------
8/9 Testing: Suite.FailsToo
8/9 Test: Suite.FailsToo
Output:
----------------------------------------------------------
[ RUN      ] Suite.FailsToo
<end of output>
----------------------------------------------------------
8/9 Testing: Suite.Passes
Output:
----------------------------------------------------------
/src/y.cc:5: Failure that must not be shown
<end of output>
LOG
printf '7:Suite.Fails\n' >"$dir/Testing/Temporary/LastTestsFailed.log"

out=$("$digest" "$dir")
fail() { echo "FAIL: $1"; echo "--- digest was:"; echo "$out"; exit 1; }
grep -q -- '--- Suite.Fails$' <<<"$out" || fail "the failed test is not named"
grep -q 'x_itest.cc:101: Failure' <<<"$out" || fail "the assertion line is missing"
grep -q 'never held 2 records' <<<"$out" || fail "the assertion message is missing"
grep -q 'publishing the audit record failed' <<<"$out" || fail "the service log's warning is missing"
grep -q '"msg":"serving"' <<<"$out" && fail "an info line of the service log was printed"
grep -q 'must not be shown' <<<"$out" && fail "a passing test's output was printed"

: >"$dir/Testing/Temporary/LastTestsFailed.log"
[[ -z $("$digest" "$dir") ]] || fail "a run without failures printed a digest"
echo "PASS"
