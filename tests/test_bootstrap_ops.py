"""Bootstrap under operational trouble: failing migrations, newer databases, lost records.

Real servers (SQLite, PostgreSQL, MariaDB), each test on a database of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
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
            timeout = 0.3
            waiting = asyncio.ensure_future(_bootstrap(url, timeout=timeout))
            # The subject is a wait longer than the statement timeout: this is its length,
            # not a synchronisation (the assertions below hold whatever the scheduling).
            done, _ = await asyncio.wait({waiting}, timeout=timeout * 4)
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
