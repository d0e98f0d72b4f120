"""The forms of service (送达, issue #17), printed by the OGI office: the 送达回证 (proof of service)
of a postal dispatch or a handover at the window, and the address label of a dispatch.

Rendered like every document of the set (the same ``_base.html.j2`` layout, the same Typst PDF),
but not documents *of the case*: they are not stored, hashed or ledgered (the dispatch and the
handover are, as events), and they are not in ``DOCUMENTS`` (whose kinds are the case's documents).
The 送达回证 leaves blanks for what is written by hand: the recipient's signature and date, a
substitute recipient, the server's signature (送达人).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from services.reply.documents import RenderedDocument, render_pdf
from services.reply.documents import models as m
from services.reply.documents.registry import DocumentKind
from services.reply.documents.render import _environment

Text = m.Text


class ServedDocument(m._Model):
    title: Text
    number: Text  # how the form names the document: its id (the ledger's), shortened
    issued_on: date | None = None  # None: not known here (printed as a dash)


class ProofOfService(m._Model):
    """送达回证: the agency serves the applicant these documents this way."""

    case_number: Text
    document_number: Text | None = None
    agency: m.Agency
    received_on: date
    issued_on: date  # the day of the dispatch / handover (the seal's date)
    applicant_name: Text
    address: Text | None = None  # post: the 送达地址
    postcode: Annotated[str, StringConstraints(pattern=r"^\d{6}$")] | None = None
    documents: list[ServedDocument] = Field(min_length=1)
    way: Literal["post", "window"]
    carrier: Text | None = None
    postal_tracking_number: Text | None = None
    received_by: Text | None = None  # window: who signed for it


class AddressLabel(m._Model):
    """The address label of a postal dispatch: recipient, sender, the case's tracking number."""

    case_number: Text
    document_number: Text | None = None
    agency: m.Agency
    received_on: date
    issued_on: date  # the day sent
    applicant_name: Text
    address: Text
    postcode: Annotated[str, StringConstraints(pattern=r"^\d{6}$")] | None = None
    phone: Text | None = None
    documents: int = Field(ge=1)
    carrier: Text
    postal_tracking_number: Text


FORMS = {
    "proof_of_service": DocumentKind("proof_of_service", "送达回证", "service/proof_of_service.html.j2",
                                     ProofOfService, remedies=False, noun="本回证"),
    "address_label": DocumentKind("address_label", "邮件封面（收件人地址）", "service/address_label.html.j2",
                                  AddressLabel, remedies=False, noun="本封面"),
}


def render_form(form: str, context: ProofOfService | AddressLabel) -> RenderedDocument:
    """The form as HTML and PDF (runs in the renderer's worker process: module-level, picklable)."""
    kind = FORMS[form]
    if type(context) is not kind.model:
        raise TypeError(f"{form} renders a {kind.model.__name__}")
    html = _environment().get_template(kind.template).render(doc=context, kind=kind, outcome=None)
    return RenderedDocument(doc_type=form, title=kind.title, html=html, pdf=render_pdf(html))
