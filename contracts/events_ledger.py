"""Events of the ledger capability (see the issue that introduced them).

Add event models here (subclasses of contracts.envelope.EventData, past-tense facts); list each in
EVENTS so that contracts.events.REGISTRY, the JSON Schema export and the audit ledger know them.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

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


# The checkpoints topic. Keyed by the origin (not a case id); the audit service does not record
# its own checkpoints as ledger leaves (a checkpoint commits to the ledger, it is not part of it).
LEDGER_CHECKPOINTS = topics.LEDGER_CHECKPOINTS  # the catalogue (contracts.topics) owns the topic

EVENTS: tuple[type[EventData], ...] = (CheckpointSigned,)
