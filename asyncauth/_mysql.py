"""MySQL 8 and MariaDB 10.6+ through aiomysql.

Every connection the driver uses gets the same session settings once, before its first
statement: time zone ``+00:00`` (a ``TIMESTAMP`` is converted between UTC and the session's
zone on the way in and out, so this is what makes stored times UTC whatever the server's
zone), strict ``sql_mode`` (an over-long or invalid value is an error, never a silent
truncation) and autocommit (a single statement is its own transaction; several statements are
wrapped in ``BEGIN``/``COMMIT`` by the shared driver logic).

MySQL's ``TIMESTAMP`` holds 1970-01-01 00:00:01 to 2038-01-19 03:14:07 UTC only: a datetime
outside that range is refused with a :class:`ValidationError` naming the argument, before
anything is sent (see ``Dialect.time_range``).
"""

from __future__ import annotations

import asyncio
import functools
import re
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

import aiomysql
import anyio
import pymysql

from ._adapter import SqlAdapter
from ._connect import Options
from ._driver import Dialect, Row, SqlDriver, describe, unique_key
from ._errors import AsyncAuthError, BackendError, ConfigurationError, DuplicateError
from ._mysql_session import ALREADY_DONE, SESSION_SETUP, TIMESTAMP_RANGE
from ._pool import own_or_borrowed
from ._sql import Statement

__all__ = [
    "ALREADY_DONE",
    "SESSION_SETUP",
    "MySQLAdapter",
    "MySQLDriver",
    "connect_kwargs",
    "dialect",
    "from_url",
]

UTC = timezone.utc

# Error numbers of a unique-key violation: ER_DUP_ENTRY, ER_DUP_ENTRY_WITH_KEY_NAME.
_DUPLICATE = frozenset({1062, 1586})
# "Duplicate entry 'value' for key 'users.email'": keep the key, never the value.
_KEY = re.compile(r"for key '([^']*)'")


def _time_in(value: datetime) -> datetime:
    # pymysql writes a datetime's wall-clock fields and ignores tzinfo: give it UTC's.
    return value.astimezone(UTC).replace(tzinfo=None)


def _time_out(value: Any) -> datetime:
    if not isinstance(value, datetime):
        # pymysql returns a zero date ('0000-00-00 00:00:00') as a str: no instant at all.
        raise BackendError(f"expected a timestamp from MySQL, got {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


dialect = Dialect(
    name="mysql",
    paramstyle="format",
    time_in=_time_in,
    time_out=_time_out,
    max_id=2**31 - 1,  # INT
    time_range=TIMESTAMP_RANGE,
    transactional_ddl=False,
)


class _Cursor(aiomysql.DictCursor):  # type: ignore[misc]
    async def _show_warnings(self, conn: Any) -> None:
        # aiomysql turns every server note into a Python warning, one more round trip each;
        # the notes asyncauth meets are "already exists" from IF NOT EXISTS, and strict
        # sql_mode makes the data warnings that matter errors instead.
        return None


def connect_kwargs(url: str) -> dict[str, Any]:
    """aiomysql's connection arguments for a ``mysql://`` or ``mariadb://`` URL.

    ``mysql://user:password@host:port/database?unix_socket=/path&ssl=true``; the database is
    required (asyncauth's tables live in it).
    """
    parts = urlsplit(url)
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ConfigurationError("a mysql:// URL names its database: mysql://user@host/db")
    try:
        port = parts.port or 3306
    except ValueError:
        # urllib's message would quote the whole network location, password included.
        raise ConfigurationError("the port of a mysql:// URL must be a number") from None
    kwargs: dict[str, Any] = {
        "host": parts.hostname or "localhost",
        "port": port,
        "password": unquote(parts.password) if parts.password else "",
        "db": database,
    }
    if parts.username:  # else aiomysql's default: the operating-system user, as mysql does
        kwargs["user"] = unquote(parts.username)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "unix_socket":
            kwargs["unix_socket"] = value
        elif key == "ssl":
            if value.lower() in ("1", "true", "yes", "on"):
                import ssl

                kwargs["ssl"] = ssl.create_default_context()
        else:
            raise ConfigurationError(f"unknown mysql:// URL parameter {key!r}")
    return kwargs


class MySQLDriver(SqlDriver[aiomysql.Connection]):
    """An aiomysql pool, made here or handed in by the application."""

    dialect: ClassVar[Dialect] = dialect
    errors: ClassVar[tuple[type[BaseException], ...]] = (
        pymysql.err.MySQLError,
        OSError,
        TimeoutError,
        asyncio.TimeoutError,
    )

    def __init__(
        self,
        connect: Mapping[str, Any] | None = None,
        *,
        pool: aiomysql.Pool | None = None,
        pool_size: int = 10,
        timeout: float = 10.0,
    ) -> None:
        if pool is None and connect is None:
            raise ConfigurationError("MySQLDriver needs a pool or connection arguments")
        self.connect_args = dict(connect or {})
        self.owns_pool = pool is None
        self.pool_size = pool_size
        self.timeout = timeout
        # Our own pool is fair (asyncauth._pool); an application's aiomysql pool is borrowed
        # as it is.
        self.pool = own_or_borrowed(
            "MySQL",
            pool,
            self._connect,
            size=pool_size,
            timeout=timeout,
            alive=_reusable,
            discard=_close,
            release=None if pool is None else functools.partial(_release_borrowed, pool),
        )
        # An application's pool needs connection()'s per-connection set-up.
        self.direct = self.pool if pool is None else None
        # Connections already given the session settings (an application's pool hands out
        # connections asyncauth has never seen, so this is tracked per connection).
        self._ready: weakref.WeakSet[aiomysql.Connection] = weakref.WeakSet()

    def describe_target(self) -> str:
        return f"MySQL at {self.connect_args.get('host')}:{self.connect_args.get('port')}"

    async def _connect(self) -> aiomysql.Connection:
        return await aiomysql.connect(
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=self.timeout,
            init_command=SESSION_SETUP,
            **self.connect_args,
        )

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[aiomysql.Connection]:
        pool = self.pool
        conn = await pool.acquire()
        try:
            if not self.owns_pool and conn not in self._ready:
                await self._prepare(conn)
            yield conn
        finally:
            pool.release(conn)

    async def _prepare(self, conn: aiomysql.Connection) -> None:
        # A pool made here runs SESSION_SETUP as its init command; a pool the application
        # made may not, so each of its connections is set up on first use.
        async with conn.cursor() as cur:
            await self._run(conn, cur, SESSION_SETUP, None)
        if not conn.get_autocommit():
            await conn.autocommit(True)
        self._ready.add(conn)

    async def _run(
        self, conn: aiomysql.Connection, cur: Any, sql: str, args: Sequence[Any] | None
    ) -> None:
        # The deadline is a loop timer that closes the socket, not a cancel scope: a cancel
        # scope per statement was a tenth of a session read's CPU (benchmarks/). Either way
        # the connection is done for: a late reply could be read as the next one's.
        timer = conn._loop.call_at(conn._loop.time() + self.timeout, _interrupt, conn)
        try:
            await cur.execute(sql, args)
        except self.errors:
            if _INTERRUPTED in conn.__dict__:
                raise TimeoutError from None
            raise
        finally:
            timer.cancel()

    async def _fetch_row(
        self, conn: aiomysql.Connection, stmt: Statement, args: Mapping[str, Any]
    ) -> Row | None:
        cur = _Cursor(conn)  # no cursor context manager: nothing is left to drain
        await self._run(conn, cur, stmt.sql, stmt.bind(args))
        row: Row | None = await cur.fetchone()
        return row

    async def _fetch(
        self, conn: aiomysql.Connection, stmt: Statement, args: Mapping[str, Any]
    ) -> list[Row]:
        async with conn.cursor(_Cursor) as cur:
            # Always a tuple, even empty: pymysql then turns the loader's '%%' back into '%'.
            await self._run(conn, cur, stmt.sql, stmt.bind(args))
            rows: list[Row] = list(await cur.fetchall())
            return rows

    async def _execute(
        self, conn: aiomysql.Connection, stmt: Statement, args: Mapping[str, Any]
    ) -> int:
        async with conn.cursor(_Cursor) as cur:
            await self._run(conn, cur, stmt.sql, stmt.bind(args))
            return int(cur.rowcount)

    async def _execute_ddl(self, conn: aiomysql.Connection, sql: str) -> None:
        async with conn.cursor(_Cursor) as cur:
            try:
                # No arguments: the migration text is sent as written, '%' included.
                await self._run(conn, cur, sql, None)
            except pymysql.err.MySQLError as exc:
                if _errno(exc) not in ALREADY_DONE:
                    raise

    @asynccontextmanager
    async def _transaction(
        self, conn: aiomysql.Connection, *, exclusive: bool
    ) -> AsyncIterator[None]:
        # Row locks (SELECT ... FOR UPDATE) and GET_LOCK serialise what needs it; no table
        # lock is taken. A DDL statement inside commits implicitly (MySQL's rule).
        del exclusive
        await conn.begin()
        try:
            yield
        except BaseException:
            with anyio.CancelScope(shield=True):
                try:
                    await conn.rollback()
                except Exception:
                    conn.close()  # the connection died with the statement: drop it
            raise
        await conn.commit()

    @staticmethod
    def describe(exc: BaseException) -> str:
        return _describe(exc)

    @staticmethod
    def map_error(exc: BaseException) -> AsyncAuthError:
        if isinstance(exc, pymysql.err.IntegrityError) and _errno(exc) in _DUPLICATE:
            # The server's message quotes the value (a session token, say): keep the key only.
            match = _KEY.search(str(exc.args[1]) if len(exc.args) > 1 else "")
            name = match.group(1) if match else None
            key = unique_key(name)
            return DuplicateError(f"unique key taken: {key or name or 'unknown'}", key=key)
        if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
            return BackendError("MySQL did not answer in time")
        return BackendError(f"MySQL failed: {_describe(exc)}")


_INTERRUPTED = "_asyncauth_timed_out"


def _interrupt(conn: aiomysql.Connection) -> None:
    # The statement outlived the timeout: mark the connection, then close its socket, which
    # ends the pending read with an error that _run turns into TimeoutError.
    conn.__dict__[_INTERRUPTED] = True
    conn.close()


def _reusable(conn: aiomysql.Connection) -> bool:
    # What aiomysql's own pool checks before lending a connection again: a socket the server
    # closed (a restart, wait_timeout) and a transaction left open are not lent.
    reader = conn._reader
    if reader is None or conn.closed:
        return False
    if reader.at_eof() or reader.exception() is not None or getattr(reader, "eof_received", False):
        return False
    return not conn.get_transaction_status()


async def _release_borrowed(pool: aiomysql.Pool, conn: aiomysql.Connection) -> None:
    if _reusable(conn):
        await pool.release(conn)
        return
    # aiomysql closes a connection given back inside a transaction (or already closed), but
    # then wakes no waiting caller, who would wait out its whole timeout although a place
    # fell free: wake one, and it opens a connection there.
    conn.close()
    await pool.release(conn)
    await pool._wakeup()


async def _close(conn: aiomysql.Connection) -> None:
    conn.close()  # drops the socket at once; nothing to wait for


def _errno(exc: BaseException) -> int | None:
    code = exc.args[0] if exc.args else None
    return code if isinstance(code, int) else None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) >= 2:
        return f"{type(exc).__name__} {exc.args[0]}: {str(exc.args[1]).splitlines()[0]}"
    return describe(exc)


class MySQLAdapter(SqlAdapter):
    """MySQL 8 / MariaDB 10.6+ through aiomysql.

    ``MySQLAdapter(pool)`` wraps an ``aiomysql.Pool`` the application owns (``aclose()``
    leaves it open); asyncauth sets the time zone to UTC, a strict ``sql_mode`` and autocommit
    on each connection it borrows, once. ``MySQLAdapter(url="mysql://user:pw@host/db")`` makes
    and owns a pool. Times before 1970-01-01 00:00:01 or after 2038-01-19 03:14:07 UTC do not
    fit MySQL's ``TIMESTAMP`` and are refused with ``ValidationError``.
    """

    def __init__(
        self,
        pool: aiomysql.Pool | None = None,
        *,
        url: str | None = None,
        pool_size: int | None = None,
        timeout: float = 10.0,
        hash_session_tokens: bool = False,
        sql_folders: Sequence[str | Path] = (),
        layout: str | None = None,
    ) -> None:
        driver = MySQLDriver(
            None if url is None else connect_kwargs(url),
            pool=pool,
            pool_size=pool_size or 10,
            timeout=timeout,
        )
        super().__init__(
            driver,
            hash_session_tokens=hash_session_tokens,
            owns_driver=pool is None,
            sql_folders=sql_folders,
            layout=layout,
        )


def from_url(url: str, options: Options) -> MySQLAdapter:
    """Build the adapter for a ``mysql://`` or ``mariadb://`` URL."""
    return MySQLAdapter(url=url, **options.common())
