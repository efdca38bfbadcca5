#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for local
# development and the integration tests, without Docker: the broker jars come from Maven
# Central (infra/kafka/pom.xml) and run on the system Java 17.
#
#   infra/kafka/kafka.sh fetch    download the broker jars into the cache (once)
#   infra/kafka/kafka.sh start    fetch if needed, format a fresh data dir, start, wait until ready
#   infra/kafka/kafka.sh stop     stop the broker started by `start`
#   infra/kafka/kafka.sh status   exit 0 if it serves, 3 if not running, 4 if still starting
#
# Environment:
#   KAFKA_PORT             client listener port on 127.0.0.1 (default 19092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port on 127.0.0.1 (default 19093)
#   HUIYING_CACHE          jar cache root (default ~/.cache/huiying) -> kafka-<version>/lib
#   HUIYING_KAFKA_DIR      run dir: config, data, logs, pid (default <repo>/.cache/kafka-run)
#   KAFKA_KEEP_DATA=1      keep the data dir across starts (default: fresh every start)
#   KAFKA_START_TIMEOUT    seconds to wait for readiness (default 120)
#   KAFKA_HEAP_OPTS        JVM heap (default "-Xms256m -Xmx768m")
#   KAFKA_JAVA_OPTS        extra JVM options
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/../.." && pwd -P)"
POM="$SCRIPT_DIR/pom.xml"
LOG4J_CONFIG="$SCRIPT_DIR/log4j2.xml"

KAFKA_VERSION="$(sed -n 's:.*<kafka\.version>\([^<]*\)</kafka\.version>.*:\1:p' "$POM" | head -n 1)"
[[ -n "$KAFKA_VERSION" ]] || { echo "kafka.sh: cannot read <kafka.version> from $POM" >&2; exit 1; }

KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_HOST=127.0.0.1
CACHE_DIR="${HUIYING_CACHE:-$HOME/.cache/huiying}/kafka-$KAFKA_VERSION"
LIB_DIR="$CACHE_DIR/lib"
MARKER="$CACHE_DIR/.complete"
RUN_DIR="${HUIYING_KAFKA_DIR:-$REPO_ROOT/.cache/kafka-run}"
DATA_DIR="$RUN_DIR/data"
LOG_DIR="$RUN_DIR/logs"
CONFIG="$RUN_DIR/server.properties"
PID_FILE="$RUN_DIR/kafka.pid"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"

log() { echo "kafka.sh: $*" >&2; }
die() { log "$*"; exit 1; }

usage() {
  sed -n '2,/^set -euo pipefail$/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

# Serialises fetch/start/stop of concurrent invocations (two test runners starting at
# once). The broker itself must not inherit the lock fd: it is closed for the java child.
take_lock() {
  local dir="$1"
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  if command -v flock >/dev/null; then
    flock -w 300 9 || die "could not lock $dir/.lock within 300 s"
  fi
}

# The marker holds a hash of pom.xml: changing a pinned version re-fetches.
pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

fetched() { [[ -f "$MARKER" && "$(cat "$MARKER")" == "$(pom_hash)" && -d "$LIB_DIR" ]]; }

cmd_fetch() {
  if fetched; then
    log "kafka $KAFKA_VERSION already fetched in $LIB_DIR"
    return 0
  fi
  take_lock "$CACHE_DIR"
  if fetched; then # fetched by a concurrent invocation while we waited
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (Maven 3.8+ is needed to fetch the broker)"
  command -v java >/dev/null || die "java not found (Java 17+ is needed)"
  mkdir -p "$CACHE_DIR"
  local tmp="$CACHE_DIR/lib.tmp.$$"
  rm -rf "$tmp"
  log "fetching kafka_2.13 $KAFKA_VERSION from Maven Central into $LIB_DIR ..."
  local t0=$SECONDS
  # (sed: Maven 3.8 prints ANSI resets even in batch mode; pipefail keeps mvn's status)
  if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g' >&2; then
    rm -rf "$tmp"
    die "maven could not fetch the broker jars (see output above)"
  fi
  ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 \
    || { rm -rf "$tmp"; die "fetch finished but kafka_2.13-$KAFKA_VERSION.jar is missing"; }
  rm -rf "$LIB_DIR"
  mv "$tmp" "$LIB_DIR"
  pom_hash >"$MARKER"
  log "fetched $(ls "$LIB_DIR" | wc -l) jars in $((SECONDS - t0)) s"
}

# --- process / readiness helpers -------------------------------------------------------

read_pid() { [[ -f "$PID_FILE" ]] && tr -dc '0-9' <"$PID_FILE" || true; }

# True when the pid is alive AND is our broker (guards against a recycled pid).
is_our_broker() {
  local pid="$1"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 0 # no procfs: trust kill -0
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "kafka.Kafka $CONFIG"
}

port_open() { (exec 3<>"/dev/tcp/$KAFKA_HOST/$1") 2>/dev/null; }

# Speaks the Kafka protocol: sends ApiVersions v0 and checks the reply carries our
# correlation id and error_code 0. Port-open alone is true before the broker serves.
kafka_answers() {
  local reply
  reply="$(
    exec 2>/dev/null
    exec 3<>"/dev/tcp/$KAFKA_HOST/$KAFKA_PORT" || exit 1
    # size=14 | api_key=18 (ApiVersions) | api_version=0 | correlation_id=4242 | client_id="ping"
    printf '\x00\x00\x00\x0e\x00\x12\x00\x00\x00\x00\x10\x92\x00\x04ping' >&3
    timeout 5 head -c 10 <&3 | od -An -tx1 | tr -d ' \n'
  )" || return 1
  # 4 bytes size (any), correlation id 0x00001092, error code 0x0000
  [[ "$reply" =~ ^[0-9a-f]{8}000010920000$ ]]
}

log_says_started() { grep -q 'Kafka Server started' "$LOG_DIR/server.log" 2>/dev/null; }

ready() { port_open "$KAFKA_PORT" && log_says_started && kafka_answers; }

tail_logs() {
  local f
  for f in "$LOG_DIR/server.log" "$LOG_DIR/stdout.log"; do
    if [[ -s "$f" ]]; then
      echo "----- last 40 lines of $f -----" >&2
      tail -n 40 "$f" >&2
    fi
  done
}

# What `StorageTool random-uuid` prints (a Kafka Uuid: 16 random bytes, URL-safe base64
# without padding, never starting with '-'), without paying for a JVM start.
new_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    if [[ ${#id} -eq 22 && "$id" != -* ]]; then
      echo "$id"
      return 0
    fi
  done
}

write_config() {
  cat >"$CONFIG" <<EOF
# Generated by infra/kafka/kafka.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ); edits are overwritten.
# Single-node KRaft: this process is both broker and (the only) controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR

# One node: internal topics cannot have more than one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
default.replication.factor=1
# Fewer internal partitions than the default 50: faster first group join on 2 cores.
offsets.topic.num.partitions=5
transaction.state.log.num.partitions=5

# Tests: consumer groups join at once; topics only exist when created on purpose.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.partitions=3
EOF
}

# --- subcommands ------------------------------------------------------------------------

cmd_status() {
  local pid
  pid="$(read_pid)"
  if is_our_broker "$pid"; then
    if ready; then
      echo "kafka running (pid $pid) on $KAFKA_HOST:$KAFKA_PORT"
      return 0
    fi
    echo "kafka process $pid is alive but not (yet) serving on $KAFKA_HOST:$KAFKA_PORT"
    return 4
  fi
  echo "kafka not running"
  return 3
}

wait_ready() {
  local pid="$1" deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "broker process $pid exited during startup"
      tail_logs
      rm -f "$PID_FILE"
      return 1
    fi
    if ready; then return 0; fi
    sleep 0.5
  done
  log "broker not ready after ${START_TIMEOUT} s"
  tail_logs
  return 1
}

cmd_start() {
  local pid
  fetched || (cmd_fetch)
  take_lock "$RUN_DIR"
  pid="$(read_pid)"
  if is_our_broker "$pid"; then
    if ready; then
      echo "kafka already running (pid $pid) on $KAFKA_HOST:$KAFKA_PORT"
      return 0
    fi
    log "broker pid $pid is alive but not ready yet; waiting"
    wait_ready "$pid" || exit 1
    echo "kafka ready on $KAFKA_HOST:$KAFKA_PORT"
    return 0
  fi
  [[ -z "$pid" ]] || { log "removing stale pid file (pid $pid is not a running broker)"; rm -f "$PID_FILE"; }

  local p
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    if port_open "$p"; then
      die "port $KAFKA_HOST:$p is already in use by another process (not started by this script); set KAFKA_PORT / KAFKA_CONTROLLER_PORT"
    fi
  done

  local t0=$SECONDS

  mkdir -p "$LOG_DIR"
  write_config
  if [[ "${KAFKA_KEEP_DATA:-0}" == "1" && -f "$DATA_DIR/meta.properties" ]]; then
    log "KAFKA_KEEP_DATA=1: reusing $DATA_DIR"
  else
    rm -rf "$DATA_DIR"
    mkdir -p "$DATA_DIR"
    # Fresh log files too, so the readiness check cannot see a previous run's "started".
    rm -f "$LOG_DIR"/server.log* "$LOG_DIR"/state-change.log* "$LOG_DIR/stdout.log"
    local cluster_id
    cluster_id="$(new_cluster_id)"
    # controller.quorum.voters is set (static quorum), so a plain format (no --standalone).
    if ! java -cp "$LIB_DIR/*" \
        kafka.tools.StorageTool format -t "$cluster_id" -c "$CONFIG" >"$LOG_DIR/format.log" 2>&1; then
      cat "$LOG_DIR/format.log" >&2
      die "formatting $DATA_DIR failed"
    fi
  fi
  # Restarting with kept data: drop the old log so "Kafka Server started" is this run's.
  [[ -f "$LOG_DIR/server.log" ]] && mv -f "$LOG_DIR/server.log" "$LOG_DIR/server.log.prev"

  # shellcheck disable=SC2086 # HEAP_OPTS / KAFKA_JAVA_OPTS are word lists on purpose
  setsid nohup java $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
    -Dkafka.logs.dir="$LOG_DIR" \
    ${KAFKA_JAVA_OPTS:-} \
    -cp "$LIB_DIR/*" kafka.Kafka "$CONFIG" \
    >"$LOG_DIR/stdout.log" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  log "started broker pid $pid (kafka $KAFKA_VERSION, logs in $LOG_DIR), waiting up to ${START_TIMEOUT} s"

  if ! wait_ready "$pid"; then
    terminate "$pid"
    rm -f "$PID_FILE"
    exit 1
  fi
  log "broker ready after $((SECONDS - t0)) s"
  echo "kafka ready on $KAFKA_HOST:$KAFKA_PORT"
}

# SIGTERM (Kafka shuts down cleanly), then SIGKILL after STOP_TIMEOUT seconds.
terminate() {
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || return 0
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "broker pid $pid did not exit within ${STOP_TIMEOUT} s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
}

cmd_stop() {
  local pid
  [[ -d "$RUN_DIR" ]] || { echo "kafka not running"; return 0; }
  take_lock "$RUN_DIR"
  pid="$(read_pid)"
  if ! is_our_broker "$pid"; then
    rm -f "$PID_FILE"
    echo "kafka not running"
    return 0
  fi
  terminate "$pid"
  rm -f "$PID_FILE"
  echo "kafka stopped"
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
