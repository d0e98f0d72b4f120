"""Rendering: context → HTML (Jinja2, autoescaped, strict) → PDF (WeasyPrint, A4, CJK font)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

import jinja2
from pydantic import BaseModel

from contracts.decisions import BY_CODE, Outcome
from contracts.vocabulary import CHANNEL_LABELS, REPLY_TYPE_LABELS, ReplyType
from services.reply.documents.models import FEE_METHOD_LABELS
from services.reply.documents.registry import DocumentKind, document_kind

# CJK families tried in order (CSS font-family). The local install provides WenQuanYi Micro Hei
# (Debian fonts-wqy-microhei); the others are used where installed (Noto/Source Han from
# fonts-noto-cjk, WenQuanYi Zen Hei, AR PL from fonts-arphic-*, Droid Sans Fallback).
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

_CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")
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


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    # Documents are self-contained; nothing in them may make the renderer fetch a URL.
    raise ValueError(f"reply documents do not load external resources ({url})")


def render_pdf(html: str) -> bytes:
    """The HTML as an A4 PDF with the CJK font embedded.

    CPU-bound (about a second): call it from a worker thread in async code. Raises
    DocumentRenderError when the text is Chinese but no CJK font of CJK_FONT_FAMILIES was used —
    the PDF would show empty boxes instead of characters.
    """
    import weasyprint  # heavy import (Pango, HarfBuzz); only where PDFs are made

    document = weasyprint.HTML(string=html, url_fetcher=_refuse_fetch).render()
    pdf = document.write_pdf()
    if _CJK_CHAR.search(html):
        used = {font.family for font in document.fonts.values()}  # filled while writing
        if not used & set(CJK_FONT_FAMILIES):
            raise DocumentRenderError(
                "没有可用的中文字体：PDF 将无法显示汉字。请安装 fonts-wqy-microhei"
                f"（deploy/local/install.sh debs）；used fonts: {sorted(used)}"
            )
    return pdf
