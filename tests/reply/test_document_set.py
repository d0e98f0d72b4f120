"""The document set: every outcome and procedural kind has a template that renders, with the case
number, agency, dates, legal basis and (where the document is a decision) the remedies."""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pydantic import ValidationError

from contracts.decisions import OUTCOMES
from services.reply.documents import CONSOLIDATED, DOCUMENTS, ProceduralKind, models, render_html
from services.reply.documents.render import document_structure
from tests.reply import document_samples as s

TEMPLATES = Path(__file__).resolve().parents[2] / "services/reply/documents/templates"
LAW = "《中华人民共和国政府信息公开条例》"

# Expected legal basis of each procedural document, from the Regulations (DESIGN.md table) and
# 国办函〔2020〕109号 — written here, not read from the registry.
PROCEDURAL_BASIS = {
    "acceptance_receipt": ["第三十一条", "第三十三条"],
    "correction_notice": ["第三十条"],
    "extension_notice": ["第三十三条"],
    "consultation_third_party": ["第三十二条"],
    "consultation_agency": ["第三十四条", "第三十三条"],
    "referral_notice": ["第三十六条第五项"],
    "abandonment_notice": ["第三十条"],
    "fee_notice": ["第四十二条", "国办函〔2020〕109号"],
}
# Decisions the applicant can challenge carry the remedies; receipts, notices of procedure and
# letters to third parties/agencies do not.
WITHOUT_REMEDIES = {
    "acceptance_receipt",
    "correction_notice",
    "extension_notice",
    "consultation_third_party",
    "consultation_agency",
}
ALL_TYPES = [*PROCEDURAL_BASIS, *(o.code for o in OUTCOMES), "consolidated_reply"]


class _Text(HTMLParser):
    """The visible text of a document (no head, no style)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0
        self.seal: list[str] = []
        self._in_seal = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("head", "style", "title"):
            self._skip += 1
        if tag == "div" and ("class", "seal") in attrs:
            self._in_seal = 1
        elif tag == "div" and self._in_seal:
            self._in_seal += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("head", "style", "title"):
            self._skip -= 1
        if tag == "div" and self._in_seal:
            self._in_seal -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)
            if self._in_seal:
                self.seal.append(data)


def visible(html: str) -> tuple[str, str]:
    """(whole visible text, text of the seal block), whitespace removed."""
    p = _Text()
    p.feed(html)
    squash = lambda parts: re.sub(r"\s+", "", "".join(parts))  # noqa: E731
    return squash(p.parts), squash(p.seal)


def test_registry_covers_every_outcome_and_procedural_kind() -> None:
    codes = {o.code for o in OUTCOMES}
    assert len(codes) == 23
    assert codes <= DOCUMENTS.keys()
    assert {k.value for k in ProceduralKind} == set(PROCEDURAL_BASIS)
    assert set(DOCUMENTS) == set(ALL_TYPES)
    # The Jiangsu set: 7 procedural and 19 substantive — matched or exceeded.
    assert len(ProceduralKind) >= 7
    assert sum(1 for k in DOCUMENTS.values() if k.outcome is not None) >= 19
    for kind in DOCUMENTS.values():
        assert (TEMPLATES / kind.template).is_file(), kind.template
        if kind.outcome is not None:
            assert kind.doc_type == kind.outcome.code


def test_every_outcome_template_is_its_own_file() -> None:
    files = {p.name for p in (TEMPLATES / "replies").glob("*.html.j2")}
    assert {f"{o.code}.html.j2" for o in OUTCOMES} <= files


@pytest.mark.parametrize("doc_type", ALL_TYPES)
def test_document_carries_case_agency_dates_basis_and_seal(doc_type: str) -> None:
    ctx = s.all_samples()[doc_type]
    text, seal = visible(render_html(doc_type, ctx))
    assert s.CASE_NUMBER in text
    assert s.DOC_NUMBER in text
    assert s.AGENCY_NAME in text
    assert s.OFFICE_NAME in text
    assert s.RECEIVED_CN in text
    assert LAW in text
    # The seal placeholder: the agency's name and the date of issue, bottom right.
    issued = ctx["issued_on"]
    assert seal == f"（印章）{s.AGENCY_NAME}{issued.year}年{issued.month}月{issued.day}日"
    if doc_type in PROCEDURAL_BASIS:
        for article in PROCEDURAL_BASIS[doc_type]:
            assert article in text, article
    elif doc_type != "consolidated_reply":
        assert DOCUMENTS[doc_type].outcome.basis in text
        assert "政府信息公开申请答复书" in text


@pytest.mark.parametrize("doc_type", ALL_TYPES)
def test_remedies_where_the_document_is_a_decision(doc_type: str) -> None:
    text, _ = visible(render_html(doc_type, s.all_samples()[doc_type]))
    remedies = [
        f"60日内向{s.REVIEW_BODY}申请行政复议",
        f"6个月内向{s.COURT}提起行政诉讼",
        "《中华人民共和国行政复议法》第二十条",
        "《中华人民共和国行政诉讼法》第四十六条",
    ]
    if doc_type in WITHOUT_REMEDIES:
        assert "行政复议" not in text and "行政诉讼" not in text
    else:
        for phrase in remedies:
            assert phrase in text, phrase


def test_remedies_without_a_named_court_point_to_the_competent_court() -> None:
    ctx = s.OUTCOME_SAMPLES["disclosed"] | {"remedies": {"review_body": s.REVIEW_BODY}}
    text, _ = visible(render_html("disclosed", ctx))
    assert "6个月内向有管辖权的人民法院提起行政诉讼" in text


def test_applicant_named_in_documents_to_the_applicant_only() -> None:
    for doc_type, ctx in s.all_samples().items():
        text, _ = visible(render_html(doc_type, ctx))
        if doc_type.startswith("consultation_"):
            assert s.APPLICANT not in text  # a third party is not told who applied
            assert ctx["addressee"] + "：" in text
        else:
            assert s.APPLICANT + "：" in text


def test_correction_notice_lists_every_item_and_the_deadline() -> None:
    text, _ = visible(render_html("correction_notice", s.PROCEDURAL_SAMPLES["correction_notice"]))
    assert "一、请明确所需信息的年度和具体区域" in text
    assert "二、请提供身份证明复印件" in text
    assert "2026年4月24日前" in text
    assert "视为放弃申请" in text


def test_extension_notice_states_new_date_and_length() -> None:
    text, _ = visible(render_html("extension_notice", s.PROCEDURAL_SAMPLES["extension_notice"]))
    assert "延长20个工作日" in text
    assert "2026年6月5日前作出答复" in text
    assert "政府信息公开工作机构负责人同意" in text


def test_referral_names_the_responsible_agency_and_says_whether_forwarded() -> None:
    ctx = s.PROCEDURAL_SAMPLES["referral_notice"]
    text, _ = visible(render_html("referral_notice", ctx))
    assert "昆明市呈贡区人民政府（通讯地址：昆明市呈贡区锦绣大街1号；联系电话：0871-67490000）" in text
    assert "已将您的申请转送昆明市呈贡区人民政府办理" in text
    text, _ = visible(render_html("referral_notice", ctx | {"forwarded": False}))
    assert "转送" not in text
    assert "请您直接向昆明市呈贡区人民政府提出政府信息公开申请" in text


def test_abandonment_for_an_unpaid_fee_names_the_fee_notice_not_a_correction() -> None:
    text, _ = visible(render_html("abandonment_notice", s.FEE_UNPAID_ABANDONMENT))
    for phrase in (
        "本机关已于2026年4月10日向您发出信息处理费收费通知，请您于2026年5月1日前缴纳信息处理费200.00元。",
        "截至缴费期限届满，本机关未收到您缴纳的信息处理费。",
        f"根据{LAW}（以下简称《条例》）第四十二条和《政府信息公开信息处理费管理办法》（国办函〔2020〕109号）"
        "的规定，您的申请视为放弃，本机关不再处理该政府信息公开申请。您仍可以重新提出政府信息公开申请。",
        "收费通知日期：2026年4月10日",
        "缴费期限：2026年5月1日前",
        "6个月内向昆明市中级人民法院提起行政诉讼",
    ):
        assert phrase in text, phrase
    assert "补正" not in text and "第三十条" not in text
    # The amount is printed only when known.
    text, _ = visible(render_html("abandonment_notice", s.FEE_UNPAID_ABANDONMENT | {"fee_total": None}))
    assert "请您于2026年5月1日前缴纳信息处理费。截至缴费期限届满" in text


def test_abandonment_for_a_correction_not_made_keeps_its_text() -> None:
    text, _ = visible(render_html("abandonment_notice", s.PROCEDURAL_SAMPLES["abandonment_notice"]))
    assert "本机关已于2026年4月10日向您发出补正申请告知书，请您于2026年4月24日前补正。" in text
    assert "截至补正期限届满" in text and "第三十条" in text and "补正期限：2026年4月24日前" in text
    assert "信息处理费" not in text and "第四十二条" not in text and "收费通知" not in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"payment_due_on": None}, "收费通知的日期和缴费期限"),
        ({"fee_notice_issued_on": None}, "收费通知的日期和缴费期限"),
        ({"correction_due_on": date(2026, 4, 24)}, "不写另一理由"),
        ({"payment_due_on": date(2026, 5, 6)}, "缴费期限届满后"),
        ({"fee_notice_issued_on": date(2026, 5, 1)}, "缴费期限届满后"),
        ({"reason": "correction_overdue"}, "补正告知的日期和补正期限"),
        ({"fee_total": "0"}, "greater than 0"),
    ],
)
def test_an_abandonment_needs_the_dates_of_its_own_reason(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        render_html("abandonment_notice", s.FEE_UNPAID_ABANDONMENT | change)
    with pytest.raises(ValidationError, match="不写另一理由"):
        render_html("abandonment_notice",
                    s.PROCEDURAL_SAMPLES["abandonment_notice"] | {"payment_due_on": date(2026, 5, 1)})


@pytest.mark.parametrize("doc_type", ALL_TYPES)
def test_a_document_sent_by_post_gives_the_mailing_address(doc_type: str) -> None:
    ctx = s.all_samples()[doc_type]
    without, _ = visible(render_html(doc_type, ctx))
    assert "送达地址" not in without and s.MAILING["address"] not in without
    if doc_type.startswith("consultation_"):  # a letter to the party consulted: not the applicant's
        with pytest.raises(ValidationError):
            render_html(doc_type, ctx | {"mailing": s.MAILING})
        return
    html = render_html(doc_type, ctx | {"mailing": s.MAILING})
    text, _ = visible(html)
    assert f"（送达方式：邮寄送达地址：{s.MAILING['address']}邮政编码：{s.MAILING['postcode']}）" in text
    # In the 附注, after the case data and before the office's contact; the PDF reads it as a note.
    assert text.index("受理编号") < text.index("送达地址") < text.index("承办机构")
    notes = document_structure(html)["notes"]
    assert f"（送达方式：邮寄；送达地址：{s.MAILING['address']}；邮政编码：{s.MAILING['postcode']}）" in notes
    no_code, _ = visible(render_html(doc_type, ctx | {"mailing": {"address": s.MAILING["address"]}}))
    assert "送达地址" in no_code and "邮政编码" not in no_code


def test_a_mailing_address_must_be_an_address_and_a_postcode() -> None:
    ctx = s.PROCEDURAL_SAMPLES["acceptance_receipt"]
    for bad in ({"address": "  "}, {"address": "某地", "postcode": "65005"}, {"postcode": "650051"}):
        with pytest.raises(ValidationError):
            render_html("acceptance_receipt", ctx | {"mailing": bad})


def test_fee_notice_shows_each_line_and_the_total() -> None:
    text, _ = visible(render_html("fee_notice", s.PROCEDURAL_SAMPLES["fee_notice"]))
    assert "按件计收" in text
    assert "100.00元" in text
    assert "合计100.00元" in text
    assert "2026年6月3日前" in text


def test_partial_reply_explains_each_withheld_part() -> None:
    text, _ = visible(render_html("partial", s.OUTCOME_SAMPLES["partial"]))
    assert "《云南省移民搬迁安置实施办法》（云政发〔2024〕18号）" in text
    assert "安置名册中的身份证号码和家庭住址：不予公开（涉及商业秘密、个人隐私等，公开会对第三方合法权益造成损害）" in text
    assert "依据《条例》第十五条的规定，涉及个人隐私，权利人不同意公开。" in text


def test_consolidated_html_lists_every_department_in_order() -> None:
    text, _ = visible(render_html(CONSOLIDATED, s.consolidated()))
    positions = [text.index(f"、{d['dept_name']}：") for d in s.DEPARTMENTS]
    assert positions == sorted(positions)
    assert "涉及本机关8个承办部门" in text
    assert "八、云南省生态环境厅：没有现成信息，需要另行制作" in text
    assert "作出“部分公开”的答复" in text
    # GB/T 9704 版记: 抄送机关 separated by commas, a full stop after the last
    assert "抄送：" + "，".join(d["dept_name"] for d in s.DEPARTMENTS) + "。" in text


def test_autoescape() -> None:
    ctx = s.OUTCOME_SAMPLES["disclosed"] | {"request_summary": '<script>alert("x")</script>&补偿'}
    html = render_html("disclosed", ctx)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;补偿" in html


# ---------------------------------------------------------------- missing or wrong context
@pytest.mark.parametrize("doc_type", ALL_TYPES)
def test_every_required_field_missing_is_an_error(doc_type: str) -> None:
    ctx = s.all_samples()[doc_type]
    model = DOCUMENTS[doc_type].model
    required = [name for name, f in model.model_fields.items() if f.is_required()]
    assert {"case_number", "agency", "received_on", "issued_on"} <= set(required)
    for name in required:
        broken = {k: v for k, v in ctx.items() if k != name}
        with pytest.raises(ValidationError):
            render_html(doc_type, broken)


@pytest.mark.parametrize("field", ["case_number", "applicant_name", "request_summary"])
def test_blank_text_is_an_error_not_a_blank(field: str) -> None:
    with pytest.raises(ValidationError):
        render_html("disclosed", s.OUTCOME_SAMPLES["disclosed"] | {field: "   "})


def test_unknown_type_and_wrong_model_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown document type"):
        render_html("withheld.no_such_reason", s.OUTCOME_SAMPLES["disclosed"])
    ctx = models.ExplainedReply.model_validate(s.OUTCOME_SAMPLES["withheld.state_secret"])
    assert "国家秘密" in render_html("withheld.state_secret", ctx)
    with pytest.raises(TypeError):
        render_html("disclosed", ctx)
    with pytest.raises(ValidationError):  # an unknown field is refused, not ignored
        render_html("disclosed", s.OUTCOME_SAMPLES["disclosed"] | {"explanation": "x"})


def _dept(**kw: object) -> dict[str, object]:
    return {"dept_name": "某部门", "outcome_code": "disclosed", "text": "答复。"} | kw


@pytest.mark.parametrize(
    ("dept", "message"),
    [
        (_dept(outcome_code="partial", materials=[{"title": "甲"}]), "逐项说明"),
        (_dept(outcome_code="unavailable.not_this_agency"), "负责机关"),
        (_dept(responsible_agency=s.RESPONSIBLE), "只有“不属于本机关负责公开”"),
        (_dept(withheld=[{"description": "乙", "reason_code": "withheld.third_party", "explanation": "丙"}]),
         "只有部分公开"),
        (_dept(outcome_code="withheld.nonsense"), "未知的办理结果代码"),
        (_dept(outcome_code="partial", materials=[{"title": "甲"}],
               withheld=[{"description": "乙", "reason_code": "disclosed", "explanation": "丙"}]), "不能作为"),
    ],
)
def test_inconsistent_department_decisions_are_refused(dept: dict[str, object], message: str) -> None:
    ctx = s.consolidated() | {"departments": [*s.DEPARTMENTS[:2], dept]}
    with pytest.raises(ValidationError, match=message):
        render_html(CONSOLIDATED, ctx)


def test_a_partial_disclosure_may_give_its_part_in_the_text_alone() -> None:
    """Art. 37: the part that can be disclosed is provided; a department may give it in its answer's
    text (a figure, a paragraph) without a file. The reply then lists no material for it. (An answer
    the API accepted must always render: a refusal here would hold the case's reply forever.)"""
    part = _dept(outcome_code="partial", text="2025年部门预算总额为1.2亿元。",
                 withheld=[{"description": "个人补助对象名单", "reason_code": "withheld.third_party", "explanation": "个人隐私"}])
    html = render_html(CONSOLIDATED, s.consolidated() | {"departments": [*s.DEPARTMENTS[:2], part]})
    assert "2025年部门预算总额为1.2亿元。" in html and "个人补助对象名单" in html


def test_the_reply_names_uploaded_material_by_its_file_name() -> None:
    from contracts.events import Answer, ReplyPart
    from services.reply.reply_docs import department_decision

    part = ReplyPart(task_id="t1", dept_code="zrzy", dept_name="自然资源厅", answer=Answer(
        reply_type="disclosed", text="见附件。", material_refs=["material:abc", "批复文件（系统编号 7）"]))
    d = department_decision(part, {"material:abc": "征地补偿标准.pdf"})
    assert [x.title for x in d.materials] == ["征地补偿标准.pdf", "批复文件（系统编号 7）"]


@pytest.mark.parametrize(
    ("doc_type", "change", "message"),
    [
        ("extension_notice", {"extension_working_days": 21}, "less than or equal to 20"),
        ("extension_notice", {"extended_due_on": date(2026, 5, 8)}, "延长后的答复期限"),
        ("correction_notice", {"items": []}, "at least 1"),
        ("correction_notice", {"correction_due_on": date(2026, 4, 10)}, "补正期限"),
        ("fee_notice", {"total": "200.00"}, "合计"),
        ("abandonment_notice", {"correction_due_on": date(2026, 5, 7)}, "补正期限届满"),
        ("disclosed", {"issued_on": date(2026, 4, 7)}, "早于收到申请日期"),
        ("disclosed", {"materials": []}, "at least 1"),
        ("acceptance_receipt", {"reply_due_on": date(2026, 4, 8)}, "答复期限"),
    ],
)
def test_invalid_procedure_is_refused(doc_type: str, change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        render_html(doc_type, s.all_samples()[doc_type] | change)
