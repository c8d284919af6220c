"""Faults injected for real: a server restarted under load, connections and processes killed
in the middle of delete_user and of a migration, a SQLite file locked by another process.

Servers that get restarted are throwaway ones (``tests.reliability._servers``), never the
machine's shared servers.
"""

from __future__ import annotations

import functools
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

import asyncauth
from asyncauth import BackendError
from tests._backends import BACKENDS, Backend, unavailable
from tests._handshake import wait_for_file
from tests._raw import Raw, sqlite_path
from tests.conformance._support import account_for, authenticator_for, make_user, unique
from tests.reliability._servers import THROWAWAY, server_backends
from tests.reliability._tally import tally_of

if TYPE_CHECKING:
    from asyncauth import Adapter
else:
    Adapter = Any

pytestmark = [pytest.mark.anyio]

UTC = timezone.utc
ROOT = Path(__file__).resolve().parents[2]
V1_TABLES = {"users", "accounts", "sessions", "verification_requests"}


# -- the server restarts in the middle of a read load ------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("server_backend", server_backends())
async def test_server_restart_during_read_load(server_backend: Backend) -> None:
    async with server_backend.provision():
        pass  # the backend's own rule first: its driver is there, its server configured
    if server_backend.name not in THROWAWAY:
        unavailable(f"no throwaway server for {server_backend.name} in tests/reliability/_servers")
    start, url_for = THROWAWAY[server_backend.name]
    tally = tally_of(server_backend.name)
    timeout = 2.0
    with start() as server:
        url = url_for(server.database_url())
        log: list[tuple[float, float, str]] = []
        outages: list[tuple[float, float, float]] = []  # (down, restart begins, up)
        stopping: list[float] = []  # when each shutdown began
        done = False
        async with asyncauth.connect(url, bootstrap=True, pool_size=10, timeout=timeout) as auth:
            user = await make_user(auth)
            expires = datetime.now(UTC) + timedelta(days=1)
            tokens = [unique("restart-") for _ in range(20)]
            for token in tokens:
                await auth.create_session(user.id, expires, session_token=token)

            async def reader(index: int) -> None:
                n = 0
                while not done:
                    token = tokens[(index + n) % len(tokens)]
                    n += 1
                    began = time.monotonic()
                    try:
                        got = await auth.get_session_and_user(token)
                        ok = got is not None and got[0].session_token == token and got[1] == user
                        outcome = "ok" if ok else f"wrong answer {got!r}"
                    except BackendError as exc:
                        outcome = f"BackendError: {exc}"
                    except Exception as exc:  # anything else is a failure of the contract
                        outcome = f"other {exc!r}"
                    log.append((began, time.monotonic(), outcome))
                    if outcome != "ok":
                        await anyio.sleep(0.01)  # do not spin on instant refusals

            async def controller() -> None:
                nonlocal done
                await anyio.sleep(0.7)
                for mode in ("fast", "immediate"):  # a clean shutdown, then a crash
                    stopping.append(time.monotonic())
                    await anyio.to_thread.run_sync(server.stop, mode)
                    down = time.monotonic()
                    await anyio.sleep(1.0)
                    restart = time.monotonic()
                    await anyio.to_thread.run_sync(server.start)
                    outages.append((down, restart, time.monotonic()))
                    await anyio.sleep(1.0)
                done = True

            with anyio.fail_after(60):
                async with anyio.create_task_group() as group:
                    group.start_soon(controller)
                    for i in range(24):
                        group.start_soon(reader, i)
            # The same adapter, not a new one: the pool healed by itself.
            assert await auth.get_session_and_user(tokens[0]) is not None

    others = [o for _, _, o in log if o != "ok" and not o.startswith("BackendError")]
    assert others == [], others[:5]
    before = Counter(o for _, e, o in log if e < stopping[0])
    assert set(before) == {"ok"}, f"failures before any fault: {before.most_common(4)}"
    failed_fast = 0
    ends = [*stopping[1:], float("inf")]
    for (down, restart, up), next_down in zip(outages, ends, strict=True):
        during = [(b, e, o) for b, e, o in log if b >= down and e <= restart]
        assert during, "no call was made during the outage"
        assert all(o.startswith("BackendError") for _, _, o in during), Counter(
            o for _, _, o in during
        ).most_common(4)
        slowest = max(e - b for b, e, _ in during)
        # Within its timeout, give or take the scheduling of 24 tasks on a loaded machine.
        assert slowest < timeout + 1.0, f"a call took {slowest:.2f} s while the server was down"
        failed_fast += len(during)
        # Healed: every call from half a second after the restart to the next outage works.
        after = [o for b, e, o in log if b >= up + 0.5 and e < next_down]
        assert after and all(o == "ok" for o in after), Counter(after).most_common(4)
    tally["restart: server restarts (fast + crash)"] += len(outages)
    tally["restart: calls failed fast with BackendError"] += failed_fast
    tally["restart: reads ok"] += sum(1 for _, _, o in log if o == "ok")


# -- a connection killed in the middle of delete_user -------------------------------------------


async def _user_with_rows(auth: Adapter) -> tuple[str, dict[str, int]]:
    user = await make_user(auth)
    expires = datetime.now(UTC) + timedelta(days=1)
    for _ in range(3):
        await auth.create_session(user.id, expires)
    for _ in range(2):
        await auth.link_account(account_for(user.id))
    await auth.create_authenticator(authenticator_for(user.id))
    return user.id, {"users": 1, "sessions": 3, "accounts": 2, "authenticators": 1}


async def _counts(raw: Raw, user_id: str) -> dict[str, int]:
    return {
        "users": await raw.count("users", id=user_id),
        "sessions": await raw.count("sessions", user_id=user_id),
        "accounts": await raw.count("accounts", user_id=user_id),
        "authenticators": await raw.count("authenticators", user_id=user_id),
    }


async def test_delete_user_killed_midway_leaves_nothing_partial(
    fresh_db_url: str, fresh_raw: Raw, tally: Counter[str]
) -> None:
    """The database kills delete_user while it deletes (PostgreSQL: pg_terminate_backend of
    the connection waiting on a locked row; SQLite: the statement aborted mid-transaction)."""
    async with asyncauth.connect(fresh_db_url, timeout=30) as auth:
        for _ in range(3):
            user_id, before = await _user_with_rows(auth)
            error = await fresh_raw.kill_midway(
                "authenticators",
                {"user_id": user_id},
                lambda user_id=user_id: auth.delete_user(user_id),  # type: ignore[misc]
            )
            assert isinstance(error, BackendError), repr(error)
            assert await _counts(fresh_raw, user_id) == before
            # The same adapter finishes the job: the killed connection did not poison the pool.
            deleted = await auth.delete_user(user_id)
            assert deleted is not None and deleted.id == user_id
            assert await _counts(fresh_raw, user_id) == dict.fromkeys(before, 0)
            tally["kill: delete_user killed midway"] += 1


def _run_parked_child(
    mode: str, path: str, pattern: str, *extra: str, child_module: str = "_sqlite_child"
) -> str:
    """Run ``_sqlite_child`` (or ``child_module``) until it parks inside its transaction (at
    its step), then SIGKILL it."""
    with tempfile.TemporaryDirectory() as scratch:
        marker = Path(scratch) / "parked"
        child = subprocess.Popen(
            [sys.executable, "-m", f"tests.reliability.{child_module}", mode, path, str(marker)]
            + [pattern, *extra],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # The child writes the marker atomically (tests/_handshake.py): once it is there,
            # its text is whole, never the empty file of a write caught halfway.
            parked = wait_for_file(marker, timeout=60, alive=lambda: child.poll() is None)
            if parked is None:
                child.kill()
                out, err = child.communicate(timeout=30)
                raise AssertionError(f"the child never parked on {pattern!r}: {out} {err}")
            os.kill(child.pid, signal.SIGKILL)
            return parked
        finally:
            if child.poll() is None:
                child.kill()
            child.communicate(timeout=30)  # reaps it and closes the pipes


def _integrity(path: str) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


@pytest.mark.sqlite
async def test_sqlite_process_killed_inside_delete_user(anyio_backend: str) -> None:
    del anyio_backend
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/kill.db"
        path = sqlite_path(url)
        async with asyncauth.connect(url, bootstrap=True) as auth:
            user_id, before = await _user_with_rows(auth)
        # The child has deleted the sessions and is starting on the accounts when it dies.
        parked = await anyio.to_thread.run_sync(
            _run_parked_child, "delete_user", path, "DELETE FROM accounts", user_id
        )
        assert "DELETE FROM accounts" in parked
        assert _integrity(path) == "ok"
        backend = next(b for b in BACKENDS if b.name == "sqlite")
        async with backend.raw(url) as raw:
            assert await _counts(raw, user_id) == before
            async with asyncauth.connect(url) as auth:
                assert await auth.delete_user(user_id) is not None
            assert await _counts(raw, user_id) == dict.fromkeys(before, 0)
    tally_of("sqlite")["kill: process SIGKILLed inside delete_user"] += 1


# -- a connection killed in the middle of a migration -------------------------------------------


@pytest.mark.sqlite
async def test_sqlite_process_killed_inside_a_migration(anyio_backend: str) -> None:
    del anyio_backend
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/migrate.db"
        path = sqlite_path(url)
        # Killed in migration 2, after all of migration 1 ran in the same transaction.
        parked = await anyio.to_thread.run_sync(
            _run_parked_child, "bootstrap", path, "CREATE TABLE IF NOT EXISTS authenticators"
        )
        assert "authenticators" in parked
        assert _integrity(path) == "ok"
        backend = next(b for b in BACKENDS if b.name == "sqlite")
        async with backend.raw(url) as raw:
            assert await raw.tables() == set(), "a killed migration left tables behind"
        async with asyncauth.connect(url) as auth:
            assert await auth.bootstrap() == [1, 2]
            report = await auth.check()
            assert report.ok, report.differences
        assert _integrity(path) == "ok"
    tally_of("sqlite")["kill: process SIGKILLed inside a migration"] += 1


def _native(url: str) -> str:
    """The driver-native URL behind a backend URL (an ``odbc://`` URL wraps one)."""
    if url.startswith("odbc:"):
        from tests import _backends

        native: str = _backends.native_url(url)  # type: ignore[attr-defined]
        return native
    return url


async def _kill_postgres_migration(url: str, raw: Raw) -> list[int]:
    """Bootstrap an empty database; terminate its connection in migration 2, after all of
    migration 1 ran in the same transaction. What the next bootstrap must apply: everything.

    Another transaction creates (and keeps uncommitted) a table named like migration 2's
    ``authenticators``: the migration's CREATE waits on it, and that waiting backend is killed.
    """
    import asyncpg

    from tests._raw import _kill_waiter

    locker = await asyncpg.connect(_native(url))
    monitor = await asyncpg.connect(_native(url))
    try:
        transaction = locker.transaction()
        await transaction.start()
        await locker.execute("CREATE TABLE authenticators (blocker integer)")
        async with asyncauth.connect(url, timeout=30) as auth:
            error = await _kill_waiter(monitor, locker.get_server_pid(), auth.bootstrap)
            await transaction.rollback()
            assert isinstance(error, BackendError), repr(error)
    finally:
        await locker.close()
        await monitor.close()
    # One transaction: migration 1's tables and the record went with the kill.
    assert not (await raw.tables()) & (V1_TABLES | {"asyncauth_migrations"})
    return [1, 2]


async def _kill_mysql_migration(url: str, raw: Raw) -> list[int]:
    """Adopt a NextAuth v3 database and KILL the connection in migration 2.

    MySQL commits each DDL statement on its own, so a migration cannot be all or nothing
    there; what must hold is that the next bootstrap finishes it. Migration 2 starts by
    altering ``accounts``: a transaction here keeps a metadata lock on that table, the ALTER
    waits for it, and the waiting connection is killed.
    """
    from asyncauth._sql import load_migrations

    for statement in load_migrations("mysql")[0].statements:
        await raw.execute(statement)  # the v3 tables, as a NextAuth v3 app would have them
    import aiomysql

    from asyncauth._mysql import connect_kwargs

    native = connect_kwargs(_native(url))
    locker = await aiomysql.connect(**native, autocommit=False)
    monitor = await aiomysql.connect(**native, autocommit=True)
    try:
        async with locker.cursor() as cursor:
            await cursor.execute("SELECT COUNT(*) FROM accounts")  # holds the metadata lock
        async with asyncauth.connect(url, timeout=30) as auth, anyio.create_task_group() as group:
            raised: list[BaseException] = []

            async def run() -> None:
                try:
                    await auth.bootstrap()
                except Exception as exc:
                    raised.append(exc)

            group.start_soon(run)
            victims: list[int] = []
            with anyio.fail_after(10):
                while not victims:
                    async with monitor.cursor() as cursor:
                        await cursor.execute(
                            "SELECT id FROM information_schema.processlist "
                            "WHERE state LIKE %s AND id <> %s",
                            ("%metadata lock%", locker.thread_id()),
                        )
                        victims = [int(row[0]) for row in await cursor.fetchall()]
                    await anyio.sleep(0.005)
            for victim in victims:
                async with monitor.cursor() as cursor:
                    await cursor.execute(f"KILL {victim:d}")
        await locker.rollback()
    finally:
        locker.close()
        monitor.close()
    assert len(raised) == 1 and isinstance(raised[0], BackendError), raised
    return [2]


async def _kill_mongo_migration(url: str, raw: Raw) -> list[int]:
    """SIGKILL a bootstrap process in index set 2, after it created the authenticators'
    indexes and before the sessions' ``userId`` index (``_mongo_child``).

    MongoDB creates each index on its own, so an index set cannot be all or nothing there:
    what must hold is that the half-made set is not recorded, that reads and writes work on
    what is there, and that the next bootstrap finishes it.
    """
    from tests._raw import MongoRaw, mongo_url

    assert isinstance(raw, MongoRaw)
    parked = await anyio.to_thread.run_sync(
        functools.partial(
            _run_parked_child,
            "bootstrap",
            mongo_url(url),
            "sessions:userId",
            child_module="_mongo_child",
        )
    )
    assert parked == "createIndexes sessions(userId)", parked
    assert await raw.db["asyncauth_migrations"].distinct("_id") == [1]
    made = {
        name: [
            [k for k, _ in info["key"]]
            for info in (await raw.db[name].index_information()).values()
        ]
        for name in ("authenticators", "sessions")
    }
    assert ["credentialId"] in made["authenticators"], made  # index set 2 had begun
    assert ["userId"] not in made["sessions"], made  # and was killed before this one
    async with asyncauth.connect(url, timeout=30) as auth:
        report = await auth.check()
        assert report.pending == [2] and not report.ok, report.differences
        # What the killed bootstrap left serves the adapter as it is.
        user = await make_user(auth)
        session = await auth.create_session(user.id, datetime.now(UTC) + timedelta(days=1))
        assert await auth.get_session_and_user(session.session_token) == (session, user)
        authenticator = await auth.create_authenticator(authenticator_for(user.id))
        found = await auth.get_authenticator(authenticator.credential_id)
        assert found == authenticator
        assert (await auth.purge_expired()).sessions == 0
        assert await auth.delete_user(user.id) == user
    return [2]


#: backend name -> kill a bootstrap in the middle of its migrations (checking what is left);
#: returns the versions the next bootstrap must apply
KILL_MIGRATION: dict[str, Callable[[str, Raw], Awaitable[list[int]]]] = {
    "postgres": _kill_postgres_migration,
    "odbc-postgres": _kill_postgres_migration,
    "mysql": _kill_mysql_migration,
    "odbc-mysql": _kill_mysql_migration,
    "mongodb": _kill_mongo_migration,
    "mongodb-motor": _kill_mongo_migration,
}


@pytest.mark.parametrize("server_backend", server_backends())
async def test_migration_killed_midway_then_bootstrap_finishes(
    server_backend: Backend, anyio_backend: str
) -> None:
    del anyio_backend
    async with server_backend.provision() as url:
        kill = KILL_MIGRATION.get(server_backend.name)
        if kill is None:
            unavailable(f"no migration kill written for {server_backend.name} (KILL_MIGRATION)")
        async with server_backend.raw(url) as raw:
            expected = await kill(url, raw)
        async with asyncauth.connect(url) as auth:
            assert await auth.bootstrap() == expected
            assert await auth.bootstrap() == []
            report = await auth.check()
            assert report.ok, report.differences
    tally_of(server_backend.name)["kill: connection terminated inside a migration"] += 1


# -- a SQLite file locked by another process ----------------------------------------------------

_LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
if sys.argv[2] == "exclusive":
    # Nobody else may even read: the lock an exclusive-mode writer keeps until it ends.
    conn.execute("PRAGMA locking_mode = EXCLUSIVE")
    conn.execute("BEGIN EXCLUSIVE")
else:
    conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE users SET name = 'locker'")
print("locked", flush=True)
sys.stdin.readline()
"""


def _start_locker(path: str, mode: str) -> subprocess.Popen[str]:
    locker = subprocess.Popen(
        [sys.executable, "-c", _LOCKER, path, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout is not None
    line = locker.stdout.readline()
    if line.strip() != "locked":
        locker.kill()
        locker.communicate()
        raise AssertionError(f"the locker process could not lock {path}")
    return locker


def _kill(process: subprocess.Popen[str]) -> None:
    # Killed mid-transaction, as a crashed process would be: the OS drops its locks.
    process.kill()
    process.communicate(timeout=30)


async def _refused_after(limit: float, call: Callable[[], Any]) -> BackendError:
    """``call`` fails with a "locked" BackendError once the busy timeout ``limit`` passed."""
    started = time.monotonic()
    with pytest.raises(BackendError, match="locked") as caught:
        await call()
    waited = time.monotonic() - started
    assert limit * 0.8 <= waited < limit + 2, f"refused after {waited:.2f} s"
    return caught.value


@pytest.mark.sqlite
async def test_sqlite_file_locked_by_another_process(anyio_backend: str) -> None:
    del anyio_backend
    tally = tally_of("sqlite")
    timeout = 0.5
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/locked.db"
        path = sqlite_path(url)
        async with asyncauth.connect(url, bootstrap=True, timeout=timeout) as auth:
            user = await make_user(auth)
            # Another process holds the write lock: writes wait out the busy timeout, then
            # fail clearly; reads go on (WAL readers never wait for a writer).
            locker = await anyio.to_thread.run_sync(_start_locker, path, "immediate")
            try:
                assert await auth.get_user(user.id) == user
                writes = (
                    lambda: auth.update_user(user.id, name="blocked"),
                    lambda: auth.create_user(email=unique() + "@example.com"),
                    lambda: auth.delete_user(user.id),
                )
                for write in writes:
                    error = await _refused_after(timeout, write)
                    assert str(error).startswith("SQLite failed"), str(error)
                    tally["locked file: writes refused after busy timeout"] += 1
            finally:
                await anyio.to_thread.run_sync(_kill, locker)
            assert (await auth.update_user(user.id, name="after")).name == "after"
        # A process in exclusive locking mode keeps out readers too, even a new adapter.
        locker = await anyio.to_thread.run_sync(_start_locker, path, "exclusive")
        try:
            await _refused_after(timeout, lambda: asyncauth.connect(url, timeout=timeout))
            tally["locked file: opens refused after busy timeout"] += 1
        finally:
            await anyio.to_thread.run_sync(_kill, locker)
        async with asyncauth.connect(url, timeout=timeout) as auth:
            assert await auth.get_user(user.id) == replace(user, name="after")
            assert (await auth.check()).ok
        assert _integrity(path) == "ok"
