"""PostgreSQL through asyncpg.

asyncpg prepares each statement once per connection and keeps it in its statement cache, so
the session read is a single Bind/Execute round trip. PgBouncer in transaction mode cannot
keep prepared statements: ``statement_cache=False`` turns the cache off for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any, ClassVar
from urllib.parse import urlsplit

import asyncpg

from ._driver import Dialect, Row, SqlDriver
from ._errors import AsyncAuthError, BackendError, ConfigurationError, DuplicateError
from ._sql import Statement

__all__ = ["PostgresDriver", "dialect", "keep_session_state"]

UTC = timezone.utc
_timeout: Any = getattr(asyncio, "timeout", None)  # Python 3.11+


def _time_out(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise BackendError(f"expected a timestamp from PostgreSQL, got {type(value).__name__}")
    # A `timestamp without time zone` column (made by hand) comes back naive: it holds UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _identity(value: datetime) -> datetime:
    return value


dialect = Dialect(
    name="postgres",
    paramstyle="numeric",
    time_in=_identity,
    time_out=_time_out,
    max_id=2**31 - 1,  # SERIAL is int4
)


async def keep_session_state(conn: asyncpg.Connection) -> None:
    """A pool ``reset`` that sends nothing.

    asyncpg's default reset sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` on every release: a second round trip per call. asyncauth leaves no session
    state behind (no LISTEN, cursors, SET or session-level locks; its advisory lock is
    transaction-scoped), and asyncpg still rolls back an open transaction before calling this.
    Applications that hand in a pool of their own can pass it as ``reset=`` too.
    """


class PostgresDriver(SqlDriver[asyncpg.Connection]):
    """An asyncpg pool, made here or handed in by the application."""

    dialect: ClassVar[Dialect] = dialect
    errors: ClassVar[tuple[type[BaseException], ...]] = (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        # Client-side failures: a stale statement cache after DDL, a protocol error, and
        # a connection the server dropped mid-operation (seen on restarts: "cannot switch
        # to state 12; another operation is in progress").
        asyncpg.InternalClientError,
        OSError,
        asyncio.TimeoutError,
    )

    def __init__(
        self,
        dsn: str | None = None,
        *,
        pool: asyncpg.Pool | None = None,
        pool_size: int = 10,
        timeout: float = 10.0,
        statement_cache: bool = True,
    ) -> None:
        self.dsn = dsn
        self.pool = pool
        self.owns_pool = pool is None
        self.pool_size = pool_size
        self.timeout = timeout
        self.statement_cache = statement_cache
        # Callers acquiring or holding one of this driver's connections (see _acquire).
        self._busy = 0

    async def open(self) -> None:
        """Create the pool (when the adapter owns it)."""
        if self.pool is not None:
            return
        try:
            self.pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=self.pool_size,
                timeout=self.timeout,
                # Also bounds what asyncpg sends on its own (BEGIN/COMMIT of transactions).
                command_timeout=self.timeout,
                statement_cache_size=100 if self.statement_cache else 0,
                reset=keep_session_state,
            )
        except ValueError as exc:
            # A malformed URL (bad port, bad option): asyncpg's own ValueError, or its
            # ClientConfigurationError. The message can quote parts of the URL.
            raise ConfigurationError(
                f"invalid PostgreSQL URL: {_without_password(str(exc), self.dsn)}"
            ) from None
        except (
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            OSError,
            asyncio.TimeoutError,
        ) as exc:
            raise BackendError(f"cannot connect to PostgreSQL: {_describe(exc)}") from exc

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        if self.pool is None:
            raise BackendError("the PostgreSQL adapter is closed")
        pool = self.pool
        self._busy += 1
        try:
            try:
                conn = await self._acquire(pool)
            except asyncio.TimeoutError:
                raise BackendError(
                    f"no PostgreSQL connection free within {self.timeout} s"
                ) from None
            try:
                yield conn
            finally:
                await pool.release(conn)
        finally:
            self._busy -= 1

    async def fetch_one(self, query: Any, args: Mapping[str, Any]) -> Row | None:
        # The hot path: one acquire, one fetchrow, no intermediate list.
        stmt = query.single
        if stmt is None:
            return await super().fetch_one(query, args)
        pool = self.pool
        if pool is None:
            raise BackendError("the PostgreSQL adapter is closed")
        conn = None
        self._busy += 1
        try:
            try:
                if self.owns_pool and self._busy <= self.pool_size:
                    conn = await pool.acquire()  # _acquire's fast path, one coroutine fewer
                else:
                    conn = await self._acquire(pool)
            except asyncio.TimeoutError:
                # Said apart from a slow statement: an exhausted pool is a sizing problem.
                raise BackendError(
                    f"no PostgreSQL connection free within {self.timeout} s"
                ) from None
            except self.errors as exc:
                raise self.translate(exc) from exc
            try:
                try:
                    # A pool asyncauth made bounds statements with its command_timeout;
                    # passing the same timeout here would arm a second timer per read.
                    row: Row | None = await conn.fetchrow(
                        stmt.sql,
                        *stmt.bind(args),
                        timeout=None if self.owns_pool else self.timeout,
                    )
                finally:
                    # Releasing a connection the server dropped can fail too: map that as well.
                    await pool.release(conn)
            except self.errors as exc:
                raise self.translate(exc) from exc
            return row
        finally:
            self._busy -= 1

    async def _acquire(self, pool: asyncpg.Pool) -> asyncpg.Connection:
        """A pooled connection within the timeout; the caller has counted itself in ``_busy``.

        Profiled against the bare pool, ``acquire(timeout=)`` (a task per call, through
        ``asyncio.wait_for``) and then a timer per call were the largest cost of a session
        read after the socket calls. In a pool this driver made, no more callers than
        connections means a free one for each: asyncpg hands it over without waiting (a
        reconnect is bounded by the pool's connect timeout), so no deadline is armed.
        """
        if self.owns_pool and self._busy <= self.pool_size:
            conn: asyncpg.Connection = await pool.acquire()
        elif _timeout is None:  # Python 3.10
            conn = await pool.acquire(timeout=self.timeout)
        else:
            async with _timeout(self.timeout):
                conn = await pool.acquire()
        return conn

    async def _fetch(
        self, conn: asyncpg.Connection, stmt: Statement, args: Mapping[str, Any]
    ) -> list[Row]:
        rows: list[Row] = await conn.fetch(stmt.sql, *stmt.bind(args), timeout=self.timeout)
        return rows

    async def _execute(
        self, conn: asyncpg.Connection, stmt: Statement, args: Mapping[str, Any]
    ) -> int:
        status: str = await conn.execute(stmt.sql, *stmt.bind(args), timeout=self.timeout)
        # The command tag ends with the row count: "DELETE 3", "INSERT 0 1", "UPDATE 0".
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def _execute_ddl(self, conn: asyncpg.Connection, sql: str) -> None:
        await conn.execute(sql, timeout=self.timeout)

    @asynccontextmanager
    async def _transaction(
        self, conn: asyncpg.Connection, *, exclusive: bool
    ) -> AsyncIterator[None]:
        # Row locks and advisory locks serialise what needs it; no table lock is taken.
        async with conn.transaction():
            yield

    async def aclose(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None and self.owns_pool:
            await pool.close()

    @staticmethod
    def map_error(exc: BaseException) -> AsyncAuthError:
        if isinstance(exc, asyncpg.PostgresError) and getattr(exc, "detail", None):
            # The chained exception prints its DETAIL line in every logged traceback, and for a
            # unique violation that line quotes the key: a session token, a verification token.
            exc.detail = "(withheld by asyncauth: it may quote bound values)"
        if isinstance(exc, asyncpg.UniqueViolationError):
            return DuplicateError(f"unique key taken: {exc.constraint_name or 'unknown'}")
        if isinstance(exc, asyncio.TimeoutError):
            return BackendError("PostgreSQL did not answer in time")
        return BackendError(f"PostgreSQL failed: {_describe(exc)}")


def _describe(exc: BaseException) -> str:
    # The server's message names objects, not bound values; DETAIL lines may echo values
    # (a unique violation's "Key (email)=(...)"), so they are left out.
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def _without_password(text: str, dsn: str | None) -> str:
    try:
        password = urlsplit(dsn or "").password
    except ValueError:
        password = None
    return text.replace(password, "***") if password else text
