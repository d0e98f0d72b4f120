"""HTTP request and response shapes of intake; error messages in Chinese (shown to applicants)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, HttpUrl, field_validator, model_validator

from contracts.vocabulary import ApplicantType, Channel, DeliveryForm, DeliveryMethod
from servicekit.validation import EXTRA_FIELD_HINTS, FieldProblem, StrictIn
from services.intake.identity import valid_credit_code, valid_mobile, valid_phone, valid_resident_id

IdType = Literal["resident_id_card", "passport", "hk_macao_permit", "taiwan_permit", "unified_social_credit_code"]


class Applicant(StrictIn):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: ApplicantType = ApplicantType.NATURAL_PERSON
    name: str = Field(min_length=1, max_length=100, description="姓名或组织名称")
    id_type: IdType = "resident_id_card"
    id_number: str = Field(min_length=1, max_length=40)
    legal_representative: str | None = Field(default=None, max_length=100)
    contact_person: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _check_identity(self) -> Applicant:
        org = self.type is not ApplicantType.NATURAL_PERSON
        if org and self.id_type != "unified_social_credit_code":
            raise FieldProblem("id_type", "法人或其他组织应提供统一社会信用代码（unified_social_credit_code）")
        if not org and self.id_type == "unified_social_credit_code":
            raise FieldProblem("id_type", "自然人应提供身份证件号码")
        if self.id_type == "resident_id_card" and not valid_resident_id(self.id_number):
            raise FieldProblem("id_number", "居民身份证号码无效")
        if self.id_type == "unified_social_credit_code" and not valid_credit_code(self.id_number):
            raise FieldProblem("id_number", "统一社会信用代码无效")
        if org and not self.contact_person:
            raise FieldProblem("contact_person", "法人或其他组织应填写联系人")
        return self


class Contact(StrictIn):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    phone: str | None = Field(default=None, description="联系电话")
    email: EmailStr | None = None
    address: str | None = Field(default=None, max_length=200, description="通信地址")
    postcode: str | None = Field(default=None, pattern=r"^\d{6}$")
    webhook_url: HttpUrl | None = Field(
        default=None, max_length=2000,
        description="接收进度通知的回调地址（生产环境须为 https）；登记后在受理回执中一次性给出签名密钥 webhook_secret")
    notify_by: list[Literal["email", "sms"]] | None = Field(
        default=None, min_length=1, max_length=2,
        description="各办理环节的通知方式：email 电子邮件、sms 手机短信（只含受理编号和办理环节，夜间不发送）；"
                    "不填：填写了电子邮箱的，以电子邮件通知")

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is not None and not valid_phone(v):
            raise ValueError("联系电话格式不正确")
        return v

    @model_validator(mode="after")
    def _some_way(self) -> Contact:
        if not (self.phone or self.email or self.address):
            raise FieldProblem("phone", "请至少填写联系电话、电子邮箱或通信地址之一")
        chosen = self.notify_by or []
        if "sms" in chosen and not (self.phone and valid_mobile(self.phone)):
            raise FieldProblem("phone", "选择短信通知的，须填写手机号码")
        if "email" in chosen and not self.email:
            raise FieldProblem("email", "选择电子邮件通知的，须填写电子邮箱")
        if self.notify_by is not None:
            self.notify_by = list(dict.fromkeys(self.notify_by))
        return self


class Delivery(StrictIn):
    model_config = ConfigDict(extra="forbid")

    form: DeliveryForm = DeliveryForm.ELECTRONIC
    method: DeliveryMethod = DeliveryMethod.EMAIL


class ApplicationBase(StrictIn):
    """What every application states (条例第二十九条), whatever the channel."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    applicant: Applicant
    contact: Contact
    description: str = Field(min_length=5, max_length=4000, description="所需政府信息的名称、文号或便于查询的其他特征性描述")
    delivery: Delivery = Field(default_factory=Delivery)
    agency_code: str | None = Field(default=None, pattern=r"^[a-z0-9-]{2,64}$",
                                    description="受理机关代码；不填为本机关。只受理本系统服务的机关")
    target_departments: list[str] = Field(default_factory=list, max_length=30)

    @field_validator("target_departments")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        import re

        for code in v:
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", code):
                raise ValueError(f"部门代码无效：{code}")
        return list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _delivery_needs_contact(self) -> ApplicationBase:
        if self.delivery.method is DeliveryMethod.EMAIL and not self.contact.email:
            raise FieldProblem("contact.email", "选择电子邮件获取信息的，须填写电子邮箱")
        if self.delivery.method is DeliveryMethod.POST and not self.contact.address:
            raise FieldProblem("contact.address", "选择邮寄获取信息的，须填写通信地址")
        return self


# Fields only an OGI officer enters (POST /clerk/applications), refused from applicants by name.
_CLERK_ONLY = {
    "signed_on": "签收日期由工作人员登记信函申请时填写；网上申请以系统确认之日为收到申请之日",
    "confirmed_on": "确认日期由工作人员登记信函、传真申请时填写；网上申请以系统确认之日为收到申请之日",
    "received_by": "登记人员以工作人员的登录身份为准，不填写此项",
}


class ApplicationIn(ApplicationBase):
    """An application submitted online by the applicant (POST /applications). The date of receipt
    is the server's day (Art. 31(3): confirmed to the applicant at once)."""

    channel: Literal[Channel.ONLINE] = Field(default=Channel.ONLINE, description="网上申请（online）")

    @field_validator("channel", mode="before")
    @classmethod
    def _online_only(cls, channel: Any) -> Any:  # noqa: ANN401
        if isinstance(channel, str) and channel in {c.value for c in Channel} - {Channel.ONLINE.value}:
            raise ValueError("窗口、信函、传真申请由工作人员登记（POST /clerk/applications），此处只受理网上申请（online）")
        return channel


# The clerk-only fields sent to the public form are refused as unknown fields (each named, with
# the others' errors), with these messages.
EXTRA_FIELD_HINTS.update(_CLERK_ONLY)


ClerkChannel = Literal[Channel.WINDOW, Channel.REGISTERED_MAIL, Channel.ORDINARY_MAIL, Channel.FAX]


class ClerkApplicationIn(ApplicationBase):
    """An application received at the window, by post or by fax, entered by an OGI officer with
    the facts that fix its date of receipt (Art. 31). The officer is the token's."""

    channel: ClerkChannel = Field(description="window：当面；registered_mail：挂号信函；ordinary_mail：平常信函；fax：传真")
    signed_on: date | None = Field(default=None, description="挂号信函：本机关签收日期")
    confirmed_on: date | None = Field(default=None, description="平常信函、传真：双方确认日期")


class FeeNoticeIn(StrictIn):
    """The officer's confirmation of a fee notice; ``pages`` charges per page instead."""

    pages: int | None = Field(default=None, ge=0, le=10_000_000, description="按量计收：所需提供的页数")
    issued_on: date | None = Field(default=None, description="收费通知发出日期（默认今天；补登记时填写，"
                                   "不得晚于今天，不得早于收到申请之日）")


class FeeSettlementIn(StrictIn):
    """An OGI officer records the payment of the processing fee, or its waiver (减免)."""

    outcome: Literal["paid", "waived"] = Field(description="paid：申请人已缴纳；waived：本机关决定减免")
    settled_on: date | None = Field(default=None, description="收到缴费或作出减免决定的日期（默认今天）")
    amount_yuan: int | None = Field(default=None, ge=0, le=10_000_000, description="已缴纳的金额（元），默认为通知金额")
    reason: str | None = Field(default=None, min_length=1, max_length=500, description="减免的理由（减免时必填）")


class AttachmentOut(BaseModel):
    attachment_id: str
    filename: str
    content_type: Literal["application/pdf", "image/jpeg", "image/png"]
    size: int = Field(description="字节数")
    sha256: str = Field(description="文件内容的 SHA-256（十六进制）")


class CorrectionIn(StrictIn):
    """The text fields of an online correction (Art. 30); the files come beside them."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    description: str | None = Field(default=None, min_length=5, max_length=4000,
                                    description="补正后的所需政府信息的名称、文号或其他特征性描述")
    note: str | None = Field(default=None, max_length=2000, description="补正说明")


class ApplicationAccepted(BaseModel):
    case_id: str
    tracking_number: str
    query_code: str = Field(description="查询码：与受理编号一起用于查询办理进度，请妥善保存")
    received_on: date
    receipt_rule: str
    message: str
    webhook_secret: str | None = Field(
        default=None,
        description="登记了回调地址时：该订阅的签名密钥（Standard Webhooks，whsec_…），只在受理回执中给出，请妥善保存")
    attachments: list[AttachmentOut] = Field(default_factory=list, description="随申请提交的附件（JSON 申请为空）")
