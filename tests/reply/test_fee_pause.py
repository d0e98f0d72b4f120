"""The processing-fee pause (Art. 42; 国办函〔2020〕109号), to the day. Expected dates are counted by
hand from the 2025 notice (国办发明电〔2024〕12号: 清明 4月4日至6日放假), never from the code.

The case: received Mon 2025-03-03, due Mon 3/31 without a pause (3/4–7 WD1–4, 3/10–14 WD5–9,
3/17–21 WD10–14, 3/24–28 WD15–19, 3/31 WD20). Fee notice issued Wed 3/5; the applicant's 20 WD to
pay: 3/6–7 (2), 3/10–14 (7), 3/17–21 (12), 3/24–28 (17), 3/31, 4/1, Wed 4/2 (20)."""

from __future__ import annotations

from datetime import date

import pytest

from services.reply.clock import codec
from services.reply.clock.calendar import default_calendar
from services.reply.clock.clock import (
    AbandonReason,
    FeeSettlement,
    History,
    PartyKind,
    ProcedureRefused,
    Status,
    abandon_unpaid_fee,
    alerts,
    compute,
    end_consultation,
    issue_fee_notice,
    settle_fee,
    start_consultation,
    workdays_left,
)
from services.reply.clock.explain import explain

CAL = default_calendar()
D = date
NOTICE = issue_fee_notice(History(received_on=D(2025, 3, 3)), issued_on=D(2025, 3, 5), amount_yuan=720)


def paid(on: date, how: FeeSettlement = FeeSettlement.PAID) -> History:
    return settle_fee(NOTICE, CAL, settled_on=on, settlement=how, recorded_by="公开办王")


def test_payment_resumes_the_clock_later_by_the_paused_working_days():
    # Paid Wed 3/12: paused 3/6, 3/7, 3/10, 3/11, 3/12 (5 WD). Counted: 3/4 WD1, 3/5 WD2, 3/13–14 WD3–4,
    # 3/17–21 WD5–9, 3/24–28 WD10–14, 3/31–4/3 WD15–18, [4/4 清明], 4/7 WD19, Tue 4/8 WD20.
    d = compute(paid(D(2025, 3, 12)), CAL, as_of=D(2025, 3, 20))
    assert d.status is Status.RUNNING and not d.provisional
    assert d.fee.paused_workdays == (D(2025, 3, 6), D(2025, 3, 7), D(2025, 3, 10), D(2025, 3, 11), D(2025, 3, 12))
    assert d.paused_wd == 5 and d.due_on == D(2025, 4, 8)
    by_day = {e.day: e for e in d.days}
    assert by_day[D(2025, 3, 6)].paused_by_fee and by_day[D(2025, 3, 6)].counted is None
    assert by_day[D(2025, 3, 13)].counted == 3 and by_day[D(2025, 4, 8)].counted == 20
    assert by_day[D(2025, 3, 8)].paused_by_fee is False  # a Saturday is a weekend, not a paused working day


def test_the_explanation_shows_the_paused_days():
    hist = paid(D(2025, 3, 12))
    ex = explain(hist, compute(hist, CAL, as_of=D(2025, 3, 20)))
    assert ex["fee"]["paused_workdays"] == ["2025-03-06", "2025-03-07", "2025-03-10", "2025-03-11", "2025-03-12"]
    assert ex["fee"]["payment_due"] == "2025-04-02" and ex["fee"]["settlement"] == "paid"
    assert ex["fee"]["recorded_by"] == "公开办王" and ex["paused_workdays"] == 5
    day = next(x for x in ex["days"] if x["date"] == "2025-03-10")
    assert day["paused_by_fee"] and "收费通知发出至缴费期间，不计入" in day["reason"]
    text = ex["text_zh"]
    assert "2025年3月5日（星期三）发出信息处理费收费通知（人民币720元" in text
    assert "缴费期限至2025年4月2日（星期三）" in text
    assert "2025年3月12日（星期三）登记缴纳信息处理费；自发出收费通知至缴纳之日，其间5个工作日不计入答复期限" in text
    assert "答复期限届满日：2025年4月8日（星期二）" in text


def test_a_waiver_resumes_the_clock_the_same_way():
    # Waived Fri 3/7: paused 3/6, 3/7 (2 WD) → 3/31 + 2 WD = 4/1, Wed 4/2.
    d = compute(paid(D(2025, 3, 7), FeeSettlement.WAIVED), CAL, as_of=D(2025, 3, 20))
    assert d.paused_wd == 2 and d.due_on == D(2025, 4, 2) and d.fee.settlement is FeeSettlement.WAIVED


def test_while_unpaid_the_remaining_days_are_frozen():
    # As of Mon 3/10: paused 3/6, 3/7, 3/10 (3) → 3/31 + 3 WD = Thu 4/3; 18 WD left (WD1–2 counted).
    d = compute(NOTICE, CAL, as_of=D(2025, 3, 10))
    assert d.status is Status.PAUSED and d.depends_on_unpaid_fee and not d.depends_on_open_consultation
    assert d.due_on == D(2025, 4, 3) and workdays_left(d, CAL, D(2025, 3, 10)) == 18
    # As of Fri 3/14: 3/6, 3/7, 3/10–14 paused (7) → 3/31 + 7 WD = 4/1–3, [4/4 清明], 4/7–10 → Thu 4/10.
    later = compute(NOTICE, CAL, as_of=D(2025, 3, 14))  # still 18 left
    assert later.due_on == D(2025, 4, 10) and workdays_left(later, CAL, D(2025, 3, 14)) == 18
    assert alerts(later, CAL, D(2025, 3, 14)) == []  # no reply time runs: no warning
    ex = explain(NOTICE, d)
    assert ex["status_zh"] == "等待申请人缴纳信息处理费，答复期限暂停计算" and ex["depends_on_unpaid_fee"]
    assert "申请人尚未缴纳信息处理费，期限届满日随缴费之日确定" in ex["text_zh"]


def test_unpaid_after_20_working_days_the_application_is_abandoned():
    # The last day to pay is Wed 4/2: still paused that day; abandoned from Thu 4/3.
    assert compute(NOTICE, CAL, as_of=D(2025, 4, 2)).status is Status.PAUSED
    d = compute(NOTICE, CAL, as_of=D(2025, 4, 3))
    assert d.status is Status.ABANDONED and d.abandoned_for is AbandonReason.FEE_UNPAID and d.due_on is None
    gone = abandon_unpaid_fee(NOTICE, CAL, as_of=D(2025, 4, 3))
    assert gone.abandoned_on == D(2025, 4, 3) and gone.abandoned_for is AbandonReason.FEE_UNPAID
    assert compute(gone, CAL, as_of=D(2025, 4, 3)).status is Status.ABANDONED
    ex = explain(gone, compute(gone, CAL, as_of=D(2025, 4, 3)))
    assert ex["abandoned_for"] == "fee_unpaid" and ex["status_zh"] == "申请人逾期未缴纳信息处理费，视为放弃申请"
    assert "申请人逾期未缴纳信息处理费，视为放弃申请，本机关不再处理该政府信息公开申请" in ex["text_zh"]
    with pytest.raises(ProcedureRefused) as exc:
        abandon_unpaid_fee(NOTICE, CAL, as_of=D(2025, 4, 2))
    assert exc.value.code == "fee_not_lapsed"
    with pytest.raises(ProcedureRefused):
        abandon_unpaid_fee(paid(D(2025, 3, 12)), CAL, as_of=D(2025, 5, 1))  # paid: never lapses


@pytest.mark.parametrize(
    ("hist", "on", "code"),
    [
        (NOTICE, D(2025, 4, 3), "fee_payment_late"),  # the day after the 20 WD
        (NOTICE, D(2025, 3, 4), "before_fee_notice"),
        (History(received_on=D(2025, 3, 3)), D(2025, 3, 6), "no_fee_notice"),
    ],
)
def test_settlement_refusals(hist, on, code):
    with pytest.raises(ProcedureRefused) as exc:
        settle_fee(hist, CAL, settled_on=on, settlement=FeeSettlement.PAID, recorded_by="x")
    assert exc.value.code == code


def test_one_notice_one_settlement():
    with pytest.raises(ProcedureRefused) as exc:
        issue_fee_notice(NOTICE, issued_on=D(2025, 3, 6), amount_yuan=100)
    assert exc.value.code == "fee_notice_exists"
    with pytest.raises(ProcedureRefused) as exc:
        settle_fee(paid(D(2025, 3, 7)), CAL, settled_on=D(2025, 3, 10), settlement=FeeSettlement.PAID, recorded_by="x")
    assert exc.value.code == "fee_settled"
    with pytest.raises(ProcedureRefused) as exc:
        issue_fee_notice(History(received_on=D(2025, 3, 3)), issued_on=D(2025, 3, 1), amount_yuan=100)
    assert exc.value.code == "before_receipt"


def test_a_day_paused_by_a_consultation_and_the_fee_counts_once():
    # Fee 3/5 → paid 3/12 (3/6–3/12: 5 WD); consultation sent Mon 3/10, answered Fri 3/14 (3/11–14).
    # Paused together: 3/6, 3/7, 3/10–14 = 7 WD. Counted: 3/4–5 WD1–2, 3/17–21 WD3–7, 3/24–28 WD8–12,
    # 3/31–4/3 WD13–16, [4/4 清明], 4/7–10 WD17–20 → Thu 2025-04-10.
    hist = start_consultation(paid(D(2025, 3, 12)), CAL, party_kind=PartyKind.THIRD_PARTY, party="某公司",
                              sent_on=D(2025, 3, 10))
    from services.reply.clock.clock import ConsultationEnd

    hist = end_consultation(hist, number=1, ended_on=D(2025, 3, 14), end=ConsultationEnd.ANSWERED)
    d = compute(hist, CAL, as_of=D(2025, 3, 20))
    assert d.paused_wd == 7 and d.due_on == D(2025, 4, 10)
    by_day = {e.day: e for e in d.days}
    assert by_day[D(2025, 3, 11)].paused_by == 1 and not by_day[D(2025, 3, 11)].paused_by_fee
    assert by_day[D(2025, 3, 6)].paused_by_fee


def test_the_fee_survives_the_codec():
    for hist in (NOTICE, paid(D(2025, 3, 12)), abandon_unpaid_fee(NOTICE, CAL, as_of=D(2025, 4, 3))):
        assert codec.load(codec.dump(hist)) == hist
    summary = codec.summary(compute(NOTICE, CAL, as_of=D(2025, 3, 10)), "v")
    assert summary["status"] == "paused" and summary["fee_payment_due"] == "2025-04-02"
