#!/usr/bin/env bash
# Docket's main job on the embedded local stack: installs and builds what is
# needed, starts redis-server + docket-devkafka + the four services with
# business time running 600x (a 10-hour day in a minute), checks that every
# service is healthy and publishes valid Prometheus metrics, starts a local
# Prometheus with Docket's rules when one is installed, runs a simulated
# back-office day through the real stack (docket-simulate) and prints the
# day's report checked against the simulator's ground truth. Then it stops
# everything. Exits non-zero if any step or check failed.
#   deploy/local/demo.sh [--kafka=dev|apache] [--no-build] [--keep-running]
#                        [--items=N] [--duration=SECONDS] [--redis-tls]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

keep=0
items=400
duration=60
up_args=()
for arg in "$@"; do
  case $arg in
    --keep-running) keep=1 ;;
    --items=*) items=${arg#--items=} ;;
    --duration=*) duration=${arg#--duration=} ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) up_args+=("$arg") ;;
  esac
done
[[ $items =~ ^[0-9]+$ && $duration =~ ^[0-9]+$ && $duration -gt 0 ]] ||
  die "--items and --duration take whole numbers"
# A 10-hour business day in `duration` seconds.
scale=$(( 36000 / duration ))

# The simulator is part of the main job: build it with the stack.
if [[ ! " ${up_args[*]} " =~ " --no-build " ]]; then
  build_stack
  cmake --build "$build" -j"$(nproc)" --target docket-simulate
  up_args+=(--no-build)
fi
[[ -x $build/tools/simulator/docket-simulate ]] || die "$build/tools/simulator/docket-simulate is missing"

"$root/deploy/local/up.sh" "${up_args[@]}" --sim-clock="$scale"
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

# A local Prometheus with Docket's rules, scraping this stack's ports.
prom_url=""
if command -v prometheus >/dev/null; then
  mkdir -p "$state/prometheus"
  prom_port=$(free_port)
  {
    echo "global: {scrape_interval: 5s, evaluation_interval: 5s}"
    echo "rule_files:"
    echo "  - $root/deploy/prometheus/rules/*.yaml"
    echo "  - $root/deploy/prometheus/docket-service-rules*.yaml"
    echo "scrape_configs:"
    for s in "${services[@]}"; do
      var="DOCKET_${s^^}_METRICS_URL"
      target=$(sed -E 's#^http://([^/]+)/.*#\1#' <<<"${!var}")
      echo "  - {job_name: docket-$s, static_configs: [{targets: [\"$target\"]}]}"
    done
  } > "$state/prometheus/prometheus.yml"
  start_bg prometheus prometheus --config.file="$state/prometheus/prometheus.yml" \
    --storage.tsdb.path="$state/prometheus/data" --web.listen-address="127.0.0.1:$prom_port"
  prom_url="http://127.0.0.1:$prom_port"
  say ""
  say "== Prometheus: $prom_url (Docket's rules loaded) =="
fi

if (( failed )); then
  say "demo: FAILED (logs in $state/logs/)"
  exit 1
fi

say ""
say "== A simulated back-office day: $items items, ${duration}s =="
report_status=0
"$build/tools/simulator/docket-simulate" --env-file="$state/local.env" \
  --config-dir="$root/deploy/config" --items="$items" --duration="$duration" \
  --json-report="$state/report.json" || report_status=$?

# The Grafana boards are alive: every metric a panel queries is on a live
# scrape of this stack after the day.
say ""
say "== Grafana boards against the live stack =="
scraped=$(for s in "${services[@]}"; do var="DOCKET_${s^^}_METRICS_URL"; curl -fsS --max-time 5 "${!var}"; done |
  sed -n 's/^# TYPE \([a-zA-Z_:][a-zA-Z0-9_:]*\) .*/\1/p' | sort -u)
missing=()
used=0
for board in "$root"/deploy/grafana/dashboards/*.json; do
  for m in $(grep -o 'docket_[a-z0-9_]*' "$board" | sed -E 's/_(bucket|sum|count)$//' | sort -u); do
    used=$((used + 1))
    grep -qx "$m" <<<"$scraped" || missing+=("$(basename "$board"): $m")
  done
done
if (( ${#missing[@]} )); then
  say "  panels query metrics that no service exports:"; printf '    %s\n' "${missing[@]}" >&2
  report_status=1
else
  say "  all $used metric references of $(ls "$root"/deploy/grafana/dashboards/*.json | wc -l) boards are on the live scrape"
fi

if (( report_status != 0 )); then
  say "demo: FAILED: the day's report did not check out (logs in $state/logs/, report in $state/report.json)"
  exit 1
fi
if (( keep )); then
  say "demo: done. The stack keeps running; endpoints in $state/local.env${prom_url:+, Prometheus at $prom_url}."
  say "      Try: $build/tools/docketctl/docketctl kpis --tenant=acme. Stop with deploy/local/down.sh."
else
  say "demo: done; every check held. Stopping the stack."
fi
