#!/usr/bin/env bash
# Runs a single-node Apache Kafka broker (KRaft, combined broker+controller)
# from Maven Central jars on the machine's JDK, for Docket's integration and
# e2e tests and for local use on request.
#
#   apache-kafka.sh fetch                   resolve the jars into the cache (once per machine)
#   apache-kafka.sh start [--fresh] WORKDIR start a broker in WORKDIR (or find it running);
#                                           prints DOCKET_KAFKA_BROKERS=127.0.0.1:<port>
#   apache-kafka.sh stop WORKDIR            SIGTERM, wait, SIGKILL; idempotent
#   apache-kafka.sh status WORKDIR          prints DOCKET_KAFKA_BROKERS=... and exits 0 if it answers
#
# Every subcommand is idempotent. `start` on a WORKDIR whose broker was
# stopped starts it again on the same data (and the same ports when they are
# still free); `--fresh` wipes the data first.
#
# Needs: java (17+), mvn (for fetch), kcat (readiness check), flock, setsid (util-linux).
# Environment:
#   DOCKET_CACHE_DIR            cache root (default $HOME/.cache/docket)
#   DOCKET_KAFKA_VERSION        org.apache.kafka:kafka_2.13 version (default 3.9.1)
#   DOCKET_KAFKA_START_TIMEOUT  seconds to wait for the broker to answer (default 90)
#   DOCKET_KAFKA_HEAP_OPTS      JVM heap flags (default "-Xmx512m -Xms128m")
#   DOCKET_MAVEN_REPO           Maven local repository (default: Maven's own, ~/.m2/repository)
#
# WORKDIR holds: server.properties, log4j.properties, data/ (log.dirs),
# logs/server.log (broker log), kafka.out (JVM stdout/stderr), kafka.pid,
# bootstrap (host:port, written once the broker answers, removed by stop).

set -euo pipefail

readonly SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly KAFKA_VERSION="${DOCKET_KAFKA_VERSION:-3.9.1}"
readonly CACHE_ROOT="${DOCKET_CACHE_DIR:-${HOME}/.cache/docket}"
readonly KAFKA_HOME="${CACHE_ROOT}/kafka-${KAFKA_VERSION}"
readonly LIBS="${KAFKA_HOME}/libs"
readonly START_TIMEOUT="${DOCKET_KAFKA_START_TIMEOUT:-90}"
readonly HEAP_OPTS="${DOCKET_KAFKA_HEAP_OPTS:--Xmx512m -Xms128m}"
readonly STOP_TIMEOUT=30

log() { echo "apache-kafka: $*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH ($2)"
}

# ---------------------------------------------------------------- fetch

fetched() {
  [[ -f "${KAFKA_HOME}/.complete" && -f "${LIBS}/kafka_2.13-${KAFKA_VERSION}.jar" ]]
}

cmd_fetch() {
  fetched && return 0
  need mvn "install Maven, e.g. apt-get install maven"
  need flock "install util-linux"
  mkdir -p "${KAFKA_HOME}"
  # One fetch per machine even when several ctest runs start at once.
  exec 8>"${KAFKA_HOME}/.fetch.lock"
  flock 8
  if fetched; then
    exec 8>&-
    return 0
  fi
  log "resolving org.apache.kafka:kafka_2.13:${KAFKA_VERSION} from Maven Central into ${LIBS}"
  local tmp="${KAFKA_HOME}/libs.tmp.$$"
  rm -rf "${tmp}"
  local -a mvn_args=(-B -q -f "${SCRIPT_DIR}/pom.xml" "-Dkafka.version=${KAFKA_VERSION}"
                     dependency:copy-dependencies "-DoutputDirectory=${tmp}" -DincludeScope=runtime)
  if [[ -n "${DOCKET_MAVEN_REPO:-}" ]]; then
    mvn_args+=("-Dmaven.repo.local=${DOCKET_MAVEN_REPO}")
  fi
  if ! mvn "${mvn_args[@]}" >"${KAFKA_HOME}/fetch.log" 2>&1; then
    rm -rf "${tmp}"
    tail -n 30 "${KAFKA_HOME}/fetch.log" >&2
    die "mvn could not resolve kafka_2.13:${KAFKA_VERSION} (is Maven Central reachable?); log ${KAFKA_HOME}/fetch.log"
  fi
  [[ -f "${tmp}/kafka_2.13-${KAFKA_VERSION}.jar" ]] || die "kafka_2.13-${KAFKA_VERSION}.jar missing after mvn"
  rm -rf "${LIBS}"
  mv "${tmp}" "${LIBS}"
  touch "${KAFKA_HOME}/.complete"
  exec 8>&-
  log "fetched $(ls "${LIBS}" | wc -l) jars into ${LIBS}"
}

# ---------------------------------------------------------------- ports

# Local TCP ports in use (any state), from /proc so no extra tool is needed.
used_ports() {
  local _ local_address _rest
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    while read -r _ local_address _rest; do
      [[ "${local_address}" == *:* ]] || continue  # the header line
      echo $(( 16#${local_address##*:} ))
    done | sort -un
}

port_free() {
  ! used_ports | grep -qx "$1"
}

# A port below Linux's ephemeral range (32768+), so outgoing connections
# cannot take it between now and the broker's bind.
pick_port() {
  local avoid="${1:-0}" used port i
  used="$(used_ports)"
  for i in $(seq 1 200); do
    port=$(( 20000 + (RANDOM % 12000) ))
    [[ "${port}" == "${avoid}" ]] && continue
    grep -qx "${port}" <<<"${used}" || { echo "${port}"; return 0; }
  done
  die "found no free port"
}

# ---------------------------------------------------------------- process

pid_of() {
  local wd="$1" pid
  [[ -f "${wd}/kafka.pid" ]] || return 1
  pid="$(cat "${wd}/kafka.pid" 2>/dev/null)" || return 1
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  # Only our broker: a recycled pid of some other process must not be signalled.
  [[ -r "/proc/${pid}/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -qF "kafka.Kafka ${wd}/server.properties" || return 1
  echo "${pid}"
}

broker_port() {
  sed -n 's#^listeners=PLAINTEXT://127\.0\.0\.1:\([0-9]*\),.*#\1#p' "$1/server.properties"
}

controller_port() {
  sed -n 's#^listeners=.*CONTROLLER://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$1/server.properties"
}

# True once the broker answers a metadata request and lists itself.
answers() {
  kcat -L -b "127.0.0.1:$1" -m 3 2>/dev/null | grep -q "broker 1 at 127.0.0.1:$1"
}

write_atomically() {
  local path="$1" content="$2"
  printf '%s\n' "${content}" >"${path}.tmp.$$"
  mv -f "${path}.tmp.$$" "${path}"
}

write_config() {
  local wd="$1" bport="$2" cport="$3"
  cat >"${wd}/server.properties" <<EOF
# Written by tools/kafka/apache-kafka.sh: single-node KRaft broker for tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${cport}
listeners=PLAINTEXT://127.0.0.1:${bport},CONTROLLER://127.0.0.1:${cport}
advertised.listeners=PLAINTEXT://127.0.0.1:${bport}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=${wd}/data
num.network.threads=2
num.io.threads=4
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=67108864
EOF
  cat >"${wd}/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${wd}/logs/server.log
log4j.appender.file.MaxFileSize=50MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
EOF
}

java_opts() {
  local wd="$1"
  # shellcheck disable=SC2086
  echo ${HEAP_OPTS} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    "-Dlog4j.configuration=file:${wd}/log4j.properties" "-Dkafka.logs.dir=${wd}/logs"
}

format_storage() {
  local wd="$1" cluster_id
  # A Kafka cluster id: 16 random bytes, URL-safe base64 without padding;
  # drawn again if it starts with '-', which kafka-storage would read as an option.
  cluster_id="-"
  while [[ "${cluster_id}" == -* ]]; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  # shellcheck disable=SC2046
  java $(java_opts "${wd}") -cp "${LIBS}/*" kafka.tools.StorageTool format \
    -t "${cluster_id}" -c "${wd}/server.properties" >"${wd}/format.out" 2>&1 ||
    { cat "${wd}/format.out" >&2; die "formatting ${wd}/data failed"; }
}

# 0 once the broker answers; 1 if it died or the deadline passed.
wait_until_answers() {
  local wd="$1" pid="$2" port="$3"
  local deadline=$(( SECONDS + START_TIMEOUT ))
  until answers "${port}"; do
    if ! kill -0 "${pid}" 2>/dev/null; then
      log "broker exited during start"
      return 1
    fi
    if (( SECONDS >= deadline )); then
      log "broker did not answer on 127.0.0.1:${port} within ${START_TIMEOUT}s"
      return 1
    fi
    sleep 0.25  # poll interval, bounded by the deadline above
  done
}

show_errors() {
  local wd="$1"
  log "errors from ${wd}/logs/server.log and ${wd}/kafka.out:"
  cat "${wd}/logs/server.log" "${wd}/kafka.out" 2>/dev/null |
    grep -E 'ERROR|FATAL|Exception' | tail -n 20 >&2 || true
}

# Starts the broker of wd/server.properties; 0 once it answers.
launch() {
  local wd="$1" port="$2" pid
  : >"${wd}/logs/server.log"
  log "starting Kafka ${KAFKA_VERSION} on 127.0.0.1:${port} in ${wd}"
  # Own session, and no stdio or lock shared with the caller: ctest must not
  # wait for the broker's pipes, and a Ctrl-C on the caller's terminal does
  # not reach it.
  # shellcheck disable=SC2046
  setsid java $(java_opts "${wd}") -cp "${LIBS}/*" kafka.Kafka "${wd}/server.properties" \
    </dev/null >>"${wd}/kafka.out" 2>&1 8>&- 9>&- &
  pid=$!
  write_atomically "${wd}/kafka.pid" "${pid}"
  if wait_until_answers "${wd}" "${pid}" "${port}"; then
    log "ready (pid ${pid}); log ${wd}/logs/server.log"
    return 0
  fi
  stop_broker "${wd}"
  return 1
}

report() {
  local wd="$1" port="$2"
  write_atomically "${wd}/bootstrap" "127.0.0.1:${port}"
  echo "DOCKET_KAFKA_BROKERS=127.0.0.1:${port}"
}

cmd_start() {
  local fresh=0
  if [[ "${1:-}" == "--fresh" ]]; then fresh=1; shift; fi
  [[ $# -eq 1 ]] || usage
  need java "install a JDK 17+, e.g. apt-get install openjdk-17-jdk-headless"
  need kcat "install kcat, e.g. apt-get install kcat"
  need flock "install util-linux"
  cmd_fetch
  mkdir -p "$1"
  local wd
  wd="$(cd "$1" && pwd)"
  exec 9>"${wd}/.lock"
  flock 9

  local pid port cport
  if pid="$(pid_of "${wd}")"; then
    port="$(broker_port "${wd}")"
    if [[ "${fresh}" == 0 ]]; then
      wait_until_answers "${wd}" "${pid}" "${port}" || die "a broker runs in ${wd} (pid ${pid}) but does not answer"
      log "already running in ${wd} (pid ${pid})"
      report "${wd}" "${port}"
      return 0
    fi
  fi
  if [[ "${fresh}" == 1 ]]; then
    stop_broker "${wd}"
    rm -rf "${wd}/data" "${wd}/logs" "${wd}/server.properties" "${wd}/bootstrap"
  fi

  mkdir -p "${wd}/logs"
  if [[ -f "${wd}/data/meta.properties" && -f "${wd}/server.properties" ]]; then
    # Restart on the existing data, on the ports clients already know if free.
    port="$(broker_port "${wd}")"
    cport="$(controller_port "${wd}")"
    if ! port_free "${port}" || ! port_free "${cport}"; then
      port="$(pick_port)"
      cport="$(pick_port "${port}")"
      log "previous ports are taken; moving to ${port} (controller ${cport})"
      write_config "${wd}" "${port}" "${cport}"
    fi
  else
    rm -rf "${wd}/data"
    port="$(pick_port)"
    cport="$(pick_port "${port}")"
    write_config "${wd}" "${port}" "${cport}"
    format_storage "${wd}"
  fi
  rm -f "${wd}/bootstrap"

  # A free port can be taken between the check and the bind: then move on.
  local attempt
  for attempt in 1 2 3; do
    launch "${wd}" "${port}" && { report "${wd}" "${port}"; return 0; }
    if ! grep -q 'Address already in use' "${wd}/logs/server.log" "${wd}/kafka.out" 2>/dev/null; then
      break
    fi
    port="$(pick_port)"
    cport="$(pick_port "${port}")"
    log "port taken during start; retrying on ${port} (controller ${cport})"
    write_config "${wd}" "${port}" "${cport}"
  done
  show_errors "${wd}"
  die "Kafka did not start in ${wd}"
}

stop_broker() {
  local wd="$1" pid
  rm -f "${wd}/bootstrap"
  if pid="$(pid_of "${wd}")"; then
    log "stopping pid ${pid}"
    kill -TERM "${pid}" 2>/dev/null || true
    local deadline=$(( SECONDS + STOP_TIMEOUT ))
    while kill -0 "${pid}" 2>/dev/null && (( SECONDS < deadline )); do
      sleep 0.2  # poll interval, bounded by the deadline above
    done
    if kill -0 "${pid}" 2>/dev/null; then
      log "pid ${pid} ignored SIGTERM for ${STOP_TIMEOUT}s; SIGKILL"
      kill -KILL "${pid}" 2>/dev/null || true
      while kill -0 "${pid}" 2>/dev/null; do sleep 0.1; done
    fi
  fi
  rm -f "${wd}/kafka.pid"
}

cmd_stop() {
  [[ $# -eq 1 ]] || usage
  [[ -d "$1" ]] || return 0
  local wd
  wd="$(cd "$1" && pwd)"
  exec 9>"${wd}/.lock"
  flock 9
  stop_broker "${wd}"
}

cmd_status() {
  [[ $# -eq 1 ]] || usage
  [[ -d "$1" ]] || { log "no broker in $1"; exit 3; }
  local wd pid port
  wd="$(cd "$1" && pwd)"
  pid="$(pid_of "${wd}")" || { log "no broker running in ${wd}"; exit 3; }
  port="$(broker_port "${wd}")"
  answers "${port}" || { log "broker pid ${pid} does not answer on 127.0.0.1:${port}"; exit 3; }
  echo "DOCKET_KAFKA_BROKERS=127.0.0.1:${port}"
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd="$1"
  shift
  case "${cmd}" in
    fetch) [[ $# -eq 0 ]] || usage; cmd_fetch; echo "${LIBS}" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    -h|--help|help) usage ;;
    *) log "unknown subcommand '${cmd}'"; usage ;;
  esac
}

main "$@"
