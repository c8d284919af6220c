"""PostgreSQL through asyncpg.

asyncpg prepares each statement once per connection and keeps it in its statement cache, so
the session read is a single Bind/Execute round trip. PgBouncer in transaction mode cannot
keep prepared statements: ``statement_cache=False`` turns the cache off for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import asyncpg

from ._adapter import SqlAdapter
from ._connect import Options
from ._driver import Dialect, Row, SqlDriver, describe, unique_key
from ._errors import AsyncAuthError, BackendError, ConfigurationError, DuplicateError
from ._pool import own_or_borrowed
from ._redact import redact_text
from ._sql import Statement

__all__ = ["PostgresAdapter", "PostgresDriver", "dialect", "from_url", "keep_session_state"]

UTC = timezone.utc


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
    Applications that hand in an asyncpg pool of their own can pass it as ``reset=`` (the
    adapter's own pool lends bare connections and sends nothing on release either).
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
        self.owns_pool = pool is None
        self.pool_size = pool_size
        self.timeout = timeout
        self.statement_cache = statement_cache
        # Our own pool lends bare asyncpg connections, first come first served
        # (asyncauth._pool); asyncpg's pool wraps each in a proxy and releases through a task
        # of its own, which profiled as a large share of a session read. An application's
        # asyncpg pool is borrowed as it is.
        self.pool = own_or_borrowed(
            "PostgreSQL",
            pool,
            self._connect,
            size=pool_size,
            timeout=timeout,
            alive=_reusable,
            discard=_terminate,
        )
        # Statements on our own connections are bounded by their command_timeout; on a
        # borrowed pool's, by the timeout passed with each call.
        self._statement_timeout = None if pool is None else timeout
        self.direct = self.pool

    def describe_target(self) -> str:
        return "PostgreSQL"

    def open_failed(self, exc: Exception) -> AsyncAuthError:
        if isinstance(exc, ValueError):
            # A malformed URL (bad port, bad option): asyncpg's own ValueError, or its
            # ClientConfigurationError. The message can quote parts of the URL.
            return ConfigurationError(
                f"invalid PostgreSQL URL: {_without_password(str(exc), self.dsn)}"
            )
        return super().open_failed(exc)

    async def _connect(self) -> asyncpg.Connection:
        conn: asyncpg.Connection = await asyncpg.connect(
            self.dsn,
            timeout=self.timeout,
            # Bounds every statement, and what asyncpg sends on its own (BEGIN, COMMIT).
            command_timeout=self.timeout,
            statement_cache_size=100 if self.statement_cache else 0,
        )
        return conn

    async def _fetch_row(
        self, conn: asyncpg.Connection, stmt: Statement, args: Mapping[str, Any]
    ) -> Row | None:
        row: Row | None = await conn.fetchrow(
            stmt.sql, *stmt.bind(args), timeout=self._statement_timeout
        )
        return row

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

    #: bootstrap builds indexes on existing tables with CREATE INDEX CONCURRENTLY
    #: (asyncauth._bootstrap), outside a transaction, on a connection of this pool
    concurrent_indexes: ClassVar[bool] = True

    async def execute_long_ddl(self, conn: asyncpg.Connection, sql: str, limit: float) -> None:
        """One DDL statement bounded by ``limit`` seconds, not ``timeout`` (an index build)."""
        await conn.execute(sql, timeout=limit)

    @asynccontextmanager
    async def _transaction(
        self, conn: asyncpg.Connection, *, exclusive: bool
    ) -> AsyncIterator[None]:
        # Row locks and advisory locks serialise what needs it; no table lock is taken.
        async with conn.transaction():
            yield

    @staticmethod
    def quotes_values(exc: BaseException) -> bool:
        # A chained exception prints its DETAIL line in every logged traceback, and that line
        # can quote bound values ("Key (session_token)=(...)", "Failing row contains ...").
        return isinstance(exc, asyncpg.PostgresError) and bool(getattr(exc, "detail", None))

    @staticmethod
    def map_error(exc: BaseException) -> AsyncAuthError:
        if isinstance(exc, asyncpg.UniqueViolationError):
            name = exc.constraint_name
            key = unique_key(name, exc.table_name)
            return DuplicateError(f"unique key taken: {key or name or 'unknown'}", key=key)
        if isinstance(exc, asyncio.TimeoutError):
            return BackendError("PostgreSQL did not answer in time")
        return BackendError(f"PostgreSQL failed: {describe(exc)}")


def _reusable(conn: asyncpg.Connection) -> bool:
    # Not lent again: a connection the server closed, one left inside a transaction, and one
    # still cancelling a statement whose caller gave up (asyncpg's own pool checks the same).
    return not (conn.is_closed() or conn.is_in_transaction() or conn._protocol._is_cancelling())


async def _terminate(conn: asyncpg.Connection) -> None:
    conn.terminate()  # drops the socket at once: the server rolls back whatever was open


def _without_password(text: str, dsn: str | None) -> str:
    return redact_text(text, dsn)


class PostgresAdapter(SqlAdapter):
    """PostgreSQL through asyncpg.

    ``PostgresAdapter(pool)`` wraps a pool the application owns (``aclose()`` leaves it
    open); ``PostgresAdapter(dsn="postgresql://...")`` makes and owns one.
    ``statement_cache=False`` is for PgBouncer in transaction mode.
    """

    def __init__(
        self,
        pool: asyncpg.Pool | None = None,
        *,
        dsn: str | None = None,
        pool_size: int | None = None,
        timeout: float = 10.0,
        statement_cache: bool = True,
        hash_session_tokens: bool = False,
        sql_folders: Sequence[str | Path] = (),
        layout: str | None = None,
    ) -> None:
        driver = PostgresDriver(
            dsn,
            pool=pool,
            pool_size=pool_size or 10,
            timeout=timeout,
            statement_cache=statement_cache,
        )
        super().__init__(
            driver,
            hash_session_tokens=hash_session_tokens,
            owns_driver=pool is None,
            sql_folders=sql_folders,
            layout=layout,
        )


def from_url(url: str, options: Options) -> PostgresAdapter:
    """Build the adapter for a ``postgresql://`` URL (asyncpg reads the DSN itself)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    statement_cache = bool(options.take("statement_cache", True))
    return PostgresAdapter(dsn=url, statement_cache=statement_cache, **options.common())
