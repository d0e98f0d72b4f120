#!/usr/bin/env bash
# Refreshes the vendored front-end files from npm: `npm ci --ignore-scripts` in a temporary
# directory with package.json and package-lock.json (npm checks each tarball against the lock's
# sha512), then copies the files vendor.py names into the repository and rewrites manifest.json
# with each file's size and sha384.
#   deploy/local/assets/update.sh          # refresh files + manifest (after editing the pins:
#                                          #   npm install --package-lock-only --ignore-scripts)
#   deploy/local/assets/update.sh --check  # only compare the committed files with npm's
# Needs npm and the registry; nothing else in the project does (the files are committed).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mode=(--write)
case "${1:-}" in
    "") ;;
    --check) mode=() ;;
    *) echo "usage: update.sh [--check]" >&2; exit 2 ;;
esac
command -v npm >/dev/null 2>&1 || { echo "update.sh: npm not found on PATH" >&2; exit 1; }
tmp="$(mktemp -d "${TMPDIR:-/tmp}/gongkai-assets.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$tmp/"
(cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
python3 "$here/vendor.py" sync "$tmp/node_modules" "${mode[@]}"
