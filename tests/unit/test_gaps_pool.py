"""The fair pool's corners a mutation run found unguarded (mutation-report.md, gaps 5, 10,
11, 24), with stand-in connections: pure code, no database involved.
"""

from __future__ import annotations

import asyncio
import itertools
import threading

import pytest

from asyncauth import BackendError
from asyncauth._pool import FairPool


class Conn:
    def __init__(self, number: int) -> None:
        self.number = number
        self.ok = True
        self.closed = False


class Factory:
    def __init__(self) -> None:
        self.numbers = itertools.count(1)
        self.opened: list[Conn] = []

    async def connect(self) -> Conn:
        await asyncio.sleep(0)  # a real connect yields to the loop
        conn = Conn(next(self.numbers))
        self.opened.append(conn)
        return conn

    @staticmethod
    async def close(conn: Conn) -> None:
        conn.closed = True


def make(size: int, timeout: float) -> tuple[FairPool[Conn], Factory]:
    factory = Factory()
    pool = FairPool(
        "Test",
        factory.connect,
        size=size,
        timeout=timeout,
        alive=lambda conn: conn.ok,
        discard=factory.close,
    )
    return pool, factory


async def _until(condition: object, what: str, seconds: float = 5.0) -> None:
    # Polled with a deadline: a handshake between tasks, never a fixed sleep.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


# -- gap 5: a cancelled waiter at the head of the line when the timer fires -------------------


def test_a_cancelled_waiter_at_the_head_does_not_freeze_the_loop_when_the_timer_fires() -> None:
    # If the timer callback kept a finished waiter at the head, it would spin forever inside
    # the event loop. The loop runs in a thread of its own so that a frozen loop fails this
    # test after a deadline instead of hanging the whole test run.
    outcome: dict[str, object] = {}

    async def scenario() -> None:
        pool, factory = make(1, timeout=0.2)
        held = await pool.acquire()
        first = asyncio.create_task(pool.acquire())
        await _until(lambda: pool.waiting == 1, "the first waiter")
        second = asyncio.create_task(pool.acquire())
        await _until(lambda: pool.waiting == 2, "the second waiter")
        first.cancel()  # its future stays at the head of the line, done
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        beat = asyncio.create_task(ticker())
        try:
            with pytest.raises(BackendError, match=r"no Test connection free within 0\.2 s"):
                await asyncio.wait_for(second, 5)
        finally:
            beat.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        outcome["ticks"] = ticks
        # The pool goes on: the held connection comes back and is lent again.
        pool.release(held)
        assert await asyncio.wait_for(pool.acquire(), 2) is held
        outcome["opened"] = len(factory.opened)

    def run() -> None:
        try:
            asyncio.run(scenario())
        except BaseException as exc:  # reported by the test thread below
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)  # the scenario takes well under a second
    assert not thread.is_alive(), "the event loop froze: the pool's timer never returned"
    if "error" in outcome:
        raise AssertionError(f"scenario failed: {outcome['error']!r}")
    ticks = outcome["ticks"]
    assert isinstance(ticks, int) and ticks > 1, "the loop did not run while the waiter waited"
    assert outcome["opened"] == 1


# -- gap 11: a slot handed to a waiter cancelled in the same turn --------------------------


@pytest.mark.anyio
async def test_a_waiter_handed_a_slot_and_cancelled_passes_the_slot_on() -> None:
    pool, factory = make(1, timeout=1.0)
    held = await pool.acquire()
    cancelled = asyncio.create_task(pool.acquire())
    await _until(lambda: pool.waiting == 1, "the first waiter")
    waiting = asyncio.create_task(pool.acquire())
    await _until(lambda: pool.waiting == 2, "the second waiter")
    held.ok = False  # broken while lent: its place goes, as a slot, to the first in line...
    pool.release(held)
    cancelled.cancel()  # ...which is cancelled before it runs: the slot must go on
    fresh = await asyncio.wait_for(waiting, 5)
    assert fresh is not held and fresh.number == 2
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert pool.opened == 1
    pool.release(fresh)


@pytest.mark.anyio
async def test_a_slot_cancelled_with_nobody_else_waiting_gives_the_place_up() -> None:
    pool, _ = make(1, timeout=1.0)
    held = await pool.acquire()
    cancelled = asyncio.create_task(pool.acquire())
    await _until(lambda: pool.waiting == 1, "the waiter")
    held.ok = False
    pool.release(held)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert pool.opened == 0  # the place is free, not lost
    conn = await asyncio.wait_for(pool.acquire(), 5)  # would wait out the timeout otherwise
    assert conn.number == 2
    pool.release(conn)


# -- gap 24: a dead idle connection is closed, not only skipped -----------------------------


@pytest.mark.anyio
async def test_a_dead_idle_connection_is_closed_when_skipped() -> None:
    pool, _ = make(2, timeout=1.0)
    conn = await pool.acquire()
    pool.release(conn)
    conn.ok = False  # died while idle (a server restart)
    fresh = await pool.acquire()
    assert fresh is not conn
    await _until(lambda: conn.closed, "the dead connection to be closed")
    pool.release(fresh)
    await pool.aclose()


# -- gap 10: a closed pool refuses work and opens nothing -----------------------------------


@pytest.mark.anyio
async def test_a_closed_pool_refuses_work_and_opens_no_connection() -> None:
    pool, factory = make(2, timeout=1.0)
    conn = await pool.acquire()
    pool.release(conn)
    await pool.aclose()
    assert conn.closed
    with pytest.raises(BackendError, match="closed"):
        await pool.acquire()
    assert len(factory.opened) == 1 and pool.opened == 0
