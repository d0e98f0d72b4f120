"""PDFs: the consolidated 8-department reply's extracted text holds every department's decision,
and the PDF embeds a CJK font (no boxes). Uses poppler-utils (deploy/local/install.sh debs)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pypdf import PdfReader

from contracts.decisions import outcome
from contracts.vocabulary import REPLY_TYPE_LABELS, ReplyType
from services.reply.documents import (
    CJK_FONT_FAMILIES,
    CONSOLIDATED,
    DOCUMENTS,
    render_document,
    render_html,
    render_pdf,
)
from tests.documents import samples as s

REPO = Path(__file__).resolve().parents[2]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found on PATH: install poppler-utils (bash deploy/local/install.sh debs)")
    return path


def pdftotext(pdf: bytes) -> str:
    out = subprocess.run([_tool("pdftotext"), "-layout", "-enc", "UTF-8", "-", "-"], input=pdf,
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


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def consolidated_pdf() -> bytes:
    return render_document(CONSOLIDATED, s.consolidated()).pdf


def test_consolidated_pdf_text_holds_every_department_and_decision(consolidated_pdf: bytes) -> None:
    assert consolidated_pdf.startswith(b"%PDF-")
    text = squash(pdftotext(consolidated_pdf))
    assert len(s.DEPARTMENTS) == 8
    kinds = {outcome(d["outcome_code"]).reply_type for d in s.DEPARTMENTS}
    # mixed answers: disclose, partial, does not exist, not this agency's (and more)
    assert {ReplyType.DISCLOSED, ReplyType.PARTIALLY_DISCLOSED, ReplyType.NOT_EXIST,
            ReplyType.NOT_THIS_AGENCY} <= kinds
    for d in s.DEPARTMENTS:
        o = outcome(d["outcome_code"])
        assert d["dept_name"] in text, d["dept_name"]
        # the department's decision, right after its name, and its legal basis
        assert f"{d['dept_name']}：" in text
        after = text[text.index(f"{d['dept_name']}："):]
        assert o.label in after[: len(d["dept_name"]) + 40], (d["dept_name"], o.label)
        assert o.basis in after, o.basis
        assert squash(d["text"]) in text
        for m in d.get("materials", []):
            assert squash(m["title"]) in text
        for w in d.get("withheld", []):
            assert f"{w['description']}：不予公开（{outcome(w['reason_code']).label}）" in text
            assert outcome(w["reason_code"]).basis in text
            assert w["explanation"] in text
        if "responsible_agency" in d:
            ra = d["responsible_agency"]
            assert f"负责公开该信息的行政机关为{ra['name']}" in text
            assert ra["contact"]["phone"] in text
    assert f"作出“{REPLY_TYPE_LABELS[ReplyType.PARTIALLY_DISCLOSED]}”的答复" in text
    assert s.CASE_NUMBER in text and s.RECEIVED_CN in text and s.ISSUED_CN in text
    assert f"60日内向{s.REVIEW_BODY}申请行政复议" in text
    assert f"6个月内向{s.COURT}提起行政诉讼" in text


def test_pdf_embeds_a_cjk_font_and_is_a4(consolidated_pdf: bytes, tmp_path: Path) -> None:
    fonts = pdffonts(consolidated_pdf, tmp_path)
    def norm(name: str) -> str:
        return re.sub(r"[^0-9a-z]", "", name.lower())

    wanted = [norm(f) for f in CJK_FONT_FAMILIES]  # PDF names: "ABCDEF+WenQuanYi-Micro-Hei-Bold"
    cjk = [f for f in fonts if any(norm(f["name"].split("+")[-1]).startswith(w) for w in wanted)]
    assert cjk, f"no CJK font in the PDF: {fonts}"
    assert all(f["emb"] == "yes" and f["uni"] == "yes" for f in cjk), cjk
    text = pdftotext(consolidated_pdf)
    # Text is real Chinese, not tofu (U+FFFD, empty boxes, or .notdef dropped characters).
    assert "\ufffd" not in text and "□" not in text
    assert "政府信息公开申请答复书" in squash(text)
    assert len(re.findall(r"[\u4e00-\u9fff]", text)) > 800
    reader = PdfReader(io.BytesIO(consolidated_pdf))
    assert len(reader.pages) >= 2
    for page in reader.pages:  # A4: 210 × 297 mm = 595.28 × 841.89 pt
        assert round(float(page.mediabox.width)) == 595
        assert round(float(page.mediabox.height)) == 842


@pytest.mark.parametrize("doc_type", sorted(DOCUMENTS))
def test_every_document_renders_to_pdf(doc_type: str) -> None:
    ctx = s.all_samples()[doc_type]
    pdf = render_pdf(render_html(doc_type, ctx))
    text = squash(pdftotext(pdf))
    assert s.CASE_NUMBER in text and s.AGENCY_NAME in text and s.RECEIVED_CN in text
    assert "（印章）" in text and DOCUMENTS[doc_type].title in text
    assert ("6个月内" in text) is DOCUMENTS[doc_type].remedies


def test_without_a_cjk_font_rendering_fails_loudly(tmp_path: Path) -> None:
    # A fontconfig that knows only DejaVu (no CJK glyphs): the renderer must refuse, not print boxes.
    dejavu = Path("/usr/share/fonts/truetype/dejavu")
    if not dejavu.is_dir():
        pytest.fail(f"{dejavu} missing: the test needs fonts-dejavu-core (a non-CJK font)")
    conf = tmp_path / "fonts.conf"
    conf.write_text(f"<fontconfig><dir>{dejavu}</dir><cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>")
    script = textwrap.dedent(
        """
        from services.reply.documents import render_html, render_pdf, DocumentRenderError
        from tests.documents import samples as s
        html = render_html("disclosed", s.OUTCOME_SAMPLES["disclosed"])
        try:
            render_pdf(html)
        except DocumentRenderError as e:
            print("REFUSED", e)
        else:
            print("RENDERED")
        """
    )
    env = os.environ | {"FONTCONFIG_FILE": str(conf), "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("REFUSED"), out.stdout + out.stderr
    assert "fonts-wqy-microhei" in out.stdout
