#!/usr/bin/env bash
# Runs a command against real infrastructure: Kafka and FerretDB from the environment when
# KAFKA_BOOTSTRAP_SERVERS / MONGODB_URI are set, else started here on the test ports and stopped
# afterwards (only what this script started).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kafka_port=${SPORTELLO_KAFKA_PORT:-19092}
mongo_port=${SPORTELLO_MONGO_PORT:-27018}

started=()
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [[ -z ${KAFKA_BOOTSTRAP_SERVERS:-}${MONGODB_URI:-} ]] && command -v docker >/dev/null &&
  docker info >/dev/null 2>&1; then
  # A Docker engine is reachable: the test fixtures start real images with testcontainers.
  exec "$@"
fi

if [[ -z ${KAFKA_BOOTSTRAP_SERVERS:-} ]]; then
  if ! port_open "$kafka_port"; then
    "$here/infra.sh" start kafka || exit 1
    started+=(kafka)
  fi
  export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$kafka_port
fi
if [[ -z ${MONGODB_URI:-} ]]; then
  if ! port_open "$mongo_port"; then
    "$here/infra.sh" start mongo || exit 1
    started+=(mongo)
  fi
  export MONGODB_URI=mongodb://127.0.0.1:$mongo_port/
fi

cleanup() {
  for what in "${started[@]}"; do
    env -u KAFKA_BOOTSTRAP_SERVERS -u MONGODB_URI "$here/infra.sh" stop "$what"
  done
}
trap cleanup EXIT
"$@"
