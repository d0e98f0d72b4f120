"""Outcomes of an application and their reason codes, each mapped to exactly one row of the annual
report format (国办公开办函〔2021〕30号, table 三 "本年度办理结果").

A decision is (reply type of Art. 36/37, reason code). ``OUTCOMES`` lists every allowed pair with
its report row, its legal basis and its Chinese label; a document template per outcome is keyed
by the same code. Shared by reply (decisions), audit (statistics) and documents.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.vocabulary import ReplyType


@dataclass(frozen=True)
class Outcome:
    code: str  # stable identifier, e.g. "withheld.state_secret"
    reply_type: ReplyType
    report_row: str  # row of table 三 of the annual report
    label: str  # Chinese, as in the report
    basis: str  # legal basis, by article


_O = Outcome
OUTCOMES: tuple[Outcome, ...] = (
    _O("disclosed", ReplyType.DISCLOSED, "（一）予以公开", "予以公开", "《条例》第三十六条第二项"),
    _O("already_public", ReplyType.ALREADY_PUBLIC, "（一）予以公开", "已主动公开，告知获取方式", "《条例》第三十六条第一项"),
    _O("partial", ReplyType.PARTIALLY_DISCLOSED, "（二）部分公开", "部分公开", "《条例》第三十七条"),
    _O("withheld.state_secret", ReplyType.NOT_DISCLOSED, "（三）不予公开 1.属于国家秘密", "属于国家秘密", "《条例》第十四条"),
    _O("withheld.legal_ban", ReplyType.NOT_DISCLOSED, "（三）不予公开 2.其他法律行政法规禁止公开", "其他法律行政法规禁止公开", "《条例》第十四条"),
    _O("withheld.security_stability", ReplyType.NOT_DISCLOSED, "（三）不予公开 3.危及“三安全一稳定”", "危及国家安全、公共安全、经济安全、社会稳定", "《条例》第十四条"),
    _O("withheld.third_party", ReplyType.NOT_DISCLOSED, "（三）不予公开 4.保护第三方合法权益", "涉及商业秘密、个人隐私等，公开会对第三方合法权益造成损害", "《条例》第十五条"),
    _O("withheld.internal_affairs", ReplyType.NOT_DISCLOSED, "（三）不予公开 5.属于三类内部事务信息", "属于人事管理、后勤管理、内部工作流程等内部事务信息", "《条例》第十六条第一款"),
    _O("withheld.deliberative", ReplyType.NOT_DISCLOSED, "（三）不予公开 6.属于四类过程性信息", "属于讨论记录、过程稿、磋商信函、请示报告等过程性信息", "《条例》第十六条第二款"),
    _O("withheld.enforcement_file", ReplyType.NOT_DISCLOSED, "（三）不予公开 7.属于行政执法案卷", "属于行政执法案卷信息", "《条例》第十六条第二款"),
    _O("withheld.inquiry_matter", ReplyType.NOT_DISCLOSED, "（三）不予公开 8.属于行政查询事项", "属于行政查询事项，告知按查询渠道办理", "《条例》第三十六条第七项"),
    _O("unavailable.not_held", ReplyType.NOT_EXIST, "（四）无法提供 1.本机关不掌握相关政府信息", "本机关不掌握相关政府信息", "《条例》第三十六条第四项"),
    _O("unavailable.needs_compiling", ReplyType.NOT_EXIST, "（四）无法提供 2.没有现成信息需要另行制作", "没有现成信息，需要另行制作", "《条例》第三十八条"),
    _O("unavailable.still_unclear", ReplyType.NOT_EXIST, "（四）无法提供 3.补正后申请内容仍不明确", "补正后申请内容仍不明确", "《条例》第三十条"),
    _O("unavailable.not_this_agency", ReplyType.NOT_THIS_AGENCY, "（四）无法提供 1.本机关不掌握相关政府信息", "不属于本机关负责公开，告知负责机关", "《条例》第三十六条第五项"),
    _O("not_processed.petition", ReplyType.OTHER_LAW, "（五）不予处理 1.信访举报投诉类申请", "属于信访、投诉、举报等诉求，告知通过相应渠道提出", "《条例》第三十九条第一款"),
    _O("not_processed.repeat", ReplyType.REPEAT, "（五）不予处理 2.重复申请", "重复申请，不予重复处理", "《条例》第三十六条第六项"),
    _O("not_processed.publication", ReplyType.OTHER_LAW, "（五）不予处理 3.要求提供公开出版物", "要求提供公开出版物，告知获取途径", "《条例》第三十九条第二款"),
    _O("not_processed.excessive", ReplyType.REPEAT, "（五）不予处理 4.无正当理由大量反复申请", "无正当理由大量、频繁申请", "《条例》第三十五条"),
    _O("not_processed.confirm_issued", ReplyType.OTHER_LAW, "（五）不予处理 5.要求行政机关确认或重新出具已获取信息", "要求确认或重新出具已获取的信息", "《条例》第三十九条"),
    _O("other.correction_overdue", ReplyType.OTHER_LAW, "（六）其他处理 1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请", "逾期未补正，视为放弃申请", "《条例》第三十条"),
    _O("other.fee_unpaid", ReplyType.OTHER_LAW, "（六）其他处理 2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", "逾期未缴纳信息处理费", "《条例》第四十二条"),
    _O("other.other_law", ReplyType.OTHER_LAW, "（六）其他处理 3.其他", "依照其他法律、法规办理", "《条例》第三十六条第七项"),
)

BY_CODE: dict[str, Outcome] = {o.code: o for o in OUTCOMES}

# The rows of table 三 in their printed order (each outcome maps to exactly one).
REPORT_ROWS: tuple[str, ...] = tuple(dict.fromkeys(o.report_row for o in OUTCOMES))


def outcome(code: str) -> Outcome:
    try:
        return BY_CODE[code]
    except KeyError:
        raise ValueError(f"unknown outcome code {code!r}") from None


def default_outcome(reply_type: ReplyType) -> Outcome:
    """The outcome of a reply type that has only one (or its most common one)."""
    for o in OUTCOMES:
        if o.reply_type is reply_type:
            return o
    raise ValueError(reply_type)
