"""Repeat applications (Arts. 35, 36(6)) and processing fees (国办函〔2020〕109号)."""

from __future__ import annotations

from datetime import date

import pytest

from services.intake.fees import (
    FeeMethod,
    per_application_notice,
    per_page_fee,
    per_page_notice,
    price_of_nth_application,
    rank_in_month,
)
from services.intake.repeats import THRESHOLD, Earlier, find_repeats, normalise, numbers, similarity

# -- repeats ---------------------------------------------------------------------------------------


def test_normalise_width_punctuation_whitespace_and_boilerplate():
    assert normalise("申请公开：ＸＸ街道　２０２２年度（低保）名单。") == "xx街道2022年度低保名单"
    assert normalise("请提供 关于 XX 小区的 政府信息！") == "xx小区的"  # 政府信息 goes first (longest phrase)
    assert numbers("２０２２年第３号文件") == ["2022", "3"]


@pytest.mark.parametrize(
    ("new", "old"),
    [
        # word order changed, boilerplate and punctuation differ
        ("申请公开2023年度XX区城市更新项目的立项批复文件", "请公开XX区2023年度城市更新项目立项批复文件。"),
        # full-width characters and list punctuation
        ("请提供ＸＸ街道２０２２年度低保发放名单及标准", "申请公开：XX街道2022年度低保发放名单、标准。"),
        # one extra word at the end
        ("申请公开本村2021年土地征收补偿安置方案", "本人要求公开本村2021年土地征收补偿安置方案及批复"),
        ("关于XX小区加装电梯的审批文件", "XX小区加装电梯审批文件"),
    ],
)
def test_repeats_are_flagged(new, old):
    assert similarity(new, old) >= THRESHOLD
    earlier = [Earlier("GK-1", "app-1", "ag-1", old, date(2026, 1, 5), "replied")]
    m = find_repeats(applicant_ref="app-1", agency_code="ag-1", description=new, earlier=earlier)
    assert [(x.case_id, x.status) for x in m] == [("GK-1", "replied")]


@pytest.mark.parametrize(
    ("new", "old"),
    [
        # same village and year, different documents
        ("本村2021年土地征收补偿安置方案", "本村2021年土地征收补偿费用发放明细"),
        # same project, other year: the numbers differ
        ("2023年度XX区城市更新项目的立项批复", "2024年度XX区城市更新项目的立项批复"),
        # same road, other document
        ("申请公开XX路拓宽工程环境影响评价报告", "申请公开XX路拓宽工程的规划许可证"),
        ("XX街道2022年低保发放名单", "XX区2022年城市更新项目立项批复"),
    ],
)
def test_different_requests_are_not_flagged(new, old):
    earlier = [Earlier("GK-1", "app-1", "ag-1", old, date(2026, 1, 5))]
    assert find_repeats(applicant_ref="app-1", agency_code="ag-1", description=new, earlier=earlier) == []


def test_only_same_applicant_and_same_agency_and_most_similar_first():
    text = "申请公开XX街道2022年度低保发放名单"
    earlier = [
        Earlier("GK-1", "app-2", "ag-1", text, date(2026, 1, 5)),  # other applicant
        Earlier("GK-2", "app-1", "ag-2", text, date(2026, 1, 6)),  # other agency
        Earlier("GK-3", "app-1", "ag-1", "XX街道2022年度低保发放名单及标准", date(2026, 1, 7)),
        Earlier("GK-4", "app-1", "ag-1", text, date(2026, 1, 8)),
        Earlier("GK-5", "app-1", "ag-1", text, date(2026, 1, 9)),  # the new case itself
    ]
    m = find_repeats(applicant_ref="app-1", agency_code="ag-1", description=text, earlier=earlier, exclude_case_id="GK-5")
    assert [x.case_id for x in m] == ["GK-4", "GK-3"]
    assert m[0].similarity == 1.0 and m[1].similarity < 1.0


def test_a_stored_normalised_text_gives_the_same_result_as_the_description():
    new, old = "申请公开2023年度XX区城市更新项目的立项批复文件", "请公开XX区2023年度城市更新项目立项批复文件。"
    plain = find_repeats(applicant_ref="a", agency_code="g", description=new,
                         earlier=[Earlier("GK-1", "a", "g", old, date(2026, 1, 5))])
    stored = find_repeats(applicant_ref="a", agency_code="g", description=new,
                          earlier=[Earlier("GK-1", "a", "g", "", date(2026, 1, 5), normalised=normalise(old))])
    assert plain == stored and len(plain) == 1
    assert numbers(old) == ["2023"] and numbers(old) is not numbers(old)  # a fresh list each time


# -- fees ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "price"),
    [(1, 0), (10, 0), (11, 100), (30, 100), (31, 200), (40, 200), (41, 300), (50, 300), (51, 400), (60, 400), (61, 500)],
)
def test_price_of_the_nth_application_in_a_month(n, price):
    assert price_of_nth_application(n) == price


@pytest.mark.parametrize(
    ("pages", "total"),
    [
        (0, 0),
        (30, 0),
        (31, 10),  # 1 page at ¥10
        (100, 700),  # 70 × 10
        (101, 720),  # 70 × 10 + 1 × 20
        (200, 2700),  # 700 + 100 × 20
        (201, 2740),  # 2700 + 1 × 40
        (250, 4700),  # 2700 + 50 × 40
    ],
)
def test_per_page_fee_is_progressive(pages, total):
    assert per_page_fee(pages)[0] == total


def test_rank_in_month_counts_same_applicant_same_agency_same_month():
    apps = [(f"GK-{i:02d}", "app-1", "ag-1", date(2026, 3, 1 + i % 28)) for i in range(12)]
    apps += [("GK-other", "app-2", "ag-1", date(2026, 3, 2)), ("GK-feb", "app-1", "ag-1", date(2026, 2, 27))]
    apps += [("GK-agency", "app-1", "ag-2", date(2026, 3, 2))]
    # GK-00..GK-11 on 3/1..3/12: GK-10 is the 11th of March.
    assert rank_in_month(apps, case_id="GK-10", applicant_ref="app-1", agency_code="ag-1") == 11
    assert rank_in_month(apps, case_id="GK-00", applicant_ref="app-1", agency_code="ag-1") == 1
    assert rank_in_month(apps, case_id="GK-feb", applicant_ref="app-1", agency_code="ag-1") == 1


def test_fee_notices():
    free = per_application_notice(case_id="c", applicant_ref="a", agency_code="g", received_on=date(2026, 3, 5), rank=10)
    assert free.amount_yuan == 0 and not free.chargeable and "不收取信息处理费" in free.text_zh
    n = per_application_notice(case_id="c", applicant_ref="a", agency_code="g", received_on=date(2026, 3, 5), rank=41)
    assert (n.method, n.amount_yuan, n.month, n.confirmed) == (FeeMethod.PER_APPLICATION, 300, "2026-03", False)
    assert "第41件" in n.text_zh and "第41件至第50件（含）每件300元" in n.text_zh
    assert "人民币300元" in n.text_zh and "20个工作日" in n.text_zh and "国办函〔2020〕109号" in n.text_zh
    p = per_page_notice(case_id="c", applicant_ref="a", agency_code="g", pages=101)
    assert p.amount_yuan == 720
    assert "第31页至第100页共70页，每页10元，计700元" in p.text_zh
    assert "第101页至第101页共1页，每页20元，计20元" in p.text_zh
