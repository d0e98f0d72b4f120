"""Small HTTP helpers shared by the services' APIs."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

# RFC 8187 attr-char besides ALPHA / DIGIT: what a filename* value keeps unencoded.
_ATTR_CHARS = "!#$&+-.^_`|~"


def _printable(ch: str) -> bool:
    return 0x20 <= ord(ch) < 0x7F and ch not in '"\\'


def _ascii_fallback(filename: str) -> str:
    """The file name with what a quoted-string cannot carry replaced by "_" (non-ASCII, quotes,
    backslashes, control characters); a letter with an accent or a full-width digit keeps its
    ASCII base."""
    out = []
    for ch in filename:
        if _printable(ch):
            out.append(ch)
            continue
        folded = "".join(c for c in unicodedata.normalize("NFKD", ch) if _printable(c))
        out.append(folded or "_")
    return "".join(out).strip() or "download"


def content_disposition(kind: str, filename: str) -> str:
    """A Content-Disposition value per RFC 6266: ``kind`` ("attachment" or "inline"), an ASCII
    ``filename`` for old clients, and ``filename*`` (RFC 8187, UTF-8, percent-encoded) with the
    real name whenever the two differ. Always latin-1 encodable (any name, never a 500)."""
    fallback = _ascii_fallback(filename)
    value = f'{kind}; filename="{fallback}"'
    if fallback != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe=_ATTR_CHARS)}"
    return value
