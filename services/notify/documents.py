"""The document a notice carries (issue #11): the PDF of the step it tells of, attached to the e-mail.

Which document: the reply service renders one per step event and stores it under
``contracts.events_documents.step_document_id(event id)``; the reply and each amendment under the
``document_id`` their events carry (``document_of``). The bytes are fetched from the reply service
when the e-mail is sent, with a link signed with the secret the two services share
(``servicekit.doclinks``; ``NOTIFY_DOCUMENT_LINK_SECRET`` = ``REPLY_DOCUMENT_LINK_SECRET``), and
checked against the SHA-256 the reply service states. A document not rendered yet is waited for
(``NOTIFY_DOCUMENT_PATIENCE_SECONDS``); after that the notice goes without it (logged).
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from contracts.envelope import CloudEvent
from contracts.events import ApplicationReceived, ReplyAmended, ReplyIssued
from contracts.events_documents import step_document_id
from contracts.events_procedure import ApplicationAbandoned, CorrectionRequested, ExtensionApproved, FeeNoticeIssued
from contracts.events_routing import ReferralRecorded
from servicekit import doclinks

log = structlog.get_logger()


def document_of(event: CloudEvent[Any]) -> str | None:
    """The id of the document the applicant's notice of this event carries, if the step has one
    (the same rule as the reply service's: services/reply/step_documents.py ``step_of``)."""
    d = event.data
    if isinstance(d, (ReplyIssued, ReplyAmended)):
        return d.document_id
    if isinstance(d, FeeNoticeIssued) and d.amount_yuan <= 0:
        return None
    if isinstance(d, (ApplicationReceived, CorrectionRequested, ExtensionApproved, ApplicationAbandoned,
                      FeeNoticeIssued, ReferralRecorded)):
        return step_document_id(event.id)
    return None


@dataclass(frozen=True)
class Attachment:
    document_id: str
    filename: str
    data: bytes
    sha256: str
    media_type: str = "application/pdf"

    def meta(self) -> dict[str, Any]:
        return {"document_id": self.document_id, "filename": self.filename, "sha256": self.sha256,
                "size": len(self.data)}


def _filename(disposition: str, document_id: str) -> str:
    m = re.search(r"filename\*=UTF-8''([^;]+)", disposition or "", re.I)
    if m:
        return urllib.parse.unquote(m.group(1))
    m = re.search(r'filename="?([^";]+)"?', disposition or "")
    return m.group(1) if m else f"{document_id}.pdf"


class DocumentFetcher:
    def __init__(self, base_url: str, secret: str, timeout: float = 10.0) -> None:
        self.base_url, self.secret = base_url.rstrip("/"), secret
        self.client = httpx.AsyncClient(timeout=timeout, trust_env=False, follow_redirects=False)

    async def fetch(self, document_id: str) -> Attachment | None:
        """The document's PDF, or None if it is not there (yet) or the reply service is unreachable."""
        url = f"{self.base_url}/service/documents/{urllib.parse.quote(document_id, safe='')}"
        try:
            resp = await self.client.get(url, headers={doclinks.HEADER: doclinks.sign(self.secret, document_id)})
        except httpx.HTTPError as exc:
            log.warning("document_fetch_failed", document_id=document_id, error=repr(exc))
            return None
        if resp.status_code != 200 or resp.headers.get("content-type", "").split(";")[0] != "application/pdf":
            return None
        sha = hashlib.sha256(resp.content).hexdigest()
        stated = resp.headers.get("x-content-sha256")
        if stated and stated != sha:
            log.warning("document_hash_mismatch", document_id=document_id, stated=stated, got=sha)
            return None
        return Attachment(document_id, _filename(resp.headers.get("content-disposition", ""), document_id),
                          resp.content, sha)

    async def close(self) -> None:
        await self.client.aclose()
