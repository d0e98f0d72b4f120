"""The front-end files Gongkai serves itself, vendored from npm: which files, and their integrity.

Nothing is downloaded at run time and no page loads anything from a CDN: the few files the pages
and ``/docs`` need are committed (``services/web/static/vendor/``, ``servicekit/static/``) and
``manifest.json`` records, for each, the npm package and version it comes from, its size and its
sha384 (SRI format), taken from the package as ``npm ci`` unpacked it.

The chain of integrity: ``package.json`` pins each package exactly; ``package-lock.json`` holds
each tarball's sha512, which ``npm ci`` checks before it unpacks; ``sync`` takes each file's
sha384 from that unpacked tree (and, for axe-core, also checks the sha256 axe-core publishes in
its own ``sri-history.json``); ``check`` verifies, offline, that the committed files are byte for
byte those of the manifest and that the manifest names the versions and tarball integrity the
lock pins.

    python deploy/local/assets/vendor.py check              # offline: committed files == manifest
    python deploy/local/assets/vendor.py sync NODE_MODULES  # compare with a fresh `npm ci`
    python deploy/local/assets/vendor.py sync NODE_MODULES --write  # copy files, rewrite manifest

``update.sh`` runs ``npm ci --ignore-scripts`` in a temporary directory and then ``sync``.
Standard library only: it runs before the venv exists.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
MANIFEST = HERE / "manifest.json"
LOCK = HERE / "package-lock.json"
PACKAGE = HERE / "package.json"

WEB_VENDOR = "services/web/static/vendor"
DOCS_STATIC = "servicekit/static"


@dataclass(frozen=True)
class File:
    package: str
    source: str  # path inside the npm package
    dest: str  # path in the repository


FILES = (
    # htmx: partial page updates in the web service (pages work without it too).
    File("htmx.org", "dist/htmx.min.js", f"{WEB_VENDOR}/htmx.min.js"),
    File("htmx.org", "LICENSE", f"{WEB_VENDOR}/htmx.LICENSE"),
    # axe-core: injected by the browser tests (tests/browser.py) to check accessibility.
    File("axe-core", "axe.min.js", f"{WEB_VENDOR}/axe.min.js"),
    File("axe-core", "LICENSE", f"{WEB_VENDOR}/axe-core.LICENSE"),
    # Swagger UI (/docs) and ReDoc (/redoc) of every API service (servicekit/docs.py).
    File("swagger-ui-dist", "swagger-ui-bundle.js", f"{DOCS_STATIC}/swagger-ui-bundle.js"),
    File("swagger-ui-dist", "swagger-ui-bundle.js.LICENSE.txt", f"{DOCS_STATIC}/swagger-ui-bundle.js.LICENSE.txt"),
    File("swagger-ui-dist", "swagger-ui.css", f"{DOCS_STATIC}/swagger-ui.css"),
    File("swagger-ui-dist", "favicon-32x32.png", f"{DOCS_STATIC}/favicon-32x32.png"),
    File("swagger-ui-dist", "LICENSE", f"{DOCS_STATIC}/swagger-ui.LICENSE"),
    File("swagger-ui-dist", "NOTICE", f"{DOCS_STATIC}/swagger-ui.NOTICE"),
    File("redoc", "bundles/redoc.standalone.js", f"{DOCS_STATIC}/redoc.standalone.js"),
    File("redoc", "bundles/redoc.standalone.js.LICENSE.txt", f"{DOCS_STATIC}/redoc.standalone.js.LICENSE.txt"),
    File("redoc", "LICENSE", f"{DOCS_STATIC}/redoc.LICENSE"),
)


def sri(data: bytes, algo: str = "sha384") -> str:
    return f"{algo}-" + base64.b64encode(hashlib.new(algo, data).digest()).decode()


def pinned() -> dict[str, dict[str, str]]:
    """Each vendored package's exact version (package.json) and tarball integrity (the lock)."""
    deps = json.loads(PACKAGE.read_text(encoding="utf-8"))["dependencies"]
    lock = json.loads(LOCK.read_text(encoding="utf-8"))["packages"]
    out = {}
    for name in sorted({f.package for f in FILES}):
        entry = lock[f"node_modules/{name}"]
        if deps.get(name) != entry["version"]:
            raise SystemExit(f"{name}: package.json pins {deps.get(name)!r}, the lock has {entry['version']!r}")
        out[name] = {"version": entry["version"], "tarball_integrity": entry["integrity"]}
    return out


def check() -> list[str]:
    """Offline: the committed files are the manifest's, and the manifest is the lock's. Problems, or []."""
    problems = []
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    if manifest["packages"] != pinned():
        problems.append("manifest.json names other versions or tarballs than package-lock.json: run update.sh")
    listed = {f["dest"]: f for f in manifest["files"]}
    if set(listed) != {f.dest for f in FILES}:
        problems.append("manifest.json lists other files than vendor.py's FILES: run update.sh")
    for dest, entry in sorted(listed.items()):
        path = ROOT / dest
        if not path.is_file():
            problems.append(f"{dest}: missing")
            continue
        data = path.read_bytes()
        if len(data) != entry["size"] or sri(data) != entry["sha384"]:
            problems.append(f"{dest}: differs from {entry['package']}@{manifest['packages'][entry['package']]['version']}"
                            f" {entry['source']} ({len(data)} bytes, {sri(data)}; manifest: {entry['size']}, "
                            f"{entry['sha384']})")
    return problems


def sync(node_modules: Path, write: bool) -> list[str]:
    """Compare (or, with ``write``, copy and record) the files of a fresh ``npm ci``."""
    packages = pinned()
    problems = []
    for name, pin in packages.items():
        got = json.loads((node_modules / name / "package.json").read_text(encoding="utf-8"))["version"]
        if got != pin["version"]:
            raise SystemExit(f"{name}: node_modules has {got}, the lock pins {pin['version']}")
    # axe-core publishes each release's SRI hashes: the unpacked file must be the one it published.
    axe = json.loads((node_modules / "axe-core" / "sri-history.json").read_text(encoding="utf-8"))
    published = axe[packages["axe-core"]["version"]]["axe.min.js"]
    if sri((node_modules / "axe-core" / "axe.min.js").read_bytes(), "sha256") != published:
        raise SystemExit(f"axe-core axe.min.js differs from its published {published}")
    files = []
    for f in FILES:
        data = (node_modules / f.package / f.source).read_bytes()
        files.append({"dest": f.dest, "package": f.package, "source": f.source, "size": len(data), "sha384": sri(data)})
        dest = ROOT / f.dest
        if write:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(node_modules / f.package / f.source, dest)
        elif not dest.is_file() or dest.read_bytes() != data:
            problems.append(f"{f.dest}: not {f.package}@{packages[f.package]['version']} {f.source}")
    manifest = {"about": "Vendored front-end files: deploy/local/assets/vendor.py (check with `vendor.py check`, "
                         "refresh with update.sh)", "packages": packages, "files": files}
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    if write:
        MANIFEST.write_text(text, encoding="utf-8")
    elif not MANIFEST.is_file() or MANIFEST.read_text(encoding="utf-8") != text:
        problems.append("manifest.json differs from what npm ci gives")
    return problems


def main(argv: list[str]) -> int:
    if argv[:1] == ["check"] and len(argv) == 1:
        problems = check()
        ok = f"{len(FILES)} vendored files match manifest.json"
    elif argv[:1] == ["sync"] and len(argv) in (2, 3) and argv[2:] in ([], ["--write"]):
        write = argv[2:] == ["--write"]
        problems = sync(Path(argv[1]), write)
        ok = f"{len(FILES)} files {'copied, manifest.json written' if write else 'match the npm packages'}"
    else:
        print("usage: vendor.py check | vendor.py sync NODE_MODULES [--write]", file=sys.stderr)
        return 2
    for p in problems:
        print(f"assets: {p}", file=sys.stderr)
    if not problems:
        print(f"assets: {ok}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
