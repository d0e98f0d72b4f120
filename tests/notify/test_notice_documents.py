"""Each applicant notice carries the document of its step (issue #11), on the real local store:
the e-mail goes with the PDF the reply service rendered for that event (by the id both derive from
the event), waits while the document is not rendered yet, and goes without it once the patience is
spent (logged); the webhook does not wait. The e-mail's attachment is a proper MIME part."""

from __future__ import annotations

import email
import email.policy
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from contracts.events_documents import step_document_id
from services.notify.documents import Attachment, document_of
from services.notify.notices import Dispatcher
from services.notify.senders import SmtpSender
from tests.notify import samples as s

PDF = b"%PDF-1.7\n% a step's document\n%%EOF\n"


@dataclass
class FakeDocuments:
    """The reply service's documents: id -> bytes (what is rendered so far)."""

    have: dict[str, bytes] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def fetch(self, document_id: str) -> Attachment | None:
        self.asked.append(document_id)
        data = self.have.get(document_id)
        if data is None:
            return None
        return Attachment(document_id, "政府信息公开申请补正告知书-YN-1.pdf", data, hashlib.sha256(data).hexdigest())


@dataclass
class AttachingSmtp:
    sent: list[dict] = field(default_factory=list)
    two_phase = True

    async def send(self, *, to: str, subject: str, body: str, notice_id: str, commit, attachments=()) -> str:  # noqa: ANN001
        await commit()
        self.sent.append({"to": to, "subject": subject, "attachments": list(attachments), "id": notice_id})
        return "250 ok"


def dispatcher(env, docs: FakeDocuments, smtp: AttachingSmtp, **settings: object) -> Dispatcher:  # noqa: ANN001
    return Dispatcher(env.store, env.settings.model_copy(update=settings), smtp, env.webhook, lambda: None,
                      owner="notify-test", documents=docs)


async def drain(d: Dispatcher) -> None:
    while await d.run_once():
        pass


async def start(env, docs: FakeDocuments) -> None:  # noqa: ANN001
    """The applicant's contact and the case's receipt (its document rendered): the first notice."""
    await env.handlers.on_contact(s.ev(s.contact(), "contact"))
    received = s.ev(s.received(), "received")
    docs.have[step_document_id(received.id)] = b"%PDF-1.7 receipt"
    await env.handlers.on_received(received)


def of_kind(env_notices: list[dict], smtp: AttachingSmtp, kind: str) -> list[dict]:
    ids = {f"{n['_id']}:email" for n in env_notices if n["kind"] == kind}
    return [m for m in smtp.sent if m["id"] in ids]


async def test_the_correction_notice_carries_its_document_once_it_is_rendered(env) -> None:
    docs, smtp = FakeDocuments(), AttachingSmtp()
    d = dispatcher(env, docs, smtp)
    await start(env, docs)
    event = s.ev(s.correction(), "correction.requested")
    await env.handlers.on_procedure(event)
    [notice] = [n for n in await env.notices() if n["kind"] == "correction_requested"]
    assert notice["document_id"] == step_document_id(event.id) == document_of(event)

    await drain(d)
    assert of_kind(await env.notices(), smtp, "correction_requested") == []  # not rendered yet: it waits
    assert len(of_kind(await env.notices(), smtp, "received")) == 1
    assert notice["document_id"] in docs.asked
    assert len(env.webhook.sent) == 2  # the webhooks do not carry it, and do not wait
    waiting = (await env.store.notices.find_one({"_id": notice["_id"]}))["deliveries"]["email"]
    assert waiting["status"] == "pending" and waiting["awaiting_document"] == notice["document_id"]

    docs.have[notice["document_id"]] = PDF
    await env.store.notices.update_one({"_id": notice["_id"]}, {"$set": {"deliveries.email.retry_at": None,
                                                                          "next_at": datetime.now(UTC)}})
    await drain(d)
    [mail] = of_kind(await env.notices(), smtp, "correction_requested")
    assert [a.data for a in mail["attachments"]] == [PDF]
    delivered = (await env.store.notices.find_one({"_id": notice["_id"]}))["deliveries"]["email"]
    assert delivered["status"] == "delivered"
    assert delivered["attachment"] == {"document_id": notice["document_id"], "filename": "政府信息公开申请补正告知书-YN-1.pdf",
                                       "sha256": hashlib.sha256(PDF).hexdigest(), "size": len(PDF)}


async def test_without_its_document_after_the_patience_the_notice_goes_anyway(env) -> None:
    docs, smtp = FakeDocuments(), AttachingSmtp()
    d = dispatcher(env, docs, smtp, document_patience_seconds=0.0)
    await start(env, docs)
    await env.handlers.on_procedure(s.ev(s.extension(), "extension.approved"))
    await drain(d)
    [mail] = of_kind(await env.notices(), smtp, "extension_approved")
    assert mail["attachments"] == []
    [receipt] = of_kind(await env.notices(), smtp, "received")
    assert len(receipt["attachments"]) == 1  # the one that was rendered went with its notice


async def test_the_reply_notice_carries_the_reply_document(env) -> None:
    reply = s.ev(s.reply().model_copy(update={"document_id": "doc-reply-1"}), "reply.issued")
    assert document_of(reply) == reply.data.document_id
    docs, smtp = FakeDocuments({reply.data.document_id: PDF}), AttachingSmtp()
    d = dispatcher(env, docs, smtp)
    await start(env, docs)
    await env.handlers.on_reply(reply)
    await drain(d)
    [mail] = of_kind(await env.notices(), smtp, "reply_issued")
    assert [a.document_id for a in mail["attachments"]] == [reply.data.document_id]


def test_each_abandonment_carries_its_notice() -> None:
    # Both reasons have their 视为放弃申请告知书 (Art. 30 correction, Art. 42 fee): one document id per event.
    unpaid = s.ev(s.abandoned().model_copy(update={"reason": "fee_unpaid"}), "application.abandoned")
    overdue = s.ev(s.abandoned(), "application.abandoned")
    assert document_of(unpaid) == step_document_id(unpaid.id)
    assert document_of(overdue) == step_document_id(overdue.id)


def test_the_email_has_the_pdf_as_an_attachment_with_its_chinese_name() -> None:
    sender = SmtpSender("127.0.0.1", 25, "gongkai@localhost", 5)
    att = Attachment("d1", "政府信息公开申请受理回执-YN-20261202-00001.pdf", PDF, hashlib.sha256(PDF).hexdigest())
    msg = sender.message(to="a@example.com", subject="政府信息公开申请已登记", body="您的申请已登记。",
                         notice_id="n1:email", attachments=[att])
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    [part] = list(parsed.iter_attachments())
    assert part.get_content_type() == "application/pdf"
    assert part.get_filename() == "政府信息公开申请受理回执-YN-20261202-00001.pdf"
    assert part.get_payload(decode=True) == PDF
    assert parsed.get_body(preferencelist=("plain",)).get_content().strip() == "您的申请已登记。"


def delivered_events(notice: dict) -> dict[str, dict]:
    """The notice's notice.delivered events (its outbox), by channel."""
    import json

    events = [json.loads(r["value"])["data"] for r in notice.get("outbox", [])]
    return {e["channel"]: e for e in events if e["notice_id"].startswith(notice["_id"])}


async def test_an_email_names_its_document_as_served_only_when_it_carried_it(env) -> None:
    # An e-mail that went without its PDF (the patience spent) told the applicant of the step but
    # served nothing: its notice.delivered names no document; the one that carried its PDF does.
    docs, smtp = FakeDocuments(), AttachingSmtp()
    d = dispatcher(env, docs, smtp, document_patience_seconds=0.0)
    await start(env, docs)
    await env.handlers.on_procedure(s.ev(s.extension(), "extension.approved"))
    await drain(d)
    notices = {n["kind"]: n for n in await env.notices()}
    without, carried = notices["extension_approved"], notices["received"]
    assert without["document_id"] and "attachment" not in without["deliveries"]["email"]
    assert delivered_events(without)["email"]["document_id"] is None
    assert carried["deliveries"]["email"]["attachment"]["document_id"] == carried["document_id"]
    assert delivered_events(carried)["email"]["document_id"] == carried["document_id"]


async def test_a_retry_without_the_document_does_not_keep_an_earlier_attempts_attachment(env) -> None:
    class RefusesOnce(AttachingSmtp):
        async def send(self, **kw):  # noqa: ANN003, ANN202
            if not getattr(self, "refused", False):
                self.refused = True
                raise ConnectionError("451 try again later (simulated)")  # nothing taken
            return await super().send(**kw)

    docs, smtp = FakeDocuments(), RefusesOnce()
    d = dispatcher(env, docs, smtp, document_patience_seconds=0.0)
    await start(env, docs)
    await d.run_once()  # claimed with its PDF, refused by the server
    [notice] = await env.notices()
    assert notice["deliveries"]["email"]["status"] == "pending"
    assert notice["deliveries"]["email"]["attachment"]["document_id"] == notice["document_id"]
    docs.have.clear()  # the document cannot be fetched now: the retry goes without it
    await drain(d)
    [after] = await env.notices()
    [mail] = smtp.sent
    assert mail["attachments"] == [] and after["deliveries"]["email"]["status"] == "delivered"
    assert "attachment" not in after["deliveries"]["email"]
    assert delivered_events(after)["email"]["document_id"] is None
