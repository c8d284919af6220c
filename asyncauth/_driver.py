"""What the SQL adapter needs from a database driver, and the logic every driver shares.

A driver module (``_sqlite``, ``_postgres``, ...) subclasses :class:`SqlDriver` with four
small methods over its own connection type; running several statements as one transaction,
picking the result of a multi-statement query and translating errors happen here, once.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, ClassVar, Final, Generic, Literal, TypeVar

from ._errors import AsyncAuthError, BackendError, ConfigurationError, DuplicateError
from ._pool import FairPool
from ._sql import ParamStyle, Query, Statement

__all__ = ["Dialect", "Row", "SqlDriver", "Translating", "Tx", "unique_key"]

Row = Mapping[str, Any]
# Secret-free by construction: only asyncauth's own messages (they name tables, columns and
# constraints, never bound values) are logged, at DEBUG.
log = logging.getLogger("asyncauth")
ConnT = TypeVar("ConnT")
UTC = timezone.utc


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one SQL dialect stores the values that need converting at the boundary.

    ``time_in``/``time_out`` convert aware UTC datetimes to and from what the driver binds and
    returns; ``max_id`` is the largest key the id column holds (a larger id cannot exist, so a
    lookup answers ``None`` without asking). ``time_range`` is the span of instants the
    timestamp columns hold, when narrower than any a caller is likely to pass (MySQL's
    ``TIMESTAMP`` ends in 2038): a datetime outside it is refused before it is sent.
    ``transactional_ddl`` is False where DDL commits itself (MySQL), so a migration can stop
    halfway and its statements must be safe to run again.
    """

    name: str
    paramstyle: ParamStyle
    time_in: Callable[[datetime], Any]
    time_out: Callable[[Any], datetime]
    max_id: int = 2**31 - 1
    bool_out: Callable[[Any], bool] = bool
    time_range: tuple[datetime, datetime] | None = None
    transactional_ddl: bool = True

    def id_in(self, value: str) -> int | None:
        """The integer key for a str id, or None when no row can have it."""
        if not (0 < len(value) <= 19 and value.isdigit() and value.isascii()):
            return None
        number = int(value)
        return number if 0 < number <= self.max_id else None


class Tx(abc.ABC):
    """A connection inside a transaction: what bootstrap and multi-statement queries use."""

    @abc.abstractmethod
    async def fetch_all(self, query: Query, args: Mapping[str, Any]) -> list[Row]:
        """Run every statement of ``query``; rows of the last one that returned any."""

    @abc.abstractmethod
    async def execute(self, query: Query, args: Mapping[str, Any]) -> int:
        """Run ``query``; the row count of its last statement."""

    @abc.abstractmethod
    async def execute_ddl(self, sql: str) -> None:
        """Run one statement of a migration script (no parameters)."""


class SqlDriver(abc.ABC, Generic[ConnT]):
    """A thin wrapper over one async driver: a pool of ``ConnT`` and four primitives."""

    dialect: ClassVar[Dialect]
    #: the driver's exception classes that :meth:`map_error` translates
    errors: ClassVar[tuple[type[BaseException], ...]]

    #: the driver's pool: its own ``FairPool`` or an application's behind ``BorrowedPool``
    #: (``asyncauth._pool``); lends with ``acquire``/``release``, ends with ``aclose``
    pool: Any

    # -- what each driver provides -------------------------------------------------------

    @abc.abstractmethod
    async def _fetch(self, conn: ConnT, stmt: Statement, args: Mapping[str, Any]) -> list[Row]:
        """Run one statement, return its rows (empty for a statement returning none)."""

    @abc.abstractmethod
    async def _execute(self, conn: ConnT, stmt: Statement, args: Mapping[str, Any]) -> int:
        """Run one statement, return the number of rows it changed."""

    @abc.abstractmethod
    async def _execute_ddl(self, conn: ConnT, sql: str) -> None:
        """Run one parameterless statement."""

    @abc.abstractmethod
    def _transaction(self, conn: ConnT, *, exclusive: bool) -> Any:
        """An async context manager: a transaction on ``conn``, rolled back on error.

        ``exclusive`` asks for the database's write lock up front (SQLite's IMMEDIATE),
        so that two writers cannot deadlock upgrading a read lock.
        """

    async def aclose(self) -> None:
        """Close the pool, if the driver made it (a borrowed one just stops lending)."""
        await self.pool.aclose()

    @staticmethod
    @abc.abstractmethod
    def map_error(exc: BaseException) -> AsyncAuthError:
        """Translate one of :attr:`errors` into asyncauth's tree (most specific first)."""

    # -- shared logic ----------------------------------------------------------------------

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[ConnT]:
        """A pooled connection for the block (waits at most the timeout)."""
        pool = self.pool
        conn: ConnT = await pool.acquire()
        try:
            yield conn
        finally:
            pool.release(conn)

    @staticmethod
    def describe(exc: BaseException) -> str:
        """A driver exception as a message may quote it (no line that can hold values)."""
        return describe(exc)

    @staticmethod
    def quotes_values(exc: BaseException) -> bool:
        """Whether the driver's exception may quote bound values (then it is not chained)."""
        return False

    def translate(self, exc: BaseException, query: str | None = None) -> AsyncAuthError:
        """:meth:`map_error`, naming ``query``, chained or not, logged at DEBUG.

        A :class:`DuplicateError` (whose driver message quotes the duplicate value: a token,
        an email) and an error that :meth:`quotes_values` are not chained to the driver's
        exception, which is left as it is; the others are, for debugging.
        """
        error = self.map_error(exc)
        if query is not None and isinstance(error, BackendError) and error.query is None:
            error.query = query
            error.args = (f"{error.args[0] if error.args else error} (query {query})",)
        if isinstance(error, DuplicateError) or self.quotes_values(exc):
            error.__cause__ = None
            error.__suppress_context__ = True
        else:
            error.__cause__ = exc
        log.debug("%s %s: %s", self.dialect.name, type(error).__name__, error)
        return error

    def translating(self, query: str | None = None) -> Translating:
        """A ``with`` block whose driver errors come out as asyncauth's, naming ``query``."""
        return Translating(self, query)

    def describe_target(self) -> str:
        """What :meth:`open` connects to, for its error message (no password)."""
        return self.dialect.name

    async def open(self) -> None:
        """Open the first connection of a pool the driver made (it proves the database is
        there); the others as callers need them. A borrowed pool is the application's."""
        pool = self.pool
        if not isinstance(pool, FairPool):
            return
        try:
            await pool.fill(1)
        except Exception as exc:
            error = self.open_failed(exc)
            if error is exc:
                raise
            # A configuration error's cause may quote the URL, password included.
            raise error from (None if isinstance(error, ConfigurationError) else exc)

    def open_failed(self, exc: Exception) -> AsyncAuthError:
        """The error for a first connection that failed (override to say more)."""
        if isinstance(exc, AsyncAuthError):
            return exc
        if isinstance(exc, ValueError):
            # A malformed URL or option, as the driver parsed it; its text may quote the URL.
            return ConfigurationError(f"invalid {self.describe_target()} settings")
        if isinstance(exc, TimeoutError):
            return BackendError(f"cannot connect to {self.describe_target()}: no answer in time")
        return BackendError(f"cannot connect to {self.describe_target()}: {self.describe(exc)}")

    #: Where the session read borrows a connection directly (``acquire``/``release``), or
    #: None to go through :meth:`connection` (whose set-up a borrowed pool may need).
    direct: Any = None

    async def _fetch_row(self, conn: ConnT, stmt: Statement, args: Mapping[str, Any]) -> Row | None:
        """One statement's first row (drivers with a cheaper single-row call override it)."""
        rows = await self._fetch(conn, stmt, args)
        return rows[0] if rows else None

    async def fetch_one(self, query: Query, args: Mapping[str, Any]) -> Row | None:
        """The first row of ``query``, or None.

        A one-statement query on a driver with a :attr:`direct` pool (the session read) skips
        the generic context managers: take a connection, run, give it back. Profiled, the
        context managers were a visible share of a read.
        """
        stmt = query.single
        pool = self.direct
        if stmt is None or pool is None:
            rows = await self.fetch_all(query, args)
            return rows[0] if rows else None
        try:
            conn = await pool.acquire()
            try:
                return await self._fetch_row(conn, stmt, args)
            finally:
                pool.release(conn)
        except AsyncAuthError:
            raise
        except self.errors as exc:
            # Not ``with self.translating(...)``: the session read makes no object it can
            # avoid, and a try costs nothing until something is raised.
            error = self.translate(exc, query.name)
            raise error from error.__cause__  # the driver's exception, or None (translate)

    async def fetch_all(self, query: Query, args: Mapping[str, Any]) -> list[Row]:
        """All rows of ``query`` (multi-statement queries run in one transaction)."""
        with Translating(self, query.name):
            async with self.connection() as conn:
                stmt = query.single
                if stmt is not None:
                    return await self._fetch(conn, stmt, args)
                async with self._transaction(conn, exclusive=True):
                    return await self._fetch_many(conn, query.statements, args)

    async def execute(self, query: Query, args: Mapping[str, Any]) -> int:
        """Run ``query``; the row count of its last statement."""
        with Translating(self, query.name):
            async with self.connection() as conn:
                stmt = query.single
                if stmt is not None:
                    return await self._execute(conn, stmt, args)
                async with self._transaction(conn, exclusive=True):
                    count = 0
                    for stmt in query.statements:
                        count = await self._execute(conn, stmt, args)
                    return count

    async def _fetch_many(
        self, conn: ConnT, statements: Sequence[Statement], args: Mapping[str, Any]
    ) -> list[Row]:
        result: list[Row] = []
        for stmt in statements:
            rows = await self._fetch(conn, stmt, args)
            if rows:
                result = rows
        return result

    @asynccontextmanager
    async def transaction(self, *, exclusive: bool = True) -> AsyncIterator[Tx]:
        """A connection held in one transaction for the duration of the block."""
        with Translating(self, "transaction"):
            async with self.connection() as conn, self._transaction(conn, exclusive=exclusive):
                yield _BoundTx(self, conn)


class _BoundTx(Tx, Generic[ConnT]):
    __slots__ = ("_conn", "_drv")

    def __init__(self, drv: SqlDriver[ConnT], conn: ConnT) -> None:
        self._drv = drv
        self._conn = conn

    async def fetch_all(self, query: Query, args: Mapping[str, Any]) -> list[Row]:
        return await self._drv._fetch_many(self._conn, query.statements, args)

    async def execute(self, query: Query, args: Mapping[str, Any]) -> int:
        count = 0
        for stmt in query.statements:
            count = await self._drv._execute(self._conn, stmt, args)
        return count

    async def execute_ddl(self, sql: str) -> None:
        await self._drv._execute_ddl(self._conn, sql)


class Translating:
    """A ``with`` block that turns the driver's errors into asyncauth's (one place for all).

    Written as a class, not with ``contextlib``: no generator is made per statement.
    asyncauth's own errors and anything that is not the driver's pass through untouched.
    """

    __slots__ = ("_driver", "_query")

    def __init__(self, driver: SqlDriver[Any], query: str | None) -> None:
        self._driver = driver
        self._query = query

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        if exc is None or isinstance(exc, AsyncAuthError):
            return False
        if isinstance(exc, self._driver.errors):
            error = self._driver.translate(exc, self._query)
            raise error from error.__cause__  # the driver's exception, or None (translate)
        return False


#: The unique indexes of asyncauth's schema, by name (each is named after its column), as the
#: ``table.column`` a :class:`DuplicateError` reports in ``key``.
UNIQUE_KEYS: Final = {
    "email": "users.email",
    "compound_id": "accounts.compound_id",
    "session_token": "sessions.session_token",
    "access_token": "sessions.access_token",
    "token": "verification_requests.token",
    "credential_id": "authenticators.credential_id",
}


def unique_key(name: str | None, table: str | None = None) -> str | None:
    """``table.column`` for the unique index a driver names, or None when it is not known.

    Drivers say it differently: ``users.email`` (SQLite, MySQL 8), ``email`` (MariaDB, SQL
    Server, PostgreSQL's constraint name), ``dbo.users`` beside ``email``. A custom model's
    own ``table.column`` (SQLite names columns) is kept as it is.
    """
    if not name:
        return None
    if name in UNIQUE_KEYS.values():
        return name
    prefix, _, index = name.rpartition(".")
    key = UNIQUE_KEYS.get(index)
    table = (table or prefix).rpartition(".")[2]  # "dbo.users" -> "users"
    if key is not None and (not table or key.startswith(table + ".")):
        return key
    if prefix and " " not in name and "," not in name:
        return name  # already table.column (a custom unique column)
    return None


def describe(exc: BaseException) -> str:
    """An exception's class and first line: driver messages may add lines quoting values."""
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
