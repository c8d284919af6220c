"""SQLite: cancelling a write never leaves a transaction open on a connection lent again.

aiosqlite runs each call in the connection's thread, and a call whose caller was cancelled
still runs there. A ``BEGIN IMMEDIATE`` cancelled while it waited for the write lock used to
run afterwards on a connection already back in the pool: the next writes through it were
acknowledged and never committed, and a restart brought back signed-out sessions and used
magic links. Each test ends with a restart (close, then read the file afresh).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import asyncauth
from asyncauth import Account, Authenticator

pytestmark = [pytest.mark.sqlite, pytest.mark.anyio]

UTC = timezone.utc


async def _until(check: Callable[[], bool], what: str, deadline: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while not check():
        assert loop.time() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.001)


def _rows(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    # A separate, plain sqlite3 connection: what a restarted process would read.
    db = sqlite3.connect(path)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


async def test_a_cancelled_begin_waiting_for_the_lock_is_not_lent_in_a_transaction(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cancel.db"
    url = f"sqlite:///{path}"
    await asyncauth.bootstrap(url)
    auth = await asyncauth.connect(url, pool_size=1, timeout=10)
    later = datetime.now(UTC) + timedelta(days=1)
    try:
        doomed = await auth.create_user(email="doomed@example.com")
        keeper = await auth.create_user(email="keeper@example.com")
        session = await auth.create_session(keeper.id, later)
        pool = auth.driver.pool
        await _until(lambda: pool.idle == 1, "the connection to be idle")

        # Another process holds the write lock: delete_user's BEGIN IMMEDIATE must wait.
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            task = asyncio.create_task(auth.delete_user(doomed.id))
            await _until(lambda: pool.idle == 0, "delete_user to take the connection")
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            other.execute("COMMIT")
            other.close()

        # Acknowledged writes after the cancel, through the pool's only connection.
        assert await auth.delete_session(session.session_token) is not None
        fresh = await auth.create_session(keeper.id, later)
    finally:
        await auth.aclose()

    # Restart: what was acknowledged is on disk.
    assert (
        _rows(path, "SELECT 1 FROM sessions WHERE session_token = ?", session.session_token) == []
    )
    assert _rows(path, "SELECT 1 FROM sessions WHERE session_token = ?", fresh.session_token)
    assert _rows(path, "SELECT 1 FROM users WHERE id = ?", int(doomed.id))  # never deleted


@dataclass
class _Expect:
    """What a restart must find, for the writes that were acknowledged."""

    present: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    absent: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    acknowledged: int = 0
    cancelled: int = 0


async def test_cancelling_every_write_path_at_random_loses_no_acknowledged_write(
    tmp_path: Path,
) -> None:
    rng = random.Random(20261201)
    path = tmp_path / "chaos.db"
    url = f"sqlite:///{path}"
    await asyncauth.bootstrap(url)
    auth = await asyncauth.connect(url, pool_size=3, timeout=20)
    later = datetime.now(UTC) + timedelta(days=1)
    expect = _Expect()
    counter = iter(range(10**9))

    def unique(prefix: str) -> str:
        return f"{prefix}{next(counter)}"

    async def fresh_user() -> Any:
        return await auth.create_user(email=f"{unique('u')}@example.com")

    # Each write path: (set-up, acknowledged in full) -> (the write, its check when acknowledged).
    async def create_user() -> tuple[Awaitable[Any], Callable[[Any], None]]:
        email = f"{unique('new')}@example.com"

        def check(_: Any) -> None:
            expect.present.append(("SELECT 1 FROM users WHERE email = ?", (email,)))

        return auth.create_user(email=email), check

    async def update_user() -> tuple[Awaitable[Any], Callable[[Any], None]]:
        user = await fresh_user()
        name = unique("name")

        def check(_: Any) -> None:
            sql = "SELECT 1 FROM users WHERE id = ? AND name = ?"
            expect.present.append((sql, (int(user.id), name)))

        return auth.update_user(user.id, name=name), check

    async def delete_user() -> tuple[Awaitable[Any], Callable[[Any], None]]:
        user = await fresh_user()
        await auth.create_session(user.id, later)

        def check(_: Any) -> None:
            expect.absent.append(("SELECT 1 FROM users WHERE id = ?", (int(user.id),)))
            expect.absent.append(("SELECT 1 FROM sessions WHERE user_id = ?", (int(user.id),)))

        return auth.delete_user(user.id), check

    async def link_account() -> tuple[Awaitable[Any], Callable[[Any], None]]:
        user = await fresh_user()
        account = Account(
            user_id=user.id, type="oauth", provider="github", provider_account_id=unique("gh")
        )

        def check(_: Any) -> None:
            sql = "SELECT 1 FROM accounts WHERE provider_account_id = ?"
            expect.present.append((sql, (account.provider_account_id,)))

        return auth.link_account(account), check

    async def unlink_account() -> tuple[Awaitable[Any], Callable[[Any], None]]:
        user = await fresh_user()
        account = Account(
            user_id=user.id, type="oauth", provider="github", provider_account_id=unique("gh")
        )
        await auth.link_account(account)

        def check(_: Any) -> None:
            sql = "SELECT 1 FROM accounts WHERE provider_account_id = ?"
            expect.absent.append((sql, (account.provider_account_id,)))

        return auth.unlink_account("github", account.provider_account_id), check

    async def create_session() -> tuple[Awaitable[Any], Callable[[Any], None]]:
        user = await fresh_user()
        token = unique("s")

        def check(_: Any) -> None:
            expect.present.append(("SELECT 1 FROM sessions WHERE session_token = ?", (token,)))

        return auth.create_session(user.id, later, token), check

    async def update_session() -> tuple[Awaitable[Any], Callable[[Any], None]]:
        user = await fresh_user()
        session = await auth.create_session(user.id, later)
        moved = later + timedelta(hours=rng.randrange(1, 1000))

        def check(_: Any) -> None:
            sql = "SELECT expires FROM sessions WHERE session_token = ? AND expires = ?"
            stamp = moved.isoformat(" ", "milliseconds")[:23]
            expect.present.append((sql, (session.session_token, stamp)))

        return auth.update_session(session.session_token, expires=moved), check

    async def delete_session() -> tuple[Awaitable[Any], Callable[[Any], None]]:
        user = await fresh_user()
        session = await auth.create_session(user.id, later)

        def check(_: Any) -> None:
            sql = "SELECT 1 FROM sessions WHERE session_token = ?"
            expect.absent.append((sql, (session.session_token,)))

        return auth.delete_session(session.session_token), check

    async def create_token() -> tuple[Awaitable[Any], Callable[[Any], None]]:
        token = unique("t")

        def check(_: Any) -> None:
            sql = "SELECT 1 FROM verification_requests WHERE token = ?"
            expect.present.append((sql, (token,)))

        return auth.create_verification_token("a@example.com", token, later), check

    async def use_token() -> tuple[Awaitable[Any], Callable[[Any], None]]:
        token = unique("t")
        await auth.create_verification_token("b@example.com", token, later)

        def check(result: Any) -> None:
            assert result is not None
            sql = "SELECT 1 FROM verification_requests WHERE token = ?"
            expect.absent.append((sql, (token,)))

        return auth.use_verification_token("b@example.com", token), check

    async def authenticator() -> tuple[Awaitable[Any], Callable[[Any], None]]:
        user = await fresh_user()
        credential = unique("cred")
        item = Authenticator(
            credential_id=credential,
            user_id=user.id,
            provider_account_id=unique("pa"),
            credential_public_key="key",
            counter=0,
            credential_device_type="singleDevice",
            credential_backed_up=False,
        )
        await auth.create_authenticator(item)

        def check(_: Any) -> None:
            sql = "SELECT 1 FROM authenticators WHERE credential_id = ? AND counter = 7"
            expect.present.append((sql, (credential,)))

        return auth.update_authenticator_counter(credential, 7), check

    async def bootstrap() -> tuple[Awaitable[Any], Callable[[Any], None]]:
        return auth.bootstrap(), lambda result: None

    async def purge() -> tuple[Awaitable[Any], Callable[[Any], None]]:
        return auth.purge_expired(batch_size=5), lambda result: None

    paths = [
        create_user,
        update_user,
        delete_user,
        link_account,
        unlink_account,
        create_session,
        update_session,
        delete_session,
        create_token,
        use_token,
        authenticator,
        bootstrap,
        purge,
    ]

    async def worker(ops: int) -> None:
        for _ in range(ops):
            write, check = await rng.choice(paths)()
            task = asyncio.ensure_future(write)
            # A random point: some loop turns, sometimes a short while into the write.
            for _ in range(rng.randrange(0, 12)):
                await asyncio.sleep(0)
            if rng.random() < 0.3:
                await asyncio.wait({task}, timeout=rng.uniform(0, 0.003))
            if not task.done():
                task.cancel()
            try:
                result = await task
            except asyncio.CancelledError:
                expect.cancelled += 1
                continue
            check(result)
            expect.acknowledged += 1

    try:
        # Six writers on three connections: BEGINs wait for each other's write locks.
        await asyncio.gather(*(worker(60) for _ in range(6)))
    finally:
        await auth.aclose()

    assert expect.cancelled > 30 and expect.acknowledged > 30, expect
    missing = [(sql, args) for sql, args in expect.present if not _rows(path, sql, *args)]
    back = [(sql, args) for sql, args in expect.absent if _rows(path, sql, *args)]
    assert (missing, back) == ([], []), f"{len(missing)} writes lost, {len(back)} undone"
    assert _rows(path, "PRAGMA integrity_check") == [("ok",)]
