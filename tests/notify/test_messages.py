"""What each new notice says (pure): items, dates, reasons, amounts and the article it is given under."""

from __future__ import annotations

import pytest

from contracts import topics
from services.notify import messages as m
from services.notify.handlers import amendment_text, officer_recipients, topic_registry
from services.notify.kinds import Kind, contract_kind
from services.notify.settings import NotifySettings
from tests.notify import samples as s


def test_correction_lists_every_item_and_the_due_date():
    msg = m.correction_requested(s.correction(), s.NUMBER)
    assert s.NUMBER in msg.subject and "补正" in msg.subject
    assert "1. 请写明所需信息的具体年份" in msg.body
    assert "2. 请提供身份证明复印件" in msg.body
    assert "2026年12月09日前" in msg.body  # due_on
    assert "第三十条" in msg.body
    assert "视为放弃" in msg.body  # consequence of no correction (Art. 30)
    assert "重新计算" in msg.body  # the 20 WD restart from the corrected application


def test_without_a_known_tracking_number_the_notice_names_none():
    msg = m.correction_requested(s.correction(), None)
    assert "受理编号" not in msg.subject and "受理编号" not in msg.body
    assert "None" not in msg.subject + msg.body


@pytest.mark.parametrize("provisional", [False, True])
def test_extension_gives_the_new_date_and_the_reason(provisional):
    msg = m.extension_approved(s.extension(provisional=provisional), s.NUMBER)
    assert "延期" in msg.subject and s.NUMBER in msg.subject
    assert "需要调取多个部门的档案材料" in msg.body
    assert "2027年01月13日" in msg.body and "2026年12月22日" in msg.body
    assert "15个工作日" in msg.body
    assert "第三十三条" in msg.body and "负责人" in msg.body
    assert ("尚未公布" in msg.body) is provisional


def test_abandoned_after_no_correction_cites_article_30():
    msg = m.application_abandoned(s.abandoned(), s.NUMBER)
    assert "视为放弃" in msg.subject
    assert "第三十条" in msg.body and "2026年12月09日" in msg.body and "2026年12月10日" in msg.body
    assert "第四十二条" not in msg.body


def test_abandoned_for_an_unpaid_fee_cites_article_42():
    msg = m.application_abandoned(s.abandoned(reason="fee_unpaid"), s.NUMBER)
    assert "第四十二条" in msg.body and "国办函〔2020〕109号" in msg.body
    assert "补正" not in msg.body


def test_fee_notice_per_application():
    msg = m.fee_notice_issued(s.fee(), s.NUMBER)
    assert "收费" in msg.subject or "缴费" in msg.subject
    assert "100元" in msg.body
    assert "第12件" in msg.body and "2026年11月" in msg.body
    assert "第四十二条" in msg.body and "国办函〔2020〕109号" in msg.body
    assert "20个工作日" in msg.body  # payment_workdays
    assert "2026年11月24日" in msg.body


def test_fee_notice_per_page():
    msg = m.fee_notice_issued(s.fee_per_page(), s.NUMBER)
    assert "45页" in msg.body and "10元" in msg.body
    assert "第12件" not in msg.body


def test_referral_notice_carries_the_routing_message_and_the_basis_once():
    msg = m.referral_recorded(s.referral())
    assert s.REFERRAL_TEXT in msg.body
    assert s.NUMBER in msg.subject and "不属于本机关负责公开" in msg.subject
    assert msg.body.count("第三十六条第（五）项") == 1  # appended: the routing text here does not cite it
    cited = s.referral(message=s.REFERRAL_TEXT + "依据《中华人民共和国政府信息公开条例》第三十六条第（五）项。")
    assert m.referral_recorded(cited).body.count("第三十六条第（五）项") == 1  # not twice


def test_reply_amended():
    msg = m.reply_amended(s.NUMBER, "补充答复：财政厅予以公开。")
    assert s.NUMBER in msg.subject and "更正" in msg.subject
    assert "补充答复：财政厅予以公开。" in msg.body


def test_deadline_warning_to_officers():
    msg = m.deadline_warning(s.warning(), s.NUMBER)
    assert "剩余2个工作日" in msg.subject and s.NUMBER in msg.subject
    assert "2026年12月22日" in msg.body and "czt、zrzy" in msg.body and "第三十三条" in msg.body


def test_overdue_to_officers_names_the_case_by_id_when_the_number_is_unknown():
    msg = m.case_overdue(s.overdue(case_id="case-9"), None)
    assert "case-9" in msg.subject and "逾期" in msg.subject
    assert "2026年12月22日" in msg.body and "2026年12月23日" in msg.body and "czt" in msg.body


def test_officer_recipients_ogi_first_then_each_open_department_once():
    assert officer_recipients(["czt", "zrzy", "czt"]) == ["ogi", "czt", "zrzy"]
    assert officer_recipients([]) == ["ogi"]
    assert officer_recipients(["ogi", "czt"]) == ["ogi", "czt"]


def test_officer_emails_from_json_setting_with_local_defaults(monkeypatch):
    monkeypatch.setenv("NOTIFY_OFFICER_EMAILS", '{"ogi": "gkb@yn.gov.cn", "czt": "czt@yn.gov.cn"}')
    settings = NotifySettings()
    assert settings.officer_email("ogi") == "gkb@yn.gov.cn"
    assert settings.officer_email("czt") == "czt@yn.gov.cn"
    assert settings.officer_email("zrzy") == "zrzy@gongkai.local"
    monkeypatch.delenv("NOTIFY_OFFICER_EMAILS")
    assert NotifySettings().officer_email("ogi") == "ogi@gongkai.local"


@pytest.mark.parametrize("spec", [topics.CASES_PROCEDURE, topics.APPLICATIONS_SCREENED, topics.CASES_ROUTED,
                                  topics.REPLIES_ISSUED], ids=lambda t: t.name)
def test_each_subscribed_topic_accepts_every_type_it_carries(spec):
    # Otherwise servicekit.consumer would dead-letter the types notify skips.
    registry = topic_registry(spec)
    assert sorted(model.event_name for model in registry.values()) == sorted(spec.event_types)


def test_amendment_text_is_the_amendment_document():
    from contracts.events import Answer, ReplyAmended, ReplyPart

    amended = ReplyAmended(
        case_id="c1", tracking_number=s.NUMBER, agency_code="yn-gov-office", amendment_seq=1, reply_event_id="e1",
        parts=[ReplyPart(task_id="t2", dept_code="czt", dept_name="财政厅",
                         answer=Answer(reply_type="disclosed", text="x"))],
        decision="disclosed", outcome="disclosed", document_id="d1", document_text="答复书（补充）正文",
    )
    assert amendment_text(amended) == "答复书（补充）正文"


def test_kinds_in_the_notice_delivered_contract():
    assert contract_kind(Kind.RECEIVED) is not None and contract_kind(Kind.REPLY_ISSUED) is not None
    assert contract_kind("no_such_kind") is None


def test_calendar_missing_warns_the_ogi_office_with_the_year_and_the_provisional_date():
    from datetime import date

    from contracts.events_procedure import DeadlineChanged

    changed = DeadlineChanged(case_id="c-1", old_due_on=None, new_due_on=date(2027, 1, 6), reason="opened",
                              calendar_version="v", provisional=True, missing_calendar_years=[2027])
    msg = m.calendar_missing(changed, "YN-20261204-00001", date(2026, 12, 4))
    assert "2027年" in msg.subject and "暂定" in msg.subject
    assert "2026年12月04日起" in msg.body and "YN-20261204-00001" in msg.body and "2027年01月06日" in msg.body
    assert contract_kind(Kind.CALENDAR_MISSING) is None  # an officer notice: not a notice.delivered kind
