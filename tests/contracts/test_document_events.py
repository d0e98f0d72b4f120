"""Issue #11: the applicant's name and address go into the documents (PDF) only, never on a shared
topic. The reply service reads them from the restricted contacts topic; what it publishes about a
document (``document.issued``, shared and audited) has no field that could carry them, a rendered
document's event does not contain them, and reply may write no restricted topic (it cannot pass
them on). The end-to-end proof on the real bus is tests/e2e/test_step_documents_e2e.py
(``no_name_on_shared_topics``)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from contracts import acl, topics
from contracts.envelope import new_event
from contracts.events import ContactRegistered
from contracts.events_documents import DocumentIssued, step_document_id

# Every field of document.issued, each of which names the document, never the person.
DOCUMENT_FIELDS = {"case_id", "tracking_number", "document_id", "kind", "title", "seq", "addressee", "issued_on",
                   "step_event_id", "step_type", "media_type", "sha256", "size"}
PERSONAL = {"name", "applicant_name", "address", "postcode", "phone", "email", "contact_person", "id_number"}


def test_document_issued_has_no_field_for_personal_data() -> None:
    assert set(DocumentIssued.model_fields) == DOCUMENT_FIELDS
    assert not PERSONAL & set(DocumentIssued.model_fields)
    assert set(DocumentIssued.model_json_schema()["properties"]) == DOCUMENT_FIELDS


def test_document_issued_travels_on_a_shared_audited_topic_and_contacts_on_a_restricted_one() -> None:
    assert not topics.DOCUMENTS_ISSUED.restricted
    assert topics.DOCUMENTS_ISSUED.event_types == ("document.issued",)
    import re
    assert re.fullmatch(topics.AUDITED_PATTERN, topics.DOCUMENTS_ISSUED.name)
    holders = [s.name for s in topics.STATIC_TOPICS if ContactRegistered.event_name in s.event_types]
    assert holders == [topics.PRIVATE_CONTACTS.name] and topics.PRIVATE_CONTACTS.restricted


def test_reply_reads_the_contacts_but_writes_no_restricted_topic() -> None:
    table = acl.acls(["zrzy"])
    assert acl.allowed(table, "svc-reply", acl.READ, acl.TOPIC, topics.PRIVATE_CONTACTS.name)
    for spec in topics.with_dead_letters(list(topics.STATIC_TOPICS)):
        if spec.restricted and not spec.name.endswith(".dlt"):
            assert not acl.allowed(table, "svc-reply", acl.WRITE, acl.TOPIC, spec.name), spec.name
    assert acl.allowed(table, "svc-reply", acl.WRITE, acl.TOPIC, topics.DOCUMENTS_ISSUED.name)
    assert not acl.allowed(table, "svc-audit", acl.READ, acl.TOPIC, topics.PRIVATE_CONTACTS.name)


def test_a_document_issued_event_carries_the_hash_not_the_name() -> None:
    name, address = "欧阳明远", "昆明市五华区翠湖南路8号"
    event = new_event(DocumentIssued(
        case_id="c1", tracking_number="YN-20261202-00001", document_id=step_document_id("e1"),
        kind="acceptance_receipt", title="政府信息公开申请受理回执", addressee="applicant", issued_on=date(2026, 12, 2),
        step_event_id="e1", step_type="cn.gongkai.application.received.v1", sha256="0" * 64, size=1),
        source="/gongkai/reply", subject="c1", event_id="d1", time=datetime.now(UTC))
    raw = json.dumps(event.model_dump(mode="json"), ensure_ascii=False)
    assert name not in raw and address not in raw
