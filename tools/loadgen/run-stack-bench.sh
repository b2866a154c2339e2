#!/usr/bin/env bash
# The stack benchmarks of docs/performance.md, one section per issue, each on
# a fresh stack of its own (own state dir, random ports; nothing fixed):
#
#   processing  (issue 4) prefill N items (Redis memory per queued item), claim +
#               complete cycles/s, automated items/s, submit-to-routed latency
#               at half the submit-to-queued maximum
#   metrics     (issue 6) N lifecycle events pre-produced, then docket-metrics
#               started and timed until it has consumed and counted them all;
#               then a stream (a quarter of that rate, then 2,000 events/s, or
#               the --fresh-rate list: the producer and the broker now share the
#               2 cores with it) with one Completed probe at a time, the delay
#               until each is counted on /metrics
#   lifecycle   (issue 7) N items submit -> claim -> complete -> compliance ->
#               completed -> counted by docket-metrics
#   compliance  (issue 5) compliance_bench (Google Benchmark, no stack)
#
#   tools/loadgen/run-stack-bench.sh [--kafka=dev|apache] [--metrics-kafka=apache|dev]
#       [--no-build] [--items=N] [--events=N] [--workers=N] [--lifecycle-items=N]
#       [--duration=10s] [--fresh-rate="N ..."] [--claim-scan] [--perf]
#       [--complete-and-next] [--claim-batch=N] [SECTION...]
#       (no section = all four)
#
# --kafka=apache runs processing and lifecycle against the Apache Kafka
#   broker (tools/kafka/apache-kafka.sh, as deploy/local/up.sh --kafka=apache)
#   instead of docket-devkafka, librdkafka's mock cluster (the local stack's
#   default).
# --metrics-kafka: the metrics section runs on Apache Kafka by default: the
#   mock cluster keeps only the newest few MB of each partition, so a stream
#   of a million events pre-produced to it is mostly gone before
#   docket-metrics reads it ("offset reset ... Offset out of range").
# --complete-and-next: the workers (processing's claim, lifecycle) complete
#   and claim the next item in one call (CompleteRequest.claim_next).
# --claim-batch=N: the workers are bots (key databot, WIP 1000): ClaimNext
#   claims up to N items, one CompleteBatch completes them (and, with
#   --complete-and-next, claims the next N).
# --claim-scan then repeats prefill + claim with 1, 2, 4, 8 and 16 workers.
# --perf also records `perf record -g` of the service under test: processing
#   (processing section), every process (lifecycle), docket-metrics (the drain);
#   perf must be installed.
#
# Every run prints, and keeps in $DOCKET_BUILD_DIR/bench/stack-<section>.*
# (or $DOCKET_BENCH_DIR), the figures, the exact commands, `uptime` before each
# step, the commit and CPU time per process (from /proc). DOCKET_BUILD_JOBS
# caps the build's jobs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${DOCKET_BUILD_DIR:-$root/build}
publisher=dk_demo_acme_publisher_LOCAL_STACK_ONLY  # deploy/config/README.md (local only)
worker=dk_demo_dana_worker_LOCAL_STACK_ONLY        # skills data-entry, logistics-clerk; WIP 20
bot=dk_demo_databot_worker_LOCAL_STACK_ONLY        # skills data-entry, logistics-clerk; WIP 1000 (--claim-batch)

kafka=dev
metrics_kafka=apache
do_build=1
items=20000           # processing: prefill and automate
events=1000000        # metrics: lifecycle events pre-produced (4 per item)
workers=16            # claim and lifecycle; dana's WIP cap is 20
lifecycle_items=3000
duration=10s
fresh_rate=
claim_scan=0
perf=0
next_args=()
sections=()
while (($#)); do
  case $1 in
    --kafka=dev|--kafka=apache) kafka=${1#--kafka=} ;;
    --metrics-kafka=dev|--metrics-kafka=apache) metrics_kafka=${1#--metrics-kafka=} ;;
    --no-build) do_build=0 ;;
    --items=*) items=${1#--items=} ;;
    --events=*) events=${1#--events=} ;;
    --workers=*) workers=${1#--workers=} ;;
    --lifecycle-items=*) lifecycle_items=${1#--lifecycle-items=} ;;
    --duration=*) duration=${1#--duration=} ;;
    --fresh-rate=*) fresh_rate=${1#--fresh-rate=} ;;
    --perf) perf=1 ;;
    --complete-and-next) next_args+=(--complete-and-next) ;;
    --claim-batch=*) next_args+=("$1"); worker=$bot ;;
    --claim-scan) claim_scan=1 ;;
    processing|metrics|lifecycle|compliance) sections+=("$1") ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-stack-bench: unknown argument \"$1\"" >&2; exit 2 ;;
  esac
  shift
done
((${#sections[@]})) || sections=(processing metrics lifecycle compliance)
((events % 4 == 0)) || { echo "run-stack-bench: --events must be a multiple of 4" >&2; exit 2; }

out=${DOCKET_BENCH_DIR:-$build/bench}
mkdir -p "$out"
loadgen=$build/tools/loadgen/docket-loadgen

say() { printf '== %s\n' "$*" >&2; }
load() { uptime | sed 's/.*load/load/'; }
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty=$(git -C "$root" status --porcelain 2>/dev/null | wc -l)
((dirty)) && commit+=" + $dirty uncommitted files"

if ((do_build)); then
  targets=(docket-loadgen)
  for s in "${sections[@]}"; do
    case $s in
      processing|lifecycle) targets+=(docket-intake docket-processing docket-compliance docket-metrics
                                      docket-devkafka docketctl) ;;
      metrics) targets+=(docket-metrics docket-devkafka) ;;
      compliance) targets+=(compliance_bench) ;;
    esac
  done
  if [[ ! -f $build/build.ninja ]]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  say "building ${targets[*]} in $build"
  cmake --build "$build" ${DOCKET_BUILD_JOBS:+-j"$DOCKET_BUILD_JOBS"} --target $(printf '%s\n' "${targets[@]}" | sort -u) >/dev/null
fi

cleanup=()
trap 'for c in "${cleanup[@]}"; do eval "$c"; done' EXIT

# Runs a command, printing it first; its output goes to the terminal and to $log.
log=/dev/null
run() {
  printf '$ %s\n' "$*" | sed "s#$root/##g" | tee -a "$log" >&2
  # A stage that did not finish exits 1: keep its partial figures and go on.
  "$@" 2> >(grep -v '^{' >&2) | tee -a "$log" || note "(exit status $?: see the figures above)"
}
note() { printf '%s\n' "$*" | tee -a "$log" >&2; }

# perf record of one process while a command runs (--perf).
with_perf() {  # name pid|all command...  (all: every process, perf record -a)
  local name=$1 target=(-p "$2"); shift 2
  [[ ${target[1]} == all ]] && target=(-a)
  if ((perf)); then
    perf record -g -o "$out/perf-$name.data" "${target[@]}" 2>/dev/null &
    local perf_pid=$!
    "$@"
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    note "perf: $out/perf-$name.data (perf report -i $out/perf-$name.data --no-children --sort comm,dso,sym)"
  else
    "$@"
  fi
}

# The whole local stack (deploy/local/up.sh) in a state dir of our own.
local_stack() {  # name
  export DOCKET_STATE_DIR=$out/stack-$1 DOCKET_BUILD_DIR=$build
  rm -rf "$DOCKET_STATE_DIR"
  "$root/deploy/local/down.sh" >/dev/null 2>&1 || true
  "$root/deploy/local/up.sh" --no-build --kafka="$kafka" >/dev/null
  cleanup+=("DOCKET_STATE_DIR=$DOCKET_STATE_DIR '$root/deploy/local/down.sh' >/dev/null 2>&1 || true")
  # shellcheck disable=SC1091
  source "$DOCKET_STATE_DIR/local.env"
  watch=()
  for s in intake processing compliance metrics redis kafka; do
    [[ -f $DOCKET_STATE_DIR/$s.pid ]] && watch+=(--watch="$s:$(cat "$DOCKET_STATE_DIR/$s.pid")")
  done
}
stop_local_stack() { "$root/deploy/local/down.sh" >/dev/null 2>&1 || true; }
pid_of() { cat "$DOCKET_STATE_DIR/$1.pid"; }

header() {  # section [kafka]
  local suffix=
  [[ ${2:-$kafka} == apache ]] && suffix=-apache
  log=$out/stack-$1$suffix.txt
  : >"$log"
  note "# $1: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit, $(nproc) cores, Kafka: ${2:-$kafka}"
  note "# before: $(load)"
  ((do_build)) || note "# --no-build: binaries as built on $(date -u -r "$build/services/processing/docket-processing" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo '?'), perhaps before that commit"
}

section_processing() {
  header processing
  local_stack processing
  note "# stack up: $(load)"
  # prefill (memory) -> claim (drains the queue) -> automate -> routed at half the unary maximum (measured first)
  with_perf processing "$(pid_of processing)" \
    run "$loadgen" --mode=prefill,claim,automate,routed --half-rate \
      --target="$DOCKET_INTAKE_ADDR" --key="$publisher" \
      --work-target="$DOCKET_WORK_ADDR" --worker-key="$worker" \
      --processing-metrics="$DOCKET_PROCESSING_METRICS_URL" \
      --compliance-metrics="$DOCKET_COMPLIANCE_METRICS_URL" --metrics-url="$DOCKET_METRICS_METRICS_URL" --redis="$DOCKET_REDIS_URL" \
      --kafka="$DOCKET_KAFKA_BROKERS" --items="$items" --batch-size=100 --concurrency=4 \
      --workers="$workers" --duration="$duration" --warmup=2s "${next_args[@]}" \
      --json-file="${log%.txt}.json" "${watch[@]}"
  if ((claim_scan)); then
    for w in 1 2 4 8 16; do
      note "# claim with $w workers: $(load)"
      run "$loadgen" --mode=prefill,claim --target="$DOCKET_INTAKE_ADDR" --key="$publisher" \
        --work-target="$DOCKET_WORK_ADDR" --worker-key="$worker" \
        --processing-metrics="$DOCKET_PROCESSING_METRICS_URL" --items=6000 --batch-size=100 \
        --concurrency=4 --workers="$w" --duration=5s --warmup=1s \
        --json-file="${log%.txt}-claim$w.json" "${watch[@]}"
    done
  fi
  note "# after: $(load)"
  stop_local_stack
}

section_lifecycle() {
  header lifecycle
  local_stack lifecycle
  note "# stack up: $(load)"
  with_perf lifecycle all \
    run "$loadgen" --mode=lifecycle \
      --target="$DOCKET_INTAKE_ADDR" --key="$publisher" \
      --work-target="$DOCKET_WORK_ADDR" --worker-key="$worker" \
      --processing-metrics="$DOCKET_PROCESSING_METRICS_URL" \
      --compliance-metrics="$DOCKET_COMPLIANCE_METRICS_URL" --metrics-url="$DOCKET_METRICS_METRICS_URL" \
      --items="$lifecycle_items" --batch-size=100 --concurrency=2 --workers="$workers" --timeout=600s "${next_args[@]}" \
      --json-file="${log%.txt}.json" "${watch[@]}"
  note "# after: $(load)"
  stop_local_stack
}

# Redis, Kafka and docket-metrics alone (lib.sh's helpers), docket-metrics
# started only once the stream is on Kafka.
section_metrics() {
  header metrics "$metrics_kafka"
  export DOCKET_STATE_DIR=$out/stack-metrics DOCKET_BUILD_DIR=$build
  # shellcheck disable=SC1091
  source "$root/deploy/local/lib.sh"
  rm -rf "$state" && mkdir -p "$state/logs"
  cleanup+=("DOCKET_STATE_DIR=$state '$root/deploy/local/down.sh' >/dev/null 2>&1 || true")
  local redis_port brokers
  redis_port=$(free_port)
  start_bg redis redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no
  local deadline=$((SECONDS + 10))
  until [[ $(redis-cli -p "$redis_port" ping 2>/dev/null) == PONG ]]; do
    alive redis && ((SECONDS < deadline)) || die "redis-server did not start"
    sleep 0.05
  done
  if [[ $metrics_kafka == dev ]]; then
    start_bg kafka "$build/tools/devkafka/docket-devkafka" --brokers=3 --partitions=4 --env-file="$state/devkafka.env"
    wait_for_file "$state/devkafka.env" kafka 30
    brokers=$(sed -n 's/^DOCKET_KAFKA_BROKERS=//p' "$state/devkafka.env")
  else
    "$root/tools/kafka/apache-kafka.sh" start --fresh "$state/kafka" >/dev/null
    cp "$state/kafka/kafka.pid" "$state/kafka.pid"  # down.sh stops it through apache-kafka.sh
    brokers=$(cat "$state/kafka/bootstrap")
  fi
  note "# redis + kafka up: $(load)"
  run "$loadgen" --mode=metrics-produce --kafka="$brokers" --items=$((events / 4)) \
    --json-file="${log%.txt}-produce.json" --watch="kafka:$(cat "$state/kafka.pid")"
  note "# produced: $(load)"
  start_bg metrics env DOCKET_KAFKA_BROKERS="$brokers" DOCKET_REDIS_URL="redis://127.0.0.1:$redis_port/0" \
    DOCKET_GRPC_LISTEN=127.0.0.1:0 DOCKET_METRICS_LISTEN=127.0.0.1:0 DOCKET_LOG_LEVEL=warn \
    DOCKET_CONFIG_DIR="$root/deploy/config" DOCKET_READY_FILE="$state/metrics.ready" \
    "$build/services/metrics/docket-metrics"
  wait_for_file "$state/metrics.ready" metrics 60
  local url="http://127.0.0.1:$(sed -n 's/^metrics_port=//p' "$state/metrics.ready")/metrics"
  local watch=(--watch="metrics:$(cat "$state/metrics.pid")" --watch="redis:$(cat "$state/redis.pid")"
               --watch="kafka:$(cat "$state/kafka.pid")")
  with_perf metrics-drain "$(cat "$state/metrics.pid")" \
    run "$loadgen" --mode=metrics-drain --metrics-url="$url" --items=$((events / 4)) --timeout=900s \
      --json-file="${log%.txt}-drain.json" "${watch[@]}"
  local max rate
  max=$(jq '.stages[0].figures.events_per_second // 0' "${log%.txt}-drain.json")
  for rate in ${fresh_rate:-$(jq -n "$max / 4 | floor") 2000}; do
    note "# the freshness stream: $rate events/s (drain maximum $max); $(load)"
    run "$loadgen" --mode=metrics-fresh --kafka="$brokers" --metrics-url="$url" --rate="$rate" \
      --duration=60s --warmup=5s --probe-interval=250ms \
      --json-file="${log%.txt}-fresh-$rate.json" "${watch[@]}"
  done
  note "# after: $(load)"
  "$root/deploy/local/down.sh" >/dev/null 2>&1 || true
}

section_compliance() {
  header compliance
  (cd "$root" && DOCKET_SOURCE_DIR=$root run "$build/services/compliance/compliance_bench" \
     --benchmark_min_time=2 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true)
  note "# after: $(load)"
}

for s in "${sections[@]}"; do
  say "section $s; $(load)"
  "section_$s"
done
say "figures kept in $out/stack-*"
