"""servicekit.periodic.every, in plain asyncio: a round that raises is logged and the loop goes on;
``busy`` runs the next round at once; ``wake`` runs it before the timeout; ``then`` sees each
result; ``first_after`` delays the first round; cancelling the task stops the loop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from servicekit.periodic import FAILURES, every

pytestmark = pytest.mark.asyncio


class Log:
    def __init__(self) -> None:
        self.warnings: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:  # noqa: ANN401
        self.warnings.append((event, fields))


async def until(predicate: Any, timeout: float = 2.0) -> None:  # noqa: ANN401
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_raising_round_is_logged_and_the_loop_goes_on() -> None:
    log, calls = Log(), []
    before = FAILURES.labels("flaky_sweep")._value.get()

    async def step() -> str:
        calls.append(1)
        if len(calls) <= 2:
            raise RuntimeError(f"store down {len(calls)}")
        return "ok"

    task = asyncio.create_task(every(0.01, step, name="flaky_sweep", log=log))
    await until(lambda: len(calls) >= 5)
    await stop(task)
    assert log.warnings[:2] == [("flaky_sweep_failed", {"error": "RuntimeError('store down 1')"}),
                                ("flaky_sweep_failed", {"error": "RuntimeError('store down 2')"})]
    assert len(log.warnings) == 2  # the good rounds log nothing
    assert FAILURES.labels("flaky_sweep")._value.get() == before + 2


async def test_then_sees_each_result_and_a_raising_then_is_a_failed_round() -> None:
    log, seen, n = Log(), [], iter(range(100))

    async def step() -> int:
        return next(n)

    def then(result: int) -> None:
        seen.append(result)
        if result == 1:
            raise ValueError("then failed")

    task = asyncio.create_task(every(0.01, step, name="t", log=log, then=then))
    await until(lambda: len(seen) >= 3)
    await stop(task)
    assert seen[:3] == [0, 1, 2]
    assert log.warnings == [("t_failed", {"error": "ValueError('then failed')"})]


async def test_busy_runs_the_next_round_at_once() -> None:
    queue = [True, True, True, False]  # three full batches, then drained
    calls = 0

    async def step() -> bool:
        nonlocal calls
        calls += 1
        return queue.pop(0) if queue else False

    task = asyncio.create_task(every(30, step, name="drain", log=Log(), busy=bool))
    await until(lambda: calls >= 4, timeout=1.0)  # far sooner than one 30 s period
    await asyncio.sleep(0.1)
    assert calls == 4  # not busy any more: it waits the period
    await stop(task)


async def test_a_failed_round_is_not_busy() -> None:
    calls = 0

    async def step() -> bool:
        nonlocal calls
        calls += 1
        raise RuntimeError("down")

    task = asyncio.create_task(every(30, step, name="x", log=Log(), busy=lambda r: True))
    await asyncio.sleep(0.1)
    assert calls == 1  # waits the period after a failure, busy or not
    await stop(task)


async def test_wake_runs_a_round_before_the_timeout() -> None:
    wake = asyncio.Event()
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1

    task = asyncio.create_task(every(30, step, name="dispatch", log=Log(), wake=wake))
    await until(lambda: calls == 1)
    await asyncio.sleep(0.05)
    assert calls == 1  # waiting for the 30 s period
    wake.set()
    await until(lambda: calls == 2, timeout=1.0)
    await asyncio.sleep(0.05)
    assert calls == 2 and not wake.is_set()  # one round per wake-up
    wake.set()
    await until(lambda: calls == 3, timeout=1.0)
    await stop(task)


async def test_a_wake_during_a_round_is_not_lost() -> None:
    wake = asyncio.Event()
    calls = 0
    release = asyncio.Event()

    async def step() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await release.wait()  # the first round is still running when the wake comes

    task = asyncio.create_task(every(30, step, name="dispatch", log=Log(), wake=wake))
    await until(lambda: calls == 1)
    wake.set()
    release.set()
    await until(lambda: calls == 2, timeout=1.0)  # not after the 30 s period
    await asyncio.sleep(0.05)
    assert calls == 2
    await stop(task)


async def test_without_wake_the_period_is_kept() -> None:
    times: list[float] = []
    loop = asyncio.get_running_loop()

    async def step() -> None:
        times.append(loop.time())

    task = asyncio.create_task(every(0.1, step, name="p", log=Log()))
    await until(lambda: len(times) >= 3)
    await stop(task)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(g >= 0.09 for g in gaps), gaps


async def test_first_after_delays_the_first_round() -> None:
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1

    task = asyncio.create_task(every(30, step, name="cp", log=Log(), first_after=0.2))
    await asyncio.sleep(0.1)
    assert calls == 0
    await until(lambda: calls == 1, timeout=1.0)
    await stop(task)


async def test_cancelling_stops_the_loop_while_waiting_and_while_in_a_round() -> None:
    calls, log = 0, Log()

    async def step() -> None:
        nonlocal calls
        calls += 1

    task = asyncio.create_task(every(0.01, step, name="w", log=log))
    await until(lambda: calls >= 2)
    await stop(task)
    after = calls
    await asyncio.sleep(0.05)
    assert calls == after and task.done()

    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(30)

    task = asyncio.create_task(every(0.01, slow, name="slow", log=log))
    await started.wait()
    await stop(task)  # the cancellation inside the round is not a failed round
    assert log.warnings == []
