#!/usr/bin/env bash
# Runs the local Gongkai infrastructure: a single-node Kafka broker (KRaft), the document store
# (MongoDB wire protocol, H2 file backend) and the identity provider (Keycloak, realm gongkai), as
# background processes of this machine.
#
#   infra.sh start  [WHAT]              start (no-op for what already runs), wait until ready,
#                                       then apply the principals and ACLs (kafka_acl.py) and
#                                       create the catalogue's topics
#   infra.sh stop   [WHAT]              SIGTERM, then SIGKILL after $GONGKAI_STOP_TIMEOUT s
#   infra.sh status [WHAT]              pid and liveness; exit 0 only if all asked for run
#   infra.sh env                        connection settings (Kafka as admin), as export lines
#
# WHAT is kafka, store, keycloak or all (the default).
#
# Every setting comes from env.sh and can be overridden from the environment (ports, run dir, ...),
# so tests can run a private pair on other ports in a temporary GONGKAI_RUN_DIR.
# Layout under $GONGKAI_RUN_DIR:
#   kafka.pid  kafka.log (console)  kafka/server.properties (mode 600)  kafka/data/  kafka/logs/server.log
#   store.pid  store.log            store/gongkai.mv (the store's data file)
#   keycloak.pid  keycloak.log      keycloak/home/data/ (H2 database, realm import); see
#                                   deploy/local/keycloak/keycloak.sh
# The broker requires SASL/SCRAM-SHA-512 (deploy/local/kafka/server.properties.template): every
# client authenticates as a principal of contracts/acl.py, with its local password
# (deploy/local/credentials.py); infra's own tools use `admin`.
# Run deploy/local/install.sh first.
set -euo pipefail

LOCAL_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/local/env.sh
source "$LOCAL_SRC/env.sh"

KAFKA_DIR="$GONGKAI_RUN_DIR/kafka"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_PROPS="$KAFKA_DIR/server.properties"
KAFKA_PID="$GONGKAI_RUN_DIR/kafka.pid"
KAFKA_OUT="$GONGKAI_RUN_DIR/kafka.log"
KAFKA_BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"

STORE_DIR="$GONGKAI_RUN_DIR/store"
STORE_DATA_FILE="${STORE_DATA_FILE:-$STORE_DIR/gongkai.mv}"
STORE_PID="$GONGKAI_RUN_DIR/store.pid"
STORE_OUT="$GONGKAI_RUN_DIR/store.log"
STORE_URL="mongodb://$STORE_HOST:$STORE_PORT"

# shellcheck source=deploy/local/keycloak/keycloak.sh
source "$LOCAL_SRC/keycloak/keycloak.sh"

say() { printf 'infra: %s\n' "$*"; }
die() { printf 'infra: ERROR: %s\n' "$*" >&2; exit 1; }

python_run() { # the venv's python, with the repository on the import path
    PYTHONPATH="$GONGKAI_HOME${PYTHONPATH:+:$PYTHONPATH}" "$VENV/bin/python" "$@"
}

# ------------------------------------------------------------------ processes
is_alive() { # is_alive PID: the process exists and is not a zombie awaiting its parent
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state="$(ps -o stat= -p "$1" 2>/dev/null || true)"
    [[ -n "$state" && "$state" != Z* ]]
}

# pid_of NAME: the pid recorded for NAME if that process is alive and is ours (its command line
# names our config/data path, so a recycled pid is not mistaken for it); empty otherwise.
pid_of() {
    local pidfile marker pid
    case "$1" in
        kafka) pidfile="$KAFKA_PID" marker="$KAFKA_PROPS" ;;
        store) pidfile="$STORE_PID" marker="$STORE_DATA_FILE" ;;
        keycloak) pidfile="$KEYCLOAK_PID" marker="$KEYCLOAK_MARKER" ;;
    esac
    [[ -f "$pidfile" ]] || return 0
    pid="$(cat "$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    if is_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"; then
        echo "$pid"
    fi
}

port_busy() { # port_busy HOST PORT: true if something accepts connections there
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

show_log_tail() {
    printf 'infra: --- last lines of %s ---\n' "$1" >&2
    tail -n "${2:-30}" "$1" >&2 || true
}

# ------------------------------------------------------------------ kafka
kafka_admin_password() {
    python_run "$LOCAL_SRC/credentials.py" kafka-password admin
}

render_kafka_config() {
    local admin_password
    mkdir -p "$KAFKA_DIR" "$KAFKA_DATA" "$KAFKA_DIR/logs"
    admin_password="$(kafka_admin_password)"
    [[ "$admin_password" =~ ^[0-9a-f]{32}$ ]] || die "kafka: could not derive the admin password"
    # umask 077: the rendered file holds the admin password.
    (umask 077 && sed -e "s|\${KAFKA_HOST}|$KAFKA_HOST|g" \
        -e "s|\${KAFKA_PORT}|$KAFKA_PORT|g" \
        -e "s|\${KAFKA_CONTROLLER_PORT}|$KAFKA_CONTROLLER_PORT|g" \
        -e "s|\${DATA_DIR}|$KAFKA_DATA|g" \
        -e "s|\${KAFKA_ADMIN_PASSWORD}|$admin_password|g" \
        "$LOCAL_SRC/kafka/server.properties.template" >"$KAFKA_PROPS.tmp")
    # shellcheck disable=SC2016 # a literal ${ left over is what we look for
    if grep -q '\${' "$KAFKA_PROPS.tmp"; then
        die "unsubstituted placeholder in $KAFKA_PROPS.tmp"
    fi
    mv "$KAFKA_PROPS.tmp" "$KAFKA_PROPS"
}

kafka_cmd() { # kafka_cmd MAIN_CLASS ARGS...: sets KAFKA_CMD to run a Kafka class with our classpath
    # shellcheck disable=SC2206 # heap/JVM options are word lists on purpose
    KAFKA_CMD=(java $KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS \
        -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$LOCAL_SRC/kafka/log4j2.yaml" \
        -Dkafka.logs.dir="$KAFKA_DIR/logs" \
        -cp "$KAFKA_LIBS/*" "$@")
}

KAFKA_SASL_MARK="$KAFKA_DIR/data.sasl" # the storage was formatted with the admin's SCRAM credential

format_kafka_storage() {
    if [[ -f "$KAFKA_DATA/meta.properties" && ! -f "$KAFKA_SASL_MARK" ]]; then
        # Formatted by an older infra.sh, without SASL: nobody could authenticate to it.
        local aside
        aside="$KAFKA_DIR/data.plaintext-$(date +%Y%m%d%H%M%S)"
        say "kafka: $KAFKA_DATA predates SASL: moving it to $aside and formatting anew"
        mv "$KAFKA_DATA" "$aside"
        mkdir -p "$KAFKA_DATA"
    fi
    if [[ -f "$KAFKA_DATA/meta.properties" ]]; then
        return
    fi
    local cluster_id
    kafka_cmd kafka.tools.StorageTool random-uuid
    cluster_id="$("${KAFKA_CMD[@]}" | tail -n 1)"
    say "kafka: formatting storage in $KAFKA_DATA (cluster id $cluster_id, SCRAM user admin)"
    # The broker authenticates to itself as admin: that credential must exist before it starts.
    # The other principals are added by kafka_acl.py once it runs.
    kafka_cmd kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$KAFKA_PROPS" \
        --add-scram "SCRAM-SHA-512=[name=admin,password=$(kafka_admin_password)]"
    # Not into the log: the tool prints the bootstrap records, the admin's salted keys among them.
    "${KAFKA_CMD[@]}" 2>&1 | sed '/^Bootstrap metadata:/d' >>"$KAFKA_OUT" \
        || { show_log_tail "$KAFKA_OUT"; die "kafka: storage format failed"; }
    touch "$KAFKA_SASL_MARK"
}

STARTED_KAFKA=0
launch_kafka() { # starts the broker in the background unless it runs; sets STARTED_KAFKA
    local pid port
    pid="$(pid_of kafka)"
    if [[ -n "$pid" ]]; then
        say "kafka: already running (pid $pid, $KAFKA_BOOTSTRAP)"
        return 0
    fi
    compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null \
        || die "kafka jars missing in $KAFKA_LIBS: run deploy/local/install.sh"
    for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
        ! port_busy "$KAFKA_HOST" "$port" || die "kafka: port $KAFKA_HOST:$port already in use"
    done
    mkdir -p "$GONGKAI_RUN_DIR"
    render_kafka_config
    format_kafka_storage
    say "kafka: starting on $KAFKA_BOOTSTRAP (controller :$KAFKA_CONTROLLER_PORT), log $KAFKA_OUT"
    kafka_cmd kafka.Kafka "$KAFKA_PROPS"
    # 9>&-: the broker must not inherit (and so keep holding) the lock of this script.
    nohup "${KAFKA_CMD[@]}" </dev/null >>"$KAFKA_OUT" 2>&1 9>&- &
    echo $! >"$KAFKA_PID"
    STARTED_KAFKA=1
}

wait_kafka() {
    local pid
    pid="$(cat "$KAFKA_PID")"
    if ! python_run "$LOCAL_SRC/kafka_ready.py" --bootstrap "$KAFKA_BOOTSTRAP" \
        --timeout "$GONGKAI_START_TIMEOUT" --pid "$pid"; then
        show_log_tail "$KAFKA_OUT"
        say "kafka: not ready (see $KAFKA_OUT and $KAFKA_DIR/logs/server.log)" >&2
        return 1
    fi
    say "kafka: ready (pid $pid, rss $(rss_of "$pid"))"
}

apply_kafka_acls() { # principals (SCRAM users) and ACLs of contracts/acl.py, as admin
    python_run "$LOCAL_SRC/kafka_acl.py" apply --bootstrap "$KAFKA_BOOTSTRAP" \
        | sed 's/^/infra: /'
}

create_topics() {
    python_run "$LOCAL_SRC/create_topics.py" --bootstrap "$KAFKA_BOOTSTRAP" \
        | sed 's/^/infra: /'
}

# ------------------------------------------------------------------ store
STARTED_STORE=0
launch_store() { # starts the store in the background unless it runs; sets STARTED_STORE
    local pid
    pid="$(pid_of store)"
    if [[ -n "$pid" ]]; then
        say "store: already running (pid $pid, $STORE_URL)"
        return 0
    fi
    [[ -f "$STORE_CLASSES/GongkaiStore.class" ]] \
        || die "store not built in $STORE_CLASSES: run deploy/local/install.sh"
    ! port_busy "$STORE_HOST" "$STORE_PORT" || die "store: port $STORE_HOST:$STORE_PORT already in use"
    mkdir -p "$GONGKAI_RUN_DIR" "$(dirname "$STORE_DATA_FILE")"
    say "store: starting on $STORE_URL, data $STORE_DATA_FILE, log $STORE_OUT"
    # shellcheck disable=SC2086 # heap/JVM options are word lists on purpose
    nohup java $STORE_HEAP_OPTS $STORE_JVM_OPTS \
        -Djava.awt.headless=true \
        -Dorg.slf4j.simpleLogger.showDateTime=true \
        -Dorg.slf4j.simpleLogger.dateTimeFormat="yyyy-MM-dd'T'HH:mm:ss.SSS" \
        -Dorg.slf4j.simpleLogger.log.de.bwaldvogel.mongo.wire=warn \
        -cp "$STORE_CLASSES:$STORE_LIBS/*" \
        GongkaiStore "$STORE_DATA_FILE" "$STORE_PORT" "$STORE_HOST" \
        </dev/null >>"$STORE_OUT" 2>&1 9>&- &
    echo $! >"$STORE_PID"
    STARTED_STORE=1
}

wait_store() {
    local pid
    pid="$(cat "$STORE_PID")"
    if ! python_run "$LOCAL_SRC/store_ready.py" --url "$STORE_URL" \
        --timeout "$GONGKAI_START_TIMEOUT" --pid "$pid"; then
        show_log_tail "$STORE_OUT"
        say "store: not ready (see $STORE_OUT)" >&2
        return 1
    fi
    say "store: ready (pid $pid, rss $(rss_of "$pid"))"
}

# ------------------------------------------------------------------ commands
rss_of() { # resident set size of a pid, human readable
    local kb
    kb="$(ps -o rss= -p "$1" 2>/dev/null | tr -d ' ')"
    [[ -n "$kb" ]] && echo "$((kb / 1024)) MiB" || echo "?"
}

stop_one() {
    local name="$1" pid pidfile waited=0
    case "$name" in
        kafka) pidfile="$KAFKA_PID" ;;
        store) pidfile="$STORE_PID" ;;
        keycloak) pidfile="$KEYCLOAK_PID" ;;
    esac
    pid="$(pid_of "$name")"
    if [[ -z "$pid" ]]; then
        rm -f "$pidfile"
        say "$name: not running"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    while is_alive "$pid"; do
        if ((waited >= GONGKAI_STOP_TIMEOUT * 10)); then
            say "$name: still alive after ${GONGKAI_STOP_TIMEOUT}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
            break
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    rm -f "$pidfile"
    say "$name: stopped (pid $pid, $((waited / 10)).$((waited % 10)) s)"
}

status_one() {
    local name="$1" pid where
    case "$name" in
        kafka) where="$KAFKA_BOOTSTRAP" ;;
        store) where="$STORE_URL" ;;
        keycloak) where="$KEYCLOAK_ISSUER" ;;
    esac
    pid="$(pid_of "$name")"
    if [[ -n "$pid" ]]; then
        say "$name: running (pid $pid, $where, rss $(rss_of "$pid"))"
        return 0
    fi
    say "$name: stopped ($where)"
    return 1
}

lock_run_dir() { # one start/stop at a time per run dir (concurrent callers wait their turn)
    mkdir -p "$GONGKAI_RUN_DIR"
    exec 9>"$GONGKAI_RUN_DIR/.infra.lock"
    flock 9
}

cmd_start() {
    local which="$1"
    [[ -x "$VENV/bin/python" ]] || die "no Python venv at $VENV: run deploy/local/install.sh"
    lock_run_dir
    trap abort_start EXIT
    # Launch all first, then wait: the JVMs start in parallel (Keycloak, the slowest, first).
    if [[ "$which" == keycloak || "$which" == all ]]; then launch_keycloak; fi
    if [[ "$which" == store || "$which" == all ]]; then launch_store; fi
    if [[ "$which" == kafka || "$which" == all ]]; then launch_kafka; fi
    if ((STARTED_STORE)); then wait_store || die "store: start failed"; fi
    if ((STARTED_KAFKA)); then
        wait_kafka || die "kafka: start failed"
        apply_kafka_acls || die "kafka: principals and ACLs not applied"
        create_topics || die "kafka: topic creation failed"
    fi
    if ((STARTED_KEYCLOAK)); then wait_keycloak || die "keycloak: start failed"; fi
    trap - EXIT
}

abort_start() { # EXIT trap of a failed start: leave nothing half-started behind
    local rc=$?
    trap - EXIT
    if ((STARTED_KAFKA)); then stop_one kafka || true; fi
    if ((STARTED_STORE)); then stop_one store || true; fi
    if ((STARTED_KEYCLOAK)); then stop_one keycloak || true; fi
    exit "$rc"
}

cmd_stop() {
    local which="$1"
    lock_run_dir
    # Stop all at once; each waits for its own process.
    if [[ "$which" == all ]]; then
        stop_one kafka &
        local kafka_stopper=$!
        stop_one keycloak &
        local keycloak_stopper=$!
        stop_one store
        wait "$kafka_stopper"
        wait "$keycloak_stopper"
    else
        stop_one "$which"
    fi
}

cmd_status() {
    local which="$1" rc=0
    if [[ "$which" == kafka || "$which" == all ]]; then status_one kafka || rc=3; fi
    if [[ "$which" == store || "$which" == all ]]; then status_one store || rc=3; fi
    if [[ "$which" == keycloak || "$which" == all ]]; then status_one keycloak || rc=3; fi
    return "$rc"
}

cmd_env() {
    printf 'export GONGKAI_KAFKA_BOOTSTRAP=%q\n' "$KAFKA_BOOTSTRAP"
    # As admin (the local super user): for tools run by hand. Services get their own principal
    # from deploy/local/stack.py.
    printf 'export GONGKAI_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT\n'
    printf 'export GONGKAI_KAFKA_SASL_MECHANISM=SCRAM-SHA-512\n'
    printf 'export GONGKAI_KAFKA_USERNAME=admin\n'
    printf 'export GONGKAI_KAFKA_PASSWORD=%q\n' "$(kafka_admin_password)"
    printf 'export GONGKAI_MONGO_URL=%q\n' "$STORE_URL"
    printf 'export GONGKAI_OIDC_ISSUER=%q\n' "$KEYCLOAK_ISSUER"
}

usage() {
    echo "usage: infra.sh {start|stop|status|env} [kafka|store|keycloak|all]" >&2
    exit 2
}

command="${1:-}"
target="${2:-all}"
case "$target" in kafka | store | keycloak | all) ;; *) usage ;; esac
case "$command" in
    start) cmd_start "$target" ;;
    stop) cmd_stop "$target" ;;
    status) cmd_status "$target" ;;
    env) cmd_env ;;
    *) usage ;;
esac
