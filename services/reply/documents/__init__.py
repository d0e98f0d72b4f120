"""Reply documents: the standard document set of an application, rendered to HTML and PDF.

Pure rendering, no I/O of its own (WeasyPrint reads the installed fonts). Simplified Chinese,
formal government style, one Jinja2 template per document (``templates/``), autoescaped and strict
(an undefined variable is an error).

Document types (``DOCUMENTS`` maps each to a ``DocumentKind``: title, template, context model,
whether it prints the applicant's remedies):

- procedural (``ProceduralKind``): ``acceptance_receipt`` 受理回执 (Art. 31, 33),
  ``correction_notice`` 补正申请告知书 (Art. 30), ``extension_notice`` 延期答复告知书 (Art. 33),
  ``consultation_third_party`` 第三方意见征询函 (Art. 32), ``consultation_agency`` 征求意见函 to
  another agency (Art. 33, 34), ``referral_notice`` 非本机关负责公开政府信息告知书 (says 已转送
  when forwarded; Art. 36(5)), ``abandonment_notice`` 视为放弃申请告知书 (Art. 30), ``fee_notice``
  收费通知 (Art. 42, 国办函〔2020〕109号);
- substantive: one 答复书 per outcome code of ``contracts.decisions.OUTCOMES`` (the doc type IS the
  outcome code, e.g. ``"withheld.third_party"``); its legal basis is the outcome's ``basis``;
- ``CONSOLIDATED`` (``"consolidated_reply"``): one 答复书 for a case answered by many departments,
  listing each department's decision, text and material, and for partial disclosure each withheld
  part with its reason (Art. 37); copied (抄送) to the departments.

Every document prints the case number (受理编号; 文号 when given), the agency, the date of receipt
and the date of issue, the legal basis by article, a seal placeholder (agency name and date at the
bottom right) and the OGI office's contact; decisions the applicant can challenge (all substantive
replies, referral, abandonment, fee notice) print the remedies: administrative review within
60 days, litigation within 6 months of receipt of the document.

API::

    from services.reply.documents import render_html, render_pdf, DOCUMENTS, models

    html = render_html("consolidated_reply", context)   # context: the kind's model, or a dict
    pdf = render_pdf(html)                              # bytes, A4, CJK font embedded

- ``render_html(doc_type, context) -> str``: ``context`` is validated against the kind's model
  (``DOCUMENTS[doc_type].model``; a dict is validated, a model instance must be of exactly that
  class). A missing or empty field raises ``pydantic.ValidationError``; an unknown ``doc_type``
  raises ``ValueError``.
- ``render_pdf(html) -> bytes``: WeasyPrint, A4. CPU-bound (measured: ~0.14 s for an
  8-department reply with libharfbuzz-subset0 installed, ~1.5 s without), so call it via
  ``asyncio.to_thread`` in async code. External resources are never fetched. Raises
  ``DocumentRenderError`` if the text is Chinese but no CJK font is installed (install with
  ``deploy/local/install.sh debs``: fonts-wqy-microhei).
- ``render_document(doc_type, context) -> RenderedDocument``: both, for storing with the case; the
  applicant and the departments get the same bytes.

Wiring (for the reply service's adapter): a department answer's (reply type, reason) is an outcome
code of ``contracts.decisions`` (``default_outcome(reply_type).code`` when it has no reason); one
``models.DepartmentDecision`` per answer, in the order of ``aggregation.order_parts``; the combined
``decision`` is ``aggregation.combined_decision``. Measured with tests/documents/measure_render.py.
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
    return RenderedDocument(doc_type=kind.doc_type, title=kind.title, html=html, pdf=render_pdf(html))


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
