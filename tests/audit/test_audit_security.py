"""The audit service's side of the trust boundary, against the built app over a private real store:
officers by verified token only, the applicant's timeline behind a well-formed query code with
failed attempts limited per tracking number and per client (shared by every instance), bounded
integers, no control characters, RFC 6266 file names, 404 for unknown cases, and no start in
production without its secrets."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
import uuid
from urllib.parse import unquote

import pytest

from servicekit.http import content_disposition
from services.audit.app import build
from services.audit.public_timeline import query_code
from services.audit.settings import AuditSettings
from tests import tokens
from tests.audit.factory import case_events, raw
from tests.audit.service import AUDITOR, OGI, SECRET, audit_service

TRACKING = "YN-20260302-00001"  # case-00001 of tests/audit/factory.py
BIG = str(2**63)
CODE = query_code(SECRET, "case-00001")


@contextlib.asynccontextmanager
async def recorded(store_url, monkeypatch, **kw):  # noqa: ANN001, ANN003, ANN202 - a service with two cases
    async with audit_service(store_url, monkeypatch, **kw) as svc:
        if kw.get("db_name") is None or not await svc.ledger.entries.count_documents({}):
            for n in (1, 2):
                for i, (topic, ev) in enumerate(case_events(n)):
                    await svc.ledger.append(ev, raw(ev), topic, 0, i)
        yield svc


@pytest.fixture
async def svc(store, monkeypatch):  # noqa: ANN001, ANN201, F811
    async with recorded(store.url, monkeypatch, headers={}) as s:
        yield s


def timeline(number: str = TRACKING) -> str:
    return f"/public/cases/{number}/timeline"


# ------------------------------------------------------------------ officers: tokens only

OFFICER_ROUTES = [
    ("GET", "/cases/case-00001/timeline", "dept_officer"),
    ("GET", "/cases/case-00001/file", "ogi_officer"),  # auditors only
    ("GET", "/ledger/export", "ogi_head"),  # auditors only
    ("POST", "/checkpoints", "dept_reviewer"),
    ("GET", "/ledger/verify", "directory_admin"),
    ("GET", "/statistics/annual?year=2026", "dept_officer"),
    ("GET", "/statistics/red-black?quarter=2026Q3", "dept_reviewer"),
    ("GET", "/statistics/satisfaction?quarter=2026Q3", "directory_admin"),
    ("GET", "/cases/case-00001/remedies", "ogi_head"),
    ("POST", "/cases/case-00001/remedies", "auditor"),  # auditors read, OGI officers record
]


@pytest.mark.parametrize(("method", "path", "wrong_role"), OFFICER_ROUTES)
async def test_officer_routes_need_a_token_with_the_role(svc, method, path, wrong_role):
    body = {"kind": "review", "filed_on": "2026-04-01"} if method == "POST" and "remedies" in path else None
    no_token = await svc.http.request(method, path, json=body)
    assert no_token.status_code == 401 and no_token.headers["www-authenticate"].startswith("Bearer")
    # The old shared officer token (AUDIT_OFFICER_TOKEN) and identity headers count for nothing.
    old = await svc.http.request(method, path, json=body,
                                 headers={"Authorization": "Bearer e2e-officer-token", "X-User": "chen",
                                          "X-Role": "auditor"})
    assert old.status_code == 401
    wrong = await svc.http.request(method, path, json=body, headers=tokens.bearer(wrong_role, department="czt"))
    assert wrong.status_code == 403 and "无权" in wrong.json()["detail"]
    expired = {"Authorization": f"Bearer {tokens.token('auditor', 'ogi_officer', lifetime=-120)}"}
    assert (await svc.http.request(method, path, json=body, headers=expired)).status_code == 401
    right = tokens.bearer("ogi_officer" if method == "POST" and "remedies" in path else "auditor")
    assert (await svc.http.request(method, path, json=body, headers=right)).status_code in (200, 201)


async def test_every_route_naming_an_unknown_case_is_404(svc):
    for path in ("/cases/no-such-case/timeline", "/cases/no-such-case/file", "/cases/no-such-case/remedies"):
        assert (await svc.http.get(path, headers=AUDITOR)).status_code == 404, path
    resp = await svc.http.post("/cases/no-such-case/remedies", headers=OGI,
                               json={"kind": "review", "filed_on": "2026-04-01"})
    assert resp.status_code == 404
    assert (await svc.http.get("/proofs/inclusion", params={"event_id": "nope"})).status_code == 404


# ------------------------------------------------------------------ the applicant's timeline

@pytest.mark.parametrize("bad", ["12345678", "0123456789A", "0123456789ABC", "0123456789AU", "0123456789A*",
                                 "0123456789A\x00"])
async def test_a_malformed_query_code_is_422_and_not_a_lookup(svc, bad):
    for _ in range(7):  # more than the limit: malformed codes are not counted
        resp = await svc.http.get(timeline(), params={"query_code": bad})
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["field"] == "query_code"
    assert (await svc.http.get(timeline(), params={"query_code": CODE})).status_code == 200


async def test_unknown_number_and_wrong_code_answer_alike(svc):
    wrong = await svc.http.get(timeline(), params={"query_code": query_code(SECRET, "case-00002")})
    unknown = await svc.http.get(timeline("YN-19990101-00001"), params={"query_code": CODE})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json() == {"detail": "受理编号或查询码不正确"}


async def test_the_sixth_wrong_code_is_429_with_retry_after(store, monkeypatch):  # noqa: F811
    wrong = query_code(SECRET, "case-99999")
    async with recorded(store.url, monkeypatch, client=("203.0.113.9", 4000)) as svc:
        for _ in range(5):
            assert (await svc.http.get(timeline(), params={"query_code": wrong})).status_code == 404
        sixth = await svc.http.get(timeline(), params={"query_code": wrong})
        assert sixth.status_code == 429
        retry = int(sixth.headers["retry-after"])
        assert 0 < retry <= 15 * 60
        assert "次数过多" in sixth.json()["detail"] and "分钟" in sixth.json()["detail"]
        # Locked means locked: the right code is not tried either (else the lock would still leak it).
        assert (await svc.http.get(timeline(), params={"query_code": CODE})).status_code == 429
        # Per client: this client is locked on another number too.
        assert (await svc.http.get(timeline("YN-20260302-00002"),
                                   params={"query_code": query_code(SECRET, "case-00002")})).status_code == 429
        db_name = svc.db.name
        # Per tracking number: another client (another instance, same store) is locked on it too,
        # but can open another case with its code.
        async with recorded(store.url, monkeypatch, db_name=db_name, client=("198.51.100.7", 4000)) as other:
            assert (await other.http.get(timeline(), params={"query_code": CODE})).status_code == 429
            ok = await other.http.get(timeline("YN-20260302-00002"),
                                      params={"query_code": query_code(SECRET, "case-00002")})
            assert ok.status_code == 200


async def test_two_instances_count_failures_together(store, monkeypatch):  # noqa: F811
    wrong = query_code(SECRET, "case-99999")
    async with recorded(store.url, monkeypatch) as a:
        async with recorded(store.url, monkeypatch, db_name=a.db.name, client=("198.51.100.7", 1)) as b:
            # Three failures on one instance and two on the other, each from its own client: the
            # tracking number has had five.
            for inst, n in ((a, 3), (b, 2)):
                for _ in range(n):
                    assert (await inst.http.get(timeline(), params={"query_code": wrong})).status_code == 404
            assert (await a.http.get(timeline(), params={"query_code": CODE})).status_code == 429
            assert (await b.http.get(timeline(), params={"query_code": CODE})).status_code == 429


def test_query_code_is_at_least_ten_characters_of_an_unambiguous_alphabet():
    codes = {query_code(SECRET, f"case-{i}") for i in range(300)}
    assert len(codes) == 300
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{10,}", c) for c in codes)
    # Keyed: the code is not a function of the case id alone.
    assert query_code("another-deployment", "case-1") != query_code(SECRET, "case-1")
    assert query_code(SECRET, "case-1") != hmac.new(b"", b"case-1", hashlib.sha256).hexdigest()[:12].upper()


# ------------------------------------------------------------------ input

INTEGER_PARAMS = [
    f"/checkpoints/{BIG}",
    f"/ledger/export?tree_size={BIG}",
    f"/proofs/consistency?first={BIG}",
    f"/proofs/consistency?first=1&second={BIG}",
    f"/proofs/inclusion?event_id=x&tree_size={BIG}",
    f"/statistics/annual?year={BIG}",
    f"/statistics/quarterly?year={BIG}",
    f"/statistics/on-time?year={BIG}",
    f"/statistics/heatmap?year={BIG}",
    f"/statistics/repeated-requests?min_applicants={BIG}",
    "/checkpoints/-1",
]


@pytest.mark.parametrize("path", INTEGER_PARAMS)
async def test_out_of_range_integers_are_422(svc, path):
    resp = await svc.http.get(path, headers=AUDITOR)
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"] and resp.json()["detail"]


async def test_the_largest_integer_accepted_is_a_lookup_not_a_crash(svc):
    assert (await svc.http.get(f"/checkpoints/{2**53 - 1}")).status_code == 404
    assert (await svc.http.get(f"/checkpoints/{2**53}")).status_code == 422


@pytest.mark.parametrize(("method", "path", "kw", "field"), [
    ("POST", "/cases/case-00001/remedies", {"json": {"kind": "review", "filed_on": "2026-04-01",
                                                      "note": "复议\x00申请"}}, "note"),
    ("POST", "/cases/case-00001/remedies", {"json": {"kind": "review", "filed_on": "2026-04-01",
                                                      "authority": "省政府\x1b[2J"}}, "authority"),
    ("GET", "/statistics/annual", {"params": {"year": 2026, "agency": "yn\x00gov"}}, "agency"),
    ("GET", "/cases/case%00-00001/timeline", {}, "case_id"),
    ("GET", "/proofs/inclusion", {"params": {"event_id": "e\x00"}}, "event_id"),
])
async def test_control_characters_are_422_naming_the_field(svc, method, path, kw, field):
    resp = await svc.http.request(method, path, headers=OGI, **kw)
    assert resp.status_code == 422, resp.text
    assert any(e["field"] == field for e in resp.json()["errors"]), resp.json()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_a_non_ascii_agency_in_a_download_is_200_with_an_rfc_6266_name(svc, fmt):
    agency = "云南省人民政府办公厅"
    resp = await svc.http.get("/statistics/annual", params={"year": 2026, "agency": agency, "format": fmt},
                              headers=AUDITOR)
    assert resp.status_code == 200
    header = resp.headers["content-disposition"]
    header.encode("latin-1")  # what an HTTP header can carry
    m = re.fullmatch(r'attachment; filename="([\x20-\x7e]+)"; filename\*=UTF-8\'\'([A-Za-z0-9%!#$&+.^_`|~-]+)', header)
    assert m, header
    assert unquote(m.group(2)) == f"annual-{agency}-2026.{fmt}"
    assert m.group(1).endswith(f"-2026.{fmt}") and '"' not in m.group(1)


def test_content_disposition_keeps_ascii_names_plain_and_encodes_the_rest():
    assert content_disposition("attachment", "ledger-27.json") == 'attachment; filename="ledger-27.json"'
    value = content_disposition("attachment", 'case-"年报"\\1.zip')
    value.encode("latin-1")
    assert value.startswith('attachment; filename="case-_') and "filename*=UTF-8''case-%22%E5%B9%B4" in value
    assert unquote(value.split("''", 1)[1]) == 'case-"年报"\\1.zip'


async def test_the_case_file_and_the_export_carry_their_names(svc):
    file = await svc.http.get("/cases/case-00001/file", headers=AUDITOR)
    assert file.headers["content-disposition"] == f'attachment; filename="case-{TRACKING}.zip"'
    export = await svc.http.get("/ledger/export", headers=AUDITOR)
    assert re.fullmatch(r'attachment; filename="ledger-\d+\.json"', export.headers["content-disposition"])


# ------------------------------------------------------------------ secrets

def test_production_refuses_to_start_without_its_secrets(monkeypatch, tmp_path):
    for k, v in tokens.oidc_env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GONGKAI_ENV", "production")
    monkeypatch.setenv("GONGKAI_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("GONGKAI_MONGO_URL", "mongodb://127.0.0.1:1")  # never contacted
    monkeypatch.setenv("GONGKAI_KAFKA_USERNAME", "svc-audit")  # the runtime's own secrets are given
    monkeypatch.setenv("GONGKAI_KAFKA_PASSWORD", "k" * 32)
    with pytest.raises(SystemExit) as refused:
        build(AuditSettings(db_name=f"x{uuid.uuid4().hex[:6]}"))
    assert "AUDIT_QUERY_CODE_SECRET" in str(refused.value) and "AUDIT_SIGNING_KEY" in str(refused.value)
    # The development value of the repository is no secret either; and with a secret but no key,
    # it still refuses — and creates no key in the run directory.
    with pytest.raises(SystemExit) as refused:
        build(AuditSettings(query_code_secret="local-dev-only-secret", signing_key="x" * 44))
    assert "AUDIT_QUERY_CODE_SECRET" in str(refused.value)
    with pytest.raises(SystemExit) as refused:
        build(AuditSettings(query_code_secret="q" * 32))
    assert "AUDIT_SIGNING_KEY" in str(refused.value) and "AUDIT_QUERY_CODE_SECRET" not in str(refused.value)
    assert not (tmp_path / "audit-signing.key").exists()
    # A key file named but missing is not created in production either.
    from services.audit.keys import KeyProblem

    with pytest.raises(KeyProblem):
        build(AuditSettings(query_code_secret="q" * 32, key_file=str(tmp_path / "missing.key")))
    assert not (tmp_path / "missing.key").exists()
    # With both, it builds.
    seed = base64.b64encode(bytes(range(32))).decode()
    assert build(AuditSettings(query_code_secret="q" * 32, signing_key=seed)).state.limiter is not None
