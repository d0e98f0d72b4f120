"""How many store commands a notice's delivery takes (each is a round trip, and on the local
store any query not by ``_id`` alone a scan of the collection): the case's notices are read once
per notice and round, the last delivery closes the notice in its own write, the contact read to
attach it gives the webhook secret, and nothing is released when nothing is held."""

from __future__ import annotations

import collections
from datetime import timedelta
from typing import Any

from tests.notify import samples as s
from tests.notify.test_delivery_order import ev, feed, steps

COUNTED = ("find", "find_one", "update_one", "update_many", "insert_one", "find_one_and_update")


class Counting:
    """A collection whose commands are counted (by collection and method)."""

    def __init__(self, real: Any, counts: collections.Counter, name: str) -> None:  # noqa: ANN401
        self._real, self._counts, self._name = real, counts, name

    def __getattr__(self, attr: str) -> Any:  # noqa: ANN401
        value = getattr(self._real, attr)
        if attr not in COUNTED:
            return value

        def counted(*a: Any, **kw: Any) -> Any:  # noqa: ANN401
            self._counts[f"{self._name}.{attr}"] += 1
            return value(*a, **kw)

        return counted


async def test_a_received_and_a_reply_notice_by_mail_and_webhook_take_few_commands(env):
    counts: collections.Counter = collections.Counter()
    env.store.notices = Counting(env.store.notices, counts, "notices")
    env.store.versioned.collection = Counting(env.store.versioned.collection, counts, "notices")
    env.store.contacts = Counting(env.store.contacts, counts, "contacts")
    await env.handlers.on_contact(ev(s.contact("c1"), "contact", "c1", timedelta(0)))
    await feed(env, "c1", steps("c1")[0])
    await env.drain()
    await feed(env, "c1", steps("c1")[4])
    await env.drain()
    assert len(env.smtp.sent) == 2 and len(env.webhook.sent) == 2
    notices = await env.notices()
    assert {n["status"] for n in notices} == {"done"}
    assert all(d["status"] == "delivered" for n in notices for d in n["deliveries"].values())
    # Per notice: insert; attach the contact; per channel claim (+ the e-mail's commit) and the
    # delivery with its event (the last one also closes the notice); the case's notices read once;
    # the due query of each dispatch round (two per drain). Before: 35 commands on notices.
    assert counts["notices.update_many"] == 1  # the contact's arrival only: nothing was ever held
    assert counts["notices.find_one"] == 0
    assert sum(n for k, n in counts.items() if k.startswith("notices.")) <= 23
    assert counts["contacts.find_one"] == 2  # one per notice: attaching it (the webhook secret with it)
