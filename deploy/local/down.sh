#!/usr/bin/env bash
# Stops the local stack started by deploy/local/up.sh, services first (they
# drain), then Kafka and Redis. Safe to run when nothing is running.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ -d $state ]] || exit 0
stop_bg prometheus 10
for s in metrics compliance processing intake; do stop_bg "$s" 20; done
if [[ -d $state/kafka && -x $root/tools/kafka/apache-kafka.sh ]]; then
  "$root/tools/kafka/apache-kafka.sh" stop "$state/kafka" || true
  rm -f "$state/kafka.pid"
fi
stop_bg kafka 10
stop_bg redis 10
rm -f "$state"/*.ready "$state/local.env" "$state/devkafka.env"
say "Docket's local stack is down."
