"""Events of the ledger capability (see the issue that introduced them).

Add event models here (subclasses of contracts.envelope.EventData, past-tense facts); list each in
EVENTS so that contracts.events.REGISTRY, the JSON Schema export and the audit ledger know them.
"""

from __future__ import annotations

from contracts.envelope import EventData

EVENTS: tuple[type[EventData], ...] = ()
