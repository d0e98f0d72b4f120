"""Reply documents: the standard document set of an application, rendered to HTML and PDF.

Pure rendering, no I/O of its own (Typst reads the installed fonts). Simplified Chinese, formal
government style, one Jinja2 template per document (``templates/``), autoescaped and strict (an
undefined variable is an error). The PDF is typeset by Typst (``templates/document.typ``) in a layout
close to GB/T 9704-2012 (党政机关公文格式): A4, 天头 37 mm, 订口 28 mm, 版心 156 × 225 mm at 22 lines
of 28 characters; the red 发文机关标志 (the agency's name) and red rule, the 发文字号 (``document_number``)
when given, the title in 2号 bold serif (小标宋-like: Noto Serif CJK SC Bold), the 主送 line (the
applicant by name, or the addressee of a letter), the body in 3号 serif (仿宋 where installed, else
Noto Serif CJK SC), 一级标题 (each department) in 黑体-like Noto Sans CJK SC, the signature (the agency)
centred over the date (2026年5月6日, 右空四字) under a red seal placeholder "（印章）", 附注 (case number,
dates, the OGI office's contact), 版记 (抄送 for the consolidated reply, 印发机关 and 印发日期) at the
bottom of the last page, and page numbers "— 1 —" (odd pages right, even pages left). The last
paragraph is kept on the page of the signature and seal.

Document types (``DOCUMENTS`` maps each to a ``DocumentKind``: title, template, context model,
whether it prints the applicant's remedies):

- procedural (``ProceduralKind``): ``acceptance_receipt`` 受理回执 (Art. 31, 33),
  ``correction_notice`` 补正申请告知书 (Art. 30), ``extension_notice`` 延期答复告知书 (Art. 33),
  ``consultation_third_party`` 第三方意见征询函 (Art. 32), ``consultation_agency`` 征求意见函 to
  another agency (Art. 33, 34), ``referral_notice`` 非本机关负责公开政府信息告知书 (says 已转送
  when forwarded; Art. 36(5)), ``abandonment_notice`` 视为放弃申请告知书 (Art. 30; an unpaid fee:
  Art. 42 and 国办函〔2020〕109号), ``fee_notice`` 收费通知 (Art. 42, 国办函〔2020〕109号);
- substantive: one 答复书 per outcome code of ``contracts.decisions.OUTCOMES`` (the doc type IS the
  outcome code, e.g. ``"withheld.third_party"``); its legal basis is the outcome's ``basis``;
- ``CONSOLIDATED`` (``"consolidated_reply"``): one 答复书 for a case answered by many departments,
  listing each department's decision, text and material, and for partial disclosure each withheld
  part with its reason (Art. 37); copied (抄送) to the departments. An amendment is the same kind
  with ``title="政府信息公开申请补充答复书"`` and a note saying what it adds to.

Every document prints the case number (受理编号; 文号 when given), the agency, the date of receipt
and the date of issue, the legal basis by article, the seal placeholder and the OGI office's contact
(and, for a document to an applicant who asked for delivery by post, the 送达地址 in the 附注);
decisions the applicant can challenge (all substantive replies, referral, abandonment, fee notice)
print the remedies: administrative review within 60 days, litigation within 6 months of receipt.

API::

    from services.reply.documents import render_document, render_html, render_pdf, DOCUMENTS, models

    doc = render_document("consolidated_reply", context)   # context: the kind's model, or a dict
    doc.html, doc.pdf, doc.title                           # the same document as a web page and as a PDF

- ``render_html(doc_type, context) -> str``: ``context`` is validated against the kind's model
  (``DOCUMENTS[doc_type].model``; a dict is validated, a model instance must be of exactly that
  class). A missing or empty field raises ``pydantic.ValidationError``; an unknown ``doc_type``
  raises ``ValueError``. The page has the same layout as the PDF (screen CSS, ``@page`` for print).
- ``render_pdf(html) -> bytes``: Typst, from ``render_html``'s output (read back into a small
  structure passed as JSON in ``sys.inputs``: user text is a Typst string value, never markup). About
  9 ms of CPU a document (a mix of all kinds; 17 ms for the 8-department reply; the first call in a
  process loads the fonts, ~0.15 s) — see ``benchmarks/render.py``. Thread-safe (one compile at a time
  per process). Fonts come from ``/usr/share/fonts`` etc. (``GONGKAI_FONT_DIRS`` overrides) and are
  embedded (subsets, with ToUnicode). Raises ``DocumentRenderError`` if Noto Serif CJK SC is not
  installed (``deploy/local/install.sh debs``: fonts-noto-cjk) or the HTML is not a document of this
  package (text outside the known elements is refused, never dropped).
- ``render_document(doc_type, context) -> RenderedDocument``: both, for storing with the case; the
  applicant and the departments get the same bytes.

Wiring (for the reply service's adapter): a department answer's (reply type, reason) is an outcome
code of ``contracts.decisions`` (``default_outcome(reply_type).code`` when it has no reason); one
``models.DepartmentDecision`` per answer, in the order of ``aggregation.order_parts``; the combined
``decision`` is ``aggregation.combined_decision``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from services.reply.documents import models
from services.reply.documents.registry import (
    CONSOLIDATED,
    DOCUMENTS,
    DocumentKind,
    ProceduralKind,
    document_kind,
)
from services.reply.documents.render import (
    CJK_FONT_FAMILIES,
    DocumentRenderError,
    render_html,
    render_pdf,
    validate_context,
)


@dataclass(frozen=True)
class RenderedDocument:
    doc_type: str
    title: str
    html: str
    pdf: bytes


def render_document(doc_type: str, context: BaseModel | Mapping[str, Any]) -> RenderedDocument:
    kind, ctx = validate_context(doc_type, context)
    html = render_html(doc_type, ctx)
    title = getattr(ctx, "title", None) or kind.title
    return RenderedDocument(doc_type=kind.doc_type, title=title, html=html, pdf=render_pdf(html))


__all__ = [
    "CJK_FONT_FAMILIES",
    "CONSOLIDATED",
    "DOCUMENTS",
    "DocumentKind",
    "DocumentRenderError",
    "ProceduralKind",
    "RenderedDocument",
    "document_kind",
    "models",
    "render_document",
    "render_html",
    "render_pdf",
    "validate_context",
]
