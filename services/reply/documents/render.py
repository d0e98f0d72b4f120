"""Rendering: context → HTML (Jinja2, autoescaped, strict) → PDF (Typst, A4, GB/T 9704 layout, CJK fonts)."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel

from contracts.decisions import BY_CODE, Outcome
from contracts.vocabulary import CHANNEL_LABELS, REPLY_TYPE_LABELS, ReplyType
from services.reply.documents.models import FEE_METHOD_LABELS
from services.reply.documents.registry import DocumentKind, document_kind

# CJK families of the HTML page, tried in order (CSS font-family): Noto from fonts-noto-cjk (also
# the PDF's, see templates/document.typ), then whatever a browser has (WenQuanYi from
# fonts-wqy-microhei, AR PL from fonts-arphic-*, Droid Sans Fallback).
CJK_FONT_FAMILIES: tuple[str, ...] = (
    "Noto Serif CJK SC",
    "Source Han Serif SC",
    "FangSong",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "AR PL UMing CN",
    "AR PL SungtiL GB",
    "Droid Sans Fallback",
)

_NUMERALS = "零一二三四五六七八九"


class DocumentRenderError(RuntimeError):
    """The document cannot be rendered correctly (e.g. no CJK font is installed)."""


# ---------------------------------------------------------------- filters
def cn_date(d: date) -> str:
    """2026年5月6日 (Arabic numerals, no leading zeros, as GB/T 9704-2012 prescribes)."""
    return f"{d.year}年{d.month}月{d.day}日"


def cn_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 21 → 二十一 (1..99)."""
    if not 1 <= n <= 99:
        raise ValueError(n)
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _NUMERALS[tens] + "十")
    return head + (_NUMERALS[ones] if ones else "")


def yuan(amount: Decimal) -> str:
    return f"{amount:.2f}元"


def decision_label(o: Outcome) -> str:
    """A department's decision as printed: the report label, qualified for withholding reasons."""
    if o.reply_type is ReplyType.NOT_DISCLOSED:
        return f"不予公开（{o.label}）"
    return o.label


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("services.reply.documents", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(cn_date=cn_date, cn_number=cn_number, yuan=yuan, decision_label=decision_label)
    env.globals.update(
        OUTCOME=BY_CODE,
        REPLY_TYPE_LABELS=REPLY_TYPE_LABELS,
        CHANNEL_LABELS=CHANNEL_LABELS,
        FEE_METHOD_LABELS=FEE_METHOD_LABELS,
        CJK_FONT_FAMILIES=CJK_FONT_FAMILIES,
    )
    return env


def validate_context(doc_type: str, context: BaseModel | Mapping[str, Any]) -> tuple[DocumentKind, BaseModel]:
    """The document kind and its validated context (pydantic.ValidationError if a field is missing)."""
    kind = document_kind(doc_type)
    if isinstance(context, BaseModel):
        if type(context) is not kind.model:
            raise TypeError(f"{doc_type} renders a {kind.model.__name__}, not a {type(context).__name__}")
        return kind, context
    return kind, kind.model.model_validate(context)


def render_html(doc_type: str, context: BaseModel | Mapping[str, Any]) -> str:
    """The document as a complete HTML page (UTF-8, Simplified Chinese)."""
    kind, ctx = validate_context(doc_type, context)
    return _environment().get_template(kind.template).render(doc=ctx, kind=kind, outcome=kind.outcome)


# ---------------------------------------------------------------- PDF (Typst)
# The PDF is typeset by Typst (templates/document.typ) from the document's own HTML: render_pdf reads
# the HTML back into a small JSON structure (the elements and classes of _base.html.j2 only) and
# passes it as sys.inputs — user text is a string value in Typst, never markup, so it cannot inject
# anything. One Compiler per process keeps the fonts loaded (~8 ms of CPU a one- or two-page document).

_TEMPLATE = Path(__file__).with_name("templates") / "document.typ"
# Where fonts are looked for (GONGKAI_FONT_DIRS, os.pathsep-separated, overrides; tests use it).
DEFAULT_FONT_DIRS: tuple[str, ...] = ("/usr/share/fonts", "/usr/local/share/fonts",
                                      str(Path.home() / ".local/share/fonts"))
# The Typst layout needs these (Debian fonts-noto-cjk); FangSong is used for the body when installed.
REQUIRED_FONTS: tuple[str, ...] = ("Noto Serif CJK SC",)
_VOID = frozenset({"meta", "hr", "br", "link", "img", "col", "wbr"})
_NEWLINE = re.compile(r"\s*\n\s*")
_CN_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_CHINA = timezone(timedelta(hours=8))

# (tag, class) of an element whose text is one field of the structure.
_FIELDS: dict[tuple[str, str | None], str] = {
    ("title", None): "title",
    ("p", "agency-mark"): "agency",
    ("p", "doc-number"): "number",
    ("h1", None): "heading",
    ("p", "addressee"): "addressee",
    ("p", "seal-agency"): "signature",
    ("p", "seal-date"): "date",
    ("span", "printer"): "printer",
    ("span", "print-date"): "printed",
}
_IGNORED = frozenset({"style", "seal-mark"})  # CSS; the seal is drawn by the Typst layout


class _Reader(HTMLParser):
    """The document's HTML (as _base.html.j2 writes it) → the structure document.typ typesets.

    Strict: visible text outside the known elements is an error, so that no template can lose text
    in the PDF."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.doc: dict[str, Any] = {"number": None, "addressee": None, "blocks": [], "notes": [], "cc": None}
        self._stack: list[tuple[str, frozenset[str]]] = []
        self._field: str | None = None  # the field being collected, ended with the element at _depth
        self._depth = 0
        self._buf: list[str] = []
        self._runs: list[list[Any]] | None = None  # a body paragraph: [text, strong] runs
        self._runs_depth = 0
        self._strong = 0
        self._table: dict[str, Any] | None = None
        self._row: list[str] | None = None
        self._head_row = False
        self._cc: list[str] | None = None
        self._metas = 0

    def _collect(self, field: str) -> None:
        self._field, self._depth, self._buf = field, len(self._stack), []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = frozenset((dict(attrs).get("class") or "").split())
        if tag in _VOID:
            return
        self._stack.append((tag, classes))
        if self._field is not None:  # inside a field: only the 附注's items matter
            if tag == "span" and "meta" in classes and self._field == "note":
                self._buf.append("；" if self._metas else "")
                self._metas += 1
            return
        field = next((_FIELDS[(tag, c)] for c in classes if (tag, c) in _FIELDS), _FIELDS.get((tag, None)))
        if field is not None and self._runs is None:
            self._collect(field)
        elif tag == "p" and "note" in classes:
            self._collect("note")
            self._metas = 0
        elif tag == "p" and "cc" in classes:
            self._cc = []
        elif tag == "span" and self._cc is not None:
            self._collect("cc")
        elif not any(t == "main" for t, _ in self._stack):
            return
        elif tag in ("p", "li") and self._runs is None and self._table is None:
            self._runs, self._runs_depth = [], len(self._stack)
        elif tag == "span" and "dept-name" in classes:
            self._strong += 1
        elif tag == "table":
            self._table = {"t": "table", "head": [], "rows": [], "right": []}
        elif tag == "tr" and self._table is not None:
            self._row, self._head_row = [], False
        elif tag in ("td", "th") and self._row is not None:
            self._head_row = self._head_row or tag == "th"
            if "amount" in classes and len(self._row) not in self._table["right"]:
                self._table["right"].append(len(self._row))
            self._collect("cell")

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if not self._stack or self._stack[-1][0] != tag:
            raise DocumentRenderError(f"document HTML: unexpected </{tag}>")
        depth = len(self._stack)
        _, classes = self._stack.pop()
        if self._field is not None:
            if depth == self._depth:
                text, field, self._field = "".join(self._buf), self._field, None
                if field == "cell":
                    self._row.append(text)
                elif field == "cc":
                    self._cc.append(text)
                elif field == "note":
                    self.doc["notes"].append(text)
                else:
                    self.doc[field] = text
        elif self._runs is not None and depth == self._runs_depth:
            self.doc["blocks"].append({"t": "p", "runs": self._runs})
            self._runs = None
        elif tag == "span" and "dept-name" in classes:
            self._strong -= 1
        elif tag == "tr" and self._row is not None:
            if self._head_row:
                self._table["head"] = self._row
            else:
                self._table["rows"].append(self._row)
            self._row = None
        elif tag == "table" and self._table is not None:
            self.doc["blocks"].append(self._table)
            self._table = None
        elif tag == "p" and self._cc is not None:
            if len(self._cc) != 2:
                raise DocumentRenderError("document HTML: 抄送 needs a label and a value")
            self.doc["cc"], self._cc = self._cc, None

    def handle_data(self, data: str) -> None:
        text = _NEWLINE.sub("", data)
        if not text.strip():
            return
        if any(t in _IGNORED or c & _IGNORED for t, c in self._stack):
            return
        if self._field is not None:
            self._buf.append(text)
        elif self._runs is not None:
            strong = self._strong > 0
            if self._runs and self._runs[-1][1] == strong:
                self._runs[-1][0] += text
            else:
                self._runs.append([text, strong])
        else:
            where = "/".join(t + "".join("." + c for c in sorted(cl)) for t, cl in self._stack)
            raise DocumentRenderError(f"document HTML: text outside the known elements at {where}: {text[:40]!r}")

    def result(self) -> dict[str, Any]:
        d = self.doc
        missing = [k for k in ("title", "agency", "heading", "signature", "date", "printer", "printed") if not d.get(k)]
        if missing or not d["blocks"] or d["blocks"][-1]["t"] != "p":
            raise DocumentRenderError(f"document HTML: not a reply document (missing {missing or ['closing']})")
        if d["addressee"] is not None and not d["addressee"].rstrip("：:").strip():
            raise DocumentRenderError("document HTML: the addressee is blank")
        d["doc_title"], d["title"] = d["title"], d.pop("heading")
        return d


def document_structure(html: str) -> dict[str, Any]:
    """What the PDF typesets, read from the document's HTML (render_html's output)."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.result()


def font_dirs() -> list[str]:
    env = os.environ.get("GONGKAI_FONT_DIRS")
    dirs = env.split(os.pathsep) if env else list(DEFAULT_FONT_DIRS)
    return [d for d in dirs if d and Path(d).is_dir()]


_compiler_lock = threading.Lock()


@cache
def _compiler() -> Any:
    """One Typst compiler a process: fonts scanned and loaded once (~0.2 s), the layout kept compiled."""
    import typst

    dirs = font_dirs()
    fonts = typst.Fonts(include_system_fonts=False, include_embedded_fonts=True, font_paths=dirs)
    families = set(fonts.families())
    missing = [f for f in REQUIRED_FONTS if f not in families]
    if missing:
        raise DocumentRenderError(
            f"没有可用的中文字体（{'、'.join(missing)}）：PDF 将无法显示汉字。请安装 fonts-noto-cjk"
            f"（deploy/local/install.sh debs）；font dirs: {dirs}"
        )
    return typst.Compiler(input=str(_TEMPLATE), root=str(_TEMPLATE.parent), font_paths=fonts, ignore_system_fonts=True)


def render_pdf(html: str) -> bytes:
    """The document's HTML (render_html's output) as an A4 PDF, GB/T 9704 layout, fonts embedded.

    CPU-bound but quick (a few ms; the first call in a process loads the fonts, ~0.2 s). Thread-safe
    (one compile at a time per process). Raises DocumentRenderError when the CJK fonts are missing
    or the HTML is not a document of this package."""
    structure = document_structure(html)
    compiler = _compiler()
    # The PDF's creation date is the date of issue (noon, China time), not the time of rendering: the
    # same document renders to the same bytes (the ledger records their hash).
    m = _CN_DATE.fullmatch(structure["date"])
    stamp = datetime(int(m[1]), int(m[2]), int(m[3]), 12, tzinfo=_CHINA) if m else None
    with _compiler_lock:
        try:
            return compiler.compile(format="pdf", sys_inputs={"doc": json.dumps(structure, ensure_ascii=False)},
                                    timestamp=stamp)
        except RuntimeError as e:  # typst.TypstError
            raise DocumentRenderError(f"Typst: {e}") from e
