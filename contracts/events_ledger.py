"""Events of the ledger capability (see the issue that introduced them).

Add event models here (subclasses of contracts.envelope.EventData, past-tense facts); list each in
EVENTS so that contracts.events.REGISTRY, the JSON Schema export and the audit ledger know them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field, model_validator

from contracts.envelope import EventData
from contracts import topics


class CheckpointSigned(EventData):
    """The audit service signed a checkpoint of its ledger (RFC 9162 Merkle tree): anyone holding
    the public key can check it, and later ones, with inclusion and consistency proofs."""

    event_name = "ledger.checkpoint.signed"

    origin: str = Field(description="The log's name, first line of the checkpoint")
    tree_size: int = Field(ge=0, description="Number of leaves (ledger entries) covered")
    root_hash: str = Field(description="Merkle tree root of the first tree_size leaves, base64")
    signed_at: datetime
    key_id: str = Field(description="Signed-note key id of the signing key, hex (4 bytes)")
    note: str = Field(description="The whole signed checkpoint (C2SP tlog-checkpoint, signed note)")


RemedyKind = Literal["review", "litigation"]
# 未经复议直接起诉 / 复议后起诉 (litigation only).
LitigationRoute = Literal["direct", "after_review"]
# 结果维持 / 结果纠正 / 其他结果 (a decided remedy).
RemedyResult = Literal["upheld", "corrected", "other"]


class RemedyRecorded(EventData):
    """An OGI officer recorded an administrative review (行政复议) or a lawsuit (行政诉讼) about a
    case: its filing (``stage`` "filed"), later its outcome (``stage`` "decided", with ``result``).
    Published by the audit service (via its outbox) on ``gongkai.cases.remedies``; the ledger
    records it like every other event, and the annual report's table 四 is computed from it.

    ``remedy_id`` names one review or lawsuit; both events of it carry the same filing facts."""

    event_name = "remedy.recorded"

    remedy_id: str = Field(min_length=1, max_length=80)
    case_id: str
    tracking_number: str | None = None
    agency_code: str
    kind: RemedyKind = Field(description="review: 行政复议; litigation: 行政诉讼")
    route: LitigationRoute | None = Field(
        default=None, description="litigation only: direct (未经复议直接起诉) or after_review (复议后起诉)")
    stage: Literal["filed", "decided"]
    filed_on: date
    authority: str = Field(default="", max_length=200, description="复议机关 or court")
    result: RemedyResult | None = Field(default=None, description="decided only: 维持 / 纠正 / 其他")
    decided_on: date | None = None
    note: str = Field(default="", max_length=2000)
    recorded_by: str = Field(description="The officer who recorded it (display name of the verified token)")
    recorded_by_subject: str | None = Field(default=None, description="That officer's subject (OIDC ``sub``)")

    @model_validator(mode="after")
    def _consistent(self) -> RemedyRecorded:
        if (self.kind == "litigation") != (self.route is not None):
            raise ValueError("route is required for litigation and only for it")
        if (self.stage == "decided") != (self.result is not None and self.decided_on is not None):
            raise ValueError("result and decided_on are required when decided and only then")
        if self.decided_on is not None and self.decided_on < self.filed_on:
            raise ValueError("decided_on precedes filed_on")
        return self


# The checkpoints topic. Keyed by the origin (not a case id); the audit service does not record
# its own checkpoints as ledger leaves (a checkpoint commits to the ledger, it is not part of it).
LEDGER_CHECKPOINTS = topics.LEDGER_CHECKPOINTS  # the catalogue (contracts.topics) owns the topic

CASES_REMEDIES = topics.CASES_REMEDIES

EVENTS: tuple[type[EventData], ...] = (CheckpointSigned, RemedyRecorded)
