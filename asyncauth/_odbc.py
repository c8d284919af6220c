"""Any ODBC driver through aioodbc: SQL Server first, and whatever else has an ODBC driver.

The wrapper is generic: statements are in the ``qmark`` style every ODBC driver takes, and
the SQL dialect (which folder of queries and migrations is used) is chosen by the caller:
``mssql`` for SQL Server, ``postgres`` or ``mysql`` for those servers through their own ODBC
drivers (which is how the wrapper is tested here, where no SQL Server can run).

What differs per dialect is kept to the session set-up run once on each connection (the time
zone, so that naive ODBC timestamps are UTC, and the server-side statement or lock timeouts
where the ODBC driver has none), and a few connection-string defaults.

aioodbc runs each ODBC call in a worker thread, so a call cannot be abandoned half-way: the
statement timeout is the ODBC driver's own (pyodbc's connection ``timeout``) or the server's,
and the wait for a free connection is bounded on the asyncio side (``asyncauth._pool``).

URLs:

- ``mssql://user:password@host:port/database?driver=ODBC+Driver+18+for+SQL+Server&Encrypt=yes``
  builds a SQL Server connection string; every other query parameter is passed through as a
  connection-string attribute (``TrustServerCertificate=yes``, ``Encrypt=no``, ...).
- ``odbc://?odbc_connect=<url-encoded connection string>&dialect=mssql|postgres|mysql``
  hands any connection string to the ODBC driver manager; ``dialect`` (default ``mssql``)
  chooses the folder of SQL the queries and migrations come from.
"""

from __future__ import annotations

import asyncio
import functools
import re
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

import aioodbc
import anyio
import pyodbc

from ._adapter import SqlAdapter
from ._connect import Options
from ._driver import Dialect, Row, SqlDriver, describe, unique_key
from ._errors import AsyncAuthError, BackendError, ConfigurationError, DuplicateError
from ._mysql_session import ALREADY_DONE as MYSQL_ALREADY_DONE
from ._mysql_session import SESSION_SETUP as MYSQL_SESSION_SETUP
from ._mysql_session import TIMESTAMP_RANGE as MYSQL_TIMESTAMP_RANGE
from ._pool import own_or_borrowed
from ._sql import Statement

__all__ = [
    "DRIVERS",
    "MssqlAdapter",
    "OdbcAdapter",
    "OdbcDriver",
    "connection_string",
    "from_url",
    "mssql_connection_string",
    "odbc_driver",
]

UTC = timezone.utc

# Native error numbers of a unique-key violation: MySQL/MariaDB (1062, 1586) and SQL Server
# (2627 unique constraint, 2601 unique index). PostgreSQL says it with SQLSTATE 23505.
_DUPLICATE_CODES = frozenset({"1062", "1586", "2627", "2601"})
_NATIVE = re.compile(r"\((\d+)\)")
# Where the messages name the key; the value they also quote is never repeated.
_KEY_NAMES = (
    re.compile(r"for key '([^']*)'"),
    re.compile(r"constraint ['\"]([^'\"]*)['\"]"),
    re.compile(r"unique index '([^']*)'"),
)
# SQL Server names the table too: "... in object 'dbo.users' with unique index 'email'".
_OBJECT = re.compile(r"in object '([^']*)'")


def _time_in(value: datetime) -> datetime:
    # ODBC timestamps have no zone: bind the UTC wall-clock time (the sessions are UTC).
    return value.astimezone(UTC).replace(tzinfo=None)


def _time_text(value: datetime) -> str:
    # MariaDB's ODBC driver reports TIMESTAMP without fractional digits, so pyodbc would bind
    # a datetime cut to the second; MySQL reads this text as the same instant, microseconds
    # included (the session is UTC).
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _time_out(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise BackendError(f"expected a timestamp from ODBC, got {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _bool_out(value: Any) -> bool:
    # Some drivers hand booleans over as the characters '1'/'0' (psqlODBC's BoolsAsChar).
    if isinstance(value, str):
        return value.strip().lower() in ("1", "t", "true", "y", "yes")
    return bool(value)


def _odbc_dialect(name: str, **extra: Any) -> Dialect:
    extra.setdefault("time_in", _time_in)
    return Dialect(
        name=name,
        paramstyle="qmark",
        time_out=_time_out,
        max_id=2**31 - 1,  # int4 / INT / int keys in every documented schema
        bool_out=_bool_out,
        **extra,
    )


def connection_string(base: str, defaults: Mapping[str, str]) -> str:
    """``base`` with each default attribute appended unless ``base`` already sets it."""
    present = {part.split("=", 1)[0].strip().lower() for part in base.split(";") if "=" in part}
    extra = [f"{k}={v}" for k, v in defaults.items() if k.lower() not in present]
    if not extra:
        return base
    return base.rstrip(";") + ";" + ";".join(extra) + ";"


class OdbcDriver(SqlDriver[aioodbc.Connection]):
    """An aioodbc pool, made here or handed in by the application (one dialect per driver).

    The subclasses below only say which dialect, which statements set a session up and which
    connection-string attributes are added when the caller's string lacks them.
    """

    dialect: ClassVar[Dialect]
    #: run once on each connection, before its first use
    setup: ClassVar[tuple[str, ...]] = ()
    #: connection-string attributes added unless the caller's string sets them
    defaults: ClassVar[dict[str, str]] = {}
    #: native error numbers that mean a repeated migration statement found its work done
    already_done: ClassVar[frozenset[str]] = frozenset()

    @staticmethod
    def configure(raw: pyodbc.Connection) -> None:
        """Adjust a new pyodbc connection (text encodings) before its first statement."""

    errors: ClassVar[tuple[type[BaseException], ...]] = (pyodbc.Error, pyodbc.Warning, OSError)

    def __init__(
        self,
        dsn: str | None = None,
        *,
        pool: aioodbc.Pool | None = None,
        pool_size: int = 10,
        timeout: float = 10.0,
    ) -> None:
        if pool is None and dsn is None:
            raise ConfigurationError("an ODBC adapter needs a pool or a connection string")
        self.dsn = None if dsn is None else connection_string(dsn, self.defaults)
        self.owns_pool = pool is None
        self.pool_size = pool_size
        self.timeout = timeout
        # Our own pool is fair (asyncauth._pool); an application's aioodbc pool is borrowed
        # as it is.
        self.pool = own_or_borrowed(
            "ODBC",
            pool,
            self._connect,
            size=pool_size,
            timeout=timeout,
            alive=_reusable,
            discard=_close_own,
            release=None if pool is None else functools.partial(_release_borrowed, pool),
        )
        self._ready: weakref.WeakSet[aioodbc.Connection] = weakref.WeakSet()
        # Connects that outlived their caller, kept until they finish and are closed.
        self._orphans: set[asyncio.Future[Any]] = set()

    def describe_target(self) -> str:
        return "the database through ODBC"

    async def _connect(self) -> aioodbc.Connection:
        # Each connection has a worker thread of its own, and every call on it, closing
        # included, runs there one after the other. A pyodbc connection used from two threads
        # at once (a ROLLBACK or close sent while a cancelled statement still runs in the
        # driver) crashed the process. The same goes for a connect abandoned half-way: it is
        # left to finish in its thread and closed then, never dropped while in the driver.
        task = asyncio.ensure_future(self._open_connection())
        try:
            return await asyncio.shield(task)
        except BaseException:
            if not task.done():
                self._orphans.add(task)
                task.add_done_callback(self._close_orphan)
            raise

    async def _open_connection(self) -> aioodbc.Connection:
        executor = ThreadPoolExecutor(1, thread_name_prefix="asyncauth-odbc")
        try:
            conn = await aioodbc.connect(
                dsn=self.dsn,
                autocommit=True,
                executor=executor,
                timeout=max(1, round(self.timeout)),  # the login timeout, whole seconds
            )
        except BaseException:
            executor.shutdown(wait=False)
            raise
        try:
            await self._set_up(conn)
        except BaseException:
            await _close_own(conn)
            raise
        return conn

    def _close_orphan(self, task: asyncio.Task[aioodbc.Connection]) -> None:
        self._orphans.discard(task)
        if not task.cancelled() and task.exception() is None:
            closing = asyncio.ensure_future(_close_own(task.result()))
            self._orphans.add(closing)
            closing.add_done_callback(self._orphans.discard)

    async def _set_up(self, conn: aioodbc.Connection) -> None:
        # aioodbc hands over the bare pyodbc connection: one hop to its thread sets it up.
        raw = conn._conn

        def setup() -> None:
            self.configure(raw)
            try:
                raw.timeout = max(1, round(self.timeout))  # the query timeout, whole seconds
            except pyodbc.Error:
                pass  # psqlODBC, for one, has no such attribute: the server's limits apply
            for statement in self.session_setup():
                raw.execute(statement)

        await conn._execute(setup)

    def session_setup(self) -> tuple[str, ...]:
        """The statements run once on each new connection."""
        return self.setup

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[aioodbc.Connection]:
        pool = self.pool
        conn = await pool.acquire()
        try:
            if not self.owns_pool and conn not in self._ready:
                await self._prepare(conn)
            yield conn
        except BaseException as exc:
            if _connection_lost(exc) or not isinstance(exc, (pyodbc.Error, AsyncAuthError)):
                # The server closed it, or the caller was cancelled while a call may still
                # run in the connection's thread: it must not be lent again. aioodbc drops
                # only the few dead-connection errors it knows.
                _spoil(conn)
            raise
        finally:
            pool.release(conn)

    async def _prepare(self, conn: aioodbc.Connection) -> None:
        # A pool the application made: set each connection up on its first use here. aioodbc
        # has no way to reach pyodbc's encoding settings but the connection it wraps.
        self.configure(conn._conn)
        await self._autocommit(conn, True)
        for statement in self.session_setup():
            async with _cursor(conn) as cur:
                await cur.execute(statement)
        self._ready.add(conn)

    async def _fetch(
        self, conn: aioodbc.Connection, stmt: Statement, args: Mapping[str, Any]
    ) -> list[Row]:
        async with _cursor(conn) as cur:
            await cur.execute(stmt.sql, *stmt.bind(args))
            # A T-SQL batch may report row counts before the result set it ends with.
            while cur.description is None:
                if not await cur.nextset():
                    return []
            names = [column[0] for column in cur.description]
            return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]

    async def _execute(
        self, conn: aioodbc.Connection, stmt: Statement, args: Mapping[str, Any]
    ) -> int:
        async with _cursor(conn) as cur:
            await cur.execute(stmt.sql, *stmt.bind(args))
            return int(cur.rowcount)

    async def _execute_ddl(self, conn: aioodbc.Connection, sql: str) -> None:
        async with _cursor(conn) as cur:
            try:
                await cur.execute(sql)
            except pyodbc.Error as exc:
                if not self.already_done & set(_NATIVE.findall(_message(exc))):
                    raise

    async def _autocommit(self, conn: aioodbc.Connection, value: bool) -> None:
        # Switching it is a round trip to the server for some drivers (MariaDB's sends
        # SET autocommit): run it in the pool's threads, not on the event loop. aioodbc only
        # offers a blocking property, hence the connection it wraps.
        await conn._execute(setattr, conn._conn, "autocommit", value)

    @asynccontextmanager
    async def _transaction(
        self, conn: aioodbc.Connection, *, exclusive: bool
    ) -> AsyncIterator[None]:
        # ODBC has no BEGIN: leaving autocommit mode starts a transaction.
        del exclusive
        await self._autocommit(conn, False)
        try:
            yield
            await conn.commit()
            await self._autocommit(conn, True)
        except BaseException as exc:
            if not isinstance(exc, Exception):
                # Cancelled: a statement may still be running in the connection's thread,
                # and a ROLLBACK would wait behind it. connection() closes the connection
                # instead, which rolls the transaction back on the server.
                raise
            with anyio.CancelScope(shield=True):
                try:
                    await conn.rollback()
                    await self._autocommit(conn, True)
                except Exception:
                    # The connection died with the statement, or cannot leave the
                    # transaction mode: it must not go back to the pool.
                    _spoil(conn)
            raise

    async def aclose(self) -> None:
        await self.pool.aclose()
        if self._orphans:
            await asyncio.gather(*self._orphans, return_exceptions=True)

    @staticmethod
    def describe(exc: BaseException) -> str:
        return _describe(exc)

    @staticmethod
    def map_error(exc: BaseException) -> AsyncAuthError:
        if isinstance(exc, pyodbc.IntegrityError) and _is_duplicate(exc):
            # Drivers quote the duplicate value ("Duplicate entry '…'", "The duplicate key
            # value is (…)"): keep the key only.
            name, table = _key_name(exc)
            key = unique_key(name, table)
            return DuplicateError(f"unique key taken: {key or name or 'unknown'}", key=key)
        if isinstance(exc, pyodbc.Error) and exc.args and exc.args[0] in ("HYT00", "HYT01"):
            return BackendError("the database did not answer in time (ODBC timeout)")
        return BackendError(f"ODBC call failed: {_describe(exc)}")


@asynccontextmanager
async def _cursor(conn: aioodbc.Connection) -> AsyncIterator[Any]:
    # Not ``async with conn.cursor()``: aioodbc's context manager COMMITs when it closes a
    # cursor outside autocommit mode, which would end a multi-statement transaction after its
    # first statement (and release the row locks it took).
    if conn.closed:
        # aioodbc closes a connection itself on some errors; later statements of the same
        # block (a bootstrap's unlock, say) must fail as the database failing, not as None.
        raise BackendError("the ODBC connection was lost")
    cur = await conn.cursor()
    try:
        yield cur
    finally:
        await cur.close()


_SPOILED = "_asyncauth_spoiled"


def _spoil(conn: aioodbc.Connection) -> None:
    # Marked here, closed by the pool when it comes back (in the connection's own thread,
    # after whatever call is still running there).
    conn.__dict__[_SPOILED] = True


def _reusable(conn: aioodbc.Connection) -> bool:
    # asyncauth keeps its connections in autocommit mode outside a transaction: one that is
    # not (a transaction whose end was cut short) could lend an open transaction to the next
    # caller. pyodbc answers ``autocommit`` from its own flag, without calling the driver.
    return not conn.closed and _SPOILED not in conn.__dict__ and bool(conn._conn.autocommit)


async def _close(conn: aioodbc.Connection) -> None:
    try:
        await conn.close()
    except Exception:
        pass  # already gone; nothing more to release


async def _close_own(conn: aioodbc.Connection) -> None:
    # A connection of our pool: the close queues behind any call still running in the
    # connection's thread, and the thread ends with it.
    try:
        await _close(conn)
    finally:
        conn._executor.shutdown(wait=False)


async def _release_borrowed(pool: aioodbc.Pool, conn: aioodbc.Connection) -> None:
    if _reusable(conn):
        await pool.release(conn)
        return
    await _close(conn)  # its threads are the application's: they stay
    await pool.release(conn)
    # aioodbc wakes a waiting caller only when the connection it gets back is open: without
    # this, a caller already waiting on a full pool would wait out its whole timeout although
    # a place fell free (it opens a new connection there).
    await pool._wakeup()


# How drivers say that the connection itself is gone (not just the statement): SQLSTATE class
# 08, MySQL's "server has gone away" / "lost connection", PostgreSQL's closed sockets.
_LOST_CODES = frozenset({"2006", "2013"})
_LOST_TEXT = (
    "server closed the connection",
    "no connection to the server",
    "terminating connection",
    "communication link failure",
    "could not send data to server",
)


def _connection_lost(exc: BaseException) -> bool:
    state = str(exc.args[0]) if exc.args else ""
    text = _message(exc)
    return (
        state.startswith("08")
        or bool(_LOST_CODES & set(_NATIVE.findall(text)))
        or any(part in text.lower() for part in _LOST_TEXT)
    )


def _message(exc: BaseException) -> str:
    return str(exc.args[1]) if len(exc.args) > 1 else str(exc)


def _is_duplicate(exc: BaseException) -> bool:
    state = str(exc.args[0]) if exc.args else ""
    if state == "23505":
        return True
    return state == "23000" and bool(_DUPLICATE_CODES & set(_NATIVE.findall(_message(exc))))


def _key_name(exc: BaseException) -> tuple[str | None, str | None]:
    """The unique index the message names, and the table when it names one too."""
    text = _message(exc)
    table = _OBJECT.search(text)
    for pattern in _KEY_NAMES:
        match = pattern.search(text)
        if match:
            return match.group(1), table.group(1) if table else None
    return None, None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, pyodbc.Error) and len(exc.args) >= 2:
        first = str(exc.args[1]).splitlines()[0] if str(exc.args[1]) else ""
        return f"{type(exc).__name__} [{exc.args[0]}]: {first}"
    return describe(exc)


class MssqlOdbcDriver(OdbcDriver):
    """SQL Server: ``datetime2`` has no zone and asyncauth writes UTC; nothing to set."""

    dialect = _odbc_dialect("mssql")


class PostgresOdbcDriver(OdbcDriver):
    """PostgreSQL through psqlODBC."""

    dialect = _odbc_dialect("postgres")
    # psqlODBC returns a timestamptz in the session's zone, as a naive value: make it UTC.
    setup = ("SET TIME ZONE 'UTC'",)
    # With psqlODBC's default BoolsAsChar=1 a boolean arrives as the text '0', which is true.
    defaults = {"BoolsAsChar": "0"}

    def session_setup(self) -> tuple[str, ...]:
        # psqlODBC ignores the ODBC query timeout: the server bounds each statement instead,
        # lock waits included, as asyncpg's command_timeout does on the native driver.
        return (*self.setup, f"SET statement_timeout = {max(1, round(self.timeout * 1000))}")


class MySQLOdbcDriver(OdbcDriver):
    """MySQL / MariaDB through their ODBC driver: the same SQL and session as with aiomysql."""

    dialect = _odbc_dialect(
        "mysql", time_in=_time_text, time_range=MYSQL_TIMESTAMP_RANGE, transactional_ddl=False
    )
    setup = (MYSQL_SESSION_SETUP,)
    already_done = frozenset(str(code) for code in MYSQL_ALREADY_DONE)
    defaults = {"CHARSET": "utf8mb4"}

    def session_setup(self) -> tuple[str, ...]:
        # MariaDB's ODBC driver does not end a statement waiting on a lock at the query
        # timeout: the server gives up on row and metadata locks itself (whole seconds, and
        # both variables exist in MySQL 8 and MariaDB alike).
        wait = max(1, round(self.timeout))
        return (
            *self.setup,
            f"SET SESSION innodb_lock_wait_timeout = {wait}, lock_wait_timeout = {wait}",
        )

    @staticmethod
    def configure(raw: pyodbc.Connection) -> None:
        # MariaDB's ODBC driver (3.1) miscounts UTF-16 text holding some multi-byte characters
        # (right-to-left marks, Hebrew): a parameter gains a NUL, a value read back loses its
        # last character. UTF-8 both ways, in the connection's utf8mb4, is exact.
        raw.setencoding(encoding="utf-8")
        raw.setdecoding(pyodbc.SQL_CHAR, encoding="utf-8")
        raw.setdecoding(pyodbc.SQL_WCHAR, encoding="utf-8", ctype=pyodbc.SQL_CHAR)


#: dialect name -> driver class
DRIVERS: dict[str, type[OdbcDriver]] = {
    "mssql": MssqlOdbcDriver,
    "postgres": PostgresOdbcDriver,
    "mysql": MySQLOdbcDriver,
}


def odbc_driver(
    dialect: str,
    dsn: str | None = None,
    *,
    pool: aioodbc.Pool | None = None,
    pool_size: int = 10,
    timeout: float = 10.0,
) -> OdbcDriver:
    """A driver for ``dialect`` (``mssql``, ``postgres`` or ``mysql``) over ODBC."""
    try:
        cls = DRIVERS[dialect]
    except KeyError:
        raise ConfigurationError(
            f"unknown ODBC dialect {dialect!r}; known: {', '.join(sorted(DRIVERS))}"
        ) from None
    return cls(dsn, pool=pool, pool_size=pool_size, timeout=timeout)


DEFAULT_MSSQL_DRIVER = "ODBC Driver 18 for SQL Server"


class OdbcAdapter(SqlAdapter):
    """A database through aioodbc, with the SQL of ``dialect`` (``mssql``, ``postgres``, ``mysql``).

    ``OdbcAdapter(pool, dialect="mssql")`` wraps an ``aioodbc.Pool`` the application owns
    (``aclose()`` leaves it open; asyncauth turns autocommit on for the connections it
    borrows and runs the dialect's session set-up on each once). Give such a pool an
    ``executor`` with at least one thread per connection: aioodbc runs every call in a
    thread, and callers waiting on a row lock must not take the thread that the transaction
    holding the lock needs to commit. ``OdbcAdapter(dsn=...)`` makes and owns a pool (with
    such an executor) from an ODBC connection string.
    """

    def __init__(
        self,
        pool: aioodbc.Pool | None = None,
        *,
        dsn: str | None = None,
        dialect: str = "mssql",
        pool_size: int | None = None,
        timeout: float = 10.0,
        hash_session_tokens: bool = False,
        sql_folders: Sequence[str | Path] = (),
        layout: str | None = None,
    ) -> None:
        driver = odbc_driver(dialect, dsn, pool=pool, pool_size=pool_size or 10, timeout=timeout)
        super().__init__(
            driver,
            hash_session_tokens=hash_session_tokens,
            owns_driver=pool is None,
            sql_folders=sql_folders,
            layout=layout,
        )


class MssqlAdapter(OdbcAdapter):
    """SQL Server through aioodbc (Microsoft's ODBC driver, or FreeTDS)."""

    def __init__(
        self,
        pool: aioodbc.Pool | None = None,
        *,
        dsn: str | None = None,
        pool_size: int | None = None,
        timeout: float = 10.0,
        hash_session_tokens: bool = False,
        sql_folders: Sequence[str | Path] = (),
        layout: str | None = None,
    ) -> None:
        super().__init__(
            pool,
            dsn=dsn,
            dialect="mssql",
            pool_size=pool_size,
            timeout=timeout,
            hash_session_tokens=hash_session_tokens,
            sql_folders=sql_folders,
            layout=layout,
        )


def _braced(value: str) -> str:
    # ODBC connection-string quoting: a value with ; { } or edge spaces goes in braces,
    # with '}' doubled.
    if any(c in value for c in ";{}=") or value != value.strip():
        return "{" + value.replace("}", "}}") + "}"
    return value


def mssql_connection_string(url: str) -> str:
    """The ODBC connection string for a ``mssql://user:pw@host:port/db?driver=...`` URL."""
    parts = urlsplit(url)
    attrs: dict[str, str] = {}
    driver = DEFAULT_MSSQL_DRIVER
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() == "driver":
            driver = value
        else:
            attrs[key] = value
    try:
        port = parts.port
    except ValueError:
        # urllib's message would quote the whole network location, password included.
        raise ConfigurationError("the port of a mssql:// URL must be a number") from None
    server = parts.hostname or "localhost"
    if port:
        server = f"{server},{port}"  # SQL Server's host,port form
    pieces = [f"DRIVER={{{driver.replace('}', '}}')}}}", f"SERVER={_braced(server)}"]
    database = unquote(parts.path.lstrip("/"))
    if database:
        pieces.append(f"DATABASE={_braced(database)}")
    if parts.username:
        pieces.append(f"UID={_braced(unquote(parts.username))}")
    if parts.password:
        pieces.append(f"PWD={_braced(unquote(parts.password))}")
    pieces += [f"{k}={_braced(v)}" for k, v in attrs.items()]
    return ";".join(pieces) + ";"


def parse_odbc_url(url: str) -> tuple[str, str]:
    """``odbc://?odbc_connect=...&dialect=...`` -> (connection string, dialect)."""
    parts = urlsplit(url)
    if parts.netloc or parts.path not in ("", "/"):
        raise ConfigurationError(
            "an odbc:// URL carries everything in its query: odbc://?odbc_connect=<url-encoded "
            "connection string>&dialect=mssql|postgres|mysql"
        )
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    dsn = params.pop("odbc_connect", "")
    dialect = params.pop("dialect", "mssql")
    if not dsn:
        raise ConfigurationError(
            "an odbc:// URL needs odbc_connect=<url-encoded connection string>"
        )
    if params:
        raise ConfigurationError(f"unknown odbc:// URL parameter(s): {', '.join(sorted(params))}")
    return dsn, dialect


def from_url(url: str, options: Options) -> OdbcAdapter:
    """Build the adapter for a ``mssql://`` or ``odbc://`` URL."""
    if urlsplit(url).scheme.lower() == "mssql":
        return MssqlAdapter(dsn=mssql_connection_string(url), **options.common())
    dsn, dialect = parse_odbc_url(url)
    return OdbcAdapter(dsn=dsn, dialect=dialect, **options.common())
