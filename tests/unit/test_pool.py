"""The fair pool's rules, with stand-in connections (pure code: no database involved).

The drivers' own tests run the same pool against real servers; these pin down the order,
the counting and the corner cases that a real server makes hard to time.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

from asyncauth import BackendError
from asyncauth._pool import FairPool

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the pool is asyncio-only, like the drivers it serves


class Conn:
    """A stand-in connection: a number, and whether it still works."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.ok = True
        self.closed = False


class Factory:
    def __init__(self, fail: int = 0) -> None:
        self.numbers = itertools.count(1)
        self.opened: list[Conn] = []
        self.fail = fail
        """How many connects fail from now on."""

    async def connect(self) -> Conn:
        await asyncio.sleep(0)  # a real connect yields to the loop
        if self.fail > 0:
            self.fail -= 1
            raise OSError("connection refused")
        conn = Conn(next(self.numbers))
        self.opened.append(conn)
        return conn

    @staticmethod
    async def close(conn: Conn) -> None:
        conn.closed = True


def make(size: int, timeout: float = 5.0, fail: int = 0) -> tuple[FairPool[Conn], Factory]:
    factory = Factory(fail)
    pool = FairPool(
        "Test",
        factory.connect,
        size=size,
        timeout=timeout,
        alive=lambda conn: conn.ok,
        discard=factory.close,
    )
    return pool, factory


async def test_connections_are_opened_on_demand_up_to_the_size() -> None:
    pool, factory = make(2)
    a = await pool.acquire()
    b = await pool.acquire()
    assert (a.number, b.number) == (1, 2)
    waiter = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.01)
    assert not waiter.done() and pool.opened == 2 and pool.waiting == 1
    pool.release(a)
    assert await waiter is a
    assert len(factory.opened) == 2


async def test_a_returning_connection_goes_to_the_first_in_line_not_back_to_its_user() -> None:
    pool, _ = make(1)
    held = await pool.acquire()
    order: list[str] = []

    async def wait(name: str) -> None:
        conn = await pool.acquire()
        order.append(name)
        pool.release(conn)

    first = asyncio.create_task(wait("first"))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(wait("second"))
    await asyncio.sleep(0.01)
    pool.release(held)
    assert pool.idle == 0  # handed over, not left for the releaser to take again
    again = await pool.acquire()
    order.append("releaser")
    pool.release(again)
    await asyncio.gather(first, second)
    assert order == ["first", "second", "releaser"]


async def test_waiting_past_the_timeout_is_a_backend_error_and_the_pool_goes_on() -> None:
    pool, _ = make(1, timeout=0.05)
    held = await pool.acquire()
    with pytest.raises(BackendError, match=r"no Test connection free within 0\.05 s"):
        await pool.acquire()
    pool.release(held)
    assert await pool.acquire() is held


async def test_a_waiter_handed_a_connection_and_cancelled_passes_it_on() -> None:
    pool, _ = make(1)
    held = await pool.acquire()
    cancelled = asyncio.create_task(pool.acquire())
    waiting = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.01)
    pool.release(held)  # to `cancelled`, first in line...
    cancelled.cancel()  # ...cancelled before it runs: `waiting` must get the connection
    assert await asyncio.wait_for(waiting, 2) is held
    with pytest.raises(asyncio.CancelledError):
        await cancelled


async def test_a_broken_connection_frees_its_place_and_the_next_caller_opens_a_new_one() -> None:
    pool, factory = make(1)
    held = await pool.acquire()
    waiter = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.01)
    held.ok = False  # the server closed it while it was lent
    pool.release(held)
    fresh = await asyncio.wait_for(waiter, 2)
    assert fresh is not held and fresh.number == 2
    await asyncio.sleep(0)
    assert held.closed and pool.opened == 1


async def test_a_dead_idle_connection_is_replaced_when_lent() -> None:
    pool, _ = make(2)
    conn = await pool.acquire()
    pool.release(conn)
    conn.ok = False  # died while idle (a server restart)
    fresh = await pool.acquire()
    assert fresh is not conn and pool.opened == 1


async def test_a_failed_connect_gives_its_place_back() -> None:
    pool, factory = make(1, fail=3)
    for _ in range(3):
        with pytest.raises(OSError):
            await pool.acquire()
    assert pool.opened == 0
    assert (await pool.acquire()).number == 1


async def test_a_failed_connect_passes_the_place_to_the_next_waiter() -> None:
    pool, factory = make(1)
    held = await pool.acquire()
    waiters = [asyncio.create_task(pool.acquire()) for _ in range(2)]
    await asyncio.sleep(0.01)
    held.ok = False
    factory.fail = 1  # the first waiter's connect fails: its place goes on to the second
    pool.release(held)
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert isinstance(results[0], OSError)
    assert isinstance(results[1], Conn)
    assert pool.opened == 1


async def test_never_more_than_size_under_many_callers() -> None:
    pool, factory = make(3)
    high = 0

    async def use() -> None:
        nonlocal high
        conn = await pool.acquire()
        high = max(high, pool.opened - pool.idle)
        await asyncio.sleep(0)
        pool.release(conn)

    await asyncio.gather(*(use() for _ in range(200)))
    assert high == 3 and len(factory.opened) == 3 and pool.idle == 3


async def test_closing_wakes_the_waiters_and_closes_what_comes_back() -> None:
    pool, _ = make(1)
    held = await pool.acquire()
    waiter = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.01)
    await pool.aclose()
    with pytest.raises(BackendError, match="closed"):
        await waiter
    with pytest.raises(BackendError, match="closed"):
        await pool.acquire()
    pool.release(held)
    await asyncio.sleep(0)
    assert held.closed and pool.opened == 0


async def test_fill_opens_connections_up_front() -> None:
    pool, factory = make(3)
    await pool.fill(2)
    assert pool.idle == 2 and pool.opened == 2 and len(factory.opened) == 2


async def test_each_waiter_fails_at_its_own_deadline() -> None:
    # One timer serves the whole line: it must fire for each waiter at that waiter's own
    # deadline, not the first one's, and must not fail a waiter that was served.
    # Timed with margins a loaded machine keeps (its event loop may stall a few hundred ms):
    # each waiter's wait is measured from its own start, the deadlines are 0.6 s apart, and
    # the served waiter holds its connection until the others are done.
    timeout = 1.0
    pool, _ = make(1, timeout=timeout)
    held = await pool.acquire()
    loop = asyncio.get_running_loop()
    waited: dict[str, float] = {}
    done = asyncio.Event()

    async def wait(name: str) -> None:
        began = loop.time()
        try:
            conn = await pool.acquire()
        except BackendError:
            waited[name] = loop.time() - began
        else:
            waited[name] = -1.0  # served
            await done.wait()
            pool.release(conn)

    first = asyncio.create_task(wait("first"))
    await asyncio.sleep(0.3)
    second = asyncio.create_task(wait("second"))
    await asyncio.sleep(0.01)
    pool.release(held)  # serves `first` (its deadline is 0.7 s away); `second` keeps waiting
    await asyncio.sleep(0.6)
    third = asyncio.create_task(wait("third"))
    # Bounded: a timer that is never armed again for the later waiters hangs here.
    await asyncio.wait_for(asyncio.gather(second, third), 10 * timeout)
    done.set()
    await first
    assert waited["first"] == -1.0, waited
    # At its own deadline: not sooner (the first waiter's deadline: 0.7 s of `second`'s wait),
    # not as late as the next waiter's (1.6 s).
    for name in ("second", "third"):
        assert timeout * 0.95 <= waited[name] < timeout + 0.5, waited
