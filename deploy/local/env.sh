# shellcheck shell=bash
# Settings of the local Gongkai infrastructure (Kafka broker + document store).
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
: "${STORE_HEAP_OPTS:=-Xms16m -Xmx128m}"
: "${STORE_JVM_OPTS:=-XX:+UseSerialGC -XX:TieredStopAtLevel=1}"

: "${VENV:=$GONGKAI_LOCAL_DIR/venv}"
# Interpreter used to create the venv (only when it is missing).
: "${GONGKAI_PYTHON:=python3}"

# Seconds to wait for a service to become ready, and for it to stop before SIGKILL.
: "${GONGKAI_START_TIMEOUT:=90}"
: "${GONGKAI_STOP_TIMEOUT:=30}"

KAFKA_LIBS="$GONGKAI_LOCAL_DIR/kafka/libs"
STORE_LIBS="$GONGKAI_LOCAL_DIR/store/libs"
STORE_CLASSES="$GONGKAI_LOCAL_DIR/store/classes"

export GONGKAI_HOME GONGKAI_LOCAL_DIR GONGKAI_RUN_DIR
export KAFKA_HOST KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_HEAP_OPTS KAFKA_JVM_OPTS
export STORE_HOST STORE_PORT STORE_HEAP_OPTS STORE_JVM_OPTS VENV GONGKAI_PYTHON
export GONGKAI_START_TIMEOUT GONGKAI_STOP_TIMEOUT KAFKA_LIBS STORE_LIBS STORE_CLASSES
unset _gongkai_local_dir
