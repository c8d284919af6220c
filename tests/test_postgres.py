"""PostgreSQL specifics: pools the application owns, PgBouncer mode, one statement per read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest

import asyncauth
from tests._backends import postgres_database

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]
UTC = timezone.utc


@pytest.fixture(scope="module")
async def pg_url(anyio_backend: str) -> AsyncIterator[str]:
    async with postgres_database() as url:
        await asyncauth.bootstrap(url)
        yield url


async def test_adapter_leaves_an_application_pool_open(pg_url: str) -> None:
    import asyncpg

    pool = await asyncpg.create_pool(pg_url, min_size=1, max_size=2)
    try:
        async with asyncauth.PostgresAdapter(pool) as auth:
            user = await auth.create_user(email="owned-pool@example.com")
        assert not pool._closed  # aclose() did not close what it did not make
        assert await pool.fetchval("SELECT email FROM users WHERE id = $1", int(user.id)) == (
            "owned-pool@example.com"
        )
    finally:
        await pool.close()


async def test_statement_cache_off_for_pgbouncer(pg_url: str) -> None:
    async with asyncauth.connect(pg_url, statement_cache=False) as auth:
        user = await auth.create_user(email="bouncer@example.com")
        session = await auth.create_session(user.id, datetime.now(UTC) + timedelta(hours=1))
        for _ in range(3):
            found = await auth.get_session_and_user(session.session_token)
            assert found is not None and found[1] == user
        conn = await auth.driver.pool.acquire()
        try:
            # No statement was kept prepared on the connection.
            assert conn._stmt_cache.get_max_size() == 0
        finally:
            auth.driver.pool.release(conn)


async def test_session_read_is_one_statement(pg_url: str) -> None:
    import asyncpg

    from asyncauth._postgres import keep_session_state

    sent: list[str] = []

    async def log(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda record: sent.append(record.query))

    pool = await asyncpg.create_pool(
        pg_url, min_size=1, max_size=1, init=log, reset=keep_session_state
    )
    try:
        auth = asyncauth.PostgresAdapter(pool)
        user = await auth.create_user(email="one-statement@example.com")
        session = await auth.create_session(user.id, datetime.now(UTC) + timedelta(hours=1))
        # asyncpg calls query loggers from the event loop, a little later: let them run
        # before each clear and each count.
        await asyncio.sleep(0.01)
        sent.clear()
        assert await auth.get_session_and_user(session.session_token) is not None
        await asyncio.sleep(0.01)
        assert len(sent) == 1 and "JOIN users" in sent[0], sent
        sent.clear()
        assert await auth.use_verification_token("nobody@example.com", "t") is None
        await asyncio.sleep(0.01)
        assert len(sent) == 1 and sent[0].lstrip().startswith("DELETE"), sent
    finally:
        await pool.close()
