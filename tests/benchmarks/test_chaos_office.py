"""The chaos harness's OGI-office step (benchmarks/chaos.py): after the load it resolves every
e-mail left ``uncertain`` as the office does - its Message-ID in the SMTP sink's log: ``sent``,
not there: ``resend`` - over notify's API (any instance, retried while one restarts), waits until
each is delivered and reports what is still uncertain. Here against an in-memory notify behind
httpx's MockTransport (the real one: tests/e2e/test_zz_chaos.py)."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import httpx

from benchmarks.chaos import RESEND_NOTE, SENT_NOTE, Options, Run, chaos_config, message_id_key, office_findings


def row(case: str, mid: str | None, channel: str = "email") -> dict[str, Any]:
    return {"case_id": case, "notice_id": f"n-{case}", "channel": channel, "kind": "reply",
            "recipient": f"{case}@example.com", "message_id": mid, "subject": "已答复"}


def test_findings_look_the_message_id_up_in_the_sinks_log() -> None:
    mails = [{"message_id": "<n-a.email@gongkai>", "to": ["a@example.com"]}, {"message_id": None, "to": ["x"]}]
    found = office_findings([row("a", "n-a.email@gongkai"), row("b", "<n-b.email@gongkai>"), row("c", None),
                             row("d", "<n-d.webhook>", channel="webhook")], mails)
    assert [f["outcome"] for f in found] == ["sent", "resend", "resend", None]
    assert found[0]["case_id"] == "a" and found[0]["notice_id"] == "n-a" and found[0]["channel"] == "email"
    assert message_id_key(" <x@y> ") == "x@y" == message_id_key("x@y")
    assert office_findings([], mails) == []


class FakeNotify:
    """notify's three calls the office step uses, on two instances of one store; the first
    resolution call of each notice gets a 503 (an instance restarting)."""

    def __init__(self, cfg, uncertain: list[dict[str, Any]], stuck: set[str] = frozenset()) -> None:  # noqa: ANN001
        self.ports = {cfg.port(p): p for p in cfg.instances("notify")}
        self.uncertain = {r["notice_id"]: dict(r) for r in uncertain}
        self.status = {nid: "uncertain" for nid in self.uncertain}
        self.polls: dict[str, int] = {}
        self.stuck = stuck  # resent, never delivered
        self.calls: list[tuple[str, str, str, Any]] = []
        self.failed_once: set[str] = set()

    def __call__(self, req: httpx.Request) -> httpx.Response:
        assert req.headers["authorization"] == "Bearer token-of-ogi-officer"
        inst = self.ports[req.url.port]
        body = json.loads(req.content) if req.content else None
        self.calls.append((inst, req.method, req.url.path, body))
        parts = req.url.path.strip("/").split("/")
        if req.url.path == "/notices/uncertain":
            return httpx.Response(200, json={"deliveries": [r for nid, r in self.uncertain.items()
                                                            if self.status[nid] == "uncertain"]})
        if parts[0] == "notices" and parts[-1] == "resolution":
            nid = parts[1]
            if nid not in self.failed_once:
                self.failed_once.add(nid)
                return httpx.Response(503, json={"detail": "restarting"})
            if self.status[nid] != "uncertain":
                return httpx.Response(409, json={"detail": "该投递目前不是“结果不确定”状态"})
            self.status[nid] = "delivered" if body["outcome"] == "sent" else "pending"
            return httpx.Response(200, json={"status": self.status[nid]})
        if parts[0] == "cases":
            nid = f"n-{parts[1]}"
            self.polls[nid] = self.polls.get(nid, 0) + 1
            if self.status[nid] == "pending" and self.polls[nid] >= 2 and nid not in self.stuck:
                self.status[nid] = "delivered"  # the dispatcher sent it again
            return httpx.Response(200, json={"case_id": parts[1], "notices": [
                {"notice_id": nid, "kind": "reply", "deliveries": {"email": {"status": self.status[nid]}}}]})
        return httpx.Response(404)


def office_run(fake_rows: list[dict[str, Any]], mails: list[dict[str, Any]], stuck: set[str] = frozenset(),
               resolve_timeout: float = 30.0) -> tuple[dict[str, Any], FakeNotify, list[str]]:
    cfg = chaos_config(Path(tempfile.mkdtemp(prefix="gk-office-")), replicas=2)
    fake = FakeNotify(cfg, fake_rows, stuck)
    run = Run.__new__(Run)  # only what the office step uses
    run.cfg, run.opts, run.log_lines = cfg, Options(resolve_timeout=resolve_timeout, answer_deadline=5), []
    run.stack = type("S", (), {"token": staticmethod(lambda who: f"token-of-{who}")})()
    run.mail = type("M", (), {"messages": mails})()
    run.log = run.log_lines.append

    async def go() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
            return await run.resolve_uncertain(http)
    return asyncio.run(go()), fake, run.log_lines


def test_found_is_resolved_sent_missing_is_resent_and_both_end_delivered() -> None:
    rows = [row("a", "<n-a.email@gk>"), row("b", "<n-b.email@gk>")]
    out, fake, log = office_run(rows, [{"message_id": "<n-a.email@gk>", "to": ["a@example.com"]}])
    assert (out["uncertain"], out["sent"], out["resent"], out["delivered"]) == (2, 1, 1, 2)
    assert out["still_uncertain"] == [] and out["errors"] == []
    posts = [c for c in fake.calls if c[1] == "POST"]
    # each resolution: a 503 from one instance, then the other instance's answer
    assert [(p[0], p[2]) for p in posts] == [("notify", "/notices/n-a/deliveries/email/resolution"),
                                             ("notify-2", "/notices/n-a/deliveries/email/resolution"),
                                             ("notify", "/notices/n-b/deliveries/email/resolution"),
                                             ("notify-2", "/notices/n-b/deliveries/email/resolution")]
    assert posts[1][3] == {"outcome": "sent", "note": SENT_NOTE} == {"outcome": "sent",
                                                                      "note": "chaos harness: found in the sink's log"}
    assert posts[3][3] == {"outcome": "resend", "note": RESEND_NOTE}
    assert {r["case_id"]: r["status"] for r in out["rows"]} == {"a": "delivered", "b": "delivered"}
    assert "2 uncertain deliveries; resolved sent 1" in log[-1] and "still uncertain 0" in log[-1]


def test_nothing_uncertain_is_one_call() -> None:
    out, fake, _ = office_run([], [])
    assert (out["uncertain"], out["sent"], out["resent"], out["still_uncertain"]) == (0, 0, 0, [])
    assert [c[2] for c in fake.calls] == ["/notices/uncertain", "/notices/uncertain"]


def test_what_stays_uncertain_or_undelivered_is_reported_with_its_case() -> None:
    rows = [row("w", "<n-w.webhook>", channel="webhook"), row("s", "<n-s.email@gk>")]
    out, _, _ = office_run(rows, [], stuck={"n-s"}, resolve_timeout=2.0)
    assert out["still_uncertain"] == [{"case_id": "w", "notice_id": "n-w", "channel": "webhook",
                                       "message_id": "<n-w.webhook>"}]
    assert (out["resent"], out["delivered"]) == (1, 0)
    assert next(r for r in out["rows"] if r["case_id"] == "s")["status"] == "pending"


def test_a_webhook_redelivered_under_its_id_is_measured_not_a_duplicate() -> None:
    from benchmarks.chaos import extra_copies

    assert extra_copies("webhook", ["w1", "w1"]) == (1, 0, 1)  # a Standard Webhooks receiver drops it
    assert extra_copies("webhook", ["w1", "w2"]) == (0, 1, 0)  # another id: a duplicate a receiver keeps
    assert extra_copies("webhook", ["w1", "w1", "w2"]) == (1, 1, 0)
    assert extra_copies("mail", ["m1", "m1"]) == (1, 0, 0)  # a person reads both e-mails
    assert extra_copies("mail", ["m1"]) == (0, 0, 0)
