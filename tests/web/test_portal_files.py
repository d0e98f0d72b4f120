"""The portal's files in-process, with the fake of the other services (tests/web/test_portal.py):
attachments on the application form and the receipt, the material released with the reply on the
status page (download through a POST form), and the online correction (补正) form."""

from __future__ import annotations

import hashlib
import json
import re

import httpx

from services.web import portal
from tests.web.test_portal import ACCEPTED, CODE, DEADLINE, FORM, NUMBER, TIMELINE, web  # noqa: F401 - the fixture

PDF = b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 300
MATERIAL = {"material_id": "m1", "filename": "出让合同.pdf", "content_type": "application/pdf", "size": len(PDF),
            "sha256": hashlib.sha256(PDF).hexdigest()}


def parts_of(call_kw: dict) -> dict[str, list]:
    out: dict[str, list] = {}
    for name, value in call_kw["files"]:
        out.setdefault(name, []).append(value)
    return out


def file_input(page: str, fid: str) -> str:
    m = re.search(rf'<input id="{fid}"[^>]*>', page, re.S)
    assert m, fid
    return m.group(0)


async def test_the_form_has_a_labelled_file_input_with_the_limits(web):
    client, _ = web
    page = (await client.get("/apply")).text
    assert 'action="/apply" enctype="multipart/form-data"' in page
    tag = file_input(page, "f-attachments")
    assert 'name="attachments" type="file" multiple' in tag and 'accept="application/pdf,image/jpeg,image/png' in tag
    assert 'aria-describedby="f-attachments-hint"' in tag and '<label for="f-attachments">' in page
    assert "身份证明等" in page and "最多 5 个文件" in page and "10 MiB" in page and "20 MiB" in page
    assert "目前不支持在线上传附件" not in page


async def test_with_files_the_application_goes_to_intake_as_multipart_and_the_receipt_lists_them(web):
    client, fake = web
    received = [{"attachment_id": "a1", "filename": "身份证.png", "content_type": "image/png", "size": 2048,
                 "sha256": hashlib.sha256(PNG).hexdigest()}]
    fake.answer("POST", "/applications", 201, ACCEPTED | {"attachments": received})
    r = await client.post("/apply", data=FORM, files=[("attachments", ("身份证.png", PNG, "image/png")),
                                                      ("attachments", ("", b"", "application/octet-stream"))])
    assert r.status_code == 303, r.text
    kw = fake.calls[-1][3]
    assert "json" not in kw
    parts = parts_of(kw)
    [(none, text, ctype)] = parts["application"]
    assert none is None and ctype == "application/json"
    assert json.loads(text)["applicant"]["id_number"] == FORM["applicant.id_number"]
    assert parts["attachments"] == [("身份证.png", PNG, "image/png")]  # the empty part (no file chosen) left out
    receipt = (await client.get(r.headers["location"])).text
    assert re.search(r'<dd id="attachments">\s*<ul class="files"><li>身份证.png（2.0 KB）</li>', receipt)


async def test_without_files_it_stays_json_and_the_receipt_says_none(web):
    client, fake = web
    fake.answer("POST", "/applications", 201, ACCEPTED | {"attachments": []})
    r = await client.post("/apply", data=FORM, files=[("attachments", ("", b"", "application/octet-stream"))])
    assert r.status_code == 303 and "json" in fake.calls[-1][3]
    receipt = (await client.get(r.headers["location"])).text
    assert re.search(r'<dd id="attachments">\s*无', receipt)


async def test_intakes_attachment_errors_are_tied_to_the_file_input(web):
    client, fake = web
    fake.answer("POST", "/applications", 422, {"detail": "提交的内容有误", "errors": [
        {"field": "attachments[1]", "message": "文件类型不支持：仅接受 PDF、JPEG、PNG", "type": "value_error"},
        {"field": "applicant.name", "message": "请填写姓名", "type": "missing"}]})
    r = await client.post("/apply", data=FORM, files=[("attachments", ("a.pdf", PDF, "application/pdf")),
                                                      ("attachments", ("run.exe", b"MZ0000", "application/octet-stream"))])
    assert r.status_code == 422
    page = r.text
    tag = file_input(page, "f-attachments")
    assert 'aria-invalid="true"' in tag and "f-attachments-error" in tag.split("aria-describedby=")[1]
    assert re.search(r'id="f-attachments-error">附件「run.exe」：文件类型不支持：仅接受 PDF、JPEG、PNG<', page)
    assert '<a href="#f-attachments">' in page and '<a href="#f-applicant-name">' in page  # the summary
    assert portal.RESELECT in page and "f-attachments-extra" in tag
    # A message about all the files, field "attachments": also at the input.
    fake.answer("POST", "/applications", 422, {"detail": "x", "errors": [
        {"field": "attachments", "message": "最多上传 5 个文件", "type": "value_error"}]})
    r = await client.post("/apply", data=FORM, files=[("attachments", ("a.pdf", PDF, "application/pdf"))])
    assert re.search(r'id="f-attachments-error">最多上传 5 个文件<', r.text)


async def test_over_the_limits_is_refused_before_intake(web):
    client, fake = web
    r = await client.post("/apply", data=FORM, files=[("attachments", (f"{n}.pdf", PDF, "application/pdf")) for n in range(6)])
    assert r.status_code == 422 and not fake.calls
    assert re.search(r'id="f-attachments-error">附件最多 5 个（本次选择了 6 个）<', r.text)
    big = PDF + b"0" * portal.MAX_FILE_BYTES
    r = await client.post("/apply", data=FORM, files=[("attachments", ("big.pdf", big, "application/pdf"))])
    assert r.status_code == 422 and not fake.calls and "过大：每个附件不得超过 10 MiB" in r.text
    assert 'value="张三"' in r.text  # values kept


def replied(fake) -> None:
    fake.answer("GET", f"/public/cases/{NUMBER}/timeline", 200, TIMELINE | {"status": "已办结"})
    fake.answer("GET", f"/public/cases/{NUMBER}/deadline", 200, DEADLINE)
    fake.answer("GET", f"/public/cases/{NUMBER}/materials", 200, {"tracking_number": NUMBER, "materials": [MATERIAL]})


async def test_the_replied_status_lists_the_material_and_downloads_its_bytes(web):
    client, fake = web
    replied(fake)
    page = (await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})).text
    called = [c[2].rsplit("/", 1)[1] for c in fake.calls]
    assert called[:3] == ["timeline", "deadline", "materials"] and called[-2:] == ["documents", "service"]  # #11, #17
    assert fake.calls[2][3]["params"] == {"query_code": CODE}
    item = re.search(r'<li id="material-m1">.*?</li>', page, re.S).group(0)
    assert "出让合同.pdf" in item and "2.0 KB" in item and "application/pdf" in item and MATERIAL["sha256"] in item
    assert 'action="/status/material"' in item and 'name="material_id" value="m1"' in item
    assert f'name="query_code" value="{CODE}"' in item and 'aria-label="下载 出让合同.pdf"' in item
    fake.answer("GET", f"/public/cases/{NUMBER}/materials/m1", 200, None, content=PDF, headers={
        "content-type": "application/pdf", "content-disposition": "attachment; filename=x.pdf",
        "x-content-sha256": MATERIAL["sha256"]})
    got = await client.post("/status/material", data={"tracking_number": NUMBER, "query_code": CODE, "material_id": "m1"})
    assert got.status_code == 200 and got.content == PDF and got.headers["content-type"] == "application/pdf"
    assert got.headers["cache-control"] == "no-store" and got.headers["content-disposition"] == "attachment; filename=x.pdf"
    assert fake.calls[-1][3]["params"] == {"query_code": CODE}
    # Not released (or no such material): a page saying so, not the bytes.
    fake.answer("GET", f"/public/cases/{NUMBER}/materials/m2", 404, {"detail": "未找到该材料，或该材料未随答复提供"})
    r = await client.post("/status/material", data={"tracking_number": NUMBER, "query_code": CODE, "material_id": "m2"})
    assert r.status_code == 404 and "未随答复提供" in r.text
    r = await client.post("/status/material", data={"tracking_number": NUMBER, "query_code": CODE, "material_id": "../x"})
    assert r.status_code == 404 and fake.calls[-1][2].endswith("/m2")  # not forwarded
    fake.answer("GET", f"/public/cases/{NUMBER}/materials/m1", 404, {"detail": "受理编号或查询码不正确"})
    r = await client.post("/status/material", data={"tracking_number": NUMBER, "query_code": "WRONG", "material_id": "m1"})
    assert r.status_code == 404 and "受理编号或查询码不正确" in r.text


async def test_not_replied_no_material_is_asked_for(web):
    client, fake = web
    fake.answer("GET", f"/public/cases/{NUMBER}/timeline", 200, TIMELINE)
    fake.answer("GET", f"/public/cases/{NUMBER}/deadline", 200, DEADLINE)
    page = (await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})).text
    assert all(not c[2].endswith("/materials") for c in fake.calls) and "随答复提供的材料" not in page


def correction_requested(fake) -> None:
    fake.answer("GET", f"/public/cases/{NUMBER}/timeline", 200, TIMELINE)
    fake.answer("GET", f"/public/cases/{NUMBER}/deadline", 200, DEADLINE)


CORRECTION = f"/public/applications/{NUMBER}/correction"


async def test_a_requested_correction_shows_the_online_form(web):
    client, fake = web
    correction_requested(fake)
    page = (await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})).text
    assert "本网站暂不支持在线提交补正" not in page
    form = re.search(r'<form method="post" action="/status/correction".*?</form>', page, re.S).group(0)
    assert 'enctype="multipart/form-data"' in form and 'name="csrf_token"' in form
    assert f'name="tracking_number" value="{NUMBER}"' in form and f'name="query_code" value="{CODE}"' in form
    assert '<label for="f-correction-description">补正后的申请内容</label>' in form
    assert '<label for="f-correction-note">补正说明</label>' in form
    assert 'id="f-correction-description" name="description"' in form and 'id="f-correction-note" name="note"' in form
    assert 'id="f-correction-attachments" name="attachments" type="file" multiple' in form
    # Received: no form, the date instead.
    received = {**DEADLINE, "explanation": {**DEADLINE["explanation"], "correction": {
        **DEADLINE["explanation"]["correction"], "received_on": "2026-12-05"}}}
    fake.answer("GET", f"/public/cases/{NUMBER}/deadline", 200, received)
    page = (await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})).text
    assert "correction-form" not in page and "本机关已于 2026-12-05 收到补正后的申请" in page


async def test_the_correction_is_forwarded_and_confirmed(web):
    client, fake = web
    correction_requested(fake)
    fake.answer("POST", CORRECTION, 201, {"tracking_number": NUMBER, "received_on": "2026-12-05", "attachments": [
        {"attachment_id": "a1", "filename": "身份证明.pdf", "content_type": "application/pdf", "size": len(PDF),
         "sha256": hashlib.sha256(PDF).hexdigest()}]})
    r = await client.post("/status/correction", data={"tracking_number": NUMBER, "query_code": CODE,
                                                      "description": "请公开2025年度的财政预算执行情况报告", "note": "已写明年份"},
                          files=[("attachments", ("身份证明.pdf", PDF, "application/pdf"))])
    assert r.status_code == 200, r.text
    method, service, path, kw = fake.calls[-1]
    assert (method, service, path) == ("POST", "intake", CORRECTION)
    parts = parts_of(kw)
    assert parts["query_code"] == [(None, CODE)] and parts["note"] == [(None, "已写明年份")]
    assert parts["description"] == [(None, "请公开2025年度的财政预算执行情况报告")]
    assert parts["attachments"] == [("身份证明.pdf", PDF, "application/pdf")]
    assert kw["headers"] == {"X-Forwarded-For": "127.0.0.1"}
    page = r.text
    assert "<h1>补正已提交</h1>" in page and 'id="received-on">2026-12-05<' in page
    assert "重新计算 20 个工作日" in page and "身份证明.pdf" in page and r.headers["cache-control"] == "no-store"
    assert CODE not in page
    # Files only, no text: multipart still, and no description part.
    r = await client.post("/status/correction", data={"tracking_number": NUMBER, "query_code": CODE, "description": " "},
                          files=[("attachments", ("a.png", PNG, "image/png"))])
    assert r.status_code == 200 and "description" not in parts_of(fake.calls[-1][3])


async def test_correction_errors_are_shown_at_their_inputs(web):
    client, fake = web
    correction_requested(fake)
    # Nothing at all: refused here, the message at the description.
    r = await client.post("/status/correction", data={"tracking_number": NUMBER, "query_code": CODE, "description": ""},
                          files=[("attachments", ("", b"", "application/octet-stream"))])
    assert r.status_code == 422 and all(c[2] != CORRECTION for c in fake.calls)
    m = re.search(r'<textarea id="f-correction-description"[^>]*>', r.text, re.S).group(0)
    assert 'aria-invalid="true"' in m and "f-correction-description-error" in m
    assert 'id="f-correction-description-error">请填写补正后的申请内容或上传补正材料<' in r.text
    # Intake's field errors: a file's, the note's; the text typed is kept.
    fake.answer("POST", CORRECTION, 422, {"detail": "x", "errors": [
        {"field": "attachments[0]", "message": "文件类型不支持", "type": "value_error"},
        {"field": "note", "message": "补正说明不得超过 2000 字", "type": "value_error"}]})
    r = await client.post("/status/correction", data={"tracking_number": NUMBER, "query_code": CODE,
                                                      "description": "补正后的内容", "note": "说明"},
                          files=[("attachments", ("x.exe", b"MZ", "application/octet-stream"))])
    assert r.status_code == 422
    tag = file_input(r.text, "f-correction-attachments")
    assert 'aria-invalid="true"' in tag and "f-correction-attachments-error" in tag
    assert 'id="f-correction-attachments-error">附件「x.exe」：文件类型不支持<' in r.text
    assert 'id="f-correction-note-error">补正说明不得超过 2000 字<' in r.text
    assert ">补正后的内容</textarea>" in r.text and portal.RESELECT in r.text
    assert '<a href="#f-correction-attachments">' in r.text  # the form's error summary
    # 409: the reason, on the page.
    fake.answer("POST", CORRECTION, 409, {"detail": "补正已提交，无需重复提交"})
    r = await client.post("/status/correction", data={"tracking_number": NUMBER, "query_code": CODE, "description": "内容内容"})
    assert r.status_code == 409 and 'id="correction-alert"' in r.text and "补正已提交，无需重复提交" in r.text
    # A wrong code: the status form's refusal.
    fake.answer("POST", CORRECTION, 404, {"detail": "受理编号或查询码不正确"})
    fake.answer("GET", f"/public/cases/{NUMBER}/timeline", 404, {"detail": "受理编号或查询码不正确"})
    r = await client.post("/status/correction", data={"tracking_number": NUMBER, "query_code": CODE, "description": "内容内容"})
    assert r.status_code == 404 and "受理编号或查询码不正确" in r.text


async def test_intake_unreachable_keeps_the_text(web):
    client, fake = web
    correction_requested(fake)

    async def down(method, service, path, **kw):  # noqa: ANN001, ANN003, ANN202
        if service == "intake":
            raise httpx.ConnectError("down")
        return await original(method, service, path, **kw)

    original = fake.request
    fake.request = down
    r = await client.post("/status/correction", data={"tracking_number": NUMBER, "query_code": CODE, "description": "补正内容甲"})
    assert r.status_code == 503 and portal.UNAVAILABLE in r.text and ">补正内容甲</textarea>" in r.text


async def test_the_new_forms_need_the_csrf_token(web):
    client, fake = web
    for url in ("/status/material", "/status/correction"):
        r = await client.post(url, data={"tracking_number": NUMBER, "query_code": CODE, "material_id": "m1"}, csrf=False)
        assert r.status_code == 403, url
    r = await client.client.post("/status/correction", data={"tracking_number": NUMBER, "query_code": CODE},
                                 files=[("attachments", ("a.png", PNG, "image/png"))])
    assert r.status_code == 403 and not fake.calls


async def test_once_submitted_online_the_form_gives_way_to_the_step(web):
    client, fake = web
    correction_requested(fake)
    steps = [*TIMELINE["steps"], {"time": "2026-12-05T01:00:00+00:00", "step": portal.CORRECTION_SUBMITTED_STEP}]
    fake.answer("GET", f"/public/cases/{NUMBER}/timeline", 200, TIMELINE | {"steps": steps})
    page = (await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})).text
    assert "correction-form" not in page and 'id="correction-submitted">您已于 2026-12-05 09:00 在线提交补正申请' in page


async def test_material_list_unavailable_or_empty_is_said_so(web):
    client, fake = web
    fake.answer("GET", f"/public/cases/{NUMBER}/timeline", 200, TIMELINE | {"status": "已办结"})
    fake.answer("GET", f"/public/cases/{NUMBER}/deadline", 200, DEADLINE)
    fake.answer("GET", f"/public/cases/{NUMBER}/materials", 503, {"detail": "x"})
    page = (await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})).text
    assert "材料列表暂时无法显示" in page and 'action="/status/reply.pdf"' in page
    fake.answer("GET", f"/public/cases/{NUMBER}/materials", 200, {"tracking_number": NUMBER, "materials": []})
    page = (await client.post("/status", data={"tracking_number": NUMBER, "query_code": CODE})).text
    assert "答复未附材料文件" in page and 'id="materials"' not in page
