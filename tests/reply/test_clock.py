"""The clock of a case, to the day. Expected dates are worked out by hand from the State Council
notices (2025: 国办发明电〔2024〕12号; 2026: 国办发明电〔2025〕7号), never from running the code:
each comment walks the count. "WDn" = the n-th counted working day after the day of receipt."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.vocabulary import Channel
from services.reply.clock.calendar import DayKind, default_calendar, parse_year
from services.reply.clock.clock import (
    ConsultationEnd,
    History,
    PartyKind,
    ProcedureRefused,
    Status,
    abandon,
    alerts,
    approve_extension,
    compute,
    end_consultation,
    issue_correction,
    nth_workday_after,
    receive_correction,
    start_consultation,
    workdays_left,
)
from services.reply.clock.explain import explain

CAL = default_calendar()
D = date


def h(received: date, channel: Channel = Channel.ONLINE) -> History:
    return History(received_on=received, channel=channel)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        # 2025 春节: 1/28 (Tue)–2/4 (Tue) off; 1/26 (Sun) and 2/8 (Sat) worked. From Fri 1/24:
        # Sun 1/26 WD1, Mon 1/27 WD2, [1/28–2/4], 2/5–2/7 WD3–5, Sat 2/8 WD6, 2/10–14 WD7–11,
        # 2/17–21 WD12–16, 2/24–27 WD17–20 → Thu 2/27. (No holidays: Fri 2/21; 6 weekdays off,
        # 2 make-up days → 4 WD later.)
        (D(2025, 1, 24), D(2025, 2, 27)),
        # 2025 劳动节: 5/1 (Thu)–5/5 (Mon) off; 4/27 (Sun) worked. From Fri 4/25: Sun 4/27 WD1,
        # 4/28–30 WD2–4, [5/1–5/5], 5/6–9 WD5–8, 5/12–16 WD9–13, 5/19–23 WD14–18, 5/26 WD19,
        # 5/27 WD20 → Tue 5/27.
        (D(2025, 4, 25), D(2025, 5, 27)),
        # 2025 国庆节+中秋节: 10/1 (Wed)–10/8 (Wed) off; 9/28 (Sun), 10/11 (Sat) worked. From Fri
        # 9/26: Sun 9/28 WD1, 9/29–30 WD2–3, [10/1–10/8], 10/9–10 WD4–5, Sat 10/11 WD6,
        # 10/13–17 WD7–11, 10/20–24 WD12–16, 10/27–30 WD17–20 → Thu 10/30.
        (D(2025, 9, 26), D(2025, 10, 30)),
        # 2026 春节: 2/15 (Sun)–2/23 (Mon) off; 2/14 (Sat), 2/28 (Sat) worked. From Tue 2/10:
        # 2/11–13 WD1–3, Sat 2/14 WD4, [2/15–2/23], 2/24–27 WD5–8, Sat 2/28 WD9, 3/2–6 WD10–14,
        # 3/9–13 WD15–19, Mon 3/16 WD20.
        (D(2026, 2, 10), D(2026, 3, 16)),
        # 2026 劳动节: 5/1 (Fri)–5/5 (Tue) off; 5/9 (Sat) worked. From Wed 4/29: 4/30 WD1,
        # [5/1–5/5], 5/6–8 WD2–4, Sat 5/9 WD5, 5/11–15 WD6–10, 5/18–22 WD11–15, 5/25–29 WD16–20
        # → Fri 5/29.
        (D(2026, 4, 29), D(2026, 5, 29)),
        # 2026 中秋节 9/25 (Fri)–9/27 and 国庆节 10/1 (Thu)–10/7 (Wed); 9/20 (Sun), 10/10 (Sat)
        # worked. From Fri 9/18: Sun 9/20 WD1, 9/21–24 WD2–5, [9/25–27], 9/28–30 WD6–8,
        # [10/1–10/7], 10/8–9 WD9–10, Sat 10/10 WD11, 10/12–16 WD12–16, 10/19–22 WD17–20
        # → Thu 10/22.
        (D(2026, 9, 18), D(2026, 10, 22)),
        # Year's end, 2026 元旦 1/1 (Thu)–1/3 (Sat) off, 1/4 (Sun) worked. From Mon 2025-12-15:
        # 12/16–19 WD1–4, 12/22–26 WD5–9, 12/29–31 WD10–12, [1/1–1/3], Sun 1/4 WD13, 1/5–9
        # WD14–18, 1/12 WD19, Tue 1/13 WD20.
        (D(2025, 12, 15), D(2026, 1, 13)),
        # 2025 清明节 4/4 (Fri)–4/6 off, no make-up day. From Thu 2025-03-20: 3/21 WD1,
        # 3/24–28 WD2–6, 3/31–4/3 WD7–10, [4/4], 4/7–11 WD11–15, 4/14–18 WD16–20 → Fri 4/18.
        (D(2025, 3, 20), D(2025, 4, 18)),
        # Received on a Saturday (online, confirmed that day): that day is not counted either;
        # 3/3–7, 3/10–14, 3/17–21, 3/24–28 → Fri 2025-03-28.
        (D(2025, 3, 1), D(2025, 3, 28)),
        # No holiday at all: Mon 2025-03-03 → 3/4–7 WD1–4, 3/10–14 … 3/24–28 WD15–19,
        # Mon 3/31 WD20.
        (D(2025, 3, 3), D(2025, 3, 31)),
    ],
)
def test_reply_deadline_is_the_20th_working_day_after_receipt(received, due):
    d = compute(h(received), CAL)
    assert d.status is Status.RUNNING
    assert d.due_on == due
    assert not d.provisional
    counted = [e for e in d.days if e.counted]
    assert [e.counted for e in counted] == list(range(1, 21))
    assert counted[-1].day == due
    assert d.days[0].day > received  # the day of receipt is not counted


def test_explanation_names_holidays_and_make_up_days():
    hist = h(D(2025, 1, 24))
    ex = explain(hist, compute(hist, CAL))
    by_date = {x["date"]: x for x in ex["days"]}
    assert by_date["2025-01-26"]["counted"] == 1 and by_date["2025-01-26"]["kind"] == "makeup_workday"
    assert "春节调休上班" in by_date["2025-01-26"]["reason"]
    assert by_date["2025-01-28"]["counted"] is None and by_date["2025-01-28"]["holiday"] == "春节"
    assert by_date["2025-01-25"]["kind"] == "weekend"
    skipped = {x["date"] for x in ex["skipped"]}
    # 1/25 (Sat), 1/28–2/4 (8 days of 春节), 2/9, 2/15–16, 2/22–23 (weekends).
    assert skipped == {
        "2025-01-25", *[f"2025-01-{x}" for x in (28, 29, 30, 31)], *[f"2025-02-0{x}" for x in (1, 2, 3, 4)],
        "2025-02-09", "2025-02-15", "2025-02-16", "2025-02-22", "2025-02-23",
    }  # fmt: skip
    assert ex["due_on"] == "2025-02-27"
    assert ex["receipt"]["article"] == "《条例》第三十一条第三项"
    text = ex["text_zh"]
    assert "收到申请之日：2025年1月24日（星期五）" in text
    assert "2025年1月28日（星期二）：春节假期，不计入" in text
    assert "2025年1月26日（星期日）：春节调休上班，计入，第1个工作日" in text
    assert text.rstrip().endswith("答复期限届满日：2025年2月27日（星期四）。")


@pytest.mark.parametrize(
    ("channel", "rule", "article"),
    [
        (Channel.WINDOW, "以提交之日为收到申请之日", "第三十一条第一项"),
        (Channel.REGISTERED_MAIL, "以行政机关签收之日为收到申请之日", "第三十一条第二项"),
        (Channel.ORDINARY_MAIL, "确认之日为收到申请之日", "第三十一条第二项"),
        (Channel.FAX, "以双方确认之日为收到申请之日", "第三十一条第三项"),
    ],
)
def test_explanation_states_the_receipt_rule_of_the_channel(channel, rule, article):
    hist = h(D(2025, 3, 3), channel)
    ex = explain(hist, compute(hist, CAL))
    assert rule in ex["receipt"]["rule"] and article in ex["receipt"]["article"]
    assert rule in ex["text_zh"]


def test_year_end_into_an_uncovered_year_is_provisional_and_a_new_notice_moves_it():
    # From Thu 2026-12-10: 12/11 WD1, 12/14–18 WD2–6, 12/21–25 WD7–11, 12/28–31 WD12–15; 2027 has
    # no notice: the estimate skips Fri 1/1 (元旦, fixed by 《全国年节及纪念日放假办法》), 1/4–8
    # WD16–20 → 2027-01-08, provisional.
    hist = h(D(2026, 12, 10))
    before = compute(hist, CAL, as_of=D(2026, 12, 11))
    assert before.due_on == D(2027, 1, 8)
    assert before.provisional and before.missing_years == (2027,)
    entry = next(e for e in before.days if e.day == D(2027, 1, 1))
    assert entry.provisional and entry.counted is None and entry.info.estimated and entry.info.holiday == "元旦"
    ex = explain(hist, before)
    assert ex["missing_calendar_years"] == [2027] and "尚未公布2027年部分节假日安排" in ex["text_zh"]
    # A 2027 file (test fixture, not the real notice) makes 1/1–1/3 元旦: the same date,
    # WD16–20 = 1/4–1/8 → Fri 2027-01-08, no longer provisional.
    f2027 = parse_year(
        {"year": 2027, "notice": "测试", "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"}]}
    )
    new_cal = CAL.with_files(f2027)
    after = compute(hist, new_cal, as_of=D(2026, 12, 11))
    assert after.due_on == before.due_on == D(2027, 1, 8)
    assert not after.provisional and after.missing_years == ()  # what the sweep announces (calendar_changed)
    assert next(e for e in after.days if e.day == D(2027, 1, 1)).info.holiday == "元旦"
    earlier = h(D(2025, 3, 3))  # a 2025 case: the 2027 notice does not touch it
    assert compute(earlier, new_cal, as_of=D(2026, 12, 11)) == compute(earlier, CAL, as_of=D(2026, 12, 11))


def test_calendar_correction_moves_an_open_case():
    # Received Mon 2025-03-03, due Mon 3/31. If 3/20 (Thu) became a holiday, 3/31 would be WD19
    # and the 20th WD would be Tue 4/1.
    hist = h(D(2025, 3, 3))
    new_cal = CAL.with_holiday(D(2025, 3, 20), "临时调整")
    old, new = compute(hist, CAL), compute(hist, new_cal)
    assert (old.due_on, new.due_on) == (D(2025, 3, 31), D(2025, 4, 1))
    assert old.correction_window_ends == new.correction_window_ends and not old.provisional and not new.provisional
    assert next(e for e in new.days if e.day == D(2025, 3, 20)).info.holiday == "临时调整"


# -- correction (Art. 30) -------------------------------------------------------------------------


def test_correction_window_is_7_working_days_and_only_one_notice():
    hist = h(D(2025, 3, 3))
    # 3/4–3/7 WD1–4, 3/10 WD5, 3/11 WD6, Wed 3/12 WD7: the last day a notice may be issued.
    assert compute(hist, CAL).correction_window_ends == D(2025, 3, 12)
    with pytest.raises(ProcedureRefused) as exc:
        issue_correction(hist, CAL, issued_on=D(2025, 3, 13), items=["请明确所需信息的年份"], due_on=D(2025, 3, 27))
    assert exc.value.code == "correction_window_passed" and "2025-03-12" in exc.value.message
    h1 = issue_correction(hist, CAL, issued_on=D(2025, 3, 12), items=["请明确所需信息的年份"], due_on=D(2025, 3, 27))
    with pytest.raises(ProcedureRefused) as exc:
        issue_correction(h1, CAL, issued_on=D(2025, 3, 12), items=["另一事项"], due_on=D(2025, 3, 27))
    assert exc.value.code == "second_correction"
    with pytest.raises(ProcedureRefused) as exc:
        issue_correction(hist, CAL, issued_on=D(2025, 3, 5), items=["  "], due_on=D(2025, 3, 27))
    assert exc.value.code == "no_items"
    with pytest.raises(ProcedureRefused) as exc:
        issue_correction(hist, CAL, issued_on=D(2025, 3, 5), items=["x"], due_on=D(2025, 3, 5))
    assert exc.value.code == "due_not_after_issue"


def test_correction_window_across_spring_festival():
    # Received Fri 2026-02-13: Sat 2/14 (make-up) WD1, [2/15–2/23], 2/24–27 WD2–5, Sat 2/28 WD6,
    # Mon 3/2 WD7.
    assert compute(h(D(2026, 2, 13)), CAL).correction_window_ends == D(2026, 3, 2)


def test_correction_restarts_the_20_days_from_the_corrected_application():
    hist = h(D(2025, 3, 3))
    h1 = issue_correction(hist, CAL, issued_on=D(2025, 3, 10), items=["请明确项目名称", "请明确年份"], due_on=D(2025, 3, 24))
    waiting = compute(h1, CAL, as_of=D(2025, 3, 15))
    assert waiting.status is Status.AWAITING_CORRECTION and waiting.due_on is None
    h2 = receive_correction(h1, received_on=D(2025, 3, 20))
    d = compute(h2, CAL, as_of=D(2025, 3, 21))
    # 20 WD after Thu 3/20, across 清明 4/4 → Fri 4/18 (see the table above).
    assert d.status is Status.RUNNING and d.restarted and d.start == D(2025, 3, 20)
    assert d.due_on == D(2025, 4, 18)
    text = explain(h2, d)["text_zh"]
    assert "2025年3月20日（星期四）收到补正后的申请" in text and "请明确项目名称；请明确年份" in text
    with pytest.raises(ProcedureRefused):
        receive_correction(h2, received_on=D(2025, 3, 21))


def test_missed_correction_deadline_means_abandoned():
    hist = issue_correction(h(D(2025, 3, 3)), CAL, issued_on=D(2025, 3, 10), items=["x"], due_on=D(2025, 3, 24))
    assert compute(hist, CAL, as_of=D(2025, 3, 24)).status is Status.AWAITING_CORRECTION  # due day itself: still in time
    assert compute(hist, CAL, as_of=D(2025, 3, 25)).status is Status.ABANDONED
    with pytest.raises(ProcedureRefused):
        abandon(hist, as_of=D(2025, 3, 24))
    gone = abandon(hist, as_of=D(2025, 3, 25))
    assert gone.abandoned_on == D(2025, 3, 25)
    assert "视为放弃申请" in explain(gone, compute(gone, CAL))["text_zh"]
    # A late correction needs a good reason.
    with pytest.raises(ProcedureRefused) as exc:
        receive_correction(hist, received_on=D(2025, 3, 26))
    assert exc.value.code == "correction_late"
    late = receive_correction(hist, received_on=D(2025, 3, 26), late_reason="邮寄途中延误，有邮戳为证")
    assert compute(late, CAL).start == D(2025, 3, 26)


# -- extension (Art. 33) --------------------------------------------------------------------------


def _ext(hist, days=20, role="ogi_head", on=D(2025, 3, 25)):
    return approve_extension(hist, CAL, approved_on=on, days=days, approver="u-head", approver_role=role, reason="涉及部门多，需协调")


def test_extension_adds_its_working_days():
    hist = h(D(2025, 3, 3))  # due Mon 3/31 (WD20)
    # +20: 4/1–3 WD21–23, [清明 4/4], 4/7–11 WD24–28, 4/14–18 WD29–33, 4/21–25 WD34–38,
    # Sun 4/27 (劳动节 make-up day) WD39, Mon 4/28 WD40.
    d = compute(_ext(hist), CAL)
    assert d.due_on == D(2025, 4, 28) and d.limit_wd == 40 and d.extension_wd == 20
    # +10: 4/1–3 WD21–23, 4/7–11 WD24–28, 4/14 WD29, Tue 4/15 WD30.
    assert compute(_ext(hist, days=10), CAL).due_on == D(2025, 4, 15)
    assert "同意延长答复期限20个工作日" in explain(_ext(hist), d)["text_zh"]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"role": "ogi_officer"}, "not_ogi_head"),
        ({"days": 21}, "extension_too_long"),
        ({"days": 0}, "extension_too_long"),
        ({"on": D(2025, 4, 1)}, "deadline_passed"),  # due 3/31
    ],
)
def test_extension_rules(kwargs, code):
    with pytest.raises(ProcedureRefused) as exc:
        _ext(h(D(2025, 3, 3)), **kwargs)
    assert exc.value.code == code


def test_only_one_extension():
    once = _ext(h(D(2025, 3, 3)), days=5)
    with pytest.raises(ProcedureRefused) as exc:
        _ext(once, days=5)
    assert exc.value.code == "second_extension"


def test_extension_on_the_last_day_is_allowed():
    assert compute(_ext(h(D(2025, 3, 3)), on=D(2025, 3, 31), days=1), CAL).due_on == D(2025, 4, 1)


# -- consultation (Arts. 32–34) ---------------------------------------------------------------------


def _consult(hist, sent=D(2025, 3, 10), kind=PartyKind.THIRD_PARTY):
    return start_consultation(hist, CAL, party_kind=kind, party="某建筑公司", sent_on=sent)


def test_answered_consultation_pauses_the_working_days_until_the_answer():
    hist = _consult(h(D(2025, 3, 3)))
    hist = end_consultation(hist, number=1, ended_on=D(2025, 3, 14), end=ConsultationEnd.ANSWERED)
    d = compute(hist, CAL)
    # Paused: the working days after Mon 3/10 up to the answer on Fri 3/14: 3/11–3/14 (4).
    # Counted: 3/4–7 WD1–4, 3/10 WD5, 3/17–21 WD6–10, 3/24–28 WD11–15, 3/31–4/3 WD16–19,
    # [清明 4/4], Mon 4/7 WD20.
    assert d.pauses[0].paused_workdays == (D(2025, 3, 11), D(2025, 3, 12), D(2025, 3, 13), D(2025, 3, 14))
    assert d.due_on == D(2025, 4, 7) and d.paused_wd == 4
    e = next(x for x in d.days if x.day == D(2025, 3, 12))
    assert e.counted is None and e.paused_by == 1 and e.info.kind is DayKind.WORKDAY
    text = explain(hist, d)["text_zh"]
    assert "第1次征求意见：2025年3月10日（星期一）向第三方“某建筑公司”发出征求意见书" in text
    assert "其间4个工作日不计入答复期限" in text


def test_silent_consultation_pauses_15_working_days():
    hist = _consult(h(D(2025, 3, 3)), kind=PartyKind.OTHER_AGENCY)
    # 15 WD after Mon 3/10: 3/11–14 (4), 3/17–21 (9), 3/24–28 (14), Mon 3/31 (15).
    d = compute(hist, CAL, as_of=D(2025, 4, 2))  # no answer recorded, 15 WD over → silence
    assert d.pauses[0].consultation_due == D(2025, 3, 31)
    assert d.pauses[0].end is ConsultationEnd.SILENT and d.paused_wd == 15
    # Counted: 3/4–7 WD1–4, 3/10 WD5, 4/1–3 WD6–8, [4/4], 4/7–11 WD9–13, 4/14–18 WD14–18,
    # 4/21 WD19, Tue 4/22 WD20.
    assert d.due_on == D(2025, 4, 22) and d.status is Status.RUNNING
    recorded = end_consultation(hist, number=1, ended_on=D(2025, 4, 10), end=ConsultationEnd.SILENT)
    assert compute(recorded, CAL).due_on == D(2025, 4, 22)
    # A late answer (after the 15 WD) does not lengthen the pause.
    late = end_consultation(hist, number=1, ended_on=D(2025, 4, 10), end=ConsultationEnd.ANSWERED)
    assert compute(late, CAL).due_on == D(2025, 4, 22)


def test_open_consultation_freezes_the_remaining_days():
    hist = _consult(h(D(2025, 3, 3)))
    # As of Thu 3/13: 3/11–3/13 paused (3) → 3/31 + 3 WD = 4/1, 4/2, Thu 4/3.
    d = compute(hist, CAL, as_of=D(2025, 3, 13))
    assert d.status is Status.PAUSED and d.depends_on_open_consultation and d.provisional
    assert d.due_on == D(2025, 4, 3)
    # Working days left stay 15 on each day of the pause: after 3/10 (WD5 counted) 15 remain.
    assert workdays_left(d, CAL, D(2025, 3, 13)) == 15
    d2 = compute(hist, CAL, as_of=D(2025, 3, 14))
    assert workdays_left(d2, CAL, D(2025, 3, 14)) == 15 and d2.due_on == D(2025, 4, 7)


def test_overlapping_consultations_pause_each_day_once():
    hist = _consult(h(D(2025, 3, 3)))
    hist = start_consultation(hist, CAL, party_kind=PartyKind.OTHER_AGENCY, party="市自然资源局", sent_on=D(2025, 3, 12))
    hist = end_consultation(hist, number=1, ended_on=D(2025, 3, 14), end=ConsultationEnd.ANSWERED)
    hist = end_consultation(hist, number=2, ended_on=D(2025, 3, 18), end=ConsultationEnd.ANSWERED)
    d = compute(hist, CAL)
    # Union of 3/11–3/14 and 3/13–3/18 = 3/11, 12, 13, 14, 17, 18 = 6 WD → 3/31 + 6 WD:
    # 4/1, 4/2, 4/3, [4/4], 4/7, 4/8, Wed 4/9.
    assert d.paused_wd == 6 and d.due_on == D(2025, 4, 9)


def test_consultation_refusals():
    hist = h(D(2025, 3, 3))
    with pytest.raises(ProcedureRefused):
        start_consultation(hist, CAL, party_kind=PartyKind.THIRD_PARTY, party="x", sent_on=D(2025, 4, 1))  # after due
    c = _consult(hist)
    with pytest.raises(ProcedureRefused):
        end_consultation(c, number=2, ended_on=D(2025, 3, 14), end=ConsultationEnd.ANSWERED)
    done = end_consultation(c, number=1, ended_on=D(2025, 3, 14), end=ConsultationEnd.ANSWERED)
    with pytest.raises(ProcedureRefused):
        end_consultation(done, number=1, ended_on=D(2025, 3, 15), end=ConsultationEnd.ANSWERED)


# -- correction + extension + consultation together ---------------------------------------------------


def test_correction_then_consultation_then_extension():
    hist = issue_correction(h(D(2025, 3, 3)), CAL, issued_on=D(2025, 3, 5), items=["请明确地块位置"], due_on=D(2025, 3, 21))
    hist = receive_correction(hist, received_on=D(2025, 3, 20))  # due Fri 4/18 (see above)
    hist = start_consultation(hist, CAL, party_kind=PartyKind.THIRD_PARTY, party="某公司", sent_on=D(2025, 3, 24))
    hist = end_consultation(hist, number=1, ended_on=D(2025, 3, 26), end=ConsultationEnd.ANSWERED)
    # Paused 3/25, 3/26 (2 WD) → 4/18 + 2 WD = 4/21, Tue 4/22.
    assert compute(hist, CAL).due_on == D(2025, 4, 22)
    hist = approve_extension(
        hist, CAL, approved_on=D(2025, 4, 15), days=5, approver="u-head", approver_role="ogi_head", reason="需进一步核实"
    )
    # +5: 4/23, 4/24, 4/25, Sun 4/27 (make-up), Mon 4/28.
    assert compute(hist, CAL).due_on == D(2025, 4, 28)


# -- on the spot, warnings, overdue ---------------------------------------------------------------


def test_on_the_spot_reply():
    hist = History(received_on=D(2025, 3, 3), channel=Channel.WINDOW, on_the_spot=True)
    d = compute(hist, CAL)
    assert d.status is Status.ANSWERED_ON_THE_SPOT and d.due_on == D(2025, 3, 3)
    assert "已当场答复" in explain(hist, d)["text_zh"]


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        # due Mon 3/31. Fri 3/21: 3/24–28 + 3/31 = 6 left → nothing yet.
        (D(2025, 3, 21), []),
        # Mon 3/24: 3/25–28 + 3/31 = 5 left → the 5-day warning.
        (D(2025, 3, 24), [("warning", 5, 5)]),
        # Thu 3/27: 3/28 and 3/31 left → both warnings.
        (D(2025, 3, 27), [("warning", 5, 2), ("warning", 2, 2)]),
        (D(2025, 3, 31), [("warning", 5, 0), ("warning", 2, 0)]),
        # Tue 4/1: one working day past due.
        (D(2025, 4, 1), [("overdue", None, -1)]),
    ],
)
def test_alerts(as_of, expected):
    d = compute(h(D(2025, 3, 3)), CAL, as_of=as_of)
    assert [(a.kind, a.threshold, a.workdays_left) for a in alerts(d, CAL, as_of)] == expected


def test_no_alerts_once_replied_or_while_awaiting_correction():
    replied = History(received_on=D(2025, 3, 3), channel=Channel.ONLINE, replied_on=D(2025, 3, 28))
    assert alerts(compute(replied, CAL), CAL, D(2025, 4, 2)) == []
    waiting = issue_correction(h(D(2025, 3, 3)), CAL, issued_on=D(2025, 3, 5), items=["x"], due_on=D(2025, 4, 30))
    assert alerts(compute(waiting, CAL, D(2025, 4, 2)), CAL, D(2025, 4, 2)) == []


def test_nth_workday_after_raises_for_an_uncovered_year():
    from services.reply.clock.calendar import CalendarMissing

    with pytest.raises(CalendarMissing):
        nth_workday_after(CAL, D(2026, 12, 30), 5)
    # 2026-12-30 (Wed) + 2 WD: 12/31, and 2027-01-01 would be next → only 1 is safe.
    assert nth_workday_after(CAL, D(2026, 12, 30), 1) == D(2026, 12, 31)
