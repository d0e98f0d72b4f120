# shellcheck shell=bash
# Settings of the local Gongkai infrastructure (Kafka broker + document store + identity provider).
# Sourced by install.sh and infra.sh; every value can be overridden from the environment, e.g.
#   GONGKAI_RUN_DIR=/tmp/x KAFKA_PORT=29092 KAFKA_CONTROLLER_PORT=29093 STORE_PORT=29017 \
#     bash deploy/local/infra.sh start

_gongkai_local_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Repository root (two levels above deploy/local).
: "${GONGKAI_HOME:=$(cd "$_gongkai_local_dir/../.." && pwd)}"
# Where built things live (gitignored): venv, Kafka and store jars, compiled classes.
: "${GONGKAI_LOCAL_DIR:=$GONGKAI_HOME/.local}"
# Runtime state: pid files, logs, rendered configs, data.
: "${GONGKAI_RUN_DIR:=$GONGKAI_LOCAL_DIR/run}"

: "${KAFKA_HOST:=127.0.0.1}"
: "${KAFKA_PORT:=19092}"
: "${KAFKA_CONTROLLER_PORT:=19093}"
# JVM heap of the broker. 256m is ample for a single dev/test node.
: "${KAFKA_HEAP_OPTS:=-Xms64m -Xmx256m}"
# Other JVM options of both JVMs: the serial collector and the C1 compiler alone keep memory and
# start-up CPU low on a 2-core machine; ample for local development and tests.
: "${KAFKA_JVM_OPTS:=-XX:+UseSerialGC -XX:TieredStopAtLevel=1}"

: "${STORE_HOST:=127.0.0.1}"
: "${STORE_PORT:=27117}"
# The store's heap: a fixed 128 MB young generation and 256 MB to start with. With -Xmn32m (and
# -Xms64m) a burst of 10,000 applications spent a fifth of the store's CPU in collections (4,118
# young and 239 full ones in 7 minutes: its 3 MB survivor spaces promoted every large document
# early); at 200 applications -Xmn128m took the store from 118 to 98 ms of CPU per application and
# the system from 6.8 to 8.0 applications/s. RSS: ~80 MB at rest, ~300 MB after that load.
: "${STORE_HEAP_OPTS:=-Xms256m -Xmx1g -Xmn128m}"
# The store's page cache (H2 MVStore), MB as H2 counts them (see GongkaiStore.java).
: "${STORE_CACHE_MB:=128}"
: "${STORE_JVM_OPTS:=-XX:+UseSerialGC -XX:TieredStopAtLevel=1}"

# The local identity provider (Keycloak, realm "gongkai"), on loopback. The management port
# (health/metrics, off by default) is pinned too so that it never takes Keycloak's default 9000.
: "${KEYCLOAK_HOST:=127.0.0.1}"
: "${KEYCLOAK_PORT:=18080}"
: "${KEYCLOAK_MGMT_PORT:=18081}"
: "${KEYCLOAK_HEAP_OPTS:=-Xms64m -Xmx384m}"
# C1 only and the serial collector halve Keycloak's start-up CPU here (2 cores, Java 17).
: "${KEYCLOAK_JVM_OPTS:=-XX:+UseSerialGC -XX:TieredStopAtLevel=1}"
# Keycloak needs longer than the others on a first start of a busy machine.
: "${KEYCLOAK_START_TIMEOUT:=240}"

: "${VENV:=$GONGKAI_LOCAL_DIR/venv}"
# Interpreter used to create the venv (only when it is missing).
: "${GONGKAI_PYTHON:=python3}"

# Seconds to wait for a service to become ready, and for it to stop before SIGKILL.
: "${GONGKAI_START_TIMEOUT:=90}"
: "${GONGKAI_STOP_TIMEOUT:=30}"

KAFKA_LIBS="$GONGKAI_LOCAL_DIR/kafka/libs"
# deploy/local/kafka/GongkaiKafkaAdmin.java compiled (by kafka_acl.py, on first use).
KAFKA_ADMIN_CLASSES="$GONGKAI_LOCAL_DIR/kafka/classes"
STORE_LIBS="$GONGKAI_LOCAL_DIR/store/libs"
STORE_CLASSES="$GONGKAI_LOCAL_DIR/store/classes"
# Keycloak's distribution (built for start --optimized) and the install-time template: an H2
# database with the realm already imported, and a class-data archive of the JVM (install.sh).
KEYCLOAK_DIST="$GONGKAI_LOCAL_DIR/keycloak/dist"
KEYCLOAK_TEMPLATE="$GONGKAI_LOCAL_DIR/keycloak/template"

export GONGKAI_HOME GONGKAI_LOCAL_DIR GONGKAI_RUN_DIR
export KAFKA_HOST KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_HEAP_OPTS KAFKA_JVM_OPTS
export STORE_HOST STORE_PORT STORE_HEAP_OPTS STORE_JVM_OPTS STORE_CACHE_MB VENV GONGKAI_PYTHON
export GONGKAI_START_TIMEOUT GONGKAI_STOP_TIMEOUT KAFKA_LIBS STORE_LIBS STORE_CLASSES
export KAFKA_ADMIN_CLASSES
export KEYCLOAK_HOST KEYCLOAK_PORT KEYCLOAK_MGMT_PORT KEYCLOAK_HEAP_OPTS KEYCLOAK_JVM_OPTS
export KEYCLOAK_START_TIMEOUT KEYCLOAK_DIST KEYCLOAK_TEMPLATE
unset _gongkai_local_dir
