"""The document set: every procedural kind and every outcome code mapped to its template and model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from pydantic import BaseModel

from contracts.decisions import OUTCOMES, Outcome
from services.reply.documents import models as m

REPLY_TITLE = "政府信息公开申请答复书"


class ProceduralKind(StrEnum):
    ACCEPTANCE_RECEIPT = "acceptance_receipt"  # 受理回执 (Art. 31, 33)
    CORRECTION_NOTICE = "correction_notice"  # 补正申请告知书 (Art. 30)
    EXTENSION_NOTICE = "extension_notice"  # 延期答复告知书 (Art. 33)
    CONSULTATION_THIRD_PARTY = "consultation_third_party"  # 征求第三方意见函 (Art. 32)
    CONSULTATION_AGENCY = "consultation_agency"  # 征求意见函 to another agency (Art. 33, 34)
    REFERRAL_NOTICE = "referral_notice"  # 非本机关负责公开政府信息告知书, 转送 when forwarded (Art. 36(5))
    ABANDONMENT_NOTICE = "abandonment_notice"  # 视为放弃申请告知书 (Art. 30; unpaid fee: Art. 42)
    FEE_NOTICE = "fee_notice"  # 收费通知 (Art. 42, 国办函〔2020〕109号)


CONSOLIDATED = "consolidated_reply"  # one reply from many departments (Art. 36, 37)


@dataclass(frozen=True)
class DocumentKind:
    doc_type: str  # a ProceduralKind value, an outcome code, or CONSOLIDATED
    title: str  # printed title
    template: str  # template path inside templates/
    model: type[BaseModel]  # the context it renders
    remedies: bool  # prints the applicant's remedies (review 60 days, litigation 6 months)
    noun: str  # how the document names itself in the remedies sentence: 本答复 / 本告知书 / 本通知
    outcome: Outcome | None = None  # the outcome of a substantive reply


_P = ProceduralKind
_PROCEDURAL = (
    DocumentKind(_P.ACCEPTANCE_RECEIPT, "政府信息公开申请受理回执", "notices/acceptance_receipt.html.j2",
                 m.AcceptanceReceipt, remedies=False, noun="本回执"),
    DocumentKind(_P.CORRECTION_NOTICE, "政府信息公开申请补正告知书", "notices/correction_notice.html.j2",
                 m.CorrectionNotice, remedies=False, noun="本告知书"),
    DocumentKind(_P.EXTENSION_NOTICE, "政府信息公开申请延期答复告知书", "notices/extension_notice.html.j2",
                 m.ExtensionNotice, remedies=False, noun="本告知书"),
    DocumentKind(_P.CONSULTATION_THIRD_PARTY, "政府信息公开第三方意见征询函",
                 "notices/consultation_third_party.html.j2", m.ThirdPartyConsultation, remedies=False, noun="本函"),
    DocumentKind(_P.CONSULTATION_AGENCY, "政府信息公开征求意见函", "notices/consultation_agency.html.j2",
                 m.AgencyConsultation, remedies=False, noun="本函"),
    DocumentKind(_P.REFERRAL_NOTICE, "非本机关负责公开政府信息告知书", "notices/referral_notice.html.j2",
                 m.ReferralNotice, remedies=True, noun="本告知书"),
    DocumentKind(_P.ABANDONMENT_NOTICE, "视为放弃政府信息公开申请告知书", "notices/abandonment_notice.html.j2",
                 m.AbandonmentNotice, remedies=True, noun="本告知书"),
    DocumentKind(_P.FEE_NOTICE, "政府信息公开信息处理费收费通知", "notices/fee_notice.html.j2",
                 m.FeeNotice, remedies=True, noun="本通知"),
)

# The context model of each outcome's reply.
_OUTCOME_MODELS: dict[str, type[m.ReplyContext]] = {
    "disclosed": m.DisclosedReply,
    "already_public": m.AlreadyPublicReply,
    "partial": m.PartialReply,
    "withheld.state_secret": m.ExplainedReply,
    "withheld.legal_ban": m.ExplainedReply,
    "withheld.security_stability": m.ExplainedReply,
    "withheld.third_party": m.ExplainedReply,
    "withheld.internal_affairs": m.ExplainedReply,
    "withheld.deliberative": m.ExplainedReply,
    "withheld.enforcement_file": m.ExplainedReply,
    "withheld.inquiry_matter": m.InquiryMatterReply,
    "unavailable.not_held": m.NotHeldReply,
    "unavailable.needs_compiling": m.ExplainedReply,
    "unavailable.still_unclear": m.StillUnclearReply,
    "unavailable.not_this_agency": m.NotThisAgencyReply,
    "not_processed.petition": m.PetitionReply,
    "not_processed.repeat": m.RepeatReply,
    "not_processed.publication": m.PublicationReply,
    "not_processed.excessive": m.ExplainedReply,
    "not_processed.confirm_issued": m.ExplainedReply,
    "other.correction_overdue": m.CorrectionOverdueReply,
    "other.fee_unpaid": m.FeeUnpaidReply,
    "other.other_law": m.OtherLawReply,
}


def _substantive() -> tuple[DocumentKind, ...]:
    missing = {o.code for o in OUTCOMES} - _OUTCOME_MODELS.keys()
    if missing:  # contracts.decisions gained an outcome: it needs a model and a template here
        raise RuntimeError(f"reply documents: no model for outcome(s) {sorted(missing)}")
    return tuple(
        DocumentKind(o.code, REPLY_TITLE, f"replies/{o.code}.html.j2", _OUTCOME_MODELS[o.code],
                     remedies=True, noun="本答复", outcome=o)
        for o in OUTCOMES
    )


_CONSOLIDATED = DocumentKind(CONSOLIDATED, REPLY_TITLE, "replies/consolidated.html.j2", m.ConsolidatedReply,
                             remedies=True, noun="本答复")

DOCUMENTS: Mapping[str, DocumentKind] = MappingProxyType(
    {k.doc_type: k for k in (*_PROCEDURAL, *_substantive(), _CONSOLIDATED)}
)


def document_kind(doc_type: str) -> DocumentKind:
    try:
        return DOCUMENTS[str(doc_type)]
    except KeyError:
        raise ValueError(f"unknown document type {doc_type!r}") from None
