#!/usr/bin/env bash
# Local infrastructure for Sportello: a real Apache Kafka broker (single-node KRaft) and FerretDB,
# a MongoDB wire-protocol server. Installed on first use, cached outside the repository.
#
#   deploy/infra.sh install|start|stop|status [kafka|mongo]
#
# Every command is idempotent. When KAFKA_BOOTSTRAP_SERVERS or MONGODB_URI is set, that server is
# taken as already running elsewhere and nothing is started for it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${SPORTELLO_CACHE:-$HOME/.cache/sportello}
run_dir=${SPORTELLO_RUN_DIR:-$here/../.run/dev}
kafka_port=${SPORTELLO_KAFKA_PORT:-9092}
controller_port=${SPORTELLO_KAFKA_CONTROLLER_PORT:-$((kafka_port + 1))}
mongo_port=${SPORTELLO_MONGO_PORT:-27017}
kafka_heap=${SPORTELLO_KAFKA_HEAP:-512m}
ready_timeout=${SPORTELLO_READY_TIMEOUT:-90}
# SQLite's synchronous mode under FerretDB: normal (the log is synced at checkpoints; MongoDB's
# default write concern is no stricter) or full (an fsync per commit).
ferretdb_sync=${SPORTELLO_FERRETDB_SYNC:-normal}
case $ferretdb_sync in
  full | normal) ;;
  *)
    printf "infra: ERRORE: SPORTELLO_FERRETDB_SYNC deve essere 'normal' o 'full', non '%s'\n" "$ferretdb_sync" >&2
    exit 1
    ;;
esac

kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")
ferretdb_version=$(sed -n 's:.*github.com/FerretDB/FerretDB \(v[0-9.]*\)$:\1:p' "$here/ferretdb/go.mod")
kafka_home=$cache/kafka-$kafka_version
# The binary's name carries a digest of the launcher and of the patches applied to FerretDB, so a
# changed patch is built anew instead of reusing a cached binary without it.
ferretdb_digest=$(cat "$here/ferretdb/main.go" "$here/ferretdb/go.mod" "$here"/ferretdb/patches/*.patch |
  sha256sum | cut -c1-10)
ferretdb_bin=$cache/bin/ferretdb-launcher-$ferretdb_version-$ferretdb_digest

say() { printf 'infra: %s\n' "$*"; }
die() {
  printf 'infra: ERRORE: %s\n' "$*" >&2
  exit 1
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' non trovato: $2"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() {
  local f=$1
  [[ -f $f ]] && kill -0 "$(cat "$f")" 2>/dev/null
}

wait_for_port() {
  local name=$1 port=$2 pidfile=$3 log=$4 deadline=$((SECONDS + ready_timeout))
  until port_open "$port"; do
    pid_alive "$pidfile" || die "$name si è fermato durante l'avvio; ultime righe di $log:
$(tail -n 20 "$log" 2>/dev/null)"
    ((SECONDS < deadline)) || die "$name non risponde sulla porta $port dopo ${ready_timeout}s (log: $log)"
    sleep 0.2
  done
}

# --- installation ----------------------------------------------------------------------------

install_kafka() {
  [[ -f $kafka_home/.complete ]] && return 0
  need java "serve Java 17 (apt-get install openjdk-17-jre-headless)"
  need mvn "serve Maven per scaricare Kafka da Maven Central (apt-get install maven)"
  say "scarico Apache Kafka $kafka_version e le sue dipendenze da Maven Central (una volta sola)…"
  rm -rf "$kafka_home"
  mkdir -p "$kafka_home/libs"
  if ! mvn -q -B -f "$here/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$kafka_home/libs" -DincludeScope=runtime >"$kafka_home/maven.log" 2>&1; then
    die "download di Kafka non riuscito (dettagli in $kafka_home/maven.log)"
  fi
  touch "$kafka_home/.complete"
}

install_ferretdb() {
  [[ -x $ferretdb_bin ]] && return 0
  need go "serve Go per compilare il launcher di FerretDB (https://go.dev/dl o apt-get install golang)"
  need git "serve git per applicare le patch di deploy/ferretdb/patches"
  say "compilo FerretDB $ferretdb_version (launcher in deploy/ferretdb, una volta sola, ~2 minuti)…"
  mkdir -p "$cache/bin"
  if ! build_ferretdb >"$cache/ferretdb-build.log" 2>&1; then
    die "compilazione di FerretDB non riuscita (dettagli in $cache/ferretdb-build.log)"
  fi
  mv "$ferretdb_bin.tmp" "$ferretdb_bin"
}

# The launcher is built against a copy of FerretDB's module with deploy/ferretdb/patches applied
# (see the README there): the module cache is read-only and the repo keeps only the patches.
build_ferretdb() (
  local build=$cache/build/ferretdb-$ferretdb_version-$ferretdb_digest module patch
  rm -rf "$build" && mkdir -p "$build" &&
    cp "$here/ferretdb/main.go" "$here/ferretdb/go.mod" "$here/ferretdb/go.sum" "$build/" &&
    cd "$build" &&
    go mod download github.com/FerretDB/FerretDB &&
    module=$(go list -m -f '{{.Dir}}' github.com/FerretDB/FerretDB) &&
    cp -R "$module" FerretDB && chmod -R u+w FerretDB || return 1
  for patch in "$here"/ferretdb/patches/*.patch; do
    echo "patch: $(basename "$patch")"
    git -C FerretDB apply --verbose "$patch" || return 1
  done
  go mod edit -replace github.com/FerretDB/FerretDB=./FerretDB &&
    go build -trimpath -o "$ferretdb_bin.tmp" .
)

# --- Kafka -----------------------------------------------------------------------------------

kafka_external() { [[ -n ${KAFKA_BOOTSTRAP_SERVERS:-} ]]; }

start_kafka() {
  if kafka_external; then
    say "Kafka esterno: $KAFKA_BOOTSTRAP_SERVERS (non avvio nulla)"
    return 0
  fi
  local dir=$run_dir/kafka pidfile=$run_dir/kafka/kafka.pid
  if pid_alive "$pidfile"; then
    say "Kafka già attivo su 127.0.0.1:$kafka_port (pid $(cat "$pidfile"))"
    return 0
  fi
  port_open "$kafka_port" && die "la porta $kafka_port è occupata da un altro processo: fermalo o imposta SPORTELLO_KAFKA_PORT"
  port_open "$controller_port" && die "la porta $controller_port (controller Kafka) è occupata: imposta SPORTELLO_KAFKA_CONTROLLER_PORT"
  install_kafka
  mkdir -p "$dir/data" "$dir/logs"
  sed -e "s|@KAFKA_PORT@|$kafka_port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" \
    -e "s|@DATA_DIR@|$dir/data|g" "$here/kafka/server.properties.in" >"$dir/server.properties"
  local cp="$kafka_home/libs/*"
  local jvm=(-Xms128m "-Xmx$kafka_heap" -XX:+UseG1GC -XX:TieredStopAtLevel=1
    "-Dlog4j2.configurationFile=$here/kafka/log4j2.properties" "-Dkafka.logs.dir=$dir/logs")
  if [[ ! -f $dir/data/meta.properties ]]; then
    local cluster_id
    cluster_id=$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    java "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool format --standalone -g -t "$cluster_id" \
      -c "$dir/server.properties" >"$dir/logs/format.log" 2>&1 ||
      die "formattazione dello storage Kafka non riuscita (dettagli in $dir/logs/format.log)"
  fi
  say "avvio Kafka $kafka_version su 127.0.0.1:$kafka_port…"
  nohup java "${jvm[@]}" -cp "$cp" kafka.Kafka "$dir/server.properties" >"$dir/logs/stdout.log" 2>&1 &
  echo $! >"$pidfile"
  wait_for_port Kafka "$kafka_port" "$pidfile" "$dir/logs/kafka.log"
  say "Kafka pronto"
}

stop_pidfile() {
  local name=$1 pidfile=$2 pid deadline
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    return 0
  fi
  pid=$(cat "$pidfile")
  say "fermo $name (pid $pid)…"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      say "$name non si ferma: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
}

stop_kafka() {
  if kafka_external; then
    say "Kafka esterno (KAFKA_BOOTSTRAP_SERVERS è impostata): non fermo nulla"
    return 0
  fi
  stop_pidfile Kafka "$run_dir/kafka/kafka.pid"
}

# --- FerretDB --------------------------------------------------------------------------------

mongo_external() { [[ -n ${MONGODB_URI:-} ]]; }

start_mongo() {
  if mongo_external; then
    say "MongoDB esterno: ${MONGODB_URI%%@*}… (non avvio nulla)"
    return 0
  fi
  local dir=$run_dir/ferretdb pidfile=$run_dir/ferretdb/ferretdb.pid
  if pid_alive "$pidfile"; then
    say "FerretDB già attivo su 127.0.0.1:$mongo_port (pid $(cat "$pidfile"))"
    return 0
  fi
  port_open "$mongo_port" && die "la porta $mongo_port è occupata da un altro processo: fermalo o imposta SPORTELLO_MONGO_PORT"
  install_ferretdb
  mkdir -p "$dir/data"
  say "avvio FerretDB $ferretdb_version su 127.0.0.1:$mongo_port…"
  nohup "$ferretdb_bin" -listen "127.0.0.1:$mongo_port" -data "$dir/data" -sync "$ferretdb_sync" \
    >"$dir/ferretdb.log" 2>&1 &
  echo $! >"$pidfile"
  wait_for_port FerretDB "$mongo_port" "$pidfile" "$dir/ferretdb.log"
  say "FerretDB pronto"
}

stop_mongo() {
  if mongo_external; then
    say "MongoDB esterno (MONGODB_URI è impostata): non fermo nulla"
    return 0
  fi
  stop_pidfile FerretDB "$run_dir/ferretdb/ferretdb.pid"
}

# --- status ----------------------------------------------------------------------------------

status() {
  local rc=0
  if kafka_external; then
    say "kafka: esterno ($KAFKA_BOOTSTRAP_SERVERS)"
  elif pid_alive "$run_dir/kafka/kafka.pid" && port_open "$kafka_port"; then
    say "kafka: attivo su 127.0.0.1:$kafka_port (pid $(cat "$run_dir/kafka/kafka.pid"))"
  else
    say "kafka: fermo"
    rc=3
  fi
  if mongo_external; then
    say "mongo: esterno"
  elif pid_alive "$run_dir/ferretdb/ferretdb.pid" && port_open "$mongo_port"; then
    say "mongo: FerretDB attivo su 127.0.0.1:$mongo_port (pid $(cat "$run_dir/ferretdb/ferretdb.pid"))"
  else
    say "mongo: fermo"
    rc=3
  fi
  return $rc
}

cmd=${1:-status}
what=${2:-all}
case "$cmd:$what" in
install:all) install_kafka && install_ferretdb ;;
install:kafka) install_kafka ;;
install:mongo) install_ferretdb ;;
start:all) start_mongo && start_kafka ;;
start:kafka) start_kafka ;;
start:mongo) start_mongo ;;
stop:all) stop_kafka && stop_mongo ;;
stop:kafka) stop_kafka ;;
stop:mongo) stop_mongo ;;
status:*) status ;;
*) die "uso: $0 install|start|stop|status [kafka|mongo]" ;;
esac
