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
from typing import Any, ClassVar, Generic, TypeVar

from ._errors import AsyncAuthError
from ._sql import ParamStyle, Query, Statement

__all__ = ["Dialect", "Row", "SqlDriver", "Tx"]

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

    def translate(self, exc: BaseException) -> AsyncAuthError:
        """:meth:`map_error`, logged at DEBUG (the message, never the driver's text)."""
        error = self.map_error(exc)
        log.debug("%s %s: %s", self.dialect.name, type(error).__name__, error)
        return error

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
            raise self.translate(exc) from exc

    async def fetch_all(self, query: Query, args: Mapping[str, Any]) -> list[Row]:
        """All rows of ``query`` (multi-statement queries run in one transaction)."""
        try:
            async with self.connection() as conn:
                stmt = query.single
                if stmt is not None:
                    return await self._fetch(conn, stmt, args)
                async with self._transaction(conn, exclusive=True):
                    return await self._fetch_many(conn, query.statements, args)
        except AsyncAuthError:
            raise
        except self.errors as exc:
            raise self.translate(exc) from exc

    async def execute(self, query: Query, args: Mapping[str, Any]) -> int:
        """Run ``query``; the row count of its last statement."""
        try:
            async with self.connection() as conn:
                stmt = query.single
                if stmt is not None:
                    return await self._execute(conn, stmt, args)
                async with self._transaction(conn, exclusive=True):
                    count = 0
                    for stmt in query.statements:
                        count = await self._execute(conn, stmt, args)
                    return count
        except AsyncAuthError:
            raise
        except self.errors as exc:
            raise self.translate(exc) from exc

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
        try:
            async with self.connection() as conn, self._transaction(conn, exclusive=exclusive):
                yield _BoundTx(self, conn)
        except AsyncAuthError:
            raise
        except self.errors as exc:
            raise self.translate(exc) from exc


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
