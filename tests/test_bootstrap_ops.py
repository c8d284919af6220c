"""Bootstrap under operational trouble: failing migrations, newer databases, lost records.

Real servers (SQLite, PostgreSQL, MariaDB), each test on a database of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

import asyncauth
from tests._backends import mysql_database, postgres_database, sqlite_database

pytestmark = pytest.mark.anyio

SQL = {
    "sqlite": pytest.param((sqlite_database, "sqlite"), id="sqlite", marks=pytest.mark.sqlite),
    "postgres": pytest.param(
        (postgres_database, "postgres"), id="postgres", marks=pytest.mark.postgres
    ),
    "mysql": pytest.param((mysql_database, "mysql"), id="mysql", marks=pytest.mark.mysql),
}

Provision = Callable[[], AbstractAsyncContextManager[str]]


@pytest.fixture(params=list(SQL.values()))
async def sql_db(
    request: pytest.FixtureRequest, anyio_backend: str
) -> AsyncIterator[tuple[str, str]]:
    provision, dialect = request.param
    async with provision() as url:
        yield url, dialect


async def _bootstrap(url: str, **options: object) -> list[int]:
    async with asyncauth.connect(url, **options) as auth:
        return await auth.bootstrap()


def custom_folder(tmp_path: Path, dialect: str, name: str, sql: str) -> Path:
    folder = tmp_path / "custom"
    (folder / "migrations" / dialect).mkdir(parents=True, exist_ok=True)
    (folder / "migrations" / dialect / name).write_text(sql)
    return folder


async def test_a_failing_migration_reports_its_own_error(
    sql_db: tuple[str, str], tmp_path: Path
) -> None:
    url, dialect = sql_db
    folder = custom_folder(
        tmp_path, dialect, "1001_broken.sql", "ALTER TABLE no_such_table ADD COLUMN x INTEGER;\n"
    )
    async with asyncauth.connect(url, sql_folders=[folder]) as auth:
        with pytest.raises(asyncauth.BackendError) as caught:
            await auth.bootstrap()
    message = str(caught.value)
    assert "no_such_table" in message, message
    assert "aborted" not in message, message
    # Migrations 1 and 2 went in with it on PostgreSQL and SQLite (one transaction) or stayed
    # (MySQL commits DDL): either way, the next bootstrap without the broken file completes.
    assert await asyncauth.bootstrap(url) in ([1, 2], [])
    assert (await asyncauth.check(url)).ok


async def test_a_newer_database_is_accepted_and_reported(
    sql_db: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    url, _ = sql_db
    assert await asyncauth.bootstrap(url) == [1, 2]
    # What a newer asyncauth would leave: a migration this version does not ship.
    async with asyncauth.connect(url) as auth:
        driver = auth.driver  # type: ignore[attr-defined]
        async with driver.transaction() as tx:
            await tx.execute_ddl(
                "INSERT INTO asyncauth_migrations (version, name, checksum) "
                f"VALUES (3, '0003_future.sql', '{'f' * 64}')"
            )
    report = await asyncauth.check(url)
    assert report.ok and report.unknown == [3] and report.applied == [1, 2, 3]
    assert report.as_dict()["unknown"] == [3]
    with caplog.at_level("WARNING", logger="asyncauth"):
        assert await asyncauth.bootstrap(url) == []
    assert any("does not know" in r.getMessage() and "3" in r.getMessage() for r in caplog.records)


@pytest.mark.postgres
async def test_a_replica_waits_for_the_lock_longer_than_the_statement_timeout(
    anyio_backend: str,
) -> None:
    import asyncpg

    from asyncauth._bootstrap import LOCK_KEY

    async with postgres_database() as url:
        holder = await asyncpg.connect(url)
        try:
            # Another replica's bootstrap, as the lock sees it.
            await holder.execute("SELECT pg_advisory_lock($1::bigint)", LOCK_KEY)
            timeout = 1.0
            waiting = asyncio.ensure_future(_bootstrap(url, timeout=timeout))
            # The subject is a wait longer than the statement timeout: this is its length,
            # not a synchronisation (the assertions below hold whatever the scheduling).
            done, _ = await asyncio.wait({waiting}, timeout=timeout * 2.5)
            assert not done, "bootstrap ran without the lock, or gave up at the timeout"
            await holder.execute("SELECT pg_advisory_unlock($1::bigint)", LOCK_KEY)
            assert await asyncio.wait_for(waiting, 30) == [1, 2]
        finally:
            await holder.close()


@pytest.mark.postgres
async def test_the_lock_wait_ends_at_lock_timeout(anyio_backend: str) -> None:
    import asyncpg

    from asyncauth._bootstrap import LOCK_KEY

    async with postgres_database() as url:
        holder = await asyncpg.connect(url)
        try:
            await holder.execute("SELECT pg_advisory_lock($1::bigint)", LOCK_KEY)
            async with asyncauth.connect(url, lock_timeout=0.5) as auth:
                with pytest.raises(asyncauth.BackendError, match="lock_timeout"):
                    await auth.bootstrap()
        finally:
            await holder.close()
        assert await asyncauth.bootstrap(url) == [1, 2]


async def test_a_deleted_migration_record_is_recovered(sql_db: tuple[str, str]) -> None:
    url, _ = sql_db
    assert await asyncauth.bootstrap(url) == [1, 2]

    async def forget(where: str) -> None:
        async with asyncauth.connect(url) as auth:
            async with auth.driver.transaction() as tx:  # type: ignore[attr-defined]
                await tx.execute_ddl(f"DELETE FROM asyncauth_migrations {where}")

    # Someone deleted migration 2's row by hand: it runs again over what it already made.
    await forget("WHERE version = 2")
    assert await asyncauth.bootstrap(url) == [2]
    assert (await asyncauth.check(url)).ok
    # Every row: the tables are adopted as migration 1, and migration 2 runs again.
    await forget("")
    assert await asyncauth.bootstrap(url) == [1, 2]
    report = await asyncauth.check(url)
    assert report.ok, report.differences


async def _poll(condition: Callable[[], Awaitable[bool]], what: str, deadline: float = 30) -> None:
    """Wait until ``condition()`` holds, checking with short pauses, for ``deadline`` s."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while not await condition():
        assert loop.time() < end, f"timed out waiting until {what}"
        await asyncio.sleep(0.02)


@pytest.mark.postgres
async def test_adopting_builds_indexes_without_blocking_writes(anyio_backend: str) -> None:
    import asyncpg

    v3_schema = asyncauth.ddl("postgres").split("-- 0002_asyncauth.sql")[0]
    async with postgres_database() as url:
        admin = await asyncpg.connect(url)
        holder = await asyncpg.connect(url)
        try:
            await admin.execute(v3_schema)
            await admin.execute(
                "INSERT INTO users (email) VALUES ('ada@example.com');"
                "INSERT INTO sessions (user_id, expires, session_token, access_token) "
                "SELECT 1, now() + interval '1 day', 's' || g, 'a' || g "
                "FROM generate_series(1, 20000) AS g"
            )
            # Hold the index builds: a transaction that has written to sessions. A plain
            # CREATE INDEX queues for a lock behind it, and every later write to sessions
            # queues behind that; CREATE INDEX CONCURRENTLY waits without such a lock.
            holder_tx = holder.transaction()
            await holder_tx.start()
            await holder.execute("UPDATE sessions SET expires = expires WHERE id = 1")
            first = asyncio.ensure_future(_bootstrap(url))

            async def building() -> bool:
                n = await admin.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE 'CREATE%INDEX%'"
                )
                return bool(n) or first.done()

            await _poll(building, "the first index build waits on the held transaction")
            assert not first.done(), first.exception()
            # A second replica meanwhile: it waits for the lock, then finds nothing to do.
            second = asyncio.ensure_future(_bootstrap(url, timeout=2))
            # Session writes and account reads go on meanwhile, each within seconds.
            await admin.execute(
                "INSERT INTO sessions (user_id, expires, session_token, access_token) "
                "VALUES (1, now() + interval '1 day', 'during', 'during')",
                timeout=5,
            )
            await admin.execute("UPDATE sessions SET expires = now() WHERE id = 2", timeout=5)
            await admin.fetch("SELECT * FROM accounts WHERE user_id = 1", timeout=5)
            await holder_tx.commit()
            assert await asyncio.wait_for(first, 60) == [1, 2]
            assert await asyncio.wait_for(second, 60) == []
            report = await asyncauth.check(url)
            assert report.ok, report.differences
            invalid = await admin.fetchval("SELECT count(*) FROM pg_index WHERE NOT indisvalid")
            assert invalid == 0
        finally:
            await holder.close()
            await admin.close()


@pytest.mark.postgres
async def test_an_invalid_index_left_by_a_crash_is_rebuilt(anyio_backend: str) -> None:
    import asyncpg

    v3_schema = asyncauth.ddl("postgres").split("-- 0002_asyncauth.sql")[0]
    async with postgres_database() as url:
        admin = await asyncpg.connect(url)
        try:
            await admin.execute(v3_schema)
            await admin.execute(
                "INSERT INTO users (email) VALUES ('ada@example.com');"
                "INSERT INTO sessions (user_id, expires, session_token, access_token) "
                "VALUES (1, now(), 'x', 'y'), (1, now(), 'x2', 'y2')"
            )
            # What an interrupted CREATE UNIQUE INDEX CONCURRENTLY leaves: an INVALID index
            # under the name migration 2 uses (made invalid here by a duplicate value).
            await admin.execute("UPDATE sessions SET user_id = 1")
            with pytest.raises(asyncpg.UniqueViolationError):
                await admin.execute(
                    "CREATE UNIQUE INDEX CONCURRENTLY sessions_user_id ON sessions(user_id)"
                )
            assert await admin.fetchval("SELECT count(*) FROM pg_index WHERE NOT indisvalid") == 1
            assert await asyncauth.bootstrap(url) == [1, 2]
            assert await admin.fetchval("SELECT count(*) FROM pg_index WHERE NOT indisvalid") == 0
            assert (await asyncauth.check(url)).ok
        finally:
            await admin.close()
