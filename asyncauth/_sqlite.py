"""SQLite through aiosqlite: the embedded default, in memory or in a file.

Times are stored as NextAuth v3 does on SQLite, UTC text ``YYYY-MM-DD HH:MM:SS.SSS``, which
sorts and compares correctly in SQL. A file database runs in WAL mode with a busy timeout and
a small pool (readers proceed while one writer works), opened as callers need it;
``:memory:`` is one connection, since every connection to it would be a separate empty
database.

A connection goes back to the pool only outside a transaction. aiosqlite runs each call in the
connection's own thread, and a call whose caller was cancelled still runs there later: a
``BEGIN`` cancelled while it waited for the write lock would otherwise open a transaction on a
connection already lent to someone else, whose writes would then never be committed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import aiosqlite
import anyio

from ._adapter import SqlAdapter
from ._connect import Options
from ._driver import Dialect, Row, SqlDriver, unique_key
from ._errors import AsyncAuthError, BackendError, ConfigurationError, DuplicateError
from ._pool import FairPool
from ._redact import redact_url
from ._sql import Statement

__all__ = ["MAX_POOL_SIZE", "SqliteAdapter", "SqliteDriver", "dialect", "from_url", "path_from_url"]

UTC = timezone.utc

#: The largest ``pool_size`` a SQLite adapter takes. Each connection is a thread and two or
#: three file descriptors, and SQLite writes one at a time: past a few connections more only
#: add threads waiting for the same lock.
MAX_POOL_SIZE = 64


def _time_in(value: datetime) -> str:
    # ``value`` is already UTC and cut to the millisecond by validation. isoformat is one C
    # call (strftime was 5% of a session read) and pads years below 1000, which %Y does not.
    return value.isoformat(" ", "milliseconds")[:23]


def _time_out(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value)
    if len(text) == 23 and text[10] == " ":
        # The form asyncauth writes, UTC without a zone: the common case, in one C call
        # (datetime.replace costs four times the parse).
        return datetime.fromisoformat(text + "+00:00")
    # TypeORM writes 'YYYY-MM-DD HH:MM:SS' (no fraction) for defaults; 'T' and 'Z' appear
    # in rows written by hand or by other tools.
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class _WithholdParameters(logging.Filter):
    """aiosqlite logs every call it runs at DEBUG, bound values included ("executing
    functools.partial(<execute>, 'INSERT INTO sessions ...', (1, ..., '<session token>'))").
    Those values are tokens here: keep the SQL, drop the values."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(a, functools.partial) for a in record.args
        ):
            record.args = tuple(
                _describe_call(a) if isinstance(a, functools.partial) else a for a in record.args
            )
        return True


def _describe_call(call: functools.partial[Any]) -> str:
    name = getattr(call.func, "__name__", "call")
    sql = call.args[0] if call.args and isinstance(call.args[0], str) else ""
    return f"{name}({sql!r}, <parameters withheld>)" if sql else f"{name}(...)"


def _install_filter() -> None:
    logger = logging.getLogger("aiosqlite")
    if not any(isinstance(f, _WithholdParameters) for f in logger.filters):
        logger.addFilter(_WithholdParameters())


_install_filter()


dialect = Dialect(
    name="sqlite",
    paramstyle="qmark",
    time_in=_time_in,
    time_out=_time_out,
    max_id=2**63 - 1,
)


class SqliteDriver(SqlDriver[aiosqlite.Connection]):
    """A pool of aiosqlite connections to one database file (or one in-memory database)."""

    dialect: ClassVar[Dialect] = dialect
    # sqlite3.Error covers a closed connection too (ProgrammingError); a ValueError here would
    # be asyncauth's own bug, not the database's, and is not translated.
    errors: ClassVar[tuple[type[BaseException], ...]] = (sqlite3.Error, sqlite3.Warning)

    def __init__(self, path: str, *, pool_size: int = 4, timeout: float = 10.0) -> None:
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise ConfigurationError(f"pool_size must be a positive int, not {pool_size!r}")
        if pool_size > MAX_POOL_SIZE:
            raise ConfigurationError(
                f"pool_size {pool_size} is more than SQLite can use: at most {MAX_POOL_SIZE}"
                " (each connection is a thread, and SQLite writes one at a time)"
            )
        self.path = path
        self.memory = path == ":memory:" or path.startswith("file::memory:")
        self.pool_size = 1 if self.memory else pool_size
        self.timeout = timeout
        # Fair (first come, first served): a caller that keeps reading cannot take a returning
        # connection ahead of those waiting, which would starve writers.
        self.pool: FairPool[aiosqlite.Connection] = FairPool(
            "SQLite",
            self._connect,
            size=self.pool_size,
            timeout=timeout,
            alive=_reusable,
            discard=_close,
        )
        self.direct = self.pool

    async def open(self) -> None:
        """Open the first connection (it proves the database is there); the rest as needed."""
        try:
            await super().open()
        except AsyncAuthError:
            await self.aclose()
            raise

    def open_failed(self, exc: Exception) -> AsyncAuthError:
        if isinstance(exc, TimeoutError):
            return BackendError(
                f"cannot open SQLite database {self.path!r}: still locked after {self.timeout} s"
            )
        return BackendError(f"cannot open SQLite database {self.path!r}: {exc}")

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            # First, so that every later step waits for a lock instead of failing at once.
            await conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            if not self.memory:
                await self._set_wal(conn)
                # NORMAL is durable across application crashes in WAL mode and saves an
                # fsync per commit.
                await conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            # Shielded: a connect cut short by the pool's deadline still closes its thread,
            # after the statement running there (bounded by the busy timeout).
            with anyio.CancelScope(shield=True):
                await _close(conn)
            raise
        return conn

    async def _set_wal(self, conn: aiosqlite.Connection) -> None:
        # Switching to WAL takes an exclusive lock, and SQLite can report SQLITE_BUSY for it
        # without calling the busy handler (another connection is switching the same new file
        # at that moment, or is recovering its WAL): 8 adapters opening one new file together
        # failed that way a few times in a hundred. Retried here, within the same timeout.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        pause = 0.001
        while True:
            try:
                await conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or loop.time() + pause > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    async def _fetch(
        self, conn: aiosqlite.Connection, stmt: Statement, args: Mapping[str, Any]
    ) -> list[Row]:
        # execute_fetchall is one hop to the connection's thread instead of three.
        rows: list[Row] = list(await conn.execute_fetchall(stmt.sql, stmt.bind(args)))  # type: ignore[arg-type]
        return rows

    async def _execute(
        self, conn: aiosqlite.Connection, stmt: Statement, args: Mapping[str, Any]
    ) -> int:
        async with conn.execute(stmt.sql, stmt.bind(args)) as cursor:
            return int(cursor.rowcount)

    async def _execute_ddl(self, conn: aiosqlite.Connection, sql: str) -> None:
        await conn.execute(sql)

    @asynccontextmanager
    async def _transaction(
        self, conn: aiosqlite.Connection, *, exclusive: bool
    ) -> AsyncIterator[None]:
        try:
            await conn.execute("BEGIN IMMEDIATE" if exclusive else "BEGIN")
        except BaseException as exc:
            if not isinstance(exc, Exception):
                # Cancelled (or interrupted) while the BEGIN waited for the write lock: it
                # still runs in the connection's thread once the lock is free. The connection
                # is closed when it comes back, after that BEGIN, which rolls it back.
                _spoil(conn)
            raise
        try:
            yield
            await conn.commit()
        except BaseException:
            # Shielded from anyio's cancel scopes; a second asyncio cancel can still cut it
            # short, and then the pool finds the connection inside a transaction and drops it.
            with anyio.CancelScope(shield=True):
                await conn.rollback()
            raise

    @staticmethod
    def map_error(exc: BaseException) -> AsyncAuthError:
        if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
            # "UNIQUE constraint failed: users.email" names columns, never values.
            names = _constraint(exc)
            return DuplicateError(f"unique key taken: {names}", key=unique_key(names))
        if isinstance(exc, sqlite3.Error):
            return BackendError(f"SQLite failed: {type(exc).__name__}: {exc}")
        return BackendError(f"SQLite connection unusable: {exc}")


_SPOILED = "_asyncauth_spoiled"
# SQLITE_BUSY, whatever the extended code (SQLITE_BUSY_RECOVERY, SQLITE_BUSY_SNAPSHOT, ...).
_SQLITE_BUSY = 5


def _spoil(conn: aiosqlite.Connection) -> None:
    conn.__dict__[_SPOILED] = True


def _reusable(conn: aiosqlite.Connection) -> bool:
    # Checked each time a connection is lent or given back: two attribute reads, no call
    # into the connection's thread. A connection inside a transaction (a rollback cut short)
    # or with a cancelled BEGIN still to run is closed instead, which rolls it back.
    try:
        return _SPOILED not in conn.__dict__ and not conn.in_transaction
    except ValueError:  # closed already
        return False


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF == _SQLITE_BUSY
    return "database is locked" in str(exc)


async def _close(conn: aiosqlite.Connection) -> None:
    try:
        await conn.close()
    except (sqlite3.Error, ValueError):
        pass  # closing a broken connection: nothing more to save


def _constraint(exc: BaseException) -> str:
    # "UNIQUE constraint failed: users.email" names columns, never values.
    text = str(exc)
    return text.split(":", 1)[1].strip() if ":" in text else text


class SqliteAdapter(SqlAdapter):
    """SQLite through aiosqlite: ``SqliteAdapter("auth.db")`` or ``SqliteAdapter(":memory:")``."""

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        pool_size: int | None = None,
        timeout: float = 10.0,
        hash_session_tokens: bool = False,
        sql_folders: Sequence[str | Path] = (),
        layout: str | None = None,
    ) -> None:
        super().__init__(
            SqliteDriver(str(path), pool_size=pool_size or 4, timeout=timeout),
            hash_session_tokens=hash_session_tokens,
            sql_folders=sql_folders,
            layout=layout,
        )


def path_from_url(url: str) -> str:
    """``sqlite:///rel.db`` -> ``rel.db``, ``sqlite:////abs.db`` -> ``/abs.db``."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ConfigurationError(
            f"a sqlite URL has no host: {redact_url(url)!r} (use sqlite:///path)"
        )
    path = unquote(parts.path)
    path = path[1:] if path.startswith("/") else path
    if not path:
        raise ConfigurationError("a sqlite URL needs a path or :memory: (sqlite:///:memory:)")
    return path


def from_url(url: str, options: Options) -> SqliteAdapter:
    """Build the adapter for a ``sqlite://`` URL."""
    return SqliteAdapter(path_from_url(url), **options.common())
