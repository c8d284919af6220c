"""Load and concurrency: many readers and writers over a small pool, exactly-once tokens,
bootstrap raced by several processes, and a pool that stays exhausted.

Each test runs on every backend of ``tests._backends.BACKENDS``.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

import asyncauth
from asyncauth import BackendError
from tests._backends import Backend
from tests._raw import MongoRaw
from tests.conformance._support import make_user, pool_held, sql_row_locked, unique

if TYPE_CHECKING:
    from asyncauth import Adapter
else:
    Adapter = Any

pytestmark = [pytest.mark.anyio]

UTC = timezone.utc
ROOT = Path(__file__).resolve().parents[2]

READS = 20_000
#: At least this many reads, when the time budget (seconds of mixed load) ends the run first.
MIN_READS = 3_000
BUDGET = 45.0
CONCURRENCY = 256
POOL = 10
WRITERS = 16
KEYS = 64


class History:
    """Every state a session token went through, and which of them a reader may see.

    Writes to one token are serialised (one lock per token), so its states form a sequence.
    A read that began after state ``lo`` was committed and ended before state ``hi + 1`` was
    started may see any state in ``lo..hi`` and nothing else: not a torn row, not a state
    that was overwritten before the read began, not one written after it ended.
    """

    def __init__(self) -> None:
        self.states: list[datetime | None] = [None]
        self.started = 0
        self.committed = 0
        self.lock = anyio.Lock()


@pytest.mark.slow
async def test_reads_under_concurrent_writes_see_old_or_new_state(
    db_url: str, tally: Counter[str]
) -> None:
    async with asyncauth.connect(db_url, pool_size=POOL, timeout=30) as auth:
        user = await make_user(auth)
        tokens = [unique(f"load-{i}-") for i in range(KEYS)]
        history = {token: History() for token in tokens}
        base = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        stamp = 0
        reads = 0
        writes: Counter[str] = Counter()
        outcomes: Counter[str] = Counter()
        errors: list[str] = []

        def next_expires() -> datetime:
            nonlocal stamp
            stamp += 1
            return base + timedelta(milliseconds=stamp)

        async def write(token: str, rng: random.Random) -> None:
            h = history[token]
            async with h.lock:
                current = h.states[-1]
                op = "create" if current is None else rng.choice(("update", "update", "delete"))
                new = None if op == "delete" else next_expires()
                h.states.append(new)
                h.started = len(h.states) - 1
                if op == "create":
                    assert new is not None
                    await auth.create_session(user.id, new, session_token=token)
                elif op == "update":
                    assert new is not None
                    got = await auth.update_session(token, expires=new)
                    assert got is not None and got.expires == new
                else:
                    gone = await auth.delete_session(token)
                    assert gone is not None and gone.expires == current
                h.committed = h.started
                writes[op] += 1

        def busy() -> bool:
            # Until both the reads and a real mix of writes are done: on a backend whose
            # writes are slow next to its reads, the readers keep going a little longer.
            mixed = min(writes["create"], writes["update"], writes["delete"]) >= 20
            if mixed and reads >= MIN_READS and time.perf_counter() - started > BUDGET:
                # A slow backend on a loaded machine (SecantusDB beside two CPU burners read
                # ~100/s): enough reads against a real mix, within the time budget, rather
                # than a fixed count that outlasts the deadline below.
                return False
            return reads < READS or (not mixed and reads < 3 * READS)

        async def writer(seed: int) -> None:
            rng = random.Random(seed)
            while busy():
                try:
                    await write(rng.choice(tokens), rng)
                except Exception as exc:
                    errors.append(f"write: {exc!r}")
                    return

        async def reader(seed: int) -> None:
            nonlocal reads
            rng = random.Random(seed)
            while busy():
                reads += 1
                token = rng.choice(tokens)
                h = history[token]
                lo = h.committed
                try:
                    got = await auth.get_session_and_user(token)
                except Exception as exc:
                    errors.append(f"read: {exc!r}")
                    return
                hi = h.started
                seen = None if got is None else got[0].expires
                if got is not None and (got[1] != user or got[0].session_token != token):
                    errors.append(f"read of {token} returned another session or user: {got!r}")
                if seen not in h.states[lo : hi + 1]:
                    errors.append(f"read of {token} saw {seen}, allowed {h.states[lo : hi + 1]}")
                outcomes["found" if got is not None else "absent"] += 1

        # Half the tokens start with a session, so reads find both states from the start.
        for token in tokens[::2]:
            await write(token, random.Random(0))
        started = time.perf_counter()
        # Deadlock shows up as this deadline (inside pytest's own 120 s), not as a hung suite.
        with anyio.fail_after(90):
            async with anyio.create_task_group() as group:
                for i in range(WRITERS):
                    group.start_soon(writer, 1000 + i)
                for i in range(CONCURRENCY - WRITERS):
                    group.start_soon(reader, i)
        elapsed = time.perf_counter() - started

    assert errors == [], errors[:5]
    assert reads >= MIN_READS
    assert sum(outcomes.values()) >= MIN_READS
    # The mix must really have happened, or the test proves nothing about it.
    assert min(writes["create"], writes["update"], writes["delete"]) >= 20, writes
    assert outcomes["found"] > 1000 and outcomes["absent"] > 100, outcomes
    tally["load: reads"] += sum(outcomes.values())
    tally["load: writes"] += sum(writes.values())
    tally["load: reads/s"] = int(sum(outcomes.values()) / elapsed)


EXACTLY_ONCE_ROUNDS = 20
EXACTLY_ONCE_CALLERS = 50


@pytest.mark.slow
async def test_use_verification_token_has_exactly_one_winner(
    db_url: str, tally: Counter[str]
) -> None:
    async with asyncauth.connect(db_url, timeout=30) as auth:
        expires = datetime.now(UTC) + timedelta(hours=1)
        # One deadline for all rounds, inside pytest's own 120 s.
        deadline = time.monotonic() + 90
        for _ in range(EXACTLY_ONCE_ROUNDS):
            identifier, token = unique("once-") + "@example.com", unique("tok-")
            await auth.create_verification_token(identifier, token, expires)
            results: list[object] = []

            async def use(
                identifier: str = identifier, token: str = token, results: list[object] = results
            ) -> None:
                results.append(await auth.use_verification_token(identifier, token))

            with anyio.fail_after(max(1.0, deadline - time.monotonic())):
                async with anyio.create_task_group() as group:
                    for _ in range(EXACTLY_ONCE_CALLERS):
                        group.start_soon(use)
            winners = [r for r in results if r is not None]
            assert len(results) == EXACTLY_ONCE_CALLERS
            assert len(winners) == 1, f"{len(winners)} callers got the token"
            assert await auth.use_verification_token(identifier, token) is None
            tally["exactly-once: concurrent uses"] += EXACTLY_ONCE_CALLERS
            tally["exactly-once: rounds"] += 1


BOOTSTRAPPERS = 8

_CHILD = """
import asyncio, json, os, sys, time
import asyncauth

async def main(url, go):
    adapter = asyncauth.connect(url, timeout=60)
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.001)
    try:
        async with adapter:
            applied = await adapter.bootstrap()
    except Exception as exc:
        print(json.dumps({"error": repr(exc)}), flush=True)
        sys.exit(1)
    print(json.dumps({"applied": applied}), flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _race(url: str, count: int) -> list[dict[str, Any]]:
    """Start ``count`` bootstrap processes on ``url`` at the same instant; their outputs."""
    with tempfile.TemporaryDirectory() as scratch:
        go = Path(scratch) / "go"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        children = [
            subprocess.Popen(
                [sys.executable, "-c", _CHILD, url, str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=ROOT,
            )
            for _ in range(count)
        ]
        try:
            # Every child has imported its driver and waits; then all start at once.
            for child in children:
                assert child.stdout is not None
                line = child.stdout.readline()
                assert line.strip() == "ready", (line, child.stderr and child.stderr.read())
            go.touch()
            results = []
            for child in children:
                out, err = child.communicate(timeout=120)
                assert child.returncode == 0, (out, err)
                results.append(json.loads(out.strip().splitlines()[-1]))
            return results
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.wait()


@pytest.mark.slow
async def test_bootstrap_raced_by_processes_applies_once(
    backend: Backend, db_url: str, tally: Counter[str]
) -> None:
    del db_url  # found the server reachable (or skipped) once per session
    async with backend.provision() as url:
        results = await anyio.to_thread.run_sync(_race, url, BOOTSTRAPPERS)
        applied = sorted(v for r in results for v in r["applied"])
        async with asyncauth.connect(url) as auth:
            report = await auth.check()
            assert await auth.bootstrap() == []
        async with backend.raw(url) as raw:
            recorded = sorted(int(r["version"]) for r in await raw.rows("asyncauth_migrations"))
    # Exactly one process applied each migration; the others found nothing to do.
    assert applied == recorded == report.applied
    assert len(set(applied)) == len(applied) >= 2
    assert report.ok, report.differences
    tally["bootstrap race: processes"] += BOOTSTRAPPERS


async def test_an_exhausted_pool_raises_after_the_timeout(
    backend: Backend, db_url: str, tally: Counter[str]
) -> None:
    timeout = 0.5
    async with asyncauth.connect(db_url, pool_size=2, timeout=timeout) as auth:
        user = await make_user(auth)
        async with pool_held(auth, backend, db_url, 2):
            for _ in range(3):
                started = time.perf_counter()
                with anyio.fail_after(timeout + 5), pytest.raises(BackendError, match="within"):
                    await auth.get_user(user.id)
                waited = time.perf_counter() - started
                assert timeout * 0.8 <= waited < timeout + 1.5, waited
                tally["pool exhausted: calls refused after timeout"] += 1
        # The held connections came back: the pool works again without being rebuilt.
        assert await auth.get_user(user.id) == user


@asynccontextmanager
async def _sql_row_lock(backend: Backend, db_url: str, user_id: str) -> AsyncIterator[None]:
    """Another adapter keeps the user's row (SQLite: the database) write-locked."""
    async with sql_row_locked(db_url, user_id):
        yield


@asynccontextmanager
async def _mongo_document_lock(backend: Backend, db_url: str, user_id: str) -> AsyncIterator[None]:
    """A transaction of another client keeps the user's document write-locked."""
    async with backend.raw(db_url) as raw:
        assert isinstance(raw, MongoRaw), raw
        async with raw.hold_write_lock("users", id=user_id):
            yield


#: backend marker -> keep a user's row locked against other writers (default: SQL)
WRITE_LOCK = {"mongodb": _mongo_document_lock}


async def test_a_blocked_statement_raises_after_the_timeout(
    backend: Backend, db_url: str, tally: Counter[str]
) -> None:
    """A statement that waits on another writer's lock gives up after ``timeout``."""
    timeout = 0.5
    async with asyncauth.connect(db_url, timeout=timeout) as auth:
        user = await make_user(auth)
        lock = WRITE_LOCK.get(backend.marker, _sql_row_lock)
        async with lock(backend, db_url, user.id):
            started = time.perf_counter()
            # A backend that ignores its timeout fails here in seconds, and the lock is let go
            # (a hang would outlive the test and block the next ones on this database).
            with anyio.fail_after(timeout + 5), pytest.raises(BackendError):
                await auth.update_user(user.id, name="blocked")
            waited = time.perf_counter() - started
        assert timeout * 0.8 <= waited < timeout + 2, waited
        assert (await auth.update_user(user.id, name="after")).name == "after"
        tally["blocked statement: timed out"] += 1
