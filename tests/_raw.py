"""Direct reads (and a few writes) of a backend's storage, through the bare driver.

The conformance suite checks what the adapter *stored*, not only what it returns, so every
backend has a helper here that talks to its database without asyncauth: one class per
backend, the same async methods, rows as dicts with snake_case keys, ids as ``str``,
datetimes as aware UTC and booleans as ``bool``. Table names are the SQL ones (``users``,
``accounts``, ``sessions``, ``verification_requests``, ``authenticators``); a MongoDB helper
maps them to its collections (``verificationRequests``) and its camelCase fields.

Every value is a bound parameter. Table and column names come from the tests themselves and
are checked against a plain identifier pattern before they are quoted into a statement.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import anyio

UTC = timezone.utc

# Columns whose SQL type is an integer key, rendered as str at the boundary.
ID_COLUMNS = frozenset({"id", "user_id"})
# Timestamp columns of docs/schema.md (SQLite keeps them as text, PostgreSQL as timestamptz).
DATETIME_COLUMNS = frozenset(
    {"email_verified", "expires", "access_token_expires", "created_at", "updated_at"}
)
BOOL_COLUMNS = frozenset({"credential_backed_up"})
TABLES = ("users", "accounts", "sessions", "verification_requests", "authenticators")

# camelCase too: the Auth.js layouts' columns ("userId"), always quoted.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The one text format docs/schema.md allows for SQLite datetimes (what NextAuth v3 writes).
_SQLITE_DATETIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}")

Row = dict[str, Any]
Operation = Callable[[], Awaitable[object]]


class Raw(Protocol):
    """What the conformance suite needs from a backend's direct-access helper."""

    async def rows(self, table: str, **where: object) -> list[Row]:
        """Every row of ``table`` whose columns equal ``where`` (``None`` matches NULL)."""
        ...

    async def one(self, table: str, **where: object) -> Row | None:
        """The single row matching ``where``, ``None`` if there is none; more is an error."""
        ...

    async def count(self, table: str, **where: object) -> int:
        """How many rows of ``table`` match ``where``."""
        ...

    async def update(self, table: str, where: Mapping[str, object], **values: object) -> int:
        """Set ``values`` on the rows matching ``where``; return how many rows changed."""
        ...

    async def tables(self) -> set[str]:
        """The names of the tables (collections) that exist."""
        ...

    async def execute(self, statement: str, *args: object) -> None:
        """Run a backend-native statement (setup of odd states in backend-specific tests)."""
        ...

    async def kill_midway(
        self, table: str, where: Mapping[str, object], operation: Operation
    ) -> BaseException:
        """Run ``operation`` and make the database fail it when it writes to the rows of
        ``table`` matching ``where``; return the exception the operation raised.

        Fails the test if the operation completes. Each backend does it its own way: SQLite
        aborts the statement from a trigger, PostgreSQL terminates the connection that waits
        on a row lock held here (MySQL can KILL it the same way).
        """
        ...

    async def aclose(self) -> None: ...


def check_identifier(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain identifier: {name!r}")
    return name


def parse_sqlite_datetime(column: str, value: object) -> datetime:
    """Read SQLite's UTC text, insisting on the exact format docs/schema.md prescribes."""
    if not isinstance(value, str) or not _SQLITE_DATETIME.fullmatch(value):
        raise AssertionError(
            f"{column}: SQLite datetime stored as {value!r}, expected UTC text "
            "'YYYY-MM-DD HH:MM:SS.SSS'"
        )
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)


def format_sqlite_datetime(value: datetime) -> str:
    if value.utcoffset() is None:
        raise ValueError("raw helper given a naive datetime")
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def _sql_id(value: object) -> object:
    # Ids travel as str; the SQL columns are integers. A str that is not a number is passed
    # through and simply matches nothing.
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


class _SqlRaw:
    """The statement building shared by the SQL helpers; drivers fill in the I/O."""

    async def _fetch(self, statement: str, args: Sequence[object]) -> list[Row]:
        raise NotImplementedError

    async def _run(self, statement: str, args: Sequence[object]) -> int:
        raise NotImplementedError

    def _placeholder(self, index: int) -> str:
        raise NotImplementedError

    def _quote(self, name: str) -> str:
        return '"' + check_identifier(name) + '"'

    def _to_db(self, column: str, value: object) -> object:
        if column in ID_COLUMNS:
            return _sql_id(value)
        return value

    def _from_db(self, column: str, value: object) -> object:
        if value is None:
            return None
        if column in ID_COLUMNS:
            return str(value)
        if column in BOOL_COLUMNS:
            return bool(value)
        return value

    def _where(self, where: Mapping[str, object], start: int) -> tuple[str, list[object]]:
        clauses: list[str] = []
        args: list[object] = []
        for column, value in where.items():
            if value is None:
                clauses.append(f"{self._quote(column)} IS NULL")
            else:
                args.append(self._to_db(column, value))
                clauses.append(f"{self._quote(column)} = {self._placeholder(start + len(args))}")
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), args

    def _normalise(self, row: Mapping[str, object]) -> Row:
        return {column: self._from_db(column, value) for column, value in row.items()}

    async def rows(self, table: str, **where: object) -> list[Row]:
        clause, args = self._where(where, 0)
        found = await self._fetch(f"SELECT * FROM {self._quote(table)}{clause}", args)
        return [self._normalise(row) for row in found]

    async def one(self, table: str, **where: object) -> Row | None:
        found = await self.rows(table, **where)
        if len(found) > 1:
            raise AssertionError(f"{len(found)} rows of {table} match {where!r}, expected one")
        return found[0] if found else None

    async def count(self, table: str, **where: object) -> int:
        clause, args = self._where(where, 0)
        found = await self._fetch(f"SELECT COUNT(*) AS n FROM {self._quote(table)}{clause}", args)
        return int(found[0]["n"])

    async def update(self, table: str, where: Mapping[str, object], **values: object) -> int:
        if not values:
            raise ValueError("nothing to update")
        sets: list[str] = []
        args: list[object] = []
        for column, value in values.items():
            args.append(self._to_db(column, value))
            sets.append(f"{self._quote(column)} = {self._placeholder(len(args))}")
        clause, where_args = self._where(where, len(args))
        statement = f"UPDATE {self._quote(table)} SET {', '.join(sets)}{clause}"
        return await self._run(statement, [*args, *where_args])

    async def execute(self, statement: str, *args: object) -> None:
        await self._run(statement, args)


class SqliteRaw(_SqlRaw):
    """SQLite through aiosqlite, in autocommit mode so it never holds a lock between calls."""

    def __init__(self, connection: Any) -> None:
        self._conn = connection

    @classmethod
    async def open(cls, url: str) -> SqliteRaw:
        import aiosqlite

        path = sqlite_path(url)
        connection = await aiosqlite.connect(path, isolation_level=None)
        connection.row_factory = aiosqlite.Row
        # The adapter may hold the write lock for a moment; wait for it like it would.
        await connection.execute("PRAGMA busy_timeout = 5000")
        return cls(connection)

    async def aclose(self) -> None:
        await self._conn.close()

    def _placeholder(self, index: int) -> str:
        return "?"

    def _to_db(self, column: str, value: object) -> object:
        if isinstance(value, datetime):
            return format_sqlite_datetime(value)
        if isinstance(value, bool):
            return int(value)
        return super()._to_db(column, value)

    def _from_db(self, column: str, value: object) -> object:
        if value is not None and column in DATETIME_COLUMNS:
            return parse_sqlite_datetime(column, value)
        return super()._from_db(column, value)

    async def _fetch(self, statement: str, args: Sequence[object]) -> list[Row]:
        async with self._conn.execute(statement, tuple(args)) as cursor:
            return [dict(row) for row in await cursor.fetchall()]

    async def _run(self, statement: str, args: Sequence[object]) -> int:
        async with self._conn.execute(statement, tuple(args)) as cursor:
            return int(cursor.rowcount)

    async def tables(self) -> set[str]:
        found = await self._fetch("SELECT name FROM sqlite_master WHERE type = 'table'", ())
        return {str(row["name"]) for row in found}

    async def kill_midway(
        self, table: str, where: Mapping[str, object], operation: Operation
    ) -> BaseException:
        # SQLite has no server connection to kill. A trigger that aborts the DELETE fails the
        # statement mid-transaction instead, which is the same test of atomicity: whatever the
        # transaction already deleted must come back. Trigger bodies cannot take bound
        # parameters, so it fires on any delete from the table: use it in a fresh database.
        del where
        trigger = f"asyncauth_test_abort_{uuid.uuid4().hex}"
        await self._conn.execute(
            f"CREATE TRIGGER {trigger} BEFORE DELETE ON {self._quote(table)} "
            "BEGIN SELECT RAISE(ABORT, 'asyncauth test: killed midway'); END"
        )
        try:
            try:
                await operation()
            except Exception as exc:
                return exc
            raise AssertionError(f"the operation completed although deleting from {table} failed")
        finally:
            await self._conn.execute(f"DROP TRIGGER {trigger}")


def sqlite_path(url: str) -> str:
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ValueError(f"not a sqlite file URL: {url!r}")
    return unquote(url[len(prefix) :])


class PostgresRaw(_SqlRaw):
    """PostgreSQL through a plain asyncpg connection (autocommit between calls)."""

    def __init__(self, connection: Any, url: str) -> None:
        self._conn = connection
        self._url = url

    @classmethod
    async def open(cls, url: str) -> PostgresRaw:
        import asyncpg

        return cls(await asyncpg.connect(url), url)

    async def aclose(self) -> None:
        await self._conn.close()

    def _placeholder(self, index: int) -> str:
        return f"${index}"

    def _from_db(self, column: str, value: object) -> object:
        if isinstance(value, datetime):
            if value.utcoffset() is None:
                raise AssertionError(f"{column}: PostgreSQL returned a naive timestamp {value!r}")
            return value.astimezone(UTC)
        return super()._from_db(column, value)

    async def _fetch(self, statement: str, args: Sequence[object]) -> list[Row]:
        return [dict(row) for row in await self._conn.fetch(statement, *args)]

    async def _run(self, statement: str, args: Sequence[object]) -> int:
        status: str = await self._conn.execute(statement, *args)
        # "UPDATE 3", "DELETE 0", "INSERT 0 1": the last word is the row count when there is one.
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def tables(self) -> set[str]:
        found = await self._fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'", ()
        )
        return {str(row["table_name"]) for row in found}

    async def kill_midway(
        self, table: str, where: Mapping[str, object], operation: Operation
    ) -> BaseException:
        import asyncpg

        locker = await asyncpg.connect(self._url)
        try:
            transaction = locker.transaction()
            await transaction.start()
            clause, args = self._where(where, 0)
            locked = await locker.fetch(
                f"SELECT 1 FROM {self._quote(table)}{clause} FOR UPDATE", *args
            )
            if not locked:
                raise AssertionError(f"no row of {table} matches {where!r}: nothing to lock")
            outcome = await _kill_waiter(self._conn, locker.get_server_pid(), operation)
            await transaction.rollback()
        finally:
            await locker.close()
        return outcome


async def _kill_blocked(
    operation: Operation,
    find_victims: Callable[[], Awaitable[list[int]]],
    kill: Callable[[int], Awaitable[object]],
    *,
    poll: float = 0.005,
) -> BaseException:
    """Start ``operation``, wait until ``find_victims`` names the connection it blocks on,
    ``kill`` it, and return what the operation raised.

    Fails the test if the operation never blocks, finishes without blocking, outlives its
    connection by 10 s, or completes although its connection was killed.
    """
    raised: list[BaseException] = []
    finished = anyio.Event()

    async def run() -> None:
        try:
            await operation()
        except Exception as exc:
            raised.append(exc)
        finally:
            finished.set()

    problem: str | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(run)
        victims: list[int] = []
        with anyio.move_on_after(10):
            while not victims and not finished.is_set():
                victims = await find_victims()
                if not victims:
                    await anyio.sleep(poll)
        if victims:
            for victim in victims:
                await kill(victim)
            # The lock is still held: an operation that retries after the kill blocks again.
            with anyio.move_on_after(10):
                await finished.wait()
            if not finished.is_set():
                problem = "the operation did not end within 10 s of its connection's death"
        elif finished.is_set():
            problem = "the operation finished without ever waiting on the locked row" + (
                f" (it raised {raised[0]!r})" if raised else ""
            )
        else:
            problem = "the operation never blocked on the locked row within 10 s"
        group.cancel_scope.cancel()
    if problem is not None:
        raise AssertionError(problem)
    if not raised:
        raise AssertionError("the operation completed although its connection was killed")
    return raised[0]


async def _kill_waiter(monitor: Any, holder_pid: int, operation: Operation) -> BaseException:
    """PostgreSQL: terminate the backend that waits on ``holder_pid``'s lock.

    ``monitor`` polls outside any transaction: pg_stat_activity is a per-transaction snapshot.
    """

    async def find() -> list[int]:
        found = await monitor.fetch(
            "SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", holder_pid
        )
        return [int(row["pid"]) for row in found]

    async def kill(pid: int) -> None:
        await monitor.execute("SELECT pg_terminate_backend($1)", pid)

    return await _kill_blocked(operation, find, kill)


class MySQLRaw(_SqlRaw):
    """MySQL / MariaDB through a bare aiomysql connection: autocommit, UTC session."""

    def __init__(self, connection: Any, url: str) -> None:
        self._conn = connection
        self._url = url

    @staticmethod
    async def connect(url: str) -> Any:
        import aiomysql

        from asyncauth._mysql import connect_kwargs

        return await aiomysql.connect(
            **connect_kwargs(url),
            charset="utf8mb4",
            autocommit=True,
            cursorclass=aiomysql.DictCursor,
            init_command="SET time_zone = '+00:00'",
        )

    @classmethod
    async def open(cls, url: str) -> MySQLRaw:
        return cls(await cls.connect(url), url)

    async def aclose(self) -> None:
        self._conn.close()

    def _placeholder(self, index: int) -> str:
        return "%s"

    def _quote(self, name: str) -> str:
        return "`" + check_identifier(name) + "`"

    def _to_db(self, column: str, value: object) -> object:
        if isinstance(value, datetime):
            if value.utcoffset() is None:
                raise ValueError("raw helper given a naive datetime")
            return value.astimezone(UTC).replace(tzinfo=None)
        if isinstance(value, bool):
            return int(value)
        return super()._to_db(column, value)

    def _from_db(self, column: str, value: object) -> object:
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                raise AssertionError(f"{column}: MySQL returned an aware datetime {value!r}")
            # The session time zone is UTC, so a TIMESTAMP comes back as UTC wall-clock time.
            return value.replace(tzinfo=UTC)
        return super()._from_db(column, value)

    async def _fetch(self, statement: str, args: Sequence[object]) -> list[Row]:
        async with self._conn.cursor() as cursor:
            await cursor.execute(statement, tuple(args))
            return [dict(row) for row in await cursor.fetchall()]

    async def _run(self, statement: str, args: Sequence[object]) -> int:
        async with self._conn.cursor() as cursor:
            await cursor.execute(statement, tuple(args) if args else None)
            return int(cursor.rowcount)

    async def tables(self) -> set[str]:
        found = await self._fetch(
            "SELECT table_name AS name FROM information_schema.tables "
            "WHERE table_schema = DATABASE()",
            (),
        )
        return {str(row["name"]) for row in found}

    async def kill_midway(
        self, table: str, where: Mapping[str, object], operation: Operation
    ) -> BaseException:
        # As on PostgreSQL: lock the rows here, let the operation block on them, then KILL
        # the operation's connection. The server rolls its transaction back.
        locker = await self.connect(self._url)
        try:
            await locker.begin()
            clause, args = self._where(where, 0)
            async with locker.cursor() as cursor:
                await cursor.execute(
                    f"SELECT 1 FROM {self._quote(table)}{clause} FOR UPDATE", tuple(args)
                )
                if not await cursor.fetchall():
                    raise AssertionError(f"no row of {table} matches {where!r}: nothing to lock")
            outcome = await _kill_mysql_waiter(self, locker.thread_id(), operation)
            await locker.rollback()
        finally:
            locker.close()
        return outcome


async def _kill_mysql_waiter(raw: MySQLRaw, holder: int, operation: Operation) -> BaseException:
    """MySQL/MariaDB: KILL the connection whose statement waits on the rows ``holder`` locked."""
    # information_schema.innodb_trx does not reliably list a waiting transaction on
    # MariaDB, and MySQL 8 moved lock waits to performance_schema: look instead for a
    # statement on this database that stays in flight (the operation's statements take
    # milliseconds unless they wait on the rows held here).
    seen: dict[int, tuple[str, float]] = {}

    async def find() -> list[int]:
        nonlocal seen
        found = await raw._fetch(
            "SELECT id, info FROM information_schema.processlist "
            "WHERE db = DATABASE() AND command IN ('Query', 'Execute') "
            "AND info IS NOT NULL AND id <> CONNECTION_ID() AND id <> %s",
            (holder,),
        )
        clock = anyio.current_time()
        current = {int(row["id"]): str(row["info"]) for row in found}
        kept = {t: seen[t] for t in current if t in seen and seen[t][0] == current[t]}
        seen = {t: kept.get(t, (info, clock)) for t, info in current.items()}
        return [t for t, (_, since) in seen.items() if clock - since >= 0.3]

    async def kill(thread: int) -> None:
        await raw._run("KILL %s", (thread,))

    return await _kill_blocked(operation, find, kill, poll=0.02)


async def end_other_connections(raw: PostgresRaw | MySQLRaw) -> None:
    """End every other connection to ``raw``'s database, and return once they are gone.

    ``pg_terminate_backend`` and ``KILL`` only ask: the server process or thread ends a
    moment later. A test that goes on after a fixed pause may still find the connection
    alive (under load, the pause is too short), use it once, and meet its death in the next
    call instead. So this waits until the server no longer lists them (30 s at most).
    """
    if isinstance(raw, PostgresRaw):
        listed = (
            "SELECT pid AS id FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        end = "SELECT pg_terminate_backend($1)"
    else:
        listed = (
            "SELECT id FROM information_schema.processlist "
            "WHERE db = DATABASE() AND id <> CONNECTION_ID()"
        )
        end = "KILL %s"
    ended = {int(row["id"]) for row in await raw._fetch(listed, ())}
    for victim in ended:
        await raw._fetch(end, (victim,))
    with anyio.fail_after(30):
        while True:
            if not ended & {int(row["id"]) for row in await raw._fetch(listed, ())}:
                return
            await anyio.sleep(0.01)  # polling the server: nothing here to wait on


class MssqlRaw(_SqlRaw):
    """SQL Server through a bare aioodbc connection in autocommit mode (used only when
    ASYNCAUTH_MSSQL_URL names a server: none can run on this project's machines)."""

    def __init__(self, connection: Any, url: str) -> None:
        self._conn = connection
        self._url = url

    @staticmethod
    async def connect(url: str) -> Any:
        import aioodbc

        from asyncauth._odbc import mssql_connection_string

        return await aioodbc.connect(dsn=mssql_connection_string(url), autocommit=True)

    @classmethod
    async def open(cls, url: str) -> MssqlRaw:
        return cls(await cls.connect(url), url)

    async def aclose(self) -> None:
        await self._conn.close()

    def _placeholder(self, index: int) -> str:
        return "?"

    def _to_db(self, column: str, value: object) -> object:
        if isinstance(value, datetime):
            if value.utcoffset() is None:
                raise ValueError("raw helper given a naive datetime")
            return value.astimezone(UTC).replace(tzinfo=None)
        return super()._to_db(column, value)

    def _from_db(self, column: str, value: object) -> object:
        if isinstance(value, datetime):
            # datetime2 keeps no zone; asyncauth writes UTC.
            return value.replace(tzinfo=UTC)
        return super()._from_db(column, value)

    async def _fetch(self, statement: str, args: Sequence[object]) -> list[Row]:
        async with self._conn.cursor() as cursor:
            await cursor.execute(statement, *args)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in await cursor.fetchall()]

    async def _run(self, statement: str, args: Sequence[object]) -> int:
        async with self._conn.cursor() as cursor:
            await cursor.execute(statement, *args)
            return int(cursor.rowcount)

    async def tables(self) -> set[str]:
        found = await self._fetch(
            "SELECT TABLE_NAME AS name FROM INFORMATION_SCHEMA.TABLES "
            "WHERE TABLE_TYPE = 'BASE TABLE'",
            (),
        )
        return {str(row["name"]) for row in found}

    async def kill_midway(
        self, table: str, where: Mapping[str, object], operation: Operation
    ) -> BaseException:
        locker = await self.connect(self._url)
        try:
            locker.autocommit = False
            clause, args = self._where(where, 0)
            # Not ``async with locker.cursor()``: aioodbc commits when that block ends.
            cursor = await locker.cursor()
            try:
                await cursor.execute(
                    f"SELECT 1 AS x FROM {self._quote(table)} WITH (UPDLOCK, HOLDLOCK){clause}",
                    *args,
                )
                if not await cursor.fetchall():
                    raise AssertionError(f"no row of {table} matches {where!r}: nothing to lock")
                await cursor.execute("SELECT @@SPID AS spid")
                holder = int((await cursor.fetchone())[0])
            finally:
                await cursor.close()
            outcome = await _kill_mssql_waiter(self, holder, operation)
            await locker.rollback()
        finally:
            await locker.close()
        return outcome


async def _kill_mssql_waiter(raw: MssqlRaw, holder: int, operation: Operation) -> BaseException:
    """SQL Server: KILL the session blocked by ``holder``."""

    async def find() -> list[int]:
        found = await raw._fetch(
            "SELECT session_id FROM sys.dm_exec_requests WHERE blocking_session_id = ?",
            (holder,),
        )
        return [int(row["session_id"]) for row in found]

    async def kill(spid: int) -> None:
        await raw._run(f"KILL {int(spid)}", ())

    return await _kill_blocked(operation, find, kill)


# MongoDB ---------------------------------------------------------------------------------

# SQL table -> collection; the fields are the camelCase forms of the SQL columns, id is _id.
COLLECTIONS = {table: table for table in TABLES} | {"verification_requests": "verificationRequests"}
_TABLE_OF = {collection: table for table, collection in COLLECTIONS.items()}


def camel(column: str) -> str:
    """``provider_account_id`` -> ``providerAccountId``; ``id`` -> ``_id``."""
    if column == "id":
        return "_id"
    head, *rest = check_identifier(column).split("_")
    return head + "".join(part.title() for part in rest)


def snake(field: str) -> str:
    if field == "_id":
        return "id"
    return re.sub(r"(?<!^)([A-Z])", r"_\1", field).lower()


def mongo_url(url: str) -> str:
    """The plain ``mongodb://`` form of a test URL (the motor variant adds ``+motor``)."""
    return "mongodb" + url[len("mongodb+motor") :] if url.startswith("mongodb+motor") else url


class MongoRaw:
    """MongoDB through a bare PyMongo ``AsyncMongoClient``, with SQL table and column names.

    Documents come back as the SQL helpers' rows: snake_case keys, ``id``/``user_id`` as str,
    aware UTC datetimes, and every column of docs/schema.md present (``None`` when the document
    leaves the field out, as NextAuth v3 does for empty values).
    """

    def __init__(self, client: Any, database: Any) -> None:
        self._client = client
        self.db = database

    @classmethod
    async def open(cls, url: str) -> MongoRaw:
        from bson.codec_options import CodecOptions
        from pymongo import AsyncMongoClient

        plain = mongo_url(url)
        client: Any = AsyncMongoClient(plain, appname="asyncauth-test-raw", timeoutMS=30_000)
        name = unquote(urlsplit(plain).path).lstrip("/") or "asyncauth"
        return cls(client, client.get_database(name, CodecOptions(tz_aware=True, tzinfo=UTC)))

    async def aclose(self) -> None:
        await self._client.close()

    def collection(self, table: str) -> Any:
        return self.db[COLLECTIONS.get(table, check_identifier(table))]

    @staticmethod
    def _to_db(column: str, value: object) -> object:
        if column in ID_COLUMNS and isinstance(value, str):
            from bson import ObjectId

            # A str that is not an ObjectId is passed through and simply matches nothing.
            return ObjectId(value) if ObjectId.is_valid(value) and len(value) == 24 else value
        return value

    def _filter(self, where: Mapping[str, object]) -> dict[str, object]:
        # {field: None} matches null and absent fields alike, like SQL's IS NULL here.
        return {camel(column): self._to_db(column, value) for column, value in where.items()}

    def _row(self, table: str, doc: Mapping[str, Any]) -> Row:
        from bson import ObjectId

        from asyncauth._schema import LATEST, expected

        row: Row = dict.fromkeys(expected(LATEST).tables.get(table, {}))
        for field, value in doc.items():
            if isinstance(value, ObjectId):
                value = str(value)
            row[snake(field)] = value
        return row

    async def rows(self, table: str, **where: object) -> list[Row]:
        cursor = self.collection(table).find(self._filter(where))
        return [self._row(table, doc) async for doc in cursor]

    async def one(self, table: str, **where: object) -> Row | None:
        found = await self.rows(table, **where)
        if len(found) > 1:
            raise AssertionError(f"{len(found)} rows of {table} match {where!r}, expected one")
        return found[0] if found else None

    async def count(self, table: str, **where: object) -> int:
        return int(await self.collection(table).count_documents(self._filter(where)))

    async def update(self, table: str, where: Mapping[str, object], **values: object) -> int:
        if not values:
            raise ValueError("nothing to update")
        changes = {camel(c): self._to_db(c, value) for c, value in values.items()}
        result = await self.collection(table).update_many(self._filter(where), {"$set": changes})
        return int(result.modified_count)

    async def tables(self) -> set[str]:
        return {_TABLE_OF.get(n, n) for n in await self.db.list_collection_names()}

    async def execute(self, statement: str, *args: object) -> None:
        """Run a database command given as MongoDB Extended JSON (``args`` are not used)."""
        from bson import json_util

        if args:
            raise ValueError("MongoRaw.execute takes one JSON command document")
        await self.db.command(json_util.loads(statement))

    @asynccontextmanager
    async def hold_write_lock(self, table: str, **where: object) -> AsyncIterator[int]:
        """Keep the matching documents write-locked until the block ends (yields how many).

        MongoDB has no row lock to take, but a multi-document transaction that has written a
        document holds it until it commits or aborts: a write to it outside a transaction
        waits for the transaction (mongod retries the write conflict until it ends or the
        write's maxTimeMS passes; SecantusDB does the same), while reads go on, seeing the
        last committed state. The transaction is aborted on the way out.
        """
        session = self._client.start_session()
        async with session:
            await session.start_transaction()
            try:
                locked = await self.collection(table).update_many(
                    self._filter(where), {"$set": {"asyncauthTestLock": 1}}, session=session
                )
                if not locked.matched_count:
                    raise AssertionError(f"no row of {table} matches {where!r}: nothing to lock")
                yield int(locked.matched_count)
            finally:
                await session.abort_transaction()

    async def kill_midway(
        self, table: str, where: Mapping[str, object], operation: Operation
    ) -> BaseException:
        # The MongoDB counterpart of PostgreSQL's row lock: a transaction of our own writes
        # the matching documents and stays open, so the operation's transaction fails with a
        # WriteConflict when it reaches them, after whatever it deleted before. (A
        # non-transactional write would wait for our transaction instead; that is the
        # adapter's fallback path, which tests/test_mongo.py covers separately.)
        session = self._client.start_session()
        async with session:
            await session.start_transaction()
            try:
                locked = await self.collection(table).update_many(
                    self._filter(where),
                    {"$set": {"asyncauthTestLock": 1}},
                    session=session,
                )
                if not locked.matched_count:
                    raise AssertionError(f"no row of {table} matches {where!r}: nothing to lock")
                try:
                    with anyio.fail_after(30):
                        await operation()
                except Exception as exc:
                    return exc
            finally:
                await session.abort_transaction()
        raise AssertionError(f"the operation completed although {table} was locked")
