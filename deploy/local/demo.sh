#!/usr/bin/env bash
# Docket's main job on the embedded local stack: installs and builds what is
# needed, starts redis-server + docket-devkafka + the four services, shows that
# every service is healthy and publishes valid Prometheus metrics, then stops
# everything. Exits non-zero if any step failed.
# (The simulated back-office day and its KPI report come with issue #7.)
#   deploy/local/demo.sh [--kafka=dev|apache] [--no-build] [--keep-running]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

keep=0
up_args=()
for arg in "$@"; do
  case $arg in
    --keep-running) keep=1 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) up_args+=("$arg") ;;
  esac
done

"$root/deploy/local/up.sh" "${up_args[@]}"
if (( ! keep )); then
  trap '"$root/deploy/local/down.sh"' EXIT
fi
set -a; source "$state/local.env"; set +a

failed=0
say ""
say "== gRPC health (grpc.health.v1) =="
"$build/tools/docketctl/docketctl" health --env-file="$state/local.env" >&2 || failed=1

say ""
say "== Prometheus /metrics =="
for s in "${services[@]}"; do
  var="DOCKET_${s^^}_METRICS_URL"
  url=${!var}
  if ! body=$(curl -fsS --max-time 5 "$url"); then
    say "  $s: cannot scrape $url"; failed=1; continue
  fi
  if ! grep -q '^docket_build_info{' <<<"$body"; then
    say "  $s: $url has no docket_build_info"; failed=1; continue
  fi
  lint="promtool not installed: not linted"
  if command -v promtool >/dev/null; then
    if problems=$(promtool check metrics <<<"$body" 2>&1); then
      lint="promtool check metrics: clean"
    else
      lint="promtool check metrics: $problems"; failed=1
    fi
  fi
  say "  $s: $(grep -c '^[a-z]' <<<"$body") samples at $url ($lint)"
done

say ""
if (( failed )); then
  say "demo: FAILED (logs in $state/logs/)"
  exit 1
fi
if (( keep )); then
  say "demo: every service is healthy. The stack keeps running; endpoints in $state/local.env,"
  say "      stop it with deploy/local/down.sh."
else
  say "demo: every service is healthy; stopping the stack."
fi
