"""The aioodbc driver: URLs, connection strings, error mapping, and what only ODBC can get
wrong, against the real PostgreSQL and MariaDB through their ODBC drivers.

The conformance suite runs over ODBC too (backends ``odbc-postgres`` and ``odbc-mysql``);
these tests cover the wrapper itself.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

import asyncauth
from asyncauth import BackendError, ConfigurationError, DuplicateError
from tests._backends import (
    mysql_database,
    native_url,
    odbc_mysql_database,
    odbc_postgres_database,
)
from tests._raw import MySQLRaw, PostgresRaw, end_other_connections
from tests.conformance._support import sql_row_locked

pyodbc = pytest.importorskip("pyodbc")
aioodbc = pytest.importorskip("aioodbc")

UTC = timezone.utc


# -- URLs and connection strings (no server) --------------------------------------------------


def test_mssql_url_builds_a_sql_server_connection_string() -> None:
    from asyncauth._odbc import mssql_connection_string

    text = mssql_connection_string(
        "mssql://app:p%3Bw%7Dd@db.example:1433/auth?TrustServerCertificate=yes&Encrypt=no"
    )
    assert text == (
        "DRIVER={ODBC Driver 18 for SQL Server};SERVER=db.example,1433;DATABASE=auth;"
        "UID=app;PWD={p;w}}d};TrustServerCertificate=yes;Encrypt=no;"
    )
    named = mssql_connection_string("mssql://sa@host/db?driver=FreeTDS")
    assert named.startswith("DRIVER={FreeTDS};SERVER=host;DATABASE=db;UID=sa;")


def test_connect_picks_the_adapter_and_the_sql_folder() -> None:
    mssql = asyncauth.connect("mssql://sa:pw@localhost:1433/auth?driver=FreeTDS")
    assert isinstance(mssql, asyncauth.MssqlAdapter)
    assert mssql.dialect.name == "mssql"
    assert "OUTPUT" in mssql.queries["use_verification_token"].statements[0].sql
    connection = quote("DRIVER={PostgreSQL Unicode};SERVER=h;DATABASE=d;")
    pg = asyncauth.connect(f"odbc://?dialect=postgres&odbc_connect={connection}")
    assert isinstance(pg, asyncauth.OdbcAdapter) and pg.dialect.name == "postgres"
    assert pg.dialect.paramstyle == "qmark"
    # The default dialect of a raw ODBC URL is SQL Server's.
    assert asyncauth.connect(f"odbc://?odbc_connect={connection}").dialect.name == "mssql"


@pytest.mark.parametrize(
    "bad",
    [
        "odbc://",
        "odbc://host/db?odbc_connect=DSN%3Dx",
        "odbc://?odbc_connect=DSN%3Dx&dialect=oracle",
        "odbc://?odbc_connect=DSN%3Dx&colour=blue",
    ],
)
def test_bad_odbc_urls_are_configuration_errors(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        asyncauth.connect(bad)


def test_defaults_are_added_only_when_missing() -> None:
    from asyncauth._odbc import connection_string

    assert connection_string("DRIVER={x};", {"BoolsAsChar": "0"}) == "DRIVER={x};BoolsAsChar=0;"
    assert connection_string("DRIVER={x};boolsaschar=1", {"BoolsAsChar": "0"}) == (
        "DRIVER={x};boolsaschar=1"
    )


@pytest.mark.anyio
async def test_a_missing_odbc_driver_is_a_backend_error() -> None:
    auth = asyncauth.connect("mssql://sa:pw@127.0.0.1:1/db?driver=No+Such+Driver", timeout=2)
    with pytest.raises(BackendError, match="ODBC"):
        await auth.open()


# -- errors ----------------------------------------------------------------------------------


def test_every_pyodbc_exception_class_is_mapped() -> None:
    from asyncauth._odbc import OdbcDriver

    classes = {
        value
        for value in vars(pyodbc).values()
        if inspect.isclass(value) and issubclass(value, BaseException)
    }
    assert pyodbc.IntegrityError in classes
    for cls in classes:
        assert issubclass(cls, OdbcDriver.errors), cls
        mapped = OdbcDriver.map_error(cls("08S01", "[08S01] Communication link failure"))
        assert isinstance(mapped, asyncauth.AsyncAuthError), cls


@pytest.mark.parametrize(
    ("state", "message", "key"),
    [
        ("23505", 'ERROR: duplicate key value violates unique constraint "email"', "email"),
        ("23000", "[MariaDB]Duplicate entry 'secret@x' for key 'email' (1062)", "email"),
        (
            "23000",
            "[SQL Server]Cannot insert duplicate key row in object 'dbo.users' with unique "
            "index 'email'. The duplicate key value is (secret@x). (2601)",
            "email",
        ),
        (
            "23000",
            "[SQL Server]Violation of PRIMARY KEY constraint 'pk_users'. Cannot insert "
            "duplicate key in object 'dbo.users'. The duplicate key value is (secret). (2627)",
            "pk_users",
        ),
    ],
)
def test_unique_violations_become_duplicate_errors(state: str, message: str, key: str) -> None:
    from asyncauth._odbc import OdbcDriver

    mapped = OdbcDriver.map_error(pyodbc.IntegrityError(state, message))
    assert isinstance(mapped, DuplicateError)
    assert key in str(mapped) and "secret" not in str(mapped)


def test_other_integrity_errors_are_not_duplicates() -> None:
    from asyncauth._odbc import OdbcDriver

    for state, message in (
        ("23000", "[MariaDB]Column 'user_id' cannot be null (1048)"),
        ("23502", 'ERROR: null value in column "user_id" violates not-null constraint'),
        ("23000", "[SQL Server]Cannot insert the value NULL into column 'user_id'. (515)"),
    ):
        assert not isinstance(
            OdbcDriver.map_error(pyodbc.IntegrityError(state, message)), DuplicateError
        )


# -- against the servers ---------------------------------------------------------------------

DATABASES = {"postgres": odbc_postgres_database, "mysql": odbc_mysql_database}


@pytest.fixture(params=["postgres", "mysql"])
async def odbc_url(request: pytest.FixtureRequest, anyio_backend: str) -> AsyncIterator[str]:
    async with DATABASES[request.param]() as url:
        yield url


@pytest.mark.anyio
@pytest.mark.odbc
async def test_a_multi_statement_query_is_one_transaction(odbc_url: str) -> None:
    # aioodbc's own cursor block commits when it closes: the driver must not use it, or the
    # row lock of use_verification_token's locking read would end before its delete.
    async with asyncauth.connect(odbc_url, bootstrap=True, pool_size=10) as auth:
        for round_ in range(3):
            token = f"t-{round_}"
            await auth.create_verification_token("a@example.com", token, datetime.now(UTC))
            results = await asyncio.gather(
                *[auth.use_verification_token("a@example.com", token) for _ in range(50)]
            )
            assert sum(r is not None for r in results) == 1


@pytest.mark.anyio
@pytest.mark.odbc
async def test_an_application_pool_is_borrowed_not_closed(odbc_url: str) -> None:
    from urllib.parse import parse_qsl, urlsplit

    params = dict(parse_qsl(urlsplit(odbc_url).query))
    await asyncauth.bootstrap(odbc_url)
    # aioodbc's default is autocommit off: asyncauth must turn it on for what it borrows.
    pool = await aioodbc.create_pool(dsn=params["odbc_connect"], minsize=1, maxsize=2)
    try:
        async with asyncauth.OdbcAdapter(pool, dialect=params["dialect"]) as auth:
            expires = datetime(2031, 2, 3, 4, 5, 6, 789000, tzinfo=timezone(timedelta(hours=9)))
            user = await auth.create_user(email="pool@example.com", name="Zoë 🚀 עברית\u200e")
            session = await auth.create_session(user.id, expires)
            found = await auth.get_session_and_user(session.session_token)
            assert found is not None and found == (session, user)
            assert found[0].expires == expires
        assert not pool.closed
        # Committed, so another connection sees it.
        async with asyncauth.connect(odbc_url) as other:
            assert await other.get_user_by_email("pool@example.com") == user
    finally:
        pool.close()
        await pool.wait_closed()


@pytest.mark.anyio
@pytest.mark.odbc
async def test_stored_times_are_utc_instants(odbc_url: str) -> None:
    expires = datetime(2031, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)
    async with asyncauth.connect(odbc_url, bootstrap=True) as auth:
        user = await auth.create_user(email="utc@example.com")
        await auth.create_session(user.id, expires)
    url = native_url(odbc_url)
    if url.startswith("postgresql://"):
        pg = await PostgresRaw.open(url)
        try:
            rows = await pg._fetch("SELECT extract(epoch FROM expires) AS epoch FROM sessions", ())
        finally:
            await pg.aclose()
    else:
        my = await MySQLRaw.open(url)
        try:
            rows = await my._fetch("SELECT UNIX_TIMESTAMP(expires) AS epoch FROM sessions", ())
        finally:
            await my.aclose()
    assert float(rows[0]["epoch"]) == expires.timestamp()


@pytest.mark.anyio
@pytest.mark.odbc
async def test_a_mysql_migration_repeated_over_odbc_skips_what_exists(
    anyio_backend: str,
) -> None:
    from tests._backends import odbc_url as make_odbc_url

    async with mysql_database() as url:
        assert await asyncauth.bootstrap(url) == [1, 2]
        raw = await MySQLRaw.open(url)
        try:
            await raw.execute("DELETE FROM asyncauth_migrations WHERE version = 2")
            await raw.execute("DROP INDEX sessions_expires ON sessions")
        finally:
            await raw.aclose()
        target = make_odbc_url("mysql", url)
        assert await asyncauth.bootstrap(target) == [2]
        assert (await asyncauth.check(target)).ok


@pytest.mark.anyio
@pytest.mark.odbc
async def test_a_connection_the_server_closed_leaves_the_pool(odbc_url: str) -> None:
    async with asyncauth.connect(odbc_url, bootstrap=True, pool_size=1) as auth:
        user = await auth.create_user(email="gone@example.com")
        url = native_url(odbc_url)
        # The server ends the adapter's (only) connection while it sits idle in the pool.
        raw = await (PostgresRaw if url.startswith("postgresql://") else MySQLRaw).open(url)
        try:
            await end_other_connections(raw)
        finally:
            await raw.aclose()
        # The first call may meet the dead connection; it must not stay in the pool.
        try:
            await auth.get_user(user.id)
        except BackendError:
            pass
        for _ in range(3):
            assert await auth.get_user(user.id) == user


@pytest.mark.anyio
@pytest.mark.odbc
async def test_cancelling_a_call_blocked_on_a_lock_leaves_the_process_and_pool_working(
    odbc_url: str,
) -> None:
    # The blocked statement is still inside the ODBC driver, in a worker thread, when its
    # caller is cancelled. Closing or rolling back the connection from another thread at that
    # moment crashed the whole process; now the connection is closed in its own thread once
    # the statement ends, and is never lent again.
    import anyio

    async with asyncauth.connect(odbc_url, bootstrap=True, pool_size=2, timeout=3) as auth:
        user = await auth.create_user(email="lock@example.com", name="before")
        async with sql_row_locked(odbc_url, user.id):
            for _ in range(3):
                with anyio.move_on_after(0.3) as scope:
                    await auth.update_user(user.id, name="blocked")
                assert scope.cancelled_caught  # it was really waiting on the lock
            # Meanwhile the adapter serves other callers (the pool opens new connections).
            assert (await auth.get_user(user.id)) is not None
        # The lock is gone; the cancelled statements end on the server (or time out there),
        # and the pool heals: every later call works on the same adapter.
        for _ in range(5):
            assert (await auth.update_user(user.id, name="after")).name == "after"
        assert auth.driver.pool.opened <= 2
