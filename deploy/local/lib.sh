# Shared by up.sh, down.sh and demo.sh. Sourced, not run.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
state=${DOCKET_STATE_DIR:-$root/.docket}
build=${DOCKET_BUILD_DIR:-$root/build}
services=(intake processing compliance metrics)

say() { printf '%s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Builds what the local stack runs (installing packages first if needed).
build_stack() {
  "$root/tools/install-deps.sh" "$@"
  if [[ ! -f $build/build.ninja ]]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build "$build" -j"$(nproc)" --target \
    docket-intake docket-processing docket-compliance docket-metrics docket-devkafka docketctl
}

# Starts a command detached in its own session; records its pid as $state/<name>.pid.
start_bg() {
  local name=$1; shift
  setsid "$@" >"$state/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$state/$name.pid"
}

alive() { [[ -f $state/$1.pid ]] && kill -0 "$(cat "$state/$1.pid")" 2>/dev/null; }

# Polls until a file exists or the process dies or the deadline passes.
wait_for_file() {
  local file=$1 name=$2 seconds=${3:-60}
  local deadline=$((SECONDS + seconds))
  while [[ ! -s $file ]]; do
    if ! alive "$name"; then
      say "$name exited during start-up; last lines of $state/logs/$name.log:"
      tail -n 20 "$state/logs/$name.log" >&2 || true
      return 1
    fi
    if (( SECONDS >= deadline )); then
      say "$name not ready after ${seconds}s; see $state/logs/$name.log"
      return 1
    fi
    sleep 0.1
  done
}

# Stops one process: SIGTERM to its session, then SIGKILL after a grace period.
stop_bg() {
  local name=$1 grace=${2:-20}
  [[ -f $state/$name.pid ]] || return 0
  local pid; pid=$(cat "$state/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + grace))
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name did not stop in ${grace}s; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$state/$name.pid"
}

# A port on 127.0.0.1 that nothing listens on right now.
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}
