#!/usr/bin/env bash
# Installs everything the local Gongkai infrastructure needs, from a fresh clone:
#   - the Python venv at $VENV with requirements.lock;
#   - the Kafka broker's jars (Maven Central) under .local/kafka/libs;
#   - the document store's jars under .local/store/libs and its compiled main under
#     .local/store/classes;
#   - the local identity provider, Keycloak (Maven Central zip), under .local/keycloak: unpacked,
#     built for `start --optimized`, and a template database with our realm imported
#     (deploy/local/keycloak/keycloak.sh);
#   - the Debian packages the reply documents need (a CJK font and HarfBuzz's subsetter for the
#     PDFs, poppler-utils for the document tests) and the page tests' browser (chromium), with
#     apt-get, only when one is missing;
#   - the official AsyncAPI parser (@asyncapi/parser, npm, pinned by deploy/local/asyncapi/
#     package-lock.json) under .local/asyncapi, with which the tests validate docs/asyncapi/;
#   - the local SMSC (deploy/local/smsc/smsc.mjs, an SMPP 3.4 server on the npm package smpp,
#     pinned by deploy/local/smsc/package-lock.json) under .local/smsc, for notify's SMS channel;
#   - a check of the vendored front-end assets (htmx, axe-core, Swagger UI, ReDoc; committed,
#     never downloaded at run time) against deploy/local/assets/manifest.json.
# Idempotent: each step keeps a stamp (sha256 of its inputs) and is skipped while its inputs have
# not changed (Debian packages: while dpkg has them installed). Needs python3 (3.11+), java/javac
# 17+ and mvn on PATH, and node 18+ with npm; downloads go through pip, mvn (Maven caches jars in
# ~/.m2), npm and apt-get.
set -euo pipefail

LOCAL_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/local/env.sh
source "$LOCAL_SRC/env.sh"

MVN_OPTS=(-B -q)
t_start=$EPOCHREALTIME

say() { printf 'install: %s\n' "$*"; }
die() { printf 'install: ERROR: %s\n' "$*" >&2; exit 1; }

need() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH ($2)"
}

# sha256 of the given files' contents (in order), one hex string.
hash_of() {
    cat "$@" | sha256sum | cut -d' ' -f1
}

stamp_matches() { # stamp_file expected_hash
    [[ -f "$1" && "$(cat "$1")" == "$2" ]]
}

mkdir -p "$GONGKAI_LOCAL_DIR"
# One install at a time (tests and a developer may run it concurrently).
exec 9>"$GONGKAI_LOCAL_DIR/.install.lock"
flock 9

# ---------------------------------------------------------------- Python venv
install_python() {
    local lock="$GONGKAI_HOME/requirements.lock"
    [[ -f "$lock" ]] || die "missing $lock"
    if [[ ! -x "$VENV/bin/python" ]]; then
        need "$GONGKAI_PYTHON" "Python 3.11+ creates the venv; set GONGKAI_PYTHON to choose one"
        "$GONGKAI_PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
            || die "$GONGKAI_PYTHON is older than 3.11"
        say "venv: creating $VENV with $("$GONGKAI_PYTHON" -V 2>&1)"
        "$GONGKAI_PYTHON" -m venv "$VENV"
        rm -f "$VENV/.gongkai-requirements.sha256"
    fi
    local want stamp="$VENV/.gongkai-requirements.sha256"
    want="$(hash_of "$lock")"
    if stamp_matches "$stamp" "$want"; then
        say "python deps: up to date (requirements.lock unchanged)"
        return
    fi
    say "python deps: pip install -r requirements.lock"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$lock"
    echo "$want" >"$stamp"
    say "python deps: installed"
}

# ---------------------------------------------------------------- Maven jars
# fetch_jars NAME POM DEST: copy the POM's runtime classpath into DEST (replaced atomically).
fetch_jars() {
    local name="$1" pom="$2" dest="$3"
    local want stamp="$dest.sha256"
    want="$(hash_of "$pom")"
    if [[ -d "$dest" ]] && stamp_matches "$stamp" "$want"; then
        say "$name jars: up to date ($(find "$dest" -name '*.jar' | wc -l) jars in ${dest#"$GONGKAI_HOME"/})"
        return
    fi
    need mvn "Maven 3.8+ fetches the jars from Maven Central"
    say "$name jars: fetching with mvn (${pom#"$GONGKAI_HOME"/})"
    rm -rf "$dest.tmp"
    # Maven 3.8 prints colour resets even in batch/quiet mode: strip escape sequences.
    mvn "${MVN_OPTS[@]}" -f "$pom" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$dest.tmp" 2>&1 | sed 's/\x1b\[[0-9;]*m//g'
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
    echo "$want" >"$stamp"
    say "$name jars: $(find "$dest" -name '*.jar' | wc -l) jars, $(du -sh "$dest" | cut -f1)"
}

install_kafka() {
    need java "Java 17+ runs the broker"
    fetch_jars kafka "$LOCAL_SRC/kafka/pom.xml" "$KAFKA_LIBS"
    compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null || die "kafka_2.13 jar missing in $KAFKA_LIBS"
}

install_store() {
    need java "Java 17+ runs the store"
    fetch_jars store "$LOCAL_SRC/store/pom.xml" "$STORE_LIBS"
    local src="$LOCAL_SRC/store/src/GongkaiStore.java"
    local want stamp="$STORE_CLASSES.sha256"
    want="$(hash_of "$src" "$STORE_LIBS.sha256")"
    if [[ -f "$STORE_CLASSES/GongkaiStore.class" ]] && stamp_matches "$stamp" "$want"; then
        say "store main: up to date (GongkaiStore.class)"
        return
    fi
    need javac "a JDK 17+ compiles the store's main"
    say "store main: compiling GongkaiStore.java"
    rm -rf "$STORE_CLASSES.tmp"
    mkdir -p "$STORE_CLASSES.tmp"
    javac --release 17 -Xlint:all -Werror -d "$STORE_CLASSES.tmp" -cp "$STORE_LIBS/*" "$src"
    rm -rf "$STORE_CLASSES"
    mv "$STORE_CLASSES.tmp" "$STORE_CLASSES"
    echo "$want" >"$stamp"
    say "store main: compiled into ${STORE_CLASSES#"$GONGKAI_HOME"/}"
}

# ---------------------------------------------------------------- Keycloak
# shellcheck source=deploy/local/keycloak/keycloak.sh
source "$LOCAL_SRC/keycloak/keycloak.sh"

# ---------------------------------------------------------------- Debian packages
# Reply documents are typeset to PDF by Typst (PyPI typst) in the GB/T 9704 layout with Noto Serif
# CJK SC (body, title, agency mark) and Noto Sans CJK SC (headings): fonts-noto-cjk (57 MB; the
# renderer refuses to run without it). WenQuanYi Micro Hei (fonts-wqy-microhei, 1.6 MB) renders the
# pages in the browser. poppler-utils gives pdftotext/pdffonts/pdftoppm to the document tests.
# chromium (Debian's, /usr/bin/chromium) is the real browser of the page tests (Playwright drives it;
# `playwright install` cannot download browsers here); the CJK font above renders its pages.
DEB_PACKAGES=(fonts-wqy-microhei fonts-noto-cjk poppler-utils chromium)

deb_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

install_debs() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        say "debian packages: not a Debian system; install a CJK font and poppler-utils yourself"
        return
    fi
    local p missing=()
    for p in "${DEB_PACKAGES[@]}"; do
        deb_installed "$p" || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        say "debian packages: up to date (${DEB_PACKAGES[*]})"
        return
    fi
    need apt-get "Debian's apt installs ${missing[*]}"
    local as_root=()
    if ((EUID != 0)); then
        need sudo "root rights install ${missing[*]}"
        as_root=(sudo)
    fi
    say "debian packages: apt-get install ${missing[*]}"
    "${as_root[@]}" apt-get update -q
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    for p in "${missing[@]}"; do
        deb_installed "$p" || die "apt-get did not install $p"
    done
    say "debian packages: installed ${missing[*]}"
}

# ---------------------------------------------------------------- front-end assets
# htmx, axe-core, Swagger UI and ReDoc are committed (services/web/static/vendor, servicekit/static):
# nothing is fetched here or at run time. This step checks them, offline, against the sha384 of
# each file recorded from the npm packages the lock pins (deploy/local/assets/manifest.json);
# deploy/local/assets/update.sh refreshes them from npm.
install_assets() {
    need python3 "python3 checks the vendored assets"
    python3 "$LOCAL_SRC/assets/vendor.py" check | sed 's/^assets: /front-end assets: /' \
        || die "vendored assets differ from deploy/local/assets/manifest.json (run deploy/local/assets/update.sh)"
}

# ---------------------------------------------------------------- AsyncAPI parser
# The tests validate the AsyncAPI documents (docs/asyncapi/) with the official parser, exactly the
# version of deploy/local/asyncapi/package-lock.json (npm ci checks each tarball's integrity; no
# install scripts run). Installed into .local/asyncapi with its runner validate.mjs.
ASYNCAPI_SRC="$LOCAL_SRC/asyncapi"
ASYNCAPI_DIR="$GONGKAI_LOCAL_DIR/asyncapi"

install_asyncapi() {
    local files=("$ASYNCAPI_SRC/package.json" "$ASYNCAPI_SRC/package-lock.json" "$ASYNCAPI_SRC/validate.mjs")
    local want stamp="$ASYNCAPI_DIR.sha256"
    want="$(hash_of "${files[@]}")"
    if [[ -f "$ASYNCAPI_DIR/node_modules/@asyncapi/parser/package.json" ]] && stamp_matches "$stamp" "$want"; then
        say "asyncapi parser: up to date (@asyncapi/parser $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' \
            "$ASYNCAPI_DIR/node_modules/@asyncapi/parser/package.json" | head -1))"
        return
    fi
    need node "Node.js 18+ runs the AsyncAPI parser of the tests"
    need npm "npm installs the AsyncAPI parser of the tests"
    node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' \
        || die "node $(node --version) is older than 18"
    say "asyncapi parser: npm ci (${ASYNCAPI_SRC#"$GONGKAI_HOME"/}/package-lock.json)"
    rm -rf "$ASYNCAPI_DIR.tmp"
    mkdir -p "$ASYNCAPI_DIR.tmp"
    cp "${files[@]}" "$ASYNCAPI_DIR.tmp/"
    (cd "$ASYNCAPI_DIR.tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
    rm -rf "$ASYNCAPI_DIR"
    mv "$ASYNCAPI_DIR.tmp" "$ASYNCAPI_DIR"
    echo "$want" >"$stamp"
    say "asyncapi parser: installed into ${ASYNCAPI_DIR#"$GONGKAI_HOME"/} ($(du -sh "$ASYNCAPI_DIR" | cut -f1))"
}

# ---------------------------------------------------------------- local SMSC
# The SMPP 3.4 server that stands for the operators' SMSC in local runs and tests (notify's SMS
# channel, issue #17): deploy/local/smsc/smsc.mjs on the npm package smpp, exactly the version of
# deploy/local/smsc/package-lock.json (npm ci checks each tarball's integrity; no install scripts
# run). Installed into .local/smsc with smsc.mjs; deploy/local/smsc.py starts it.
SMSC_SRC="$LOCAL_SRC/smsc"
SMSC_DIR="$GONGKAI_LOCAL_DIR/smsc"

install_smsc() {
    local files=("$SMSC_SRC/package.json" "$SMSC_SRC/package-lock.json" "$SMSC_SRC/smsc.mjs")
    local want stamp="$SMSC_DIR.sha256"
    want="$(hash_of "${files[@]}")"
    if [[ -f "$SMSC_DIR/node_modules/smpp/package.json" ]] && stamp_matches "$stamp" "$want"; then
        say "smsc: up to date (smpp $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' \
            "$SMSC_DIR/node_modules/smpp/package.json" | head -1))"
        return
    fi
    need node "Node.js 18+ runs the local SMSC"
    need npm "npm installs the local SMSC's SMPP library"
    node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' \
        || die "node $(node --version) is older than 18"
    say "smsc: npm ci (${SMSC_SRC#"$GONGKAI_HOME"/}/package-lock.json)"
    rm -rf "$SMSC_DIR.tmp"
    mkdir -p "$SMSC_DIR.tmp"
    cp "${files[@]}" "$SMSC_DIR.tmp/"
    (cd "$SMSC_DIR.tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
    rm -rf "$SMSC_DIR"
    mv "$SMSC_DIR.tmp" "$SMSC_DIR"
    echo "$want" >"$stamp"
    say "smsc: installed into ${SMSC_DIR#"$GONGKAI_HOME"/} ($(du -sh "$SMSC_DIR" | cut -f1))"
}

what="${1:-all}"
case "$what" in
    all) install_python; install_kafka; install_store; install_keycloak; install_debs; install_assets; install_asyncapi; install_smsc ;;
    python) install_python ;;
    debs) install_debs ;;
    kafka) install_kafka ;;
    store) install_store ;;
    keycloak) install_keycloak ;;
    assets) install_assets ;;
    asyncapi) install_asyncapi ;;
    smsc) install_smsc ;;
    *) die "usage: install.sh [all|python|kafka|store|keycloak|debs|assets|asyncapi|smsc]" ;;
esac
say "done in $(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
