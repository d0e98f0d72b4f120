"""Test-only fault points: kill notify at a chosen instant of a delivery (off by default).

``GONGKAI_FAULT="notify.after_send:kill"`` makes the process SIGKILL itself the first time it
reaches that point; ``notify.after_send:kill@<text>`` only for a delivery whose recipient contains
``<text>`` (so that a test's own notice triggers it, not another's). Points (``POINTS``):

- ``notify.before_commit``: the message's content is with the SMTP server, its end-of-data not yet
  sent (and the delivery not yet marked ``committing``): the server discards the message;
- ``notify.after_commit``: the delivery is recorded ``committing``, its end-of-data not yet sent:
  the server discards the message, yet notify cannot know that (``uncertain``; the chaos
  campaign's one e-mail in 600 that never arrived, issue #12);
- ``notify.after_send``: the server's final 250 has been read, the delivery not yet recorded.

For a text (SMS) the same points mean: ``notify.before_commit``, claimed and not yet recorded
``committing``, no ``submit_sm`` sent (sent again after the restart, once); ``notify.after_commit``,
recorded ``committing`` and no ``submit_sm`` sent yet (``uncertain`` after the restart, though
nothing left); ``notify.after_send``, every part accepted by the SMSC, the message ids not yet
recorded (``uncertain``: never sent twice).

Refused in production: a service with ``GONGKAI_FAULT`` set and ``GONGKAI_ENV=production`` does
not start.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

POINTS = frozenset({"notify.before_commit", "notify.after_commit", "notify.after_send"})
ACTIONS = frozenset({"kill"})


@dataclass(frozen=True)
class Fault:
    point: str
    action: str
    match: str = ""


class Faults:
    def __init__(self, faults: tuple[Fault, ...] = ()) -> None:
        self.faults = faults

    @classmethod
    def parse(cls, setting: str, *, production: bool) -> Faults:
        faults = []
        for raw in (setting or "").split(","):
            entry = raw.strip()
            if not entry:
                continue
            point, _, rest = entry.partition(":")
            action, _, match = rest.partition("@")
            if point not in POINTS or action not in ACTIONS:
                raise ValueError(f"GONGKAI_FAULT: unknown fault {entry!r} (points: {', '.join(sorted(POINTS))}; "
                                 "action: kill)")
            faults.append(Fault(point, action, match))
        if faults and production:
            raise RuntimeError("GONGKAI_FAULT is for tests only: refused in production")
        return cls(tuple(faults))

    @classmethod
    def from_env(cls, *, production: bool) -> Faults:
        return cls.parse(os.environ.get("GONGKAI_FAULT", ""), production=production)

    def reached(self, point: str, recipient: str = "") -> None:
        for fault in self.faults:
            if fault.point == point and fault.match in recipient:
                os.kill(os.getpid(), signal.SIGKILL)


NONE = Faults()
