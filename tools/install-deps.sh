#!/usr/bin/env bash
# Installs everything Docket needs from Debian bookworm's packages. Idempotent:
# does nothing (and needs no network) when every package is already there.
#   tools/install-deps.sh          build + run the local stack
#   tools/install-deps.sh --test   also what the test suite needs (promtool, kcat, JDK, Maven)
set -euo pipefail

packages=(
  g++ cmake ninja-build make pkg-config git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librdkafka-dev libhiredis-dev prometheus-cpp-dev libabsl-dev libssl-dev openssl libjemalloc-dev
  libyaml-cpp-dev nlohmann-json3-dev libre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  redis-server curl netcat-openbsd tzdata
)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(prometheus kcat yamllint)
  # Deployment and client-contract tests run on Node (npm ci of pinned packages).
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
  # The Apache Kafka broker of the integration tests runs on the JDK and is
  # resolved with Maven; keep a JDK/Maven the machine already has.
  command -v java >/dev/null || packages+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || packages+=(maven)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Never let a package start its own daemon (redis-server, prometheus): Docket
# starts what it needs on its own ports.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee $policy >/dev/null
  $sudo chmod +x $policy
  created_policy=1
fi
trap '[[ $created_policy -eq 1 ]] && $sudo rm -f $policy' EXIT
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
