"""Periodic work of a service (sweeps, polls, checkpoints): one loop, written once.

::

    @rt.loop
    async def clock_loop() -> None:
        await every(settings.clock_seconds, clock.sweep, name="clock_sweep", log=rt.log,
                    then=lambda n: n and relay.wake())

``step`` runs, then the loop waits ``seconds`` (or until ``wake`` is set, when given) and runs it
again, until the task is cancelled (the service stops). A step that raises is logged as
``<name>_failed`` with the error and the next round comes as usual: a store or broker that is down
for a while costs rounds, never the loop. ``busy`` (a predicate on the step's result) runs the next
round at once while there is more to do (a queue drained in batches). A wake that comes while the
step runs starts the next round as soon as it ends. ``then`` sees each result (e.g. wake the
outbox relay when something was written).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from prometheus_client import Counter

FAILURES = Counter("gongkai_periodic_failures_total", "Rounds of a periodic task that raised", ["task"])


async def every(seconds: float, step: Callable[[], Awaitable[Any]], *, name: str,
                log: Any = None,  # noqa: ANN401
                wake: asyncio.Event | None = None,
                busy: Callable[[Any], bool] | None = None,
                then: Callable[[Any], Any] | None = None,
                first_after: float = 0.0) -> None:
    log = log or structlog.get_logger()
    if first_after:
        await asyncio.sleep(first_after)
    while True:
        result: Any = None
        if wake is not None:
            wake.clear()  # a wake that comes while the step runs is kept for the wait below
        try:
            result = await step()
            if then is not None:
                then(result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a round lost, not the loop
            FAILURES.labels(name).inc()
            log.warning(f"{name}_failed", error=repr(exc))
            result = None
        if busy is not None and result is not None and busy(result):
            await asyncio.sleep(0)
            continue
        if wake is None:
            await asyncio.sleep(seconds)
            continue
        if wake.is_set():
            continue  # woken while the step ran: at once
        try:
            await asyncio.wait_for(wake.wait(), timeout=seconds)
        except TimeoutError:
            pass
