"""No pool lends a connection that is inside a transaction (issue 11, item 1).

A connection can come back to a pool with a transaction still open: an application that
borrowed it and forgot to end it, a rollback cut short by a cancellation. Lent again as it
is, the next caller's writes join that transaction: they are committed together with the
abandoned writes, or never committed at all. Every SQL backend is checked here with both
kinds of pool: the one the adapter makes (``connect(url)``) and one the application hands in
(``PostgresAdapter(asyncpg_pool)``, ``MySQLAdapter(aiomysql_pool)``,
``OdbcAdapter(aioodbc_pool)``). Each test opens a transaction with the bare driver on a
connection taken from the adapter's pool, writes a row in it and gives it back; then:

- every connection the pool lends afterwards is outside any transaction (the server says
  so) and cannot see the abandoned row, so it is not the abandoned transaction;
- a write through the adapter is committed (a separate connection sees it at once), and the
  abandoned row never is.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import anyio
import pytest

import asyncauth
from asyncauth import Adapter
from tests._backends import BACKENDS, Backend
from tests._raw import Raw

pytestmark = pytest.mark.anyio

# Seconds: how long the adapter waits for a connection, and the bound on every clean-up.
TIMEOUT = 5.0


class Probe:
    """What a test does with a bare connection of one driver."""

    async def begin_and_write(self, conn: Any, email: str) -> None:
        """Open a transaction on ``conn`` and insert a user with ``email`` in it."""
        raise NotImplementedError

    async def in_transaction(self, conn: Any) -> bool:
        """Whether ``conn`` is inside a transaction; asked before anything else runs on it."""
        raise NotImplementedError

    async def sees(self, conn: Any, email: str) -> bool:
        """Whether a user with ``email`` is visible from ``conn``."""
        raise NotImplementedError


class SqliteProbe(Probe):
    async def begin_and_write(self, conn: Any, email: str) -> None:
        await conn.execute("BEGIN")
        await conn.execute("INSERT INTO users (email) VALUES (?)", (email,))

    async def in_transaction(self, conn: Any) -> bool:
        # sqlite3 asks the engine itself (sqlite3_get_autocommit): no statement needed.
        return bool(conn.in_transaction)

    async def sees(self, conn: Any, email: str) -> bool:
        async with conn.execute("SELECT COUNT(*) FROM users WHERE email = ?", (email,)) as cur:
            row = await cur.fetchone()
        return bool(row[0])


class AsyncpgProbe(Probe):
    async def begin_and_write(self, conn: Any, email: str) -> None:
        await conn.execute("BEGIN")
        await conn.execute("INSERT INTO users (email) VALUES ($1)", email)

    async def in_transaction(self, conn: Any) -> bool:
        # The flag is the server's own transaction status, sent with every reply; the query
        # asks the server whether this session holds a transaction that wrote something.
        if conn.is_in_transaction():
            return True
        return bool(await conn.fetchval("SELECT pg_current_xact_id_if_assigned() IS NOT NULL"))

    async def sees(self, conn: Any, email: str) -> bool:
        return bool(await conn.fetchval("SELECT COUNT(*) FROM users WHERE email = $1", email))


class AiomysqlProbe(Probe):
    async def begin_and_write(self, conn: Any, email: str) -> None:
        await conn.begin()
        async with conn.cursor() as cur:
            await cur.execute("INSERT INTO users (email) VALUES (%s)", (email,))

    async def in_transaction(self, conn: Any) -> bool:
        # The server's status flag from the last reply, then the server asked directly
        # (MariaDB's @@in_transaction; reading it starts no transaction).
        if conn.get_transaction_status():
            return True
        async with conn.cursor() as cur:
            await cur.execute("SELECT @@in_transaction")
            row = await cur.fetchone()
        return bool(row[0])

    async def sees(self, conn: Any, email: str) -> bool:
        async with conn.cursor() as cur:
            await cur.execute("SELECT COUNT(*) FROM users WHERE email = %s", (email,))
            row = await cur.fetchone()
        return bool(row[0])


class AioodbcProbe(Probe):
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    async def _run(self, conn: Any, sql: str, *args: object, fetch: bool = True) -> Any:
        # Not ``async with conn.cursor()``: aioodbc commits when that block ends.
        cur = await conn.cursor()
        try:
            await cur.execute(sql, *args)
            row = await cur.fetchone() if fetch else None
        finally:
            await cur.close()
        return None if row is None else row[0]

    async def begin_and_write(self, conn: Any, email: str) -> None:
        conn.autocommit = False  # ODBC has no BEGIN: leaving autocommit mode starts one
        await self._run(conn, "INSERT INTO users (email) VALUES (?)", email, fetch=False)

    async def in_transaction(self, conn: Any) -> bool:
        # Not the autocommit flag: an application's aioodbc pool lends connections with
        # autocommit off (its default) that are not inside any transaction yet. The server
        # says whether one is open: with autocommit off the probe itself starts a new
        # transaction, but one that has written nothing.
        if self.dialect == "postgres":
            sql = "SELECT CASE WHEN pg_current_xact_id_if_assigned() IS NULL THEN 0 ELSE 1 END"
        else:
            sql = "SELECT @@in_transaction"
        return bool(await self._run(conn, sql))

    async def sees(self, conn: Any, email: str) -> bool:
        return bool(await self._run(conn, "SELECT COUNT(*) FROM users WHERE email = ?", email))


PROBES: dict[str, Probe] = {
    "sqlite": SqliteProbe(),
    "postgres": AsyncpgProbe(),
    "mysql": AiomysqlProbe(),
    "odbc-postgres": AioodbcProbe("postgres"),
    "odbc-mysql": AioodbcProbe("mysql"),
}


def _cases() -> list[Any]:
    cases = []
    for backend in BACKENDS:
        if backend.name not in PROBES:
            continue  # MongoDB has no connection pool of asyncauth's; SQL Server is opt-in
        mark = getattr(pytest.mark, backend.marker)
        # SQLite takes no pool from the application: a file has no server to pool for.
        for kind in ("own",) if backend.name == "sqlite" else ("own", "borrowed"):
            cases.append(pytest.param(backend, kind, id=f"{backend.name}-{kind}", marks=mark))
    return cases


CASES = pytest.mark.parametrize(("backend", "kind"), _cases(), indirect=["backend"])
# The write test gives its one connection back closed, with another caller waiting for it:
# on a borrowed aioodbc pool that caller waited out its whole timeout until asyncauth woke it.
WRITE_CASES = CASES


@asynccontextmanager
async def _adapter(backend: Backend, url: str, kind: str, size: int) -> AsyncIterator[Adapter]:
    """An adapter on ``url`` whose pool holds at most ``size`` connections."""
    if kind == "own":
        async with asyncauth.connect(url, pool_size=size, timeout=TIMEOUT) as auth:
            yield auth
    elif backend.name == "postgres":
        import asyncpg

        pg_pool = await asyncpg.create_pool(url, min_size=1, max_size=size)
        try:
            async with asyncauth.PostgresAdapter(pg_pool, timeout=TIMEOUT) as auth:
                yield auth
        finally:
            with anyio.fail_after(TIMEOUT):
                await pg_pool.close()
    elif backend.name == "mysql":
        import aiomysql

        from asyncauth._mysql import connect_kwargs

        my_pool = await aiomysql.create_pool(**connect_kwargs(url), minsize=1, maxsize=size)
        try:
            async with asyncauth.MySQLAdapter(my_pool, timeout=TIMEOUT) as auth:
                yield auth
        finally:
            my_pool.close()
            with anyio.fail_after(TIMEOUT):
                await my_pool.wait_closed()
    else:
        import aioodbc

        params = dict(parse_qsl(urlsplit(url).query))
        # aioodbc's default, autocommit off, as an application would make it.
        odbc_pool = await aioodbc.create_pool(dsn=params["odbc_connect"], minsize=1, maxsize=size)
        try:
            async with asyncauth.OdbcAdapter(
                odbc_pool, dialect=params["dialect"], timeout=TIMEOUT
            ) as auth:
                yield auth
        finally:
            odbc_pool.close()
            with anyio.fail_after(TIMEOUT):
                await odbc_pool.wait_closed()


async def _give_back_inside_a_transaction(
    auth: Adapter, probe: Probe, email: str, *, settle: bool
) -> None:
    """Take a connection from the adapter's pool, write inside a transaction, give it back.

    With ``settle``, wait until the pool is done taking it back (an application's pool whose
    ``release`` is a coroutine gets it back in a task of its own).
    """
    # The driver's pool, as asyncauth lends from it: an application's pool is wrapped.
    pool = auth.driver.pool  # type: ignore[attr-defined]
    conn = await pool.acquire()
    try:
        await probe.begin_and_write(conn, email)
        # The transaction is really open, and wrote.
        assert await probe.in_transaction(conn)
        assert await probe.sees(conn, email)
    finally:
        pool.release(conn)
    if settle:
        await _settle(pool)


async def _settle(pool: Any) -> None:
    # The releases an application's pool runs as tasks of their own are done (with a
    # deadline); asyncauth's own pools take a connection back at once.
    releasing = list(getattr(pool, "_releasing", ()))
    if releasing:
        with anyio.fail_after(TIMEOUT):
            await asyncio.wait(releasing)


def _email(what: str) -> str:
    return f"pool-tx-{what}-{uuid.uuid4().hex[:12]}@example.com"


@CASES
async def test_no_connection_is_lent_inside_a_transaction(
    backend: Backend, kind: str, db_url: str, raw: Raw
) -> None:
    probe = PROBES[backend.name]
    abandoned = _email("abandoned")
    size = 2
    async with _adapter(backend, db_url, kind, size) as auth:
        await _give_back_inside_a_transaction(auth, probe, abandoned, settle=True)
        pool = auth.driver.pool  # type: ignore[attr-defined]
        # Every connection the pool can lend, held together: the one given back (or what
        # replaced it) is among them.
        lent: list[Any] = []
        states: list[tuple[bool, bool]] = []
        try:
            for _ in range(size):
                lent.append(await pool.acquire())
            for conn in lent:
                states.append((await probe.in_transaction(conn), await probe.sees(conn, abandoned)))
        finally:
            for conn in lent:
                pool.release(conn)
            # Before the application closes its pool (see ODBC_WAKEUP_DEFECT: aioodbc's
            # wait_closed would wait for ever for a release still under way).
            await _settle(pool)
        # (inside a transaction, sees the abandoned row) for each connection lent.
        assert states == [(False, False)] * size
    # Rolled back, not committed by whoever got the connection next.
    assert await raw.count("users", email=abandoned) == 0


@WRITE_CASES
async def test_a_write_after_a_transaction_given_back_is_committed(
    backend: Backend, kind: str, db_url: str, raw: Raw
) -> None:
    probe = PROBES[backend.name]
    abandoned, written = _email("abandoned"), _email("written")
    # One connection: the adapter's write gets the one given back, or what replaced it.
    async with _adapter(backend, db_url, kind, 1) as auth:
        # Not settled: the adapter's next call may come while the pool takes it back.
        await _give_back_inside_a_transaction(auth, probe, abandoned, settle=False)
        user = await auth.create_user(email=written)
        # Seen at once from a connection of its own: committed, not merely written inside a
        # transaction that the adapter's connection still holds open.
        assert await raw.count("users", email=written) == 1
        assert (await auth.get_user_by_email(written)) == user
        assert await raw.count("users", email=abandoned) == 0
    assert await raw.count("users", email=written) == 1
    # The abandoned write was rolled back, not committed along with the adapter's.
    assert await raw.count("users", email=abandoned) == 0
