"""The SQLite driver's connection pool: waits in line, times out, survives cancellation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from asyncauth import BackendError
from asyncauth._sqlite import SqliteDriver

pytestmark = [pytest.mark.sqlite, pytest.mark.anyio]


async def _driver(tmp_path: Path, size: int, timeout: float = 5.0) -> SqliteDriver:
    driver = SqliteDriver(str(tmp_path / "pool.db"), pool_size=size, timeout=timeout)
    await driver.open()
    return driver


async def test_a_waiter_gets_the_connection_released_before_it(tmp_path: Path) -> None:
    driver = await _driver(tmp_path, 1)
    try:
        order: list[str] = []
        async with driver.connection():

            async def wait(name: str) -> None:
                async with driver.connection():
                    order.append(name)

            tasks = [asyncio.create_task(wait(n)) for n in ("first", "second")]
            await asyncio.sleep(0.01)
            assert order == []  # both wait while the only connection is held
        await asyncio.gather(*tasks)
        assert sorted(order) == ["first", "second"]
    finally:
        await driver.aclose()


async def test_waiting_past_the_timeout_is_a_backend_error(tmp_path: Path) -> None:
    driver = await _driver(tmp_path, 1, timeout=0.05)
    try:
        async with driver.connection():
            with pytest.raises(BackendError, match="no SQLite connection free"):
                async with driver.connection():
                    pass
        async with driver.connection():
            pass  # the pool still works after a timeout
    finally:
        await driver.aclose()


async def test_a_waiter_woken_and_cancelled_passes_the_connection_on(tmp_path: Path) -> None:
    driver = await _driver(tmp_path, 1)
    try:

        async def use() -> str:
            async with driver.connection():
                return "got it"

        conn = await driver.pool.acquire()
        cancelled = asyncio.create_task(use())
        waiting = asyncio.create_task(use())
        await asyncio.sleep(0.01)
        driver.pool.release(conn)  # wakes `cancelled`, the first in line...
        cancelled.cancel()  # ...which is cancelled before it runs: `waiting` must get it
        assert await asyncio.wait_for(waiting, 2) == "got it"
        with pytest.raises(asyncio.CancelledError):
            await cancelled
    finally:
        await driver.aclose()


async def test_closing_wakes_the_waiters_with_an_error(tmp_path: Path) -> None:
    driver = await _driver(tmp_path, 1)
    held = asyncio.Event()
    done = asyncio.Event()

    async def hold() -> None:
        async with driver.connection():
            held.set()
            await done.wait()

    async def use() -> None:
        async with driver.connection():
            pass

    holder = asyncio.create_task(hold())
    await held.wait()
    waiter = asyncio.create_task(use())
    await asyncio.sleep(0.01)
    await driver.aclose()
    with pytest.raises(BackendError, match="closed"):
        await asyncio.wait_for(waiter, 2)
    done.set()
    await holder


async def test_a_returning_connection_goes_to_the_first_waiter(tmp_path: Path) -> None:
    # A caller that releases and asks again at once must not overtake one already waiting
    # (a reader looping on session reads would otherwise starve the writers).
    driver = await _driver(tmp_path, 1)
    try:
        order: list[str] = []

        async def waiter() -> None:
            conn = await driver.pool.acquire()
            order.append("waiter")
            driver.pool.release(conn)

        conn = await driver.pool.acquire()
        first = asyncio.create_task(waiter())
        await asyncio.sleep(0.01)
        driver.pool.release(conn)
        assert driver.pool.idle == 0  # handed straight to the waiter
        again = await asyncio.wait_for(driver.pool.acquire(), 2)
        order.append("releaser")
        driver.pool.release(again)
        await first
        assert order == ["waiter", "releaser"]
    finally:
        await driver.aclose()
