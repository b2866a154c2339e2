#!/usr/bin/env bash
# Starts Docket's local stack in the background: a real redis-server, Kafka
# (docket-devkafka, librdkafka's mock cluster, by default; the Apache Kafka
# broker with --kafka=apache) and the four services. Prints the endpoints and
# writes them to .docket/local.env. Stop it with deploy/local/down.sh.
#   deploy/local/up.sh [--kafka=dev|apache] [--no-build] [--sim-clock=SCALE] [--redis-tls]
# --sim-clock=480 runs business time 480x as fast, reaching the next Monday
# 08:00 Europe/Berlin (07:00Z) 8 s after the start, the same for every
# service (demos only).
# --redis-tls serves Redis on a TLS port only, with a throwaway CA, and the
# services reach it over rediss:// (as a managed Redis would be reached).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

kafka=dev
do_build=1
sim_scale=""
redis_tls=0
for arg in "$@"; do
  case $arg in
    --kafka=dev|--kafka=apache) kafka=${arg#--kafka=} ;;
    --no-build) do_build=0 ;;
    --sim-clock=*) sim_scale=${arg#--sim-clock=} ;;
    --redis-tls) redis_tls=1 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument \"$arg\" (expected --kafka=dev|apache, --no-build, --sim-clock=SCALE, --redis-tls)" ;;
  esac
done

for name in redis kafka "${services[@]}"; do
  alive "$name" && die "the local stack is already running ($name); run deploy/local/down.sh first"
done

if (( do_build )); then
  if [[ $kafka == apache ]]; then build_stack --test; else build_stack; fi
fi
for bin in services/intake/docket-intake tools/devkafka/docket-devkafka tools/docketctl/docketctl; do
  [[ -x $build/$bin ]] || die "$build/$bin is missing: run without --no-build"
done

mkdir -p "$state/logs"
rm -f "$state"/*.ready "$state/local.env" "$state/devkafka.env"
trap 'say "start-up failed; stopping what was started"; "$root/deploy/local/down.sh" >/dev/null 2>&1 || true' ERR

# With --redis-tls: a CA and a certificate for 127.0.0.1 and localhost.
redis_args=() redis_cli=() redis_tls_env=()
if (( redis_tls )); then
  pki="$state/redis-tls"
  rm -rf "$pki" && mkdir -p "$pki"
  {
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=docket local CA" \
      -keyout "$pki/ca.key" -out "$pki/ca.crt"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$pki/server.key" -out "$pki/server.csr"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$pki/san.ext"
    openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
      -days 2 -extfile "$pki/san.ext" -out "$pki/server.crt"
  } >"$state/logs/redis-tls-pki.log" 2>&1 || die "openssl could not make the Redis TLS files; see $state/logs/redis-tls-pki.log"
  redis_cli=(--tls --cacert "$pki/ca.crt")
  redis_tls_env=(DOCKET_REDIS_CA_FILE="$pki/ca.crt")
fi

# Redis: retry on another port if the chosen one was taken in the meantime.
redis_port=""
for _ in 1 2 3 4 5; do
  port=$(free_port)
  if (( redis_tls )); then
    redis_args=(--port 0 --tls-port "$port" --tls-cert-file "$pki/server.crt" --tls-key-file "$pki/server.key"
                --tls-ca-cert-file "$pki/ca.crt" --tls-auth-clients no)
  else
    redis_args=(--port "$port")
  fi
  start_bg redis redis-server "${redis_args[@]}" --bind 127.0.0.1 --save "" --appendonly no
  deadline=$((SECONDS + 10))
  while alive redis && (( SECONDS < deadline )); do
    if [[ $(redis-cli "${redis_cli[@]}" -p "$port" ping 2>/dev/null) == PONG ]]; then redis_port=$port; break; fi
    sleep 0.05
  done
  [[ -n $redis_port ]] && break
  stop_bg redis 2
done
[[ -n $redis_port ]] || die "redis-server did not start; see $state/logs/redis.log"
redis_url="redis://127.0.0.1:$redis_port/0"
if (( redis_tls )); then redis_url="rediss://127.0.0.1:$redis_port/0"; fi

if [[ $kafka == dev ]]; then
  start_bg kafka "$build/tools/devkafka/docket-devkafka" --brokers=3 --partitions=4 \
    --env-file="$state/devkafka.env"
  wait_for_file "$state/devkafka.env" kafka 30
  brokers=$(sed -n 's/^DOCKET_KAFKA_BROKERS=//p' "$state/devkafka.env")
  control=$(sed -n 's/^DEVKAFKA_CONTROL=//p' "$state/devkafka.env")
else
  "$root/tools/kafka/apache-kafka.sh" start "$state/kafka"
  # apache-kafka.sh runs the broker itself; remember its pid for down.sh.
  cp "$state/kafka/kafka.pid" "$state/kafka.pid"
  brokers=$(cat "$state/kafka/bootstrap")
  control=""
  # Docket's topics, as docket-devkafka makes them: the broker creates a topic
  # (num.partitions=4) when its metadata is asked for, but a consumer's
  # subscription does not ask, and docket.intake.v1 has no producer here.
  for t in intake work compliance audit dlq; do
    topic="${DOCKET_TOPIC_PREFIX:-docket.}$t.v1"
    deadline=$((SECONDS + 30))
    until kcat -L -b "$brokers" -t "$topic" 2>/dev/null | grep -q "topic \"$topic\" with [1-9]"; do
      # `false`, not die: the ERR trap then stops what was started.
      (( SECONDS < deadline )) || { say "error: Kafka did not create topic $topic within 30 s"; false; }
      sleep 0.2
    done
  done
fi

sim_clock=""
if [[ -n $sim_scale ]]; then
  [[ $sim_scale =~ ^[0-9]+$ ]] || die "--sim-clock: expected a whole number, got \"$sim_scale\""
  real_ms=$(date +%s%3N)
  # Business time reaches the next Monday 07:00 UTC (08:00 in Berlin in
  # winter) 8 s of real time from now, when the stack is up (~4 s here):
  # docket-simulate opens its day then, or catches up if it starts later.
  sim_ms=$(( ($(date -u -d "next monday 07:00" +%s) - 8 * sim_scale) * 1000 ))
  sim_clock="$real_ms,$sim_ms,$sim_scale"
fi

# docket-devkafka (librdkafka's mock cluster) answers a fetch that finds no
# new record only when the consumer's whole fetch.wait.max.ms (500 ms) is up;
# Apache Kafka answers as soon as a record arrives. Processing routes what
# intake admits, and people wait for that, so on devkafka its consumers ask
# every 10 ms (docs/performance.md, eighth round). The other services keep the
# default: their larger batches cost less. A DOCKET_KAFKA_PROPERTIES_FILE of
# your own still applies, and its lines come last, so they win.
processing_props=""
if [[ $kafka == dev ]]; then
  processing_props="$state/devkafka-processing.properties"
  {
    echo "consumer.fetch.wait.max.ms=10"
    if [[ -n ${DOCKET_KAFKA_PROPERTIES_FILE:-} ]]; then cat "$DOCKET_KAFKA_PROPERTIES_FILE"; fi
  } >"$processing_props"
fi

for s in "${services[@]}"; do
  props=""
  [[ $s == processing ]] && props=$processing_props
  start_bg "$s" env DOCKET_KAFKA_BROKERS="$brokers" DOCKET_REDIS_URL="$redis_url" "${redis_tls_env[@]}" \
    DOCKET_GRPC_LISTEN=127.0.0.1:0 DOCKET_METRICS_LISTEN=127.0.0.1:0 \
    DOCKET_CONFIG_DIR="$root/deploy/config" DOCKET_READY_FILE="$state/$s.ready" \
    ${sim_clock:+DOCKET_SIM_CLOCK="$sim_clock"} ${props:+DOCKET_KAFKA_PROPERTIES_FILE="$props"} \
    "$build/services/$s/docket-$s"
done
for s in "${services[@]}"; do wait_for_file "$state/$s.ready" "$s" 60; done

port_of() { sed -n "s/^$2=//p" "$state/$1.ready"; }

# Ready (serving) is not yet consuming: a consumer group hands out partitions
# a few seconds after its members join (the initial rebalance delay). Wait
# until every consumer of every service holds some, so that what is submitted
# next is handled at once (the demo's day, the benchmarks' clocks).
for s in "${services[@]}"; do
  url="http://127.0.0.1:$(port_of "$s" metrics_port)/metrics"
  deadline=$((SECONDS + 60))
  while :; do
    # One line per consumer client; none for a service without a consumer.
    waiting="its /metrics did not answer"
    if body=$(curl -fsS --max-time 2 "$url" 2>/dev/null); then
      waiting=$(awk '/^docket_kafka_consumer_assigned_partitions\{/ && $NF + 0 < 1 { print $1 }' <<<"$body")
    fi
    [[ -z $waiting ]] && break
    (( SECONDS < deadline )) || {
      say "error: $s: no Kafka partitions assigned within 60 s ($waiting); see $state/logs/$s.log"
      false
    }
    sleep 0.2
  done
done
{
  echo "# Written by deploy/local/up.sh; source it or let docketctl read it."
  echo "DOCKET_KAFKA_BROKERS=$brokers"
  echo "DOCKET_KAFKA_KIND=$kafka"
  [[ -n $control ]] && echo "DEVKAFKA_CONTROL=$control"
  echo "DOCKET_REDIS_URL=$redis_url"
  if (( redis_tls )); then echo "DOCKET_REDIS_CA_FILE=$pki/ca.crt"; fi
  [[ -n $sim_clock ]] && echo "DOCKET_SIM_CLOCK=$sim_clock"
  echo "# Demo operator key (read-only on Work; local stack only): docketctl get, kpis, audit ..."
  echo "DOCKET_API_KEY=dk_demo_operator_LOCAL_STACK_ONLY"
  echo "DOCKET_INTAKE_ADDR=127.0.0.1:$(port_of intake grpc_port)"
  echo "DOCKET_WORK_ADDR=127.0.0.1:$(port_of processing grpc_port)"
  echo "DOCKET_COMPLIANCE_ADDR=127.0.0.1:$(port_of compliance grpc_port)"
  echo "DOCKET_KPI_ADDR=127.0.0.1:$(port_of metrics grpc_port)"
  for s in "${services[@]}"; do
    echo "DOCKET_${s^^}_METRICS_URL=http://127.0.0.1:$(port_of "$s" metrics_port)/metrics"
  done
} > "$state/local.env.tmp"
mv "$state/local.env.tmp" "$state/local.env"
trap - ERR

say "Docket's local stack is up (Kafka: $kafka). Endpoints, also in $state/local.env:"
grep -v '^#' "$state/local.env" | sed 's/^/  /' >&2
say "Logs: $state/logs/. Stop with deploy/local/down.sh."
