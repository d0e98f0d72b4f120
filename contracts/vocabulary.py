"""Closed vocabularies shared by events: channels, applicant types, reply types (Art. 36)."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """Acceptance channel; it decides the date of receipt (Art. 31)."""

    ONLINE = "online"  # internet: the day both sides confirm
    WINDOW = "window"  # in person: the day submitted
    REGISTERED_MAIL = "registered_mail"  # the day the agency signs for it
    ORDINARY_MAIL = "ordinary_mail"  # the day the OGI office confirms with the applicant
    FAX = "fax"  # the day both sides confirm


CHANNEL_LABELS = {
    Channel.ONLINE: "网上申请",
    Channel.WINDOW: "当面申请",
    Channel.REGISTERED_MAIL: "挂号信函申请",
    Channel.ORDINARY_MAIL: "平常信函申请",
    Channel.FAX: "传真申请",
}


class ApplicantType(StrEnum):
    """Applicant categories of the annual report format (国办公开办函〔2021〕30号)."""

    NATURAL_PERSON = "natural_person"  # 自然人
    COMMERCIAL_ENTERPRISE = "commercial_enterprise"  # 商业企业
    RESEARCH_INSTITUTION = "research_institution"  # 科研机构
    PUBLIC_INTEREST_ORG = "public_interest_org"  # 社会公益组织
    LEGAL_SERVICE_ORG = "legal_service_org"  # 法律服务机构
    OTHER_ORG = "other_org"  # 其他


class DeliveryForm(StrEnum):
    PAPER = "paper"  # 纸质
    ELECTRONIC = "electronic"  # 电子


class DeliveryMethod(StrEnum):
    EMAIL = "email"  # 电子邮件
    POST = "post"  # 邮寄
    PICKUP = "pickup"  # 当面领取
    ONLINE = "online"  # 网上获取


class ReplyType(StrEnum):
    """The reply types of Art. 36 (and partial disclosure, Art. 37)."""

    ALREADY_PUBLIC = "already_public"  # 36(1) 已主动公开，告知获取方式
    DISCLOSED = "disclosed"  # 36(2) 予以公开
    PARTIALLY_DISCLOSED = "partially_disclosed"  # 37 部分公开
    NOT_DISCLOSED = "not_disclosed"  # 36(3) 不予公开
    NOT_EXIST = "not_exist"  # 36(4) 经检索没有所申请的信息
    NOT_THIS_AGENCY = "not_this_agency"  # 36(5) 不属于本机关负责公开
    REPEAT = "repeat"  # 36(6) 重复申请，不予重复处理
    OTHER_LAW = "other_law"  # 36(7) 依其他法律法规办理


REPLY_TYPE_LABELS = {
    ReplyType.ALREADY_PUBLIC: "已主动公开",
    ReplyType.DISCLOSED: "予以公开",
    ReplyType.PARTIALLY_DISCLOSED: "部分公开",
    ReplyType.NOT_DISCLOSED: "不予公开",
    ReplyType.NOT_EXIST: "本机关不掌握相关政府信息",
    ReplyType.NOT_THIS_AGENCY: "不属于本机关负责公开",
    ReplyType.REPEAT: "重复申请",
    ReplyType.OTHER_LAW: "依其他法律法规办理",
}

# Reply types that give the applicant (some of) the requested information.
GIVING_TYPES = frozenset({ReplyType.ALREADY_PUBLIC, ReplyType.DISCLOSED, ReplyType.PARTIALLY_DISCLOSED})


class NoticeKind(StrEnum):
    RECEIVED = "received"  # 申请已登记
    REPLY_ISSUED = "reply_issued"  # 答复已作出
    CORRECTION_REQUESTED = "correction_requested"  # 补正告知
    EXTENSION_APPROVED = "extension_approved"  # 延期答复告知
    APPLICATION_ABANDONED = "application_abandoned"  # 视为放弃
    FEE_NOTICE_ISSUED = "fee_notice_issued"  # 收费通知
    REFERRAL_RECORDED = "referral_recorded"  # 非本机关负责公开告知
    REPLY_AMENDED = "reply_amended"  # 答复补充、更正


class NoticeChannel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    SMS = "sms"  # 短信 (SMPP); delivered = the operator's delivery receipt (DELIVRD)


# The channels an applicant may choose on the form for the notices of each step (issue #17);
# a webhook is given by its URL, not chosen here.
APPLICANT_NOTICE_CHANNELS = (NoticeChannel.EMAIL, NoticeChannel.SMS)
NOTICE_CHANNEL_LABELS = {NoticeChannel.EMAIL: "电子邮件", NoticeChannel.SMS: "手机短信", NoticeChannel.WEBHOOK: "回调"}


class ServiceChannel(StrEnum):
    """How a document addressed to the applicant was served (送达), which starts the 60 days for
    administrative review and the 6 months for a lawsuit (issue #17)."""

    EMAIL = "email"  # 电子送达：邮件进入申请人的邮件服务器（发送服务器接收确认）
    SMS = "sms"  # 短信送达：运营商送达回执（DELIVRD）
    ONLINE = "online"  # 网上送达：发布后申请人打开了查询页面或文书
    POST = "post"  # 邮寄送达：签收日期
    WINDOW = "window"  # 直接送达：当面交付，受送达人签名


class ReturnReason(StrEnum):
    """Why the post brought a dispatch back (邮件退回原因), as the postal service's slip says."""

    ADDRESSEE_UNKNOWN = "addressee_unknown"  # 查无此人
    ADDRESS_UNCLEAR = "address_unclear"  # 地址不详
    MOVED = "moved"  # 迁移新址不明
    REFUSED = "refused"  # 拒收
    UNCLAIMED = "unclaimed"  # 逾期无人领取
    OTHER = "other"  # 其他


RETURN_REASON_LABELS = {
    ReturnReason.ADDRESSEE_UNKNOWN: "查无此人",
    ReturnReason.ADDRESS_UNCLEAR: "地址不详",
    ReturnReason.MOVED: "迁移新址不明",
    ReturnReason.REFUSED: "拒收",
    ReturnReason.UNCLAIMED: "逾期无人领取",
    ReturnReason.OTHER: "其他",
}


SERVICE_CHANNEL_LABELS = {
    ServiceChannel.EMAIL: "电子邮件送达",
    ServiceChannel.SMS: "短信送达",
    ServiceChannel.ONLINE: "网上查阅送达",
    ServiceChannel.POST: "邮寄送达",
    ServiceChannel.WINDOW: "直接送达",
}
