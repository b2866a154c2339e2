#!/usr/bin/env bash
# Intake's benchmark: echo baseline, unary, batch and stream at their maximum,
# then unary at half its maximum (the latency target), with docket-loadgen; then
# the same unary load (and echo) with ghz as a cross-check. Prints the figures
# and keeps them (JSON + text) in $DOCKET_BUILD_DIR/bench/.
#
#   tools/loadgen/run-bench.sh [--stack=intake|local|running] [--duration=10s]
#                              [--concurrency=64] [--no-ghz] [--no-build]
#                              [--intake-bin=PATH] [--kafka-events=20000]
#                              [-- extra docket-loadgen flags]
#
# Echo and unary run with --concurrency calls in flight; batch with 8 calls of
# 500 items; stream with 4 streams of a 1024-item window (enough to keep
# intake busy on 2 cores without drowning it in threads). Then kafka:
# --kafka-events structured CloudEvents produced straight onto
# docket.intake.v1 with kcat, timed from the first produce until intake's
# metrics count them all admitted (the Kafka-native channel).
#
# --stack=intake (default) starts redis-server, docket-devkafka and
#   docket-intake alone, with deploy/config and an intake.yaml whose rate limit
#   for acme is far above what 2 cores can admit (the shipped one caps acme at
#   20,000/s, which would measure the limiter, not intake).
# --stack=local starts the whole local stack with deploy/local/up.sh (all four
#   services, the shipped config: acme is rate limited to 20,000/s).
# --stack=running uses the stack whose endpoints are in .docket/local.env.
#
# The stack benchmarks (processing, metrics, whole lifecycle, compliance) are
# run by run-stack-bench.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${DOCKET_BUILD_DIR:-$root/build}
key=dk_demo_acme_publisher_LOCAL_STACK_ONLY  # deploy/config/api-keys.yaml (local only)

stack=intake
duration=10s
concurrency=64
intake_bin=
ghz=1
kafka_events=20000
do_build=1
extra=()
while (($#)); do
  case $1 in
    --stack=intake|--stack=local|--stack=running) stack=${1#--stack=} ;;
    --duration=*) duration=${1#--duration=} ;;
    --concurrency=*) concurrency=${1#--concurrency=} ;;
    --no-ghz) ghz=0 ;;
    --no-build) do_build=0 ;;
    --intake-bin=*) intake_bin=${1#--intake-bin=} ;;  # e.g. a build with a patch, for an A/B
    --kafka-events=*) kafka_events=${1#--kafka-events=} ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-bench: unknown argument \"$1\"" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '== %s\n' "$*" >&2; }
out=$build/bench
mkdir -p "$out"

if ((do_build)); then
  if [[ ! -f $build/build.ninja ]]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  say "building docket-loadgen, docket-intake, docket-devkafka in $build"
  cmake --build "$build" --target docket-loadgen docket-intake docket-devkafka >/dev/null
fi
loadgen=$build/tools/loadgen/docket-loadgen
for bin in "$loadgen" "$build/services/intake/docket-intake" "$build/tools/devkafka/docket-devkafka"; do
  [[ -x $bin ]] || { echo "run-bench: $bin is missing: run without --no-build" >&2; exit 1; }
done

watch=()
cleanup=()
trap 'for c in "${cleanup[@]}"; do eval "$c"; done' EXIT

case $stack in
  intake)
    # lib.sh's helpers (start_bg, wait_for_file, free_port) on a state dir of our own.
    export DOCKET_STATE_DIR=$out/stack DOCKET_BUILD_DIR=$build
    source "$root/deploy/local/lib.sh"
    rm -rf "$state" && mkdir -p "$state/logs" "$state/config"
    cleanup+=('for n in intake kafka redis; do stop_bg $n 10; done')
    cp "$root/deploy/config/catalog.yaml" "$root/deploy/config/api-keys.yaml" "$state/config/"
    sed -e 's/^  acme: .*/  acme:   {per_second: 10000000, burst: 10000000}  # benchmark: no limit in reach/' \
      "$root/deploy/config/intake.yaml" > "$state/config/intake.yaml"
    redis_port=$(free_port)
    start_bg redis redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no
    deadline=$((SECONDS + 10))
    until [[ $(redis-cli -p "$redis_port" ping 2>/dev/null) == PONG ]]; do
      alive redis && ((SECONDS < deadline)) || die "redis-server did not start; see $state/logs/redis.log"
      sleep 0.05
    done
    start_bg kafka "$build/tools/devkafka/docket-devkafka" --brokers=3 --partitions=4 \
      --env-file="$state/devkafka.env"
    wait_for_file "$state/devkafka.env" kafka 30
    brokers=$(sed -n 's/^DOCKET_KAFKA_BROKERS=//p' "$state/devkafka.env")
    start_bg intake env DOCKET_KAFKA_BROKERS="$brokers" DOCKET_REDIS_URL="redis://127.0.0.1:$redis_port/0" \
      DOCKET_GRPC_LISTEN=127.0.0.1:0 DOCKET_METRICS_LISTEN=127.0.0.1:0 DOCKET_LOG_LEVEL=warn \
      DOCKET_CONFIG_DIR="$state/config" DOCKET_READY_FILE="$state/intake.ready" \
      "${intake_bin:-$build/services/intake/docket-intake}"
    wait_for_file "$state/intake.ready" intake 60
    target=127.0.0.1:$(sed -n 's/^grpc_port=//p' "$state/intake.ready")
    intake_metrics=http://127.0.0.1:$(sed -n 's/^metrics_port=//p' "$state/intake.ready")/metrics
    watch=(--watch="intake:$(cat "$state/intake.pid")" --watch="redis:$(cat "$state/redis.pid")"
           --watch="kafka:$(cat "$state/kafka.pid")")
    ;;
  local)
    export DOCKET_STATE_DIR=$out/local DOCKET_BUILD_DIR=$build
    "$root/deploy/local/up.sh"
    cleanup+=('"$root/deploy/local/down.sh" >/dev/null 2>&1 || true')
    target=$(sed -n 's/^DOCKET_INTAKE_ADDR=//p' "$DOCKET_STATE_DIR/local.env")
    brokers=$(sed -n 's/^DOCKET_KAFKA_BROKERS=//p' "$DOCKET_STATE_DIR/local.env")
    intake_metrics=$(sed -n 's/^DOCKET_INTAKE_METRICS_URL=//p' "$DOCKET_STATE_DIR/local.env")
    for s in intake processing compliance metrics; do
      watch+=(--watch="$s:$(cat "$DOCKET_STATE_DIR/$s.pid")")
    done
    ;;
  running)
    env_file=${DOCKET_STATE_DIR:-$root/.docket}/local.env
    [[ -f $env_file ]] || { echo "run-bench: no $env_file: start the stack with deploy/local/up.sh" >&2; exit 1; }
    target=$(sed -n 's/^DOCKET_INTAKE_ADDR=//p' "$env_file")
    brokers=$(sed -n 's/^DOCKET_KAFKA_BROKERS=//p' "$env_file")
    intake_metrics=$(sed -n 's/^DOCKET_INTAKE_METRICS_URL=//p' "$env_file")
    ;;
esac
say "intake at $target; machine: $(nproc) cores; $(uptime | sed 's/.*load/load/')"

loadgen_run() {  # name flags...
  local name=$1; shift
  "$loadgen" --target="$target" --key="$key" --duration="$duration" "${watch[@]}" \
    --json-file="$out/loadgen-$name.json" "$@" "${extra[@]}" | tee "$out/loadgen-$name.txt"
}
say "docket-loadgen: echo baseline and unary at their maximum, then unary at half its maximum"
loadgen_run unary --mode=echo,unary --half-rate --concurrency="$concurrency"
say "docket-loadgen: batch (8 calls x 500 items in flight); $(uptime | sed 's/.*load/load/')"
loadgen_run batch --mode=batch --concurrency=8 --batch-size=500
say "docket-loadgen: stream (4 streams, window 1024); $(uptime | sed 's/.*load/load/')"
loadgen_run stream --mode=stream --concurrency=4 --window=1024

# Kafka-native intake: structured CloudEvents straight onto the intake topic.
admitted_total() {
  curl -fsS "$intake_metrics" | awk '/^docket_intake_submissions_total/ && /result="admitted"/ {s += $NF}
                                     END {printf "%d", s}'
}
say "kafka: $kafka_events CloudEvents onto docket.intake.v1 (kcat); $(uptime | sed 's/.*load/load/')"
run_id=$(date +%s%N)
python3 - "$kafka_events" "$run_id" > "$out/kafka-intake.jsonl" <<'PY'
import json, sys
n, run = int(sys.argv[1]), sys.argv[2]
for i in range(n):
    print(json.dumps({"specversion": "1.0", "id": f"{run}-{i}", "source": "//bench/run-bench",
                      "type": "docket.work.submit.v1",
                      "data": {"tenant": "acme", "kind": "data_entry",
                               "attributes": {"document_id": f"D-{i}", "document_type": "receipt",
                                              "pages": 1}}}))
PY
before=$(admitted_total)
started=$(date +%s%N)
kcat -P -b "$brokers" -t docket.intake.v1 -H content-type=application/cloudevents+json \
  -l "$out/kafka-intake.jsonl"
deadline=$((SECONDS + 300))
until (( $(admitted_total) - before >= kafka_events )); do
  ((SECONDS < deadline)) || { say "kafka: only $(( $(admitted_total) - before )) of $kafka_events admitted after 300 s"; break; }
  sleep 0.1
done
seconds=$(awk -v a="$started" -v b="$(date +%s%N)" 'BEGIN {printf "%.2f", (b - a) / 1e9}')
printf 'kafka    %d events admitted in %s s: %s items/s\n' "$(( $(admitted_total) - before ))" "$seconds" \
  "$(awk -v n="$kafka_events" -v s="$seconds" 'BEGIN {printf "%.0f", n / s}')" | tee "$out/kafka-intake.txt"

if ((ghz)); then
  ghz_bin=$(command -v ghz || true)
  [[ -z $ghz_bin && -x ${GOPATH:-$HOME/go}/bin/ghz ]] && ghz_bin=${GOPATH:-$HOME/go}/bin/ghz
  if [[ -z $ghz_bin ]]; then
    say "ghz not found: install it with  go install github.com/bojand/ghz/cmd/ghz@latest  (or pass --no-ghz)"
    exit 1
  fi
  # ghz reads the schema from the .proto files; {{.RequestNumber}} keeps keys unique.
  run_id=$(date +%s%N)
  data='{"submission":{"tenant":"acme","kind":"data_entry","idempotency_key":"ghz-'$run_id'-{{.WorkerID}}-{{.RequestNumber}}",
         "attributes":{"document_id":{"string_value":"D-{{.RequestNumber}}"},
                       "document_type":{"enum_value":"receipt"},"pages":{"number_value":1}}}}'
  ghz_run() {  # name target [metadata]
    local name=$1 addr=$2; shift 2
    "$ghz_bin" --insecure --proto "$root/proto/docket/v1/intake_service.proto" -i "$root/proto" \
      --call docket.v1.Intake.Submit -d "$data" "$@" -c "$concurrency" -z "$duration" \
      --connections=1 -O summary "$addr" > "$out/ghz-$name.txt"
    printf 'ghz %-6s %s\n' "$name" "$(grep -E 'Requests/sec|Count' "$out/ghz-$name.txt" | tr -s ' ' | tr '\n' ' ')"
    grep -E '^\s+(50|90|99) % in' "$out/ghz-$name.txt" | sed 's/^/           /'
    grep -A20 'Status code distribution' "$out/ghz-$name.txt" | sed -n '2,20p' | sed '/^$/q' | sed 's/^/           /'
  }
  say "ghz cross-check (unary Submit, concurrency $concurrency, one connection): $(uptime | sed 's/.*load/load/')"
  coproc ECHO { exec "$loadgen" --serve-echo=127.0.0.1:0; }
  echo_pid=$ECHO_PID
  cleanup+=("kill $echo_pid 2>/dev/null || true")
  read -r _ echo_addr <&"${ECHO[0]}"
  ghz_run echo "$echo_addr"
  ghz_run unary "$target" -m "{\"authorization\":\"Bearer $key\"}"
fi
say "figures kept in $out/"
