"""Sample contexts of every document type (plain dicts, as an adapter would build them).

The values are distinctive so that tests can look for them in the rendered output.
"""

from __future__ import annotations

from datetime import date
from typing import Any

CASE_NUMBER = "GK-20260408-0042"
DOC_NUMBER = "滇政办依申〔2026〕417号"
AGENCY_NAME = "云南省人民政府办公厅"
OFFICE_NAME = "云南省人民政府办公厅政府信息公开申请受理中心"
RECEIVED = date(2026, 4, 8)
ISSUED = date(2026, 5, 6)
RECEIVED_CN = "2026年4月8日"  # GB/T 9704 date style: Arabic numerals, no leading zeros
ISSUED_CN = "2026年5月6日"
APPLICANT = "李明华"
REQUEST = "2025年度昆明市呈贡区移民搬迁安置补偿标准及安置方案"
REVIEW_BODY = "云南省人民政府"
COURT = "昆明市中级人民法院"

AGENCY = {
    "name": AGENCY_NAME,
    "office": OFFICE_NAME,
    "contact": {"address": "云南省昆明市五华区华山南路1号", "phone": "0871-63100000"},
}
RESPONSIBLE = {
    "name": "昆明市呈贡区人民政府",
    "contact": {"address": "昆明市呈贡区锦绣大街1号", "phone": "0871-67490000"},
}


def base(**extra: Any) -> dict[str, Any]:
    return {
        "case_number": CASE_NUMBER,
        "document_number": DOC_NUMBER,
        "agency": AGENCY,
        "received_on": RECEIVED,
        "issued_on": ISSUED,
        **extra,
    }


def to_applicant(**extra: Any) -> dict[str, Any]:
    return base(applicant_name=APPLICANT, request_summary=REQUEST, **extra)


def with_remedies(**extra: Any) -> dict[str, Any]:
    return to_applicant(remedies={"review_body": REVIEW_BODY, "court": COURT}, **extra)


MATERIALS = [
    {"title": "《云南省移民搬迁安置实施办法》", "ref": "云政发〔2024〕18号"},
    {"title": "《呈贡区2025年度征地补偿标准》"},
]


def _explained(text: str) -> dict[str, Any]:
    return with_remedies(explanation=text)


PROCEDURAL_SAMPLES: dict[str, dict[str, Any]] = {
    "acceptance_receipt": to_applicant(
        issued_on=RECEIVED, channel="online", reply_due_on=date(2026, 5, 8), query_code="Q7X4-92KD"
    ),
    "correction_notice": to_applicant(
        issued_on=date(2026, 4, 10),
        items=["请明确所需信息的年度和具体区域", "请提供身份证明复印件"],
        correction_due_on=date(2026, 4, 24),
    ),
    "extension_notice": to_applicant(
        original_due_on=date(2026, 5, 8),
        extended_due_on=date(2026, 6, 5),
        extension_working_days=20,
        reason="申请涉及8个部门，需汇总材料",
        issued_on=date(2026, 5, 6),
    ),
    "consultation_third_party": base(
        addressee="云南某某建设集团有限公司",
        request_summary="呈贡区安置房建设工程施工合同",
        reply_due_on=date(2026, 5, 27),
    ),
    "consultation_agency": base(
        addressee="云南省自然资源厅",
        request_summary="2025年度移民搬迁用地审批文件",
        reply_due_on=date(2026, 5, 27),
    ),
    "referral_notice": with_remedies(responsible_agency=RESPONSIBLE, forwarded=True),
    "abandonment_notice": with_remedies(
        correction_notice_issued_on=date(2026, 4, 10), correction_due_on=date(2026, 4, 24)
    ),
    "fee_notice": with_remedies(
        method="by_count",
        lines=[
            {"label": "本月第11件至第30件申请，每件100元（本件为第12件）", "amount": "100.00"},
        ],
        total="100.00",
        payment_due_on=date(2026, 6, 3),
        payment_method="通过非税收入缴款码",
    ),
}

# 视为放弃 for an unpaid fee (Art. 42, 国办函〔2020〕109号): the same kind as the correction's, its other reason.
FEE_UNPAID_ABANDONMENT: dict[str, Any] = with_remedies(
    reason="fee_unpaid", fee_notice_issued_on=date(2026, 4, 10), payment_due_on=date(2026, 5, 1), fee_total="200.00"
)
# An applicant who asked for delivery by post (邮寄): the document gives the 送达地址 in its 附注.
MAILING = {"address": "云南省昆明市盘龙区北京路1088号3幢502室", "postcode": "650051"}

OUTCOME_SAMPLES: dict[str, dict[str, Any]] = {
    "disclosed": with_remedies(materials=MATERIALS, delivery="以电子邮件方式"),
    "already_public": with_remedies(
        sources=[{"title": "《云南省移民搬迁安置实施办法》", "location": "云南省人民政府门户网站“政府文件”栏目"}]
    ),
    "partial": with_remedies(
        materials=MATERIALS[:1],
        delivery="以邮寄方式",
        withheld=[
            {
                "description": "安置名册中的身份证号码和家庭住址",
                "reason_code": "withheld.third_party",
                "explanation": "涉及个人隐私，权利人不同意公开。",
            }
        ],
    ),
    "withheld.state_secret": _explained("该文件已依法定为秘密级国家秘密。"),
    "withheld.legal_ban": _explained("《中华人民共和国统计法》禁止公开该统计调查对象资料。"),
    "withheld.security_stability": _explained("该信息涉及水库大坝安全防护部署。"),
    "withheld.third_party": _explained("该合同含有企业的报价和成本构成，企业不同意公开。"),
    "withheld.internal_affairs": _explained("所申请的会议签到表属于内部管理信息。"),
    "withheld.deliberative": _explained("所申请的方案征求意见稿尚在讨论中。"),
    "withheld.enforcement_file": _explained("所申请的材料系土地违法案件的执法案卷。"),
    "withheld.inquiry_matter": with_remedies(
        explanation="不动产登记资料的查询另有规定。", inquiry_channel="不动产登记机构的查询窗口"
    ),
    "unavailable.not_held": with_remedies(search_description="在公文管理系统和档案室以“移民搬迁”“补偿标准”为关键词进行了检索"),
    "unavailable.needs_compiling": _explained("所申请的“近十年各乡镇补偿金额对比分析”需另行统计汇总。"),
    "unavailable.still_unclear": with_remedies(
        explanation="补正后仍未说明所需信息的年度和区域。", correction_notice_issued_on=date(2026, 4, 10)
    ),
    "unavailable.not_this_agency": with_remedies(responsible_agency=RESPONSIBLE),
    "not_processed.petition": with_remedies(channel="昆明市呈贡区信访局（地址：呈贡区锦绣大街1号）"),
    "not_processed.repeat": with_remedies(
        previous_case_number="GK-20260302-0007", previous_replied_on=date(2026, 3, 20)
    ),
    "not_processed.publication": with_remedies(
        publication="《云南省人民政府公报》2025年第12期", how_to_obtain="可在云南省人民政府门户网站“政府公报”栏目免费查阅"
    ),
    "not_processed.excessive": _explained("您本月已提出同类申请86件，未说明合理理由。"),
    "not_processed.confirm_issued": _explained("您要求对已获取的补偿协议加盖公章。"),
    "other.correction_overdue": with_remedies(
        correction_notice_issued_on=date(2026, 4, 10), correction_due_on=date(2026, 4, 24)
    ),
    "other.fee_unpaid": with_remedies(fee_notice_issued_on=date(2026, 4, 10), payment_due_on=date(2026, 4, 30)),
    "other.other_law": with_remedies(law="《中华人民共和国档案法》", channel="云南省档案馆的档案利用服务"),
}

# The resettlement application of the seeds: 8 departments, mixed answers.
DEPARTMENTS: list[dict[str, Any]] = [
    {
        "dept_name": "云南省发展和改革委员会",
        "outcome_code": "disclosed",
        "text": "提供移民搬迁安置项目的立项批复。",
        "materials": [{"title": "《关于移民搬迁安置项目的批复》", "ref": "云发改投资〔2025〕311号"}],
    },
    {
        "dept_name": "云南省自然资源厅",
        "outcome_code": "partial",
        "text": "提供用地审批文件，涉及个人信息的附件不予公开。",
        "materials": [{"title": "《建设用地批准书》", "ref": "云自然资地〔2025〕52号"}],
        "withheld": [
            {
                "description": "被征地农户名册中的身份证号码",
                "reason_code": "withheld.third_party",
                "explanation": "涉及个人隐私，权利人不同意公开。",
            },
            {
                "description": "用地审查的内部讨论纪要",
                "reason_code": "withheld.deliberative",
                "explanation": "属于审批过程中形成的讨论记录。",
            },
        ],
    },
    {
        "dept_name": "云南省财政厅",
        "outcome_code": "already_public",
        "text": "安置补助资金预算已在省财政厅门户网站“预决算公开”栏目公开。",
    },
    {
        "dept_name": "云南省住房和城乡建设厅",
        "outcome_code": "unavailable.not_held",
        "text": "经在公文系统和档案室检索，本部门未制作或获取安置房分配方案。",
    },
    {
        "dept_name": "云南省水利厅",
        "outcome_code": "unavailable.not_this_agency",
        "text": "水库移民后期扶持名单由所在地县级人民政府负责公开。",
        "responsible_agency": {
            "name": "昆明市呈贡区人民政府",
            "contact": {"address": "昆明市呈贡区锦绣大街1号", "phone": "0871-67490000"},
        },
    },
    {
        "dept_name": "云南省人力资源和社会保障厅",
        "outcome_code": "disclosed",
        "text": "提供被征地农民养老保险办法。",
        "materials": [{"title": "《被征地农民基本养老保障办法》"}],
    },
    {
        "dept_name": "云南省农业农村厅",
        "outcome_code": "withheld.enforcement_file",
        "text": "所申请的违法占地查处材料属于行政执法案卷。",
    },
    {
        "dept_name": "云南省生态环境厅",
        "outcome_code": "unavailable.needs_compiling",
        "text": "安置区近五年环境质量变化分析需另行汇总分析。",
    },
]


def consolidated() -> dict[str, Any]:
    return with_remedies(decision="partially_disclosed", departments=DEPARTMENTS)


def all_samples() -> dict[str, dict[str, Any]]:
    return {**PROCEDURAL_SAMPLES, **OUTCOME_SAMPLES, "consolidated_reply": consolidated()}


def consolidated_three() -> dict[str, Any]:
    """A reply answered by three departments (disclosed, partial, not this agency's)."""
    return with_remedies(decision="partially_disclosed", departments=[DEPARTMENTS[0], DEPARTMENTS[1], DEPARTMENTS[4]])


AMENDMENT_TITLE = "政府信息公开申请补充答复书"
AMENDMENT_NOTE = ("本答复是对本机关于2026年5月6日就同一申请（受理编号GK-20260408-0042）所作答复的补充答复（第1次），"
                  "补充此前尚未答复部门的答复。")


def amendment() -> dict[str, Any]:
    """A later answer after the reply: the amendment (补充答复书) of one department."""
    return with_remedies(decision="disclosed", departments=[DEPARTMENTS[5]], notes=[AMENDMENT_NOTE],
                         title=AMENDMENT_TITLE) | {"issued_on": date(2026, 5, 20)}
