# shellcheck shell=bash
# The local identity provider (Keycloak's Quarkus distribution, realm "gongkai"): the Keycloak
# steps of install.sh and infra.sh. Sourced by both after env.sh; uses their say/die, and
# need/stamp_matches/MVN_OPTS (install.sh) or pid_of/is_alive/port_busy/show_log_tail/python_run/
# rss_of (infra.sh).
#
# Install (.local/keycloak/, each step with a stamp, skipped while its inputs are unchanged):
#   dist/      the zip of pom.xml (org.keycloak:keycloak-quarkus-dist, Maven Central), unpacked;
#              then `kc.sh build` with KEYCLOAK_BUILD_OPTS, so that every start is
#              `start --optimized` (no build at start: ~1.5 min saved each time on 2 cores).
#   template/  keycloakdb.mv.db: an H2 database with the realm already imported (`kc.sh import`),
#              copied into each new run dir, so that a first start does not create the schema nor
#              import the realm; keycloak.jsa: a class-data archive of that import run's JVM
#              (AppCDS), which cuts a third of the start's CPU. Remade when the realm file, the
#              build or the JVM changes.
# Run ($GONGKAI_RUN_DIR):
#   keycloak.pid (the JVM)  keycloak.log (console)
#   keycloak/home/          Keycloak's home for this run dir: data/ (h2/, import/, transaction
#                           logs) is its own, bin conf lib providers themes link to the dist
#   keycloak/realm.sha256   which realm file the database holds; a changed realm file gives a new
#                           database (the old one is moved aside)
# The realm is imported at start (--import-realm, from keycloak/home/data/import/, skipped when
# the database has it already), so a fresh run dir works without the template, only slower.

KEYCLOAK_SRC="$LOCAL_SRC/keycloak"
KEYCLOAK_POM="$KEYCLOAK_SRC/pom.xml"
KEYCLOAK_REALM_NAME=gongkai
KEYCLOAK_REALM_FILE="$KEYCLOAK_SRC/realm-gongkai.json"
# Build-time options: the H2 file database (local development and tests only).
KEYCLOAK_BUILD_OPTS=(--db=dev-file)
KEYCLOAK_ISSUER="http://$KEYCLOAK_HOST:$KEYCLOAK_PORT/realms/$KEYCLOAK_REALM_NAME"

KEYCLOAK_DIR="$GONGKAI_RUN_DIR/keycloak"
KEYCLOAK_RUN_HOME="$KEYCLOAK_DIR/home"
KEYCLOAK_PID="$GONGKAI_RUN_DIR/keycloak.pid"
KEYCLOAK_OUT="$GONGKAI_RUN_DIR/keycloak.log"
# What identifies our JVM in its command line (pid_of): the home of this run dir.
KEYCLOAK_MARKER="-Dkc.home.dir=$KEYCLOAK_RUN_HOME"

# JAVA_OPTS for kc.sh: kc.sh's own defaults (26.x) with our collector, compiler and heap instead of
# G1 and its 512m default; kc.sh still adds its --add-opens and locale options. The class-data
# archive options are added by the callers.
keycloak_java_opts() {
    printf '%s ' -XX:MetaspaceSize=96M -XX:MaxMetaspaceSize=256m \
        -Dfile.encoding=UTF-8 -Dsun.stdout.encoding=UTF-8 -Dsun.err.encoding=UTF-8 \
        -Dstdout.encoding=UTF-8 -Dstderr.encoding=UTF-8 \
        -XX:+ExitOnOutOfMemoryError -Djava.security.egd=file:/dev/urandom \
        -Djdk.tls.rejectClientInitiatedRenegotiation=true -Djava.awt.headless=true
    printf '%s' "$KEYCLOAK_HEAP_OPTS $KEYCLOAK_JVM_OPTS"
}

keycloak_sha256() { # keycloak_sha256 FILE: its sha256, hex
    sha256sum <"$1" | cut -d' ' -f1
}

# keycloak_home DIR: a Keycloak home with its own data/; everything else is the distribution's.
keycloak_home() {
    local d
    mkdir -p "$1/data"
    for d in bin conf lib providers themes; do
        ln -sfn "$KEYCLOAK_DIST/$d" "$1/$d"
    done
}

# ================================================================== install.sh
keycloak_unpack() {
    local want stamp="$KEYCLOAK_DIST.sha256" tmp="$GONGKAI_LOCAL_DIR/keycloak/unpack.tmp" top
    want="$(keycloak_sha256 "$KEYCLOAK_POM")"
    if [[ -x "$KEYCLOAK_DIST/bin/kc.sh" ]] && stamp_matches "$stamp" "$want"; then
        say "keycloak dist: up to date ($(cat "$KEYCLOAK_DIST/version.txt" 2>/dev/null || echo '?'))"
        return
    fi
    need mvn "Maven 3.8+ fetches Keycloak from Maven Central"
    say "keycloak dist: fetching and unpacking with mvn (${KEYCLOAK_POM#"$GONGKAI_HOME"/})"
    rm -rf "$tmp"
    # Maven 3.8 prints colour resets even in batch/quiet mode: strip escape sequences.
    mvn "${MVN_OPTS[@]}" -f "$KEYCLOAK_POM" dependency:unpack -Dkeycloak.unpack.dir="$tmp" 2>&1 \
        | sed 's/\x1b\[[0-9;]*m//g'
    top="$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name 'keycloak-*' | head -n 1)"
    [[ -n "$top" && -x "$top/bin/kc.sh" ]] || die "keycloak: no keycloak-*/bin/kc.sh in the unpacked zip"
    rm -rf "$KEYCLOAK_DIST" "$KEYCLOAK_DIST.build.sha256" "$KEYCLOAK_TEMPLATE.sha256"
    mv "$top" "$KEYCLOAK_DIST"
    rm -rf "$tmp"
    echo "$want" >"$stamp"
    say "keycloak dist: $(cat "$KEYCLOAK_DIST/version.txt"), $(du -sh "$KEYCLOAK_DIST" | cut -f1)"
}

keycloak_build() {
    local want stamp="$KEYCLOAK_DIST.build.sha256" t0=$EPOCHREALTIME
    want="$(printf '%s\n' "$(cat "$KEYCLOAK_DIST.sha256")" "${KEYCLOAK_BUILD_OPTS[@]}" | sha256sum | cut -d' ' -f1)"
    if stamp_matches "$stamp" "$want"; then
        say "keycloak build: up to date (${KEYCLOAK_BUILD_OPTS[*]})"
        return
    fi
    say "keycloak build: kc.sh build ${KEYCLOAK_BUILD_OPTS[*]} (once; every start is then --optimized)"
    rm -f "$stamp"
    JAVA_OPTS="$(keycloak_java_opts)" "$KEYCLOAK_DIST/bin/kc.sh" build "${KEYCLOAK_BUILD_OPTS[@]}" \
        >"$GONGKAI_LOCAL_DIR/keycloak/build.log" 2>&1 \
        || { keycloak_show_tail "$GONGKAI_LOCAL_DIR/keycloak/build.log"; die "keycloak: kc.sh build failed"; }
    echo "$want" >"$stamp"
    say "keycloak build: done in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s"
}

keycloak_template_hash() { # what the template depends on: build, realm file, JVM and its options
    {
        cat "$KEYCLOAK_DIST.build.sha256" "$KEYCLOAK_REALM_FILE"
        echo "${JAVA_HOME:-}"
        java -version 2>&1
        keycloak_java_opts
    } | sha256sum | cut -d' ' -f1
}

keycloak_template() {
    local want stamp="$KEYCLOAK_TEMPLATE.sha256" tmp="$KEYCLOAK_TEMPLATE.tmp" t0=$EPOCHREALTIME
    want="$(keycloak_template_hash)"
    if [[ -f "$KEYCLOAK_TEMPLATE/keycloakdb.mv.db" ]] && stamp_matches "$stamp" "$want"; then
        say "keycloak template: up to date (realm ${KEYCLOAK_REALM_FILE#"$GONGKAI_HOME"/})"
        return
    fi
    say "keycloak template: importing the realm into a template database (kc.sh import)"
    rm -rf "$tmp"
    keycloak_home "$tmp/home"
    # The import's JVM writes the class-data archive at its exit (-XX:ArchiveClassesAtExit).
    JAVA_OPTS="$(keycloak_java_opts) -XX:ArchiveClassesAtExit=$tmp/keycloak.jsa" \
        "$KEYCLOAK_DIST/bin/kc.sh" "-Dkc.home.dir=$tmp/home" import --optimized \
        --file="$KEYCLOAK_REALM_FILE" >"$tmp/import.log" 2>&1 \
        || { keycloak_show_tail "$tmp/import.log"; die "keycloak: realm import into the template failed"; }
    grep -q "Realm '$KEYCLOAK_REALM_NAME' imported" "$tmp/import.log" \
        || { keycloak_show_tail "$tmp/import.log"; die "keycloak: the import did not report realm $KEYCLOAK_REALM_NAME"; }
    [[ -f "$tmp/home/data/h2/keycloakdb.mv.db" ]] || die "keycloak: no H2 database after the import"
    mv "$tmp/home/data/h2/keycloakdb.mv.db" "$tmp/keycloakdb.mv.db"
    [[ -f "$tmp/keycloak.jsa" ]] || say "keycloak template: no class-data archive written (starts will be slower)"
    keycloak_sha256 "$KEYCLOAK_REALM_FILE" >"$tmp/realm.sha256"
    rm -rf "$tmp/home"
    rm -rf "$KEYCLOAK_TEMPLATE"
    mv "$tmp" "$KEYCLOAK_TEMPLATE"
    echo "$want" >"$stamp"
    say "keycloak template: done in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s"
}

keycloak_show_tail() {
    printf 'install: --- last lines of %s ---\n' "$1" >&2
    tail -n 30 "$1" >&2 || true
}

install_keycloak() {
    need java "Java 17+ runs Keycloak"
    mkdir -p "$GONGKAI_LOCAL_DIR/keycloak"
    keycloak_unpack
    keycloak_build
    keycloak_template
}

# ================================================================== infra.sh
# Does the template hold the current realm file? (Else a new run dir imports at start.)
keycloak_template_usable() {
    [[ -f "$KEYCLOAK_TEMPLATE/keycloakdb.mv.db" && -f "$KEYCLOAK_TEMPLATE/realm.sha256" ]] \
        && [[ "$(cat "$KEYCLOAK_TEMPLATE/realm.sha256")" == "$(keycloak_sha256 "$KEYCLOAK_REALM_FILE")" ]]
}

prepare_keycloak_data() {
    local db="$KEYCLOAK_RUN_HOME/data/h2/keycloakdb.mv.db" realm_hash aside
    realm_hash="$(keycloak_sha256 "$KEYCLOAK_REALM_FILE")"
    if [[ -f "$db" && "$(cat "$KEYCLOAK_DIR/realm.sha256" 2>/dev/null)" != "$realm_hash" ]]; then
        # The import skips a realm that exists: a changed realm file needs a new database.
        aside="$KEYCLOAK_DIR/h2.old-$(date +%Y%m%d%H%M%S)"
        say "keycloak: the realm file changed since this database was made: moving it to $aside"
        mv "$KEYCLOAK_RUN_HOME/data/h2" "$aside"
    fi
    mkdir -p "$KEYCLOAK_RUN_HOME/data/h2" "$KEYCLOAK_RUN_HOME/data/import"
    if [[ ! -f "$db" ]]; then
        if keycloak_template_usable; then
            cp "$KEYCLOAK_TEMPLATE/keycloakdb.mv.db" "$db"
            say "keycloak: new database from the install-time template (realm $KEYCLOAK_REALM_NAME)"
        else
            say "keycloak: new database; the realm is imported at start (slower: the template of" \
                "deploy/local/install.sh is missing or older than the realm file)"
        fi
    fi
    cp "$KEYCLOAK_REALM_FILE" "$KEYCLOAK_RUN_HOME/data/import/realm-$KEYCLOAK_REALM_NAME.json"
    echo "$realm_hash" >"$KEYCLOAK_DIR/realm.sha256"
}

STARTED_KEYCLOAK=0
KEYCLOAK_LAUNCHED_AT=$EPOCHREALTIME
launch_keycloak() { # starts Keycloak in the background unless it runs; sets STARTED_KEYCLOAK
    local pid sh_pid java_opts i
    pid="$(pid_of keycloak)"
    if [[ -n "$pid" ]]; then
        say "keycloak: already running (pid $pid, $KEYCLOAK_ISSUER)"
        return 0
    fi
    [[ -x "$KEYCLOAK_DIST/bin/kc.sh" && -f "$KEYCLOAK_DIST.build.sha256" ]] \
        || die "keycloak not installed in $KEYCLOAK_DIST: run deploy/local/install.sh"
    ! port_busy "$KEYCLOAK_HOST" "$KEYCLOAK_PORT" \
        || die "keycloak: port $KEYCLOAK_HOST:$KEYCLOAK_PORT already in use"
    mkdir -p "$KEYCLOAK_DIR"
    keycloak_home "$KEYCLOAK_RUN_HOME"
    prepare_keycloak_data
    java_opts="$(keycloak_java_opts)"
    if [[ -f "$KEYCLOAK_TEMPLATE/keycloak.jsa" ]]; then
        java_opts+=" -XX:SharedArchiveFile=$KEYCLOAK_TEMPLATE/keycloak.jsa"
    fi
    local admin=()
    if [[ -n "${KEYCLOAK_ADMIN_PASSWORD:-}" ]]; then # opt-in: an admin console user (master realm)
        admin=(KC_BOOTSTRAP_ADMIN_USERNAME="${KEYCLOAK_ADMIN_USER:-admin}"
            KC_BOOTSTRAP_ADMIN_PASSWORD="$KEYCLOAK_ADMIN_PASSWORD")
    fi
    say "keycloak: starting on http://$KEYCLOAK_HOST:$KEYCLOAK_PORT (realm $KEYCLOAK_REALM_NAME), log $KEYCLOAK_OUT"
    # The issuer is fixed (--hostname), whatever Host a client uses. 9>&-: Keycloak must not
    # inherit (and so keep holding) the lock of this script.
    nohup env JAVA_OPTS="$java_opts" "${admin[@]}" "$KEYCLOAK_DIST/bin/kc.sh" "$KEYCLOAK_MARKER" \
        start --optimized --http-enabled=true \
        --http-host="$KEYCLOAK_HOST" --http-port="$KEYCLOAK_PORT" \
        --http-management-port="$KEYCLOAK_MGMT_PORT" \
        --hostname="http://$KEYCLOAK_HOST:$KEYCLOAK_PORT" \
        --cache=local --import-realm --log-console-color=false \
        </dev/null >>"$KEYCLOAK_OUT" 2>&1 9>&- &
    sh_pid=$!
    KEYCLOAK_LAUNCHED_AT=$EPOCHREALTIME
    # kc.sh runs the JVM as its child: record the JVM (signals, rss), once it is there.
    echo "$sh_pid" >"$KEYCLOAK_PID"
    for ((i = 0; i < 100; i++)); do
        pid="$({ ps -o pid=,comm= --ppid "$sh_pid" 2>/dev/null || true; } | awk '$2 == "java" { print $1; exit }')"
        if [[ -n "$pid" ]]; then
            echo "$pid" >"$KEYCLOAK_PID"
            break
        fi
        is_alive "$sh_pid" || break
        sleep 0.05
    done
    STARTED_KEYCLOAK=1
}

wait_keycloak() {
    local pid
    pid="$(cat "$KEYCLOAK_PID")"
    if ! python_run -m deploy.local.idp wait --issuer "$KEYCLOAK_ISSUER" \
        --timeout "$KEYCLOAK_START_TIMEOUT" --pid "$pid"; then
        show_log_tail "$KEYCLOAK_OUT"
        say "keycloak: not ready (see $KEYCLOAK_OUT)" >&2
        return 1
    fi
    local took
    took="$(awk -v a="$KEYCLOAK_LAUNCHED_AT" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
    say "keycloak: ready $took s after launch (pid $pid, issuer $KEYCLOAK_ISSUER, rss $(rss_of "$pid"))"
}
