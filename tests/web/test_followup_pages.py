"""The pages of services/web/followup.py in-process (a fake of the APIs, the officer given): the
follow-up queue and form (what is sent to reply, with whose token; the refusals shown next to the
fields), the red/black page and its downloads, /where and its QR code (decoded with zxing-cpp)."""

from __future__ import annotations

import struct
import zlib
from types import SimpleNamespace

import zxingcpp

from services.web import followup
from tests.web.test_ogi_pages import CSRF, FakeBackends, assert_every_post_form_has_csrf, client_for, officer

CASE = "case-9"
FEEDBACK = {"case_id": CASE, "tracking_number": "YN-20261201-00009", "released": True, "reply_seq": 0,
            "released_at": "2026-12-01T02:00:00+00:00", "read": True,
            "reads": [{"seq": 0, "via": "pdf", "at": "2026-12-01T03:00:00+00:00"}],
            "rating": {"rating": "dissatisfied", "reason": "incomplete", "comment": "缺附表", "revision": 2,
                       "first_at": "2026-12-01T04:00:00+00:00", "at": "2026-12-01T05:00:00+00:00"},
            "rating_changeable_until": "2026-12-15", "followups": [], "followup_due": ["dissatisfied"]}
TABLE = {"agency_code": "yn-gov-office", "quarter": "2026Q4", "start": "2026-10-01", "end": "2026-12-31",
         "thresholds": {"min_replies": 1, "red_on_time_rate": 1.0, "red_satisfaction": 0.8, "red_max_returns": 0,
                        "red_max_corrected": 0, "black_on_time_rate": 0.8, "black_satisfaction": 0.6,
                        "black_min_returns": 3, "black_min_corrected": 1},
         "departments": [
             {"dept_code": "czt", "dept_name": "财政厅", "rank": 1, "board": "red", "replies": 3, "on_time": 3, "late": 0,
              "unknown": 0, "on_time_rate": 1.0, "avg_workdays": 4.5, "returns": 0, "reassignments": 0, "amendments": 0,
              "corrected": 0, "rated": 2, "satisfaction_rate": 1.0, "reasons": ["达标"]},
             {"dept_code": "jyt", "dept_name": "教育厅", "rank": 2, "board": "black", "replies": 2, "on_time": 1, "late": 1,
              "unknown": 0, "on_time_rate": 0.5, "avg_workdays": 12.0, "returns": 1, "reassignments": 0, "amendments": 1,
              "corrected": 0, "rated": 0, "satisfaction_rate": None, "reasons": ["按期答复率低于80%"]}],
         "red": ["czt"], "black": ["jyt"], "problems": []}
SAT = {"total": {"satisfied": 1, "basically_satisfied": 1, "dissatisfied": 0, "rated": 2, "satisfaction_rate": 1.0},
       "departments": [{"dept_code": "czt", "dept_name": "财政厅", "satisfied": 1, "basically_satisfied": 1,
                        "dissatisfied": 0, "rated": 2, "satisfaction_rate": 1.0}],
       "outcomes": [{"outcome": "予以公开", "satisfied": 1, "basically_satisfied": 1, "dissatisfied": 0, "rated": 2,
                     "satisfaction_rate": 1.0}]}


def png_gray(png: bytes) -> memoryview:
    """A PNG (no interlace; bit depth 1 or 8; grey, RGB, palette, grey+alpha, RGBA) as 8-bit grey
    pixels, shaped (height, width) for zxing-cpp's buffer input: no imaging library needed."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, palette = 8, b"", b""
    while pos < len(png):
        n, kind = struct.unpack(">I4s", png[pos:pos + 8])
        chunk = png[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"PLTE":
            palette = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    assert depth in (1, 8) and not interlace, (depth, interlace)
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    bpp = max(1, channels * depth // 8)
    stride = (w * channels * depth + 7) // 8
    raw, rows, prev = zlib.decompress(idat), [], bytearray(stride)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    out = bytearray(w * h)
    for y, line in enumerate(rows):
        for x in range(w):
            if depth == 1:
                v = (line[x // 8] >> (7 - x % 8)) & 1
                out[y * w + x] = (palette[3 * v] if ctype == 3 and palette else 255 * v)
            elif ctype in (0, 4):
                out[y * w + x] = line[x * channels]
            elif ctype == 3:
                out[y * w + x] = palette[3 * line[x]]
            else:
                r, g, b = line[x * channels:x * channels + 3]
                out[y * w + x] = (r * 299 + g * 587 + b * 114) // 1000
    return memoryview(bytes(out)).cast("B", shape=[h, w])


def decode_qr(png: bytes) -> list[str]:
    return [b.text for b in zxingcpp.read_barcodes(png_gray(png))]


def fake() -> FakeBackends:
    f = FakeBackends()
    f.on("GET", "reply", "/follow-ups", 200, {"unread_workdays": 5, "as_of": "2026-12-09", "cases": [
        {"case_id": CASE, "tracking_number": "YN-20261201-00009", "reasons": ["unread"], "reply_seq": 0,
         "released_on": "2026-12-01", "workdays_since_release": 6, "rating": None, "departments": ["czt"],
         "followups": 0}]})
    f.on("GET", "reply", f"/cases/{CASE}/feedback", 200, FEEDBACK)
    f.on("GET", "audit", "/statistics/red-black", 200, TABLE)
    f.on("GET", "audit", "/statistics/satisfaction", 200, SAT)
    f.on("GET", "routing", "/directory", 200, {  # as routing's GET /directory: the OGI office first
        "version": "3", "agency": {"code": "yn-gov-office", "name": "云南省人民政府办公厅"}, "agencies": [],
        "departments": [{"code": "ogi", "name": "云南省人民政府办公厅政府信息公开办公室", "contact": {
            "address": "云南省昆明市五华区五华山", "phone": "0871-60000101", "office_hours": "工作日 9:00-17:30"}},
            {"code": "czt", "name": "云南省财政厅", "contact": {"address": "某路", "phone": "", "office_hours": ""}}]})
    return f


def test_the_queue_and_the_case_page():
    f = fake()
    c = client_for(f, officer("ogi_officer", token="tok-li"), followup.router)
    page = c.get("/work/ogi/follow-ups").text
    assert "YN-20261201-00009" in page and "答复发出后申请人尚未查阅" in page and f"/work/ogi/follow-ups/{CASE}" in page
    assert f.calls[0]["token"] == "tok-li"
    page = c.get(f"/work/ogi/follow-ups/{CASE}").text
    assert "已查阅" in page and "下载了答复书" in page and "缺附表" in page and "修改过 1 次" in page
    assert "申请人评价为不满意" in page
    assert_every_post_form_has_csrf(page)


def test_recording_a_follow_up_sends_it_with_the_officers_token():
    f = fake()
    f.on("POST", "reply", f"/cases/{CASE}/follow-ups", 201, {"case_id": CASE})
    c = client_for(f, officer("ogi_officer", token="tok-li"), followup.router)
    form = {"csrf_token": CSRF, "contacted_at": "2026-12-09T10:30", "means": "phone", "result": "need_met",
            "note": "已收到答复"}
    r = c.post(f"/work/ogi/follow-ups/{CASE}", data=form)
    assert r.status_code == 303 and r.headers["location"] == f"/work/ogi/follow-ups/{CASE}?done=followup"
    post = f.posts()[-1]
    assert post["token"] == "tok-li" and post["json"] == {k: v for k, v in form.items() if k != "csrf_token"}
    # An empty note: the page says so next to the field and nothing is sent.
    before = len(f.posts())
    r = c.post(f"/work/ogi/follow-ups/{CASE}", data={**form, "note": ""})
    assert r.status_code == 422 and 'id="fu-note-error"' in r.text and len(f.posts()) == before
    # The API's field error (e.g. a time in the future) is shown at its field, the values kept.
    f.on("POST", "reply", f"/cases/{CASE}/follow-ups", 422, {"detail": "x", "errors": [
        {"field": "contacted_at", "message": "联系时间不能晚于现在", "type": "value_error"}]})
    r = c.post(f"/work/ogi/follow-ups/{CASE}", data=form)
    assert r.status_code == 422 and "联系时间不能晚于现在" in r.text and "已收到答复" in r.text
    # Without the CSRF token: refused before any call.
    before = len(f.calls)
    assert c.post(f"/work/ogi/follow-ups/{CASE}", data={**form, "csrf_token": "x"}).status_code == 403
    assert len(f.calls) == before


def test_the_red_black_page_and_its_downloads():
    f = fake()
    f.on("GET", "audit", "/statistics/red-black", 200, TABLE)
    c = client_for(f, officer("auditor", token="tok-aud"), followup.router)
    page = c.get("/work/stats/red-black?quarter=2026Q4").text
    assert "财政厅" in page and "教育厅：按期答复率低于80%" in page and "/work/stats/red-black.csv?quarter=2026Q4" in page
    assert f.calls[0]["params"] == {"quarter": "2026Q4"}
    assert c.get("/work/stats/red-black?quarter=nonsense").status_code == 200
    assert f.calls[-1]["params"]["quarter"] == followup.current_quarter()  # a bad value: this quarter
    f.answers[("GET", "audit", "/statistics/red-black")] = (200, "\ufeff排名,部门\n1,财政厅\n", "text/csv; charset=utf-8")
    r = c.get("/work/stats/red-black.csv?quarter=2026Q4")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv") and "财政厅" in r.text
    assert f.calls[-1]["params"] == {"quarter": "2026Q4", "format": "csv"} and f.calls[-1]["token"] == "tok-aud"
    assert c.get("/work/stats/red-black.pdf").status_code == 404


def test_where_lists_the_points_and_its_qr_code_is_the_form():
    f = fake()
    c = client_for(f, None, followup.router)
    c.app.state.settings = SimpleNamespace(public_url="https://gongkai.example.gov.cn/")
    page = c.get("/where").text
    assert "云南省人民政府办公厅政府信息公开办公室" in page and "工作日 9:00-17:30" in page  # the directory's window
    assert "云南省财政厅" not in page  # the departments do not accept applications themselves
    assert "省政务服务中心" in page and "650021" in page and "0871-60000199" in page  # acceptance_points.json
    assert "https://gongkai.example.gov.cn/apply" in page and 'src="/where/qr.png"' in page
    png = c.get("/where/qr.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert decode_qr(png.content) == ["https://gongkai.example.gov.cn/apply"]


def test_the_rating_form_state():
    assert followup.rating_view(None)["available"] is False
    view = followup.rating_view({"rating": None, "rating_changeable_until": None})
    assert view["available"] and view["open"] and view["ratings"]["basically_satisfied"] == "基本满意"
    closed = followup.rating_view({"rating": {"rating": "satisfied"}, "rating_changeable_until": "2020-01-01"})
    assert closed["open"] is False
