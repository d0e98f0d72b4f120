"""Intake's attachments and correction states, pure logic (issue 10): the type by the content's
first bytes, the limits (size, count, total, empty) with the fields and Chinese messages of the
errors, and when an online correction is refused (409)."""

from __future__ import annotations

import io
from datetime import date

import pytest
from starlette.datastructures import FormData, UploadFile

from contracts import topics
from contracts.events_procedure import CorrectionSubmitted
from services.audit.public_timeline import applicant_step
from services.intake import attachments as att
from services.intake import corrections

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
EXE = b"MZ\x90\x00\x03" + b"\x00" * 64


def upload(name: str, data: bytes, ctype: str = "application/pdf") -> UploadFile:
    return UploadFile(file=io.BytesIO(data), filename=name, headers=None, size=len(data))


def form(*files: tuple[str, bytes], extra: list[tuple[str, object]] | None = None) -> FormData:
    return FormData([*(extra or []), *(("attachments", upload(n, d)) for n, d in files)])


@pytest.mark.parametrize(("data", "kind"), [(PDF, "application/pdf"), (PNG, "image/png"), (JPEG, "image/jpeg"),
                                            (EXE, None), (b"GIF89a....", None), (b"%PD", None)])
def test_the_type_is_the_contents(data: bytes, kind: str | None) -> None:
    assert att.sniff(data) == kind


async def test_allowed_files_are_read_with_their_type_by_content() -> None:
    # The declared type is not asked: a PNG sent as "application/pdf" is a PNG.
    uploads, errors = await att.read_uploads(form(("身份证.png", PNG), ("scan", JPEG), ("申请书.PDF", PDF)))
    assert errors == []
    assert [(u.filename, u.content_type) for u in uploads] == [
        ("身份证.png", "image/png"), ("scan", "image/jpeg"), ("申请书.PDF", "application/pdf")]
    assert uploads[0].sha256 == __import__("hashlib").sha256(PNG).hexdigest()


async def test_each_bad_file_is_named_by_its_position_with_the_limit() -> None:
    big = PDF + b"\x00" * att.MAX_FILE_BYTES
    uploads, errors = await att.read_uploads(form(("ok.pdf", PDF), ("x.exe", EXE), ("empty.pdf", b""),
                                                  ("big.pdf", big), ("fake.exe", PDF)))
    assert [u.filename for u in uploads] == ["ok.pdf"]
    assert errors == [
        {"field": "attachments[1]", "message": "附件「x.exe」类型不支持：仅限 PDF、JPG、PNG", "type": "value_error"},
        {"field": "attachments[2]", "message": "附件「empty.pdf」是空文件，请重新选择", "type": "value_error"},
        {"field": "attachments[3]", "message": "附件「big.pdf」过大：每个附件不得超过 10 MiB", "type": "value_error"},
        # PDF bytes under a name of another type: refused too (it would be downloaded as that).
        {"field": "attachments[4]", "message": "附件「fake.exe」类型不支持：仅限 PDF、JPG、PNG", "type": "value_error"},
    ]


async def test_at_most_five_files_and_twenty_mib_together() -> None:
    _, errors = await att.read_uploads(form(*[(f"{i}.pdf", PDF) for i in range(6)]))
    assert errors == [{"field": "attachments", "message": "附件最多 5 个（本次选择了 6 个）", "type": "value_error"}]
    nine = PDF + b"\x00" * (9 * 1024 * 1024)
    uploads, errors = await att.read_uploads(form(("a.pdf", nine), ("b.pdf", nine), ("c.pdf", nine)))
    assert [e["field"] for e in errors] == ["attachments"] and "20 MiB" in errors[0]["message"]
    uploads, errors = await att.read_uploads(form(("a.pdf", nine), ("b.pdf", nine)))
    assert errors == [] and len(uploads) == 2


async def test_an_empty_file_input_is_no_file_and_a_text_part_is_refused() -> None:
    uploads, errors = await att.read_uploads(form(("", b"")))  # what a browser sends for no file chosen
    assert uploads == [] and errors == []
    _, errors = await att.read_uploads(FormData([("attachments", "not a file")]))
    assert errors == [{"field": "attachments[0]", "message": "附件须以文件形式上传", "type": "value_error"}]


def test_file_names_are_cleaned() -> None:
    assert att.clean_filename("C:\\Users\\张三\\身份证.png") == "身份证.png"
    assert att.clean_filename('../../a"b\x00.pdf') == "a_b_.pdf"
    assert att.clean_filename("") == "附件"


REQUESTED = {"items": ["请明确所需信息的年份"], "due_on": "2026-12-20", "issued_on": "2026-12-02"}


@pytest.mark.parametrize(("correction", "why"), [
    (None, corrections.NOT_REQUESTED),
    ({"requested": REQUESTED}, None),
    ({"requested": REQUESTED, "submitted": {"received_on": "2026-12-03"}}, corrections.ALREADY_SUBMITTED),
    ({"requested": REQUESTED, "received": {"received_on": "2026-12-03"}}, corrections.ALREADY_RECEIVED),
    ({"requested": REQUESTED, "abandoned": {"abandoned_on": "2026-12-21"}}, corrections.ABANDONED),
    ({"abandoned": {"abandoned_on": "2026-12-21", "reason": "fee_unpaid"}}, corrections.ABANDONED),
])
def test_when_an_online_correction_is_refused(correction: dict | None, why: str | None) -> None:
    assert corrections.refusal({"correction": correction} if correction else {}, date(2026, 12, 10)) == why


def test_an_overdue_correction_is_refused_online() -> None:
    doc = {"correction": {"requested": REQUESTED}}
    assert corrections.refusal(doc, date(2026, 12, 20)) is None  # the due day itself
    assert "2026-12-20" in (corrections.refusal(doc, date(2026, 12, 21)) or "")


def test_the_event_carries_no_personal_data_and_has_its_topic() -> None:
    assert set(CorrectionSubmitted.model_fields) == {"case_id", "received_on", "submitted_at", "attachment_count"}
    assert "correction.submitted" in topics.APPLICATIONS_SCREENED.event_types
    assert "correction.submitted" not in topics.APPLICATIONS_RECEIVED.event_types


def test_the_public_timeline_names_the_step() -> None:
    step = applicant_step({"type": CorrectionSubmitted.ce_type(), "time": "2026-12-03T02:00:00Z",
                           "data": {"case_id": "c1", "received_on": "2026-12-03", "attachment_count": 1}})
    assert step["step"] == "已在线提交补正申请" and "2026-12-03" in step["detail"]
