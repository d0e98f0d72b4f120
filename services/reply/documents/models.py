"""Typed contexts of the reply documents: one pydantic model per document kind.

Every field a document prints is required unless it is explicitly optional with a stated meaning
(``document_number``: the agency numbers this kind of document; ``court``: otherwise "有管辖权的人民
法院"; ``ConsolidatedReply.title``: otherwise the kind's title; ``mailing``: the document goes by
post, and its 附注 gives the 送达地址; the dates of ``AbandonmentNotice``: by its ``reason``).
``applicant_name`` is required in every document addressed to the applicant: it is the 主送 line
(never a blank "申请人："). A missing or empty field is a validation error, never a blank in the
document. Dates are ``datetime.date``; money is ``Decimal`` (yuan). Models are frozen and reject unknown fields.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contracts.decisions import BY_CODE
from contracts.vocabulary import GIVING_TYPES, Channel, ReplyType

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- building blocks
class Contact(_Model):
    address: Text  # 通讯地址
    phone: Text  # 联系电话


class Mailing(_Model):
    """Where a document sent by post goes (送达地址): the applicant asked for delivery by post (邮寄)."""

    address: Text  # the applicant's postal address (通信地址)
    postcode: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{6}$")] | None = None


class Agency(_Model):
    """The agency that issues the document (its name is also the seal's)."""

    name: Text  # 机关名称, e.g. 云南省人民政府办公厅
    office: Text  # 政府信息公开工作机构, e.g. 云南省人民政府办公厅政府信息公开申请受理中心
    contact: Contact


class ResponsibleAgency(_Model):
    """The agency responsible for the information (Art. 36(5)): its name and contact."""

    name: Text
    contact: Contact


class Remedies(_Model):
    """Where the applicant may seek administrative review (60 days) or sue (6 months)."""

    review_body: Text  # 行政复议机关, e.g. 云南省人民政府
    court: Text | None = None  # 人民法院; None prints "有管辖权的人民法院"


class Material(_Model):
    """A piece of material provided (or a reference to it)."""

    title: Text  # e.g. 《云南省移民搬迁安置实施办法》
    ref: Text | None = None  # 文号 or attachment reference


class PublicSource(_Model):
    """Where already-public information can be obtained (Art. 36(1))."""

    title: Text
    location: Text  # e.g. 云南省人民政府门户网站“政府信息公开”栏目（网址）


class WithheldPart(_Model):
    """A part not provided in a partial disclosure (Art. 37), with its reason."""

    description: Text  # which part
    reason_code: Text  # an outcome code of contracts.decisions that gives nothing
    explanation: Text  # the concrete reason

    @model_validator(mode="after")
    def _reason_is_withholding(self) -> Self:
        o = BY_CODE.get(self.reason_code)
        if o is None:
            raise ValueError(f"未知的不予提供理由代码：{self.reason_code}")
        if o.reply_type in GIVING_TYPES:
            raise ValueError(f"理由代码 {self.reason_code} 属于提供信息的答复类型，不能作为不予提供部分的理由")
        return self


class FeeMethod(StrEnum):
    BY_COUNT = "by_count"  # 按件计收
    BY_VOLUME = "by_volume"  # 按量计收


FEE_METHOD_LABELS = {FeeMethod.BY_COUNT: "按件计收", FeeMethod.BY_VOLUME: "按量计收"}


class FeeLine(_Model):
    label: Text  # e.g. 本月第11件至第12件申请，每件100元
    amount: Decimal = Field(gt=0, decimal_places=2)


# ---------------------------------------------------------------- bases
class DocumentContext(_Model):
    """What every document carries."""

    case_number: Text  # 受理编号 (tracking number)
    document_number: Text | None = None  # 文号, when the agency numbers this document
    agency: Agency
    received_on: date  # date the application was received (Art. 31)
    issued_on: date  # date of the document

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.issued_on < self.received_on:
            raise ValueError("出具日期不能早于收到申请日期")
        return self


class ApplicantDocumentContext(DocumentContext):
    """A document addressed to the applicant."""

    applicant_name: Text
    request_summary: Text  # the information applied for, in the applicant's terms
    mailing: Mailing | None = None  # sent by post: printed in the 附注; None: not sent by post


class RemedyDocumentContext(ApplicantDocumentContext):
    """A decision the applicant can challenge: carries the remedies."""

    remedies: Remedies


# ---------------------------------------------------------------- procedural documents
class AcceptanceReceipt(ApplicantDocumentContext):
    channel: Channel  # decides the date of receipt (Art. 31)
    reply_due_on: date  # 20 working days after receipt (Art. 33)
    query_code: Text | None = None  # 查询码, when the applicant can follow the case online

    @model_validator(mode="after")
    def _due_after_receipt(self) -> Self:
        if self.reply_due_on <= self.received_on:
            raise ValueError("答复期限必须晚于收到申请日期")
        return self


class CorrectionNotice(ApplicantDocumentContext):
    items: list[Text] = Field(min_length=1)  # every correction needed, in one notice (Art. 30)
    correction_due_on: date

    @model_validator(mode="after")
    def _deadline_after_issue(self) -> Self:
        if self.correction_due_on <= self.issued_on:
            raise ValueError("补正期限必须晚于告知书出具日期")
        return self


class ExtensionNotice(ApplicantDocumentContext):
    original_due_on: date
    extended_due_on: date
    extension_working_days: int = Field(ge=1, le=20)  # at most 20 WD (Art. 33)
    reason: Text

    @model_validator(mode="after")
    def _extends(self) -> Self:
        if self.extended_due_on <= self.original_due_on:
            raise ValueError("延长后的答复期限必须晚于原答复期限")
        return self


class _Consultation(DocumentContext):
    """A letter to a third party or agency; it does not name the applicant."""

    addressee: Text
    request_summary: Text  # the information concerned
    reply_due_on: date  # 15 working days after the addressee receives it

    @model_validator(mode="after")
    def _due_after_issue(self) -> Self:
        if self.reply_due_on <= self.issued_on:
            raise ValueError("提出意见的期限必须晚于征求意见函出具日期")
        return self


class ThirdPartyConsultation(_Consultation):
    """征求第三方意见 (Art. 32)."""


class AgencyConsultation(_Consultation):
    """征求其他行政机关意见 (Art. 33, 34)."""


class ReferralNotice(RemedyDocumentContext):
    responsible_agency: ResponsibleAgency
    forwarded: bool  # the application was handed to that agency's intake on the bus


class AbandonReason(StrEnum):
    CORRECTION_OVERDUE = "correction_overdue"  # no correction by its deadline (Art. 30)
    FEE_UNPAID = "fee_unpaid"  # the fee unpaid within 20 WD of its notice (Art. 42, 国办函〔2020〕109号)


class AbandonmentNotice(RemedyDocumentContext):
    """视为放弃申请告知书. ``reason`` decides the text and which dates it needs: the correction notice's
    date and deadline (correction_overdue), or the fee notice's date and the payment deadline
    (fee_unpaid; ``fee_total``: the amount of the fee notice, printed when known). The other reason's
    fields must be absent."""

    reason: AbandonReason = AbandonReason.CORRECTION_OVERDUE
    correction_notice_issued_on: date | None = None
    correction_due_on: date | None = None
    fee_notice_issued_on: date | None = None
    payment_due_on: date | None = None
    fee_total: Decimal | None = Field(default=None, gt=0, decimal_places=2)

    @model_validator(mode="after")
    def _overdue(self) -> Self:
        if self.reason is AbandonReason.CORRECTION_OVERDUE:
            notice, due, other = self.correction_notice_issued_on, self.correction_due_on, (
                self.fee_notice_issued_on, self.payment_due_on, self.fee_total)
            what = "补正告知", "补正期限"
        else:
            notice, due, other = self.fee_notice_issued_on, self.payment_due_on, (
                self.correction_notice_issued_on, self.correction_due_on)
            what = "收费通知", "缴费期限"
        if notice is None or due is None:
            raise ValueError(f"视为放弃申请（{self.reason.value}）须写明{what[0]}的日期和{what[1]}")
        if any(x is not None for x in other):
            raise ValueError(f"视为放弃申请（{self.reason.value}）不写另一理由的日期或金额")
        if not notice < due < self.issued_on:
            raise ValueError(f"须先发出{what[0]}、{what[1]}届满后，才能告知视为放弃申请")
        return self


class FeeNotice(RemedyDocumentContext):
    method: FeeMethod
    lines: list[FeeLine] = Field(min_length=1)
    total: Decimal = Field(gt=0, decimal_places=2)
    payment_due_on: date  # 20 working days after the applicant receives the notice
    payment_method: Text  # how to pay

    @model_validator(mode="after")
    def _total_adds_up(self) -> Self:
        if sum(line.amount for line in self.lines) != self.total:
            raise ValueError("收费合计与各项金额之和不符")
        if self.payment_due_on <= self.issued_on:
            raise ValueError("缴费期限必须晚于收费通知出具日期")
        return self


# ---------------------------------------------------------------- substantive replies (one per outcome)
class ReplyContext(RemedyDocumentContext):
    """A substantive reply (答复书)."""


class DisclosedReply(ReplyContext):
    materials: list[Material] = Field(min_length=1)
    delivery: Text  # how it is provided, e.g. 以电子邮件方式


class AlreadyPublicReply(ReplyContext):
    sources: list[PublicSource] = Field(min_length=1)


class PartialReply(ReplyContext):
    materials: list[Material] = Field(min_length=1)
    delivery: Text
    withheld: list[WithheldPart] = Field(min_length=1)


class ExplainedReply(ReplyContext):
    """An outcome whose reply states its concrete reason (withheld, cannot provide, not processed)."""

    explanation: Text


class InquiryMatterReply(ExplainedReply):
    inquiry_channel: Text  # where the record can be queried


class NotHeldReply(ReplyContext):
    search_description: Text  # how and where the agency searched (Art. 36(4))


class StillUnclearReply(ExplainedReply):
    correction_notice_issued_on: date


class NotThisAgencyReply(ReplyContext):
    responsible_agency: ResponsibleAgency


class PetitionReply(ReplyContext):
    channel: Text  # the petition/complaint channel


class RepeatReply(ReplyContext):
    previous_case_number: Text
    previous_replied_on: date


class PublicationReply(ReplyContext):
    publication: Text
    how_to_obtain: Text


class CorrectionOverdueReply(ReplyContext):
    correction_notice_issued_on: date
    correction_due_on: date

    @model_validator(mode="after")
    def _overdue(self) -> Self:
        if not self.correction_notice_issued_on < self.correction_due_on < self.issued_on:
            raise ValueError("须先发出补正告知、补正期限届满后，才能作出不再处理的答复")
        return self


class FeeUnpaidReply(ReplyContext):
    fee_notice_issued_on: date
    payment_due_on: date

    @model_validator(mode="after")
    def _overdue(self) -> Self:
        if not self.fee_notice_issued_on < self.payment_due_on < self.issued_on:
            raise ValueError("须先发出收费通知、缴费期限届满后，才能作出不再处理的答复")
        return self


class OtherLawReply(ReplyContext):
    law: Text  # the law or regulation with its own access rules
    channel: Text  # where to apply under it


# ---------------------------------------------------------------- consolidated reply
class DepartmentDecision(_Model):
    """One department's answer in the consolidated reply."""

    dept_name: Text
    outcome_code: Text  # a code of contracts.decisions.OUTCOMES
    text: Text  # the department's answer
    materials: list[Material] = Field(default_factory=list)
    withheld: list[WithheldPart] = Field(default_factory=list)  # partial disclosure only
    responsible_agency: ResponsibleAgency | None = None  # not this agency's only

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        o = BY_CODE.get(self.outcome_code)
        if o is None:
            raise ValueError(f"未知的办理结果代码：{self.outcome_code}")
        if o.reply_type is ReplyType.PARTIALLY_DISCLOSED:
            if not self.withheld:
                raise ValueError(f"{self.dept_name}：部分公开须逐项说明不予公开的部分及理由")
            # The part given may be in the answer's text (Art. 37: 提供可以公开的政府信息内容) or in
            # materials; the reply lists materials when there are some.
        elif self.withheld:
            raise ValueError(f"{self.dept_name}：只有部分公开才列明不予公开的部分")
        if o.reply_type is ReplyType.NOT_THIS_AGENCY and self.responsible_agency is None:
            raise ValueError(f"{self.dept_name}：不属于本机关负责公开的，须告知负责机关的名称和联系方式")
        if o.reply_type is not ReplyType.NOT_THIS_AGENCY and self.responsible_agency is not None:
            raise ValueError(f"{self.dept_name}：只有“不属于本机关负责公开”才告知负责机关")
        return self


class ConsolidatedReply(ReplyContext):
    decision: ReplyType  # the combined decision (see services.reply.aggregation)
    departments: list[DepartmentDecision] = Field(min_length=1)
    notes: list[Text] = Field(default_factory=list)  # e.g. answers still missing, or what an amendment adds to
    title: Text | None = None  # printed title when not 政府信息公开申请答复书, e.g. 政府信息公开申请补充答复书
