"""Any ODBC driver through aioodbc: SQL Server first, and whatever else has an ODBC driver.

The wrapper is generic: statements are in the ``qmark`` style every ODBC driver takes, and
the SQL dialect (which folder of queries and migrations is used) is chosen by the caller:
``mssql`` for SQL Server, ``postgres`` or ``mysql`` for those servers through their own ODBC
drivers (which is how the wrapper is tested here, where no SQL Server can run).

What differs per dialect is kept to the session set-up run once on each connection (the time
zone, so that naive ODBC timestamps are UTC), and a few connection-string defaults.

aioodbc runs each ODBC call in a worker thread, so a call cannot be abandoned half-way: the
statement timeout is the ODBC driver's own (pyodbc's connection ``timeout``; where the driver
does not support it, as psqlODBC, statements are not bounded), and the wait for a free
connection is bounded on the asyncio side.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any, ClassVar

import aioodbc
import anyio
import pyodbc

from ._driver import Dialect, Row, SqlDriver
from ._errors import AsyncAuthError, BackendError, ConfigurationError, DuplicateError
from ._mysql_session import ALREADY_DONE as MYSQL_ALREADY_DONE
from ._mysql_session import SESSION_SETUP as MYSQL_SESSION_SETUP
from ._mysql_session import TIMESTAMP_RANGE as MYSQL_TIMESTAMP_RANGE
from ._sql import Statement

__all__ = ["DRIVERS", "OdbcDriver", "connection_string", "odbc_driver"]

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
        self.pool = pool
        self.owns_pool = pool is None
        self.pool_size = pool_size
        self.timeout = timeout
        self._ready: weakref.WeakSet[aioodbc.Connection] = weakref.WeakSet()
        self._executor: ThreadPoolExecutor | None = None

    async def open(self) -> None:
        """Create the pool (when the adapter owns it)."""
        if self.pool is not None:
            return
        # A thread per connection: with the event loop's shared executor (a few threads), the
        # calls of connections waiting on a row lock could fill every thread, and the
        # transaction holding the lock could then never run its COMMIT.
        self._executor = ThreadPoolExecutor(self.pool_size, thread_name_prefix="asyncauth-odbc")
        try:
            with anyio.fail_after(self.timeout):
                self.pool = await aioodbc.create_pool(
                    dsn=self.dsn,
                    minsize=1,
                    maxsize=self.pool_size,
                    autocommit=True,
                    executor=self._executor,
                    after_created=self._after_created,
                )
        except (pyodbc.Error, OSError, TimeoutError) as exc:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise BackendError(f"cannot connect through ODBC: {_describe(exc)}") from exc

    async def _after_created(self, raw: pyodbc.Connection) -> None:
        # aioodbc hands over the bare pyodbc connection: one worker-thread hop sets it up.
        def setup() -> None:
            self.configure(raw)
            try:
                raw.timeout = max(1, round(self.timeout))  # the query timeout, whole seconds
            except pyodbc.Error:
                pass  # psqlODBC, for one, has no such attribute: statements then wait
            for statement in self.setup:
                raw.execute(statement)

        await asyncio.get_running_loop().run_in_executor(self._executor, setup)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[aioodbc.Connection]:
        pool = self.pool
        if pool is None:
            raise BackendError("the ODBC adapter is closed")
        try:
            with anyio.fail_after(self.timeout):
                conn = await pool.acquire()
        except TimeoutError:
            raise BackendError(f"no ODBC connection free within {self.timeout} s") from None
        try:
            if not self.owns_pool and conn not in self._ready:
                await self._prepare(conn)
            yield conn
        except pyodbc.Error as exc:
            if _connection_lost(exc):
                # aioodbc drops only the few dead-connection errors it knows; a connection
                # the server closed must not go back to the pool to fail the next caller.
                with anyio.CancelScope(shield=True):
                    await _discard(conn)
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await pool.release(conn)

    async def _prepare(self, conn: aioodbc.Connection) -> None:
        # A pool the application made: set each connection up on its first use here. aioodbc
        # has no way to reach pyodbc's encoding settings but the connection it wraps.
        self.configure(conn._conn)
        await self._autocommit(conn, True)
        for statement in self.setup:
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
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, setattr, conn._conn, "autocommit", value)

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
        except BaseException:
            with anyio.CancelScope(shield=True):
                try:
                    await conn.rollback()
                    await self._autocommit(conn, True)
                except Exception:
                    # The connection died with the statement, or cannot leave the
                    # transaction mode: it must not go back to the pool.
                    await _discard(conn)
            raise

    async def aclose(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None and self.owns_pool:
            pool.close()
            await pool.wait_closed()
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

    @staticmethod
    def map_error(exc: BaseException) -> AsyncAuthError:
        if isinstance(exc, pyodbc.IntegrityError) and _is_duplicate(exc):
            return DuplicateError(f"unique key taken: {_key_name(exc)}")
        if isinstance(exc, pyodbc.Error) and exc.args and exc.args[0] in ("HYT00", "HYT01"):
            return BackendError("the database did not answer in time (ODBC timeout)")
        return BackendError(f"ODBC call failed: {_describe(exc)}")


@asynccontextmanager
async def _cursor(conn: aioodbc.Connection) -> AsyncIterator[Any]:
    # Not ``async with conn.cursor()``: aioodbc's context manager COMMITs when it closes a
    # cursor outside autocommit mode, which would end a multi-statement transaction after its
    # first statement (and release the row locks it took).
    cur = await conn.cursor()
    try:
        yield cur
    finally:
        await cur.close()


async def _discard(conn: aioodbc.Connection) -> None:
    # The connection is unusable (it died with the statement): close it so the pool drops it.
    try:
        await conn.close()
    except Exception:
        pass  # already gone; nothing more to release


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


def _key_name(exc: BaseException) -> str:
    text = _message(exc)
    for pattern in _KEY_NAMES:
        match = pattern.search(text)
        if match:
            return match.group(1)
    return "unknown"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, pyodbc.Error) and len(exc.args) >= 2:
        first = str(exc.args[1]).splitlines()[0] if str(exc.args[1]) else ""
        return f"{type(exc).__name__} [{exc.args[0]}]: {first}"
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


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


class MySQLOdbcDriver(OdbcDriver):
    """MySQL / MariaDB through their ODBC driver: the same SQL and session as with aiomysql."""

    dialect = _odbc_dialect(
        "mysql", time_in=_time_text, time_range=MYSQL_TIMESTAMP_RANGE, transactional_ddl=False
    )
    setup = (MYSQL_SESSION_SETUP,)
    already_done = frozenset(str(code) for code in MYSQL_ALREADY_DONE)
    defaults = {"CHARSET": "utf8mb4"}

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
