"""Table 四 of the annual report (administrative review and litigation) from remedy.recorded
events, with answers known by construction; the event's own consistency rules; amended replies."""

from __future__ import annotations

import csv
import json
import io
from datetime import UTC, date, datetime

import openpyxl
import pytest
from pydantic import ValidationError

from contracts.events_ledger import RemedyRecorded
from services.audit.statistics import annual
from services.audit.statistics.cases import fold
from services.audit.statistics.remedies import fold_remedies, remedy_table

AGENCY = "yn-gov-office"


def remedy(rid: str, kind: str, filed: date, *, route: str | None = None, result: str | None = None,
           decided: date | None = None, agency: str = AGENCY) -> list[dict]:
    """The ledger events of one remedy: its filing and, when decided, its outcome."""
    base = dict(remedy_id=rid, case_id=f"case-{rid}", tracking_number=f"YN-{rid}", agency_code=agency, kind=kind,
                route=route, filed_on=filed, authority="省人民政府", recorded_by="officer-1")
    out = [RemedyRecorded(stage="filed", **base)]
    if result:
        out.append(RemedyRecorded(stage="decided", result=result, decided_on=decided, **base))
    return [{"type": RemedyRecorded.ce_type(), "subject": d.case_id, "time": "2026-01-01T00:00:00Z",
             "data": d.model_dump(mode="json")} for d in out]


def events_around_2026() -> list[dict]:
    ev: list[dict] = []
    ev += remedy("r1", "review", date(2026, 2, 1), result="upheld", decided=date(2026, 3, 1))
    ev += remedy("r2", "review", date(2026, 4, 1), result="corrected", decided=date(2026, 5, 1))
    ev += remedy("r3", "review", date(2025, 11, 1), result="other", decided=date(2026, 1, 10))   # filed the year before
    ev += remedy("r4", "review", date(2025, 6, 1), result="upheld", decided=date(2025, 8, 1))    # decided the year before
    ev += remedy("r5", "review", date(2026, 12, 1))                                               # not decided
    ev += remedy("r6", "review", date(2026, 12, 20), result="upheld", decided=date(2027, 1, 5))  # decided the year after
    ev += remedy("r7", "review", date(2027, 1, 2))                                                # filed the year after
    ev += remedy("l1", "litigation", date(2026, 3, 1), route="direct", result="corrected", decided=date(2026, 9, 1))
    ev += remedy("l2", "litigation", date(2026, 5, 1), route="direct")
    ev += remedy("l3", "litigation", date(2026, 6, 1), route="after_review", result="upheld", decided=date(2026, 12, 31))
    ev += remedy("l4", "litigation", date(2025, 12, 31), route="after_review", result="other", decided=date(2026, 1, 1))
    ev += remedy("x1", "review", date(2026, 2, 1), result="upheld", decided=date(2026, 3, 1), agency="other-agency")
    # A second outcome of r2 (cannot come through the API; if it did): the first one stands.
    ev += remedy("r2", "review", date(2026, 4, 1), result="upheld", decided=date(2026, 5, 2))[1:]
    return ev


def test_table_four_of_2026_cell_by_cell():
    t = remedy_table(fold_remedies(events_around_2026()).values(), AGENCY, 2026)
    #              维持 纠正 其他 未结 总计
    assert t.cells["review"] == {"upheld": 1, "corrected": 1, "other": 1, "pending": 2, "total": 5}
    assert t.cells["litigation.direct"] == {"upheld": 0, "corrected": 1, "other": 0, "pending": 1, "total": 2}
    assert t.cells["litigation.after_review"] == {"upheld": 1, "corrected": 0, "other": 1, "pending": 0, "total": 2}
    assert t.values() == [1, 1, 1, 2, 5, 0, 1, 0, 1, 2, 1, 0, 1, 0, 2]
    assert t.columns()[:5] == ["行政复议 结果维持", "行政复议 结果纠正", "行政复议 其他结果", "行政复议 尚未审结", "行政复议 总计"]
    assert t.columns()[5] == "行政诉讼 未经复议直接起诉 结果维持" and t.columns()[14] == "行政诉讼 复议后起诉 总计"


def test_table_four_of_2025_and_2027():
    remedies = fold_remedies(events_around_2026()).values()
    t25 = remedy_table(remedies, AGENCY, 2025)
    assert t25.cells["review"] == {"upheld": 1, "corrected": 0, "other": 0, "pending": 1, "total": 2}  # r4; r3
    assert t25.cells["litigation.direct"]["total"] == 0
    assert t25.cells["litigation.after_review"] == {"upheld": 0, "corrected": 0, "other": 0, "pending": 1, "total": 1}
    t27 = remedy_table(remedies, AGENCY, 2027)
    assert t27.cells["review"] == {"upheld": 1, "corrected": 0, "other": 0, "pending": 2, "total": 3}  # r6; r5, r7
    assert t27.cells["litigation.direct"] == {"upheld": 0, "corrected": 0, "other": 0, "pending": 1, "total": 1}  # l2
    assert remedy_table(remedies, "other-agency", 2026).values()[:5] == [1, 0, 0, 0, 1]


def test_table_four_goes_into_the_annual_json_csv_and_xlsx():
    table = annual.annual_table([], AGENCY, 2026, fold_remedies(events_around_2026()).values())
    want = [1, 1, 1, 2, 5, 0, 1, 0, 1, 2, 1, 0, 1, 0, 2]
    body = table.as_dict()
    assert body["remedies"]["values"] == want
    assert body["remedies"]["groups"][1] == {"group": "行政诉讼 未经复议直接起诉", "结果维持": 0, "结果纠正": 1,
                                             "其他结果": 0, "尚未审结": 1, "总计": 2}
    rows = list(csv.reader(io.StringIO(annual.to_csv(table))))
    assert rows[-3] == ["四、政府信息公开行政复议、行政诉讼情况"]
    assert [int(x) for x in rows[-1]] == want
    sheet = openpyxl.load_workbook(io.BytesIO(annual.to_xlsx(table))).worksheets[1]
    assert [c.value for c in sheet[3]] == want
    assert sheet.title == "行政复议、行政诉讼情况"


@pytest.mark.parametrize("bad", [
    dict(kind="litigation", route=None, stage="filed"),                          # litigation needs its route
    dict(kind="review", route="direct", stage="filed"),                          # review has none
    dict(kind="review", stage="decided", result="upheld"),                       # decided needs its day
    dict(kind="review", stage="filed", result="upheld", decided_on=date(2026, 3, 1)),  # filed has no result
    dict(kind="review", stage="decided", result="upheld", decided_on=date(2026, 1, 1)),  # before filing
])
def test_remedy_event_is_consistent(bad):
    base = dict(remedy_id="r", case_id="c", agency_code=AGENCY, filed_on=date(2026, 2, 1), recorded_by="o")
    with pytest.raises(ValidationError):
        RemedyRecorded(**(base | bad))
    ok = RemedyRecorded(**base, kind="litigation", route="after_review", stage="decided", result="other",
                        decided_on=date(2026, 2, 1))
    assert ok.ce_type() == "cn.gongkai.remedy.recorded.v1"


def _case(case_id: str, received: str) -> dict:
    return {"type": "cn.gongkai.application.received.v1", "subject": case_id, "time": f"{received}T02:00:00Z",
            "data": {"case_id": case_id, "agency_code": AGENCY, "applicant_type": "natural_person",
                     "received_on": received}}


def _reply(kind: str, case_id: str, when: datetime, decision: str, outcome: str | None) -> dict:
    data = {"case_id": case_id, "decision": decision}
    if outcome:
        data["outcome"] = outcome
    return {"type": f"cn.gongkai.{kind}.v1", "subject": case_id, "time": when.isoformat(), "data": data}


def test_an_amended_reply_is_one_handled_application_with_the_amended_outcome():
    events = [
        _case("a", "2026-03-02"),
        _reply("reply.issued", "a", datetime(2026, 3, 20, 2, tzinfo=UTC), "partially_disclosed", "partial"),
        # A department answered late: the amended reply discloses everything.
        _reply("reply.amended", "a", datetime(2026, 4, 2, 2, tzinfo=UTC), "disclosed", "disclosed"),
        _case("b", "2026-05-06"),
        _reply("reply.issued", "b", datetime(2026, 5, 20, 2, tzinfo=UTC), "not_disclosed", "withheld.third_party"),
        _reply("reply.amended", "b", datetime(2026, 6, 1, 2, tzinfo=UTC), "not_disclosed", None),  # no code: stands
        _case("c", "2026-07-01"),
        _reply("reply.amended", "c", datetime(2026, 7, 9, 2, tzinfo=UTC), "disclosed", "disclosed"),  # no reply yet
        _case("d", "2026-08-03"),
        _reply("reply.issued", "d", datetime(2026, 8, 5, 2, tzinfo=UTC), "not_exist", "no.such.code"),
    ]
    cases, problems = fold(events)
    assert problems == ["reply.amended of case c without its reply",
                        "reply.issued of case d: unknown outcome code 'no.such.code'"]
    assert cases["d"].outcome.code == "unavailable.not_held"  # its reply type's default, reported above
    assert cases["a"].replied_on == date(2026, 3, 20) and cases["a"].outcome.code == "disclosed"
    assert cases["b"].outcome.code == "withheld.third_party"
    assert cases["c"].replied_on is None
    t = annual.annual_table(cases.values(), AGENCY, 2026)
    assert t.row("三、本年度办理结果 （一）予以公开")[-1] == 1
    assert t.row("三、本年度办理结果 （二）部分公开")[-1] == 0
    assert t.row("三、本年度办理结果 （三）不予公开 4.保护第三方合法权益")[-1] == 1
    assert t.row(annual.HANDLED_TOTAL)[-1] == 3 and t.row(annual.CARRIED_FORWARD)[-1] == 1
    assert t.self_check() == []


@pytest.mark.parametrize("n", [0, 1, 5, 7])
async def test_streamed_export_is_the_built_document(n):
    from services.audit import export

    entries = [{"index": i, "event_id": f"e{i}", "topic": "gongkai.x", "leaf_hash": f"{i:064x}",
                "value": json.dumps({"id": f"e{i}", "data": {"text": "答复，\"引号\""}}, ensure_ascii=False)}
               for i in range(n)]

    async def gen():  # noqa: ANN202
        for e in entries:
            yield e

    chunks = [c async for c in export.stream("o", "note\n", ["n1", "n2"], gen(), chunk=2)]
    assert len(chunks) == 2 + n // 2  # head, full chunks, the rest with the closing brackets
    assert json.loads(b"".join(chunks)) == export.build("o", "note\n", ["n1", "n2"], entries)
