"""Opening SQLite: many adapters on one new file at once, a lazy pool, a bounded pool size.

Switching a new file to WAL takes an exclusive lock, and SQLite can answer SQLITE_BUSY to it
without waiting in the busy handler: of 8 ``bootstrap`` calls gathered on one new file, a few
in a hundred failed with "database is locked" while the pool opened its connections.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

import asyncauth
from asyncauth import ConfigurationError
from asyncauth._sqlite import MAX_POOL_SIZE, SqliteDriver

pytestmark = [pytest.mark.sqlite, pytest.mark.anyio]

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 100
PROCESSES = 8
ADAPTERS = 8
DEADLINE = 60.0  # seconds for any one round trip with a child

# Each child bootstraps the file named on each line of its stdin and answers on stdout.
CHILD = """
import asyncio, sys
import asyncauth

async def main():
    print("ready", flush=True)
    for line in sys.stdin:
        try:
            applied = await asyncauth.bootstrap("sqlite:///" + line.strip())
            print("ok", applied, flush=True)
        except Exception as exc:
            print("error", type(exc).__name__, str(exc).replace("\\n", " "), flush=True)

asyncio.run(main())
"""


@asynccontextmanager
async def _children(count: int) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        for _ in range(count)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), DEADLINE)
            assert line == b"ready\n", line
        yield procs
    finally:
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), DEADLINE)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def _scratch() -> tempfile.TemporaryDirectory[str]:
    # Locks work the same in memory-backed /dev/shm, without a disk's fsync per new file:
    # the race is about locks, and 100 rounds stay a few seconds.
    shm = Path("/dev/shm")
    return tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None)


async def test_adapters_and_processes_bootstrap_one_new_file_at_once() -> None:
    failures: list[str] = []
    with _scratch() as scratch:
        async with _children(PROCESSES) as procs:
            for round_ in range(ROUNDS):
                path = Path(scratch) / f"busy{round_}.db"
                for proc in procs:
                    assert proc.stdin is not None
                    proc.stdin.write(f"{path}\n".encode())
                results: list[object] = list(
                    await asyncio.gather(
                        *(asyncauth.bootstrap(f"sqlite:///{path}") for _ in range(ADAPTERS)),
                        return_exceptions=True,
                    )
                )
                for proc in procs:
                    assert proc.stdout is not None
                    line = await asyncio.wait_for(proc.stdout.readline(), DEADLINE)
                    results.append(line.decode().strip())
                for r in results:
                    if isinstance(r, BaseException) or (isinstance(r, str) and r[:2] != "ok"):
                        failures.append(f"round {round_}: {r!r}")
                applied = [r for r in results if r in ([1, 2], "ok [1, 2]")]
                if len(applied) != 1:
                    failures.append(f"round {round_}: migrations applied {len(applied)} times")
    assert failures == [], f"{len(failures)} failures, first: {failures[:3]}"


async def test_connections_open_as_needed(tmp_path: Path) -> None:
    driver = SqliteDriver(str(tmp_path / "lazy.db"), pool_size=8)
    await driver.open()
    try:
        assert driver.pool.opened == 1  # proves the file is there; no more yet
        async with driver.connection(), driver.connection():
            assert driver.pool.opened == 2
    finally:
        await driver.aclose()


@pytest.mark.parametrize("size", [MAX_POOL_SIZE + 1, 2000])
async def test_an_absurd_pool_size_is_refused_by_name(tmp_path: Path, size: int) -> None:
    with pytest.raises(ConfigurationError, match=f"pool_size {size} .* at most {MAX_POOL_SIZE}"):
        await asyncauth.connect(f"sqlite:///{tmp_path / 'big.db'}", pool_size=size)
    assert not (tmp_path / "big.db").exists()  # refused before anything was opened


async def test_the_largest_pool_size_is_taken(tmp_path: Path) -> None:
    auth = await asyncauth.connect(f"sqlite:///{tmp_path / 'max.db'}", pool_size=MAX_POOL_SIZE)
    try:
        assert auth.driver.pool.size == MAX_POOL_SIZE
    finally:
        await auth.aclose()


def test_a_busy_open_reports_the_timeout(tmp_path: Path) -> None:
    # The busy retry is bounded: a file locked for longer than the timeout is an error.
    path = tmp_path / "held.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode = DELETE")
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:

        async def open_it() -> None:
            driver = SqliteDriver(str(path), timeout=0.2)
            await driver.open()

        with pytest.raises(asyncauth.BackendError, match="cannot open SQLite database"):
            asyncio.run(open_it())
    finally:
        holder.execute("ROLLBACK")
        holder.close()
