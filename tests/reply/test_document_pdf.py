"""PDFs (Typst): every document kind renders with its applicant, title, 文号, dates and seal, in the
GB/T 9704-2012 layout (A4, margins, red 版头, page numbers), with its CJK fonts embedded; user text
comes out literally (no Typst markup injection). Uses poppler-utils (deploy/local/install.sh debs)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from datetime import date
from functools import cache
from pathlib import Path

import pytest
from pypdf import PdfReader

from contracts.decisions import outcome
from contracts.vocabulary import REPLY_TYPE_LABELS, ReplyType
from services.reply.documents import (
    CONSOLIDATED,
    DOCUMENTS,
    DocumentRenderError,
    render_document,
    render_html,
    render_pdf,
)
from services.reply.documents.render import document_structure
from tests.reply import document_samples as s

REPO = Path(__file__).resolve().parents[2]
MM = 72 / 25.4  # points


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found on PATH: install poppler-utils (bash deploy/local/install.sh debs)")
    return path


def pdftotext(pdf: bytes, *args: str) -> str:
    out = subprocess.run([_tool("pdftotext"), "-layout", "-enc", "UTF-8", *args, "-", "-"], input=pdf,
                         capture_output=True, check=True)
    return out.stdout.decode("utf-8")


def pdffonts(pdf: bytes, tmp_path: Path) -> list[dict[str, str]]:
    f = tmp_path / "doc.pdf"
    f.write_bytes(pdf)
    out = subprocess.run([_tool("pdffonts"), str(f)], capture_output=True, check=True, text=True).stdout
    rows = []
    for line in out.splitlines()[2:]:  # header and rule
        cols = line.split()
        # name type... encoding emb sub uni object ID: the last six columns are fixed
        rows.append({"name": cols[0], "emb": cols[-5], "uni": cols[-3]})
    return rows


def words(pdf: bytes, page: int) -> list[tuple[float, float, float, float, str]]:
    """(xMin, yMin, xMax, yMax, text) of every word on the page, in points from the top left."""
    html = subprocess.run([_tool("pdftotext"), "-bbox", "-f", str(page), "-l", str(page), "-", "-"], input=pdf,
                          capture_output=True, check=True).stdout.decode("utf-8")
    return [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', html)]


def pixels(pdf: bytes, page: int, dpi: int = 30) -> tuple[int, int, bytes]:
    """The page as RGB pixels (pdftoppm, PPM): width, height, bytes."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        ppm = subprocess.run([_tool("pdftoppm"), "-r", str(dpi), "-f", str(page), "-l", str(page), f.name],
                             capture_output=True, check=True).stdout
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", ppm)
    assert m, ppm[:20]
    return int(m[1]), int(m[2]), ppm[m.end():]


def red_rows(pdf: bytes, page: int) -> list[float]:
    """Where red pixels are, as fractions of the page height (one entry per red pixel)."""
    w, h, px = pixels(pdf, page)
    out = []
    for i in range(0, len(px), 3):
        r, g, b = px[i], px[i + 1], px[i + 2]
        if r > 170 and g < 110 and b < 110:
            out.append((i // 3 // w) / h)
    return out


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pages(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def cn(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


@cache
def rendered(doc_type: str) -> bytes:
    return render_document(doc_type, s.all_samples()[doc_type]).pdf


@pytest.fixture(scope="module")
def consolidated_pdf() -> bytes:
    return rendered(CONSOLIDATED)


# ---------------------------------------------------------------- every kind
@pytest.mark.parametrize("doc_type", sorted(DOCUMENTS))
def test_every_document_renders_with_its_addressee_title_number_and_dates(doc_type: str) -> None:
    ctx = s.all_samples()[doc_type]
    pdf = rendered(doc_type)
    assert pdf.startswith(b"%PDF-")
    text = squash(pdftotext(pdf))
    kind = DOCUMENTS[doc_type]
    assert kind.title in text and s.DOC_NUMBER in text and s.AGENCY_NAME in text
    assert s.CASE_NUMBER in text and s.RECEIVED_CN in text and s.OFFICE_NAME in text
    assert f"{s.AGENCY_NAME}{cn(ctx['issued_on'])}" in text  # signature, then the date in Chinese style
    assert "（印章）" in text
    addressee = ctx["addressee"] if doc_type.startswith("consultation_") else s.APPLICANT
    assert f"{addressee}：" in text  # 主送
    assert "申请人：" not in text
    if doc_type.startswith("consultation_"):
        assert s.APPLICANT not in text  # a third party is not told who applied
    assert ("6个月内" in text) is kind.remedies
    assert "\ufffd" not in text and "□" not in text
    n = pages(pdf)
    assert 1 <= n <= (4 if doc_type == CONSOLIDATED else 2), n
    # 页码 "— n —" on every page
    for page in range(1, n + 1):
        assert f"—{page}—" in squash(pdftotext(pdf, "-f", str(page), "-l", str(page)))


@pytest.mark.parametrize("doc_type", ["acceptance_receipt", "consultation_agency", "fee_notice", CONSOLIDATED])
def test_header_then_title_then_addressee_in_that_order(doc_type: str) -> None:
    ctx = s.all_samples()[doc_type]
    first = squash(pdftotext(rendered(doc_type), "-f", "1", "-l", "1"))
    addressee = ctx.get("addressee", s.APPLICANT) + "："
    order = [first.index(x) for x in (s.AGENCY_NAME, s.DOC_NUMBER, DOCUMENTS[doc_type].title, addressee)]
    assert order == sorted(order), order


def test_without_a_document_number_the_header_has_none() -> None:
    ctx = {k: v for k, v in s.OUTCOME_SAMPLES["disclosed"].items() if k != "document_number"}
    pdf = render_document("disclosed", ctx).pdf
    text = squash(pdftotext(pdf))
    assert "〔" not in text.split("政府信息公开申请答复书")[0]
    assert text.startswith(s.AGENCY_NAME)


# ---------------------------------------------------------------- layout: GB/T 9704-2012
@pytest.mark.parametrize("doc_type", ["acceptance_receipt", "partial", CONSOLIDATED])
def test_a4_and_the_margins_of_the_standard(doc_type: str) -> None:
    pdf = rendered(doc_type)
    reader = PdfReader(io.BytesIO(pdf))
    for page in reader.pages:  # A4: 210 × 297 mm = 595.28 × 841.89 pt
        assert round(float(page.mediabox.width)) == 595
        assert round(float(page.mediabox.height)) == 842
    for page in range(1, len(reader.pages) + 1):
        ws = [w for w in words(pdf, page) if not re.fullmatch(r"[—\d\s]+", w[4])]  # not the page number
        left = min(w[0] for w in ws)
        right = max(w[2] for w in ws)
        top = min(w[1] for w in ws)
        # 订口 28 mm (a line-start bracket set half-width has its em box half an em to the left)
        assert 25 * MM <= left <= 29.5 * MM, left / MM
        assert 27.5 * MM <= min(w[0] for w in ws if not w[4][0] in "（《“") <= 28.5 * MM
        # 版心 156 mm wide; a line-end punctuation set half-width still has a full-em box (+2.8 mm)
        assert right <= (210 - 26 + 3) * MM, right / MM
        assert top >= 36 * MM, top / MM  # 天头 37 mm
        assert max(w[3] for w in ws) <= (297 - 35 + 1) * MM  # 版心 225 mm high
    # the page number: below the 版心, odd pages to the right
    num = [w for w in words(pdf, 1) if re.fullmatch(r"\d+", w[4])][-1]
    assert num[4] == "1" and num[1] > (297 - 35) * MM and num[0] > 150 * MM


def test_body_is_3hao_and_title_2hao(consolidated_pdf: bytes) -> None:
    ws = words(consolidated_pdf, 1)
    title = next(w for w in ws if "答复书" in w[4])
    body = next(w for w in ws if w[4].startswith("本机关于"))
    # 2号 = 22 pt, 3号 = 16 pt: the word boxes are the font's em height (±2 pt)
    assert abs((title[3] - title[1]) - 22) < 2.5, title
    assert abs((body[3] - body[1]) - 16) < 2.5, body


def test_red_header_and_red_seal(consolidated_pdf: bytes) -> None:
    reds = red_rows(consolidated_pdf, 1)
    assert reds, "no red on the first page"
    assert sum(1 for y in reds if y < 0.3) > 50, "the agency mark and the rule are red, at the top"
    last = pages(consolidated_pdf)
    # the seal placeholder (dashed circle and "（印章）") is red, below the top of the page
    for page in range(2, last + 1):
        if any(y > 0.2 for y in red_rows(consolidated_pdf, page)):
            break
    else:
        pytest.fail("no red seal after the first page")


def test_the_closing_and_the_signature_share_a_page() -> None:
    for doc_type in ("acceptance_receipt", "correction_notice", CONSOLIDATED):
        pdf = rendered(doc_type)
        n = pages(pdf)
        page = squash(pdftotext(pdf, "-f", str(n), "-l", str(n))) if n else ""
        sig = next(p for p in range(1, n + 1)
                   if "（印章）" in squash(pdftotext(pdf, "-f", str(p), "-l", str(p))))
        on_sig = squash(pdftotext(pdf, "-f", str(sig), "-l", str(sig)))
        assert re.search(r"特此(告知|回执)。", on_sig), (doc_type, on_sig[:80])
        assert page  # the last page is not empty


# ---------------------------------------------------------------- fonts
@pytest.mark.parametrize("doc_type", ["acceptance_receipt", "fee_notice", CONSOLIDATED])
def test_fonts_are_embedded_cjk_fonts_with_unicode_maps(doc_type: str, tmp_path: Path) -> None:
    fonts = pdffonts(rendered(doc_type), tmp_path)
    assert fonts
    assert all(f["emb"] == "yes" and f["uni"] == "yes" for f in fonts), fonts
    names = {f["name"].split("+")[-1] for f in fonts}
    assert any(n.startswith("NotoSerifCJK") and "Regular" in n for n in names), names  # 3号 body
    assert any(n.startswith("NotoSerifCJK") and "Bold" in n for n in names), names  # 版头, title


def test_consolidated_pdf_text_holds_every_department_and_decision(consolidated_pdf: bytes) -> None:
    text = squash(pdftotext(consolidated_pdf))
    assert len(s.DEPARTMENTS) == 8
    kinds = {outcome(d["outcome_code"]).reply_type for d in s.DEPARTMENTS}
    assert {ReplyType.DISCLOSED, ReplyType.PARTIALLY_DISCLOSED, ReplyType.NOT_EXIST,
            ReplyType.NOT_THIS_AGENCY} <= kinds
    for d in s.DEPARTMENTS:
        o = outcome(d["outcome_code"])
        assert f"{d['dept_name']}：" in text
        after = text[text.index(f"{d['dept_name']}："):]
        assert o.label in after[: len(d["dept_name"]) + 40], (d["dept_name"], o.label)
        assert o.basis in after, o.basis
        assert squash(d["text"]) in text
        for m in d.get("materials", []):
            assert squash(m["title"]) in text
        for w in d.get("withheld", []):
            assert f"{w['description']}：不予公开（{outcome(w['reason_code']).label}）" in text
            assert w["explanation"] in text
        if "responsible_agency" in d:
            assert f"负责公开该信息的行政机关为{d['responsible_agency']['name']}" in text
    assert f"作出“{REPLY_TYPE_LABELS[ReplyType.PARTIALLY_DISCLOSED]}”的答复" in text
    assert "抄送：" + "，".join(d["dept_name"] for d in s.DEPARTMENTS) + "。" in text
    assert f"{s.OFFICE_NAME}{s.ISSUED_CN}印发" in text  # 版记
    assert len(re.findall(r"[\u4e00-\u9fff]", text)) > 800


def test_consolidated_reply_of_three_departments_and_an_amendment() -> None:
    three = render_document(CONSOLIDATED, s.consolidated_three())
    text = squash(pdftotext(three.pdf))
    assert "涉及本机关3个承办部门" in text and "三、云南省水利厅：" in text
    assert pages(three.pdf) <= 3
    amend = render_document(CONSOLIDATED, s.amendment())
    assert amend.title == s.AMENDMENT_TITLE
    text = squash(pdftotext(amend.pdf))
    assert s.AMENDMENT_TITLE in text and "政府信息公开申请答复书" not in text
    assert squash(s.AMENDMENT_NOTE) in text and "2026年5月20日" in text
    assert "一、云南省人力资源和社会保障厅：予以公开" in text


# ---------------------------------------------------------------- user text is text, never markup
INJECTIONS = [
    '#set text(fill: red) #panic("注入") #read("/etc/passwd")',
    "$x^2 + y_1$ *粗体* _斜体_ `code` <label> @ref",
    r"反斜杠\ \n \u{41} [方括号] {花括号} // 注释 /* 块注释 */ ~ - -- --- 1. + = 标题",
    '"引号" \'单引号\' &amp; &lt;b&gt; <b>标签</b> #{1 + 1} #let x = 1',
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_user_text_with_markup_characters_comes_out_literally(payload: str) -> None:
    ctx = s.OUTCOME_SAMPLES["withheld.third_party"] | {
        "request_summary": payload, "applicant_name": "张#三_*", "explanation": payload}
    pdf = render_document("withheld.third_party", ctx).pdf
    text = squash(pdftotext(pdf))
    assert squash(payload) in text
    assert text.count(squash(payload)) == 2
    assert "张#三_*：" in text
    assert "root:" not in text
    cons = s.consolidated_three() | {"departments": [{**s.DEPARTMENTS[0], "dept_name": "部门#[x]", "text": payload}]}
    text = squash(pdftotext(render_document(CONSOLIDATED, cons).pdf))
    assert "一、部门#[x]：" in text and squash(payload) in text


# ---------------------------------------------------------------- the HTML → PDF reader is strict
def test_text_outside_the_known_elements_is_refused_not_dropped() -> None:
    html = render_html("disclosed", s.OUTCOME_SAMPLES["disclosed"])
    with pytest.raises(DocumentRenderError, match="outside the known elements"):
        render_pdf(html.replace("<main class=\"body\">", "<main class=\"body\"><div>丢失的文字</div>"))
    with pytest.raises(DocumentRenderError, match="not a reply document"):
        render_pdf("<html><head><title>随便</title></head><body><main class=\"body\"><p>随便</p></main></body></html>")
    d = document_structure(html)
    assert d["addressee"] == f"{s.APPLICANT}：" and d["number"] == s.DOC_NUMBER
    assert d["blocks"][-1]["runs"] == [["特此告知。", False]]


def test_the_reply_service_addresses_the_reply_to_the_applicant() -> None:
    """The consolidated reply is addressed (主送) to the applicant by name: the reply service passes
    it (services.reply.reply_docs.consolidated_context(applicant_name=...)), never "申请人"."""
    from contracts.events import Answer, ReplyPart
    from services.reply.reply_docs import AgencyInfo, consolidated_context

    part = ReplyPart(task_id="t1", dept_code="fgw", dept_name="发展改革委", answer=Answer(
        reply_type="disclosed", text="见附件。", material_refs=["批复"]))
    ctx = consolidated_context(
        tracking_number=s.CASE_NUMBER, received_on=s.RECEIVED, issued_on=s.ISSUED, request_summary=s.REQUEST,
        agency=AgencyInfo(name=s.AGENCY_NAME, office=s.OFFICE_NAME, address="地址", phone="电话",
                          review_body=s.REVIEW_BODY),
        parts=[part], decision=ReplyType.DISCLOSED, applicant_name=s.APPLICANT)
    assert ctx.applicant_name == s.APPLICANT
    assert f"{s.APPLICANT}：" in squash(pdftotext(render_document(CONSOLIDATED, ctx).pdf))


def test_both_abandonment_notices_as_pdfs_and_the_mailing_note() -> None:
    """视为放弃申请告知书 for each reason (the correction not made; the fee unpaid), as typeset; the
    one sent by post gives the 送达地址 in its 附注, between the case data and the office's contact."""
    correction = squash(pdftotext(rendered("abandonment_notice")))
    assert "向您发出补正申请告知书，请您于2026年4月24日前补正" in correction and "第三十条" in correction
    assert "信息处理费" not in correction and "送达地址" not in correction
    pdf = render_document("abandonment_notice", s.FEE_UNPAID_ABANDONMENT | {"mailing": s.MAILING}).pdf
    fee = squash(pdftotext(pdf))
    assert pages(pdf) <= 2
    for phrase in ("本机关已于2026年4月10日向您发出信息处理费收费通知，请您于2026年5月1日前缴纳信息处理费200.00元。",
                   "截至缴费期限届满，本机关未收到您缴纳的信息处理费。", "第四十二条", "国办函〔2020〕109号",
                   "收费通知日期：2026年4月10日；缴费期限：2026年5月1日前"):
        assert phrase in fee, phrase
    assert "补正" not in fee and "第三十条" not in fee
    mailing = f"（送达方式：邮寄；送达地址：{s.MAILING['address']}；邮政编码：{s.MAILING['postcode']}）"
    assert mailing in fee
    assert fee.index(s.CASE_NUMBER) < fee.index(mailing) < fee.index("承办机构")
    assert fee.index("（印章）") < fee.index(mailing)  # in the 附注, under the signature


def test_without_a_cjk_font_rendering_fails_loudly() -> None:
    # Only DejaVu (no CJK glyphs): the renderer must refuse, not print boxes.
    dejavu = Path("/usr/share/fonts/truetype/dejavu")
    if not dejavu.is_dir():
        pytest.fail(f"{dejavu} missing: the test needs fonts-dejavu-core (a non-CJK font)")
    script = textwrap.dedent(
        """
        from services.reply.documents import render_html, render_pdf, DocumentRenderError
        from tests.reply import document_samples as s
        html = render_html("disclosed", s.OUTCOME_SAMPLES["disclosed"])
        try:
            render_pdf(html)
        except DocumentRenderError as e:
            print("REFUSED", e)
        else:
            print("RENDERED")
        """
    )
    env = os.environ | {"GONGKAI_FONT_DIRS": str(dejavu), "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("REFUSED"), out.stdout + out.stderr
    assert "fonts-noto-cjk" in out.stdout


def test_the_same_document_renders_to_the_same_bytes_with_its_metadata() -> None:
    a = render_document("disclosed", s.OUTCOME_SAMPLES["disclosed"]).pdf
    assert a == render_document("disclosed", s.OUTCOME_SAMPLES["disclosed"]).pdf  # its hash is in the ledger
    meta = PdfReader(io.BytesIO(a)).metadata
    assert meta.title == f"政府信息公开申请答复书（{s.CASE_NUMBER}）"
    assert meta.author == s.AGENCY_NAME
    assert meta.creation_date.date() == s.ISSUED
