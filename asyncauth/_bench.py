"""The session-read benchmark engine, and ``asyncauth bench``'s quick run.

It answers one question: how close does :meth:`get_session_and_user` come to the bare driver
running the same single statement on a pool of the same size (the *floor*)? Contenders are
named async context managers that yield a lookup function; they run side by side in one
process and take turns (A B A B ..., the order rotated every round), so the slow drift of a
shared, noisy machine falls on all of them alike, and each ratio is taken within a round.

Everything happens in a scratch area that is removed afterwards: a temporary SQLite file, or a
schema of its own on PostgreSQL, so ``asyncauth bench URL`` never touches the application's
tables. Only the library and the bare drivers are used here; the full harness in
``benchmarks/`` adds the SQLAlchemy contender, the table-size sweep and the saved results.
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, TextIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._connect import connect
from ._errors import ConfigurationError
from ._sql import load_queries

__all__ = [
    "BenchBackend",
    "Contender",
    "Progress",
    "Workload",
    "backend_for",
    "import_cost",
    "command",
    "markdown_table",
    "run_quick",
    "session_token",
]

UTC = timezone.utc
Lookup = Callable[[str], Awaitable[object]]
#: A contender: given the scratch URL and the pool size, an async context yielding a lookup.
Contender = Callable[[str, int], AbstractAsyncContextManager[Lookup]]

#: Each user owns this many sessions in the seeded tables.
SESSIONS_PER_USER = 10
DRIVERS = ("asyncpg", "aiosqlite", "aiomysql", "pymongo", "motor", "aioodbc", "pyodbc")


@dataclass(frozen=True)
class Workload:
    """What one run measures; the full harness reads these from ``benchmarks/workloads.json``."""

    sessions: int = 10_000
    """Rows in the sessions table for the latency and concurrency figures."""
    rounds: int = 5
    """Alternating rounds: every contender runs once per round, order rotated."""
    sequential_calls: int = 200
    """Calls per contender per round for the sequential p50/p99."""
    concurrency: tuple[int, ...] = (1, 16, 64, 256)
    duration: float = 0.25
    """Seconds per contender per round at each concurrency level."""
    warmup_calls: int = 50
    pool_size: int = 10
    lookup_sample: int = 10_000
    """Distinct tokens looked up, in random order (a random sample of the seeded sessions)."""

    def __post_init__(self) -> None:
        if self.sessions < SESSIONS_PER_USER or self.sessions % SESSIONS_PER_USER:
            raise ConfigurationError(f"sessions must be a multiple of {SESSIONS_PER_USER}")
        if self.rounds < 1 or self.sequential_calls < 1 or self.pool_size < 1:
            raise ConfigurationError("rounds, sequential_calls and pool_size must be positive")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Workload:
        """A workload from JSON data (unknown keys are an error, lists become tuples)."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ConfigurationError(f"unknown workload keys: {sorted(unknown)}")
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        return cls(**values)


# -- the seeded data ------------------------------------------------------------------------------


def session_token(i: int) -> str:
    """The token of seeded session ``i``: 64 hex chars, spread over the index like real ones."""
    return hashlib.blake2b(b"asyncauth-bench-s%d" % i, digest_size=32).hexdigest()


def _access_token(i: int) -> str:
    return hashlib.blake2b(b"asyncauth-bench-a%d" % i, digest_size=32).hexdigest()


def _user_of(i: int) -> int:
    return i // SESSIONS_PER_USER + 1


def _user_fields(u: int) -> tuple[str, str, str]:
    return f"Bench User {u}", f"user{u}@bench.example", f"https://img.example/{u}.png"


def lookup_tokens(sessions: int, sample: int, seed: int = 1) -> list[str]:
    """A random sample of the seeded tokens, in random order (the same for every contender)."""
    rng = random.Random(seed)
    return [session_token(i) for i in rng.sample(range(sessions), min(sessions, sample))]


# -- backends ------------------------------------------------------------------------------------


class BenchBackend(abc.ABC):
    """What the engine needs from one backend: a scratch area, bulk seeding and the floor."""

    name: str = ""

    @abc.abstractmethod
    def scratch(self, url: str | None) -> AbstractAsyncContextManager[str]:
        """A URL to an empty area of ``url``'s server that is removed on exit."""

    @abc.abstractmethod
    async def seed(self, url: str, start: int, stop: int) -> None:
        """Bulk-insert sessions ``start..stop-1`` and the users they belong to."""

    @abc.abstractmethod
    def floor(self, url: str, pool_size: int) -> AbstractAsyncContextManager[Lookup]:
        """The bare driver running the adapter's own statement on a pool of ``pool_size``."""

    async def describe(self, url: str) -> str:
        """The server's name and version."""
        return self.name


def _exists(path: str) -> bool:
    # A stat of a local file: not worth a thread hop.
    return os.path.exists(path)


def _expiry() -> datetime:
    # Every seeded session is live: the lookups measure hits, the case a request pays for.
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


class SqliteBench(BenchBackend):
    name = "sqlite"

    @asynccontextmanager
    async def scratch(self, url: str | None) -> AsyncIterator[str]:
        from ._sqlite import path_from_url

        if url is not None:
            path = path_from_url(url)
            if path == ":memory:" or _exists(path):
                # A benchmark adds a table's worth of rows: never into an existing database.
                raise ConfigurationError(
                    "asyncauth bench on SQLite needs the path of a file that does not exist yet "
                    "(it is created and deleted); omit the URL to use a temporary file"
                )
            try:
                yield f"sqlite:///{path}"
            finally:
                for suffix in ("", "-wal", "-shm"):
                    if _exists(path + suffix):
                        os.remove(path + suffix)
            return
        directory = tempfile.mkdtemp(prefix="asyncauth-bench-")
        try:
            yield f"sqlite:///{os.path.join(directory, 'bench.db')}"
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    async def seed(self, url: str, start: int, stop: int) -> None:
        import aiosqlite

        from ._sqlite import _time_in, path_from_url

        expires = _time_in(_expiry())
        stamp = _time_in(datetime.now(UTC).replace(microsecond=0))
        async with aiosqlite.connect(path_from_url(url), isolation_level=None) as conn:
            await conn.execute("BEGIN")
            await conn.executemany(
                "INSERT INTO users (id, name, email, email_verified, image, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (u, *_user_fields(u)[:2], stamp, _user_fields(u)[2], stamp, stamp)
                    for u in range(_user_of(start), _user_of(stop - 1) + 1)
                ],
            )
            for lo in range(start, stop, 50_000):
                await conn.executemany(
                    "INSERT INTO sessions (user_id, expires, session_token, access_token, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (_user_of(i), expires, session_token(i), _access_token(i), stamp, stamp)
                        for i in range(lo, min(stop, lo + 50_000))
                    ],
                )
            await conn.execute("COMMIT")
            await conn.execute("ANALYZE")

    @asynccontextmanager
    async def floor(self, url: str, pool_size: int) -> AsyncIterator[Lookup]:
        import aiosqlite

        from ._sqlite import path_from_url

        sql = _statement("sqlite", "qmark")
        conns = []
        idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        try:
            for _ in range(pool_size):
                conn = await aiosqlite.connect(path_from_url(url), isolation_level=None)
                conns.append(conn)
                idle.put_nowait(conn)

            async def lookup(token: str) -> object:
                now = time.strftime("%Y-%m-%d %H:%M:%S.000", time.gmtime())
                conn = await idle.get()
                try:
                    rows = await conn.execute_fetchall(sql, (token, now))
                finally:
                    idle.put_nowait(conn)
                return next(iter(rows), None)

            yield lookup
        finally:
            for conn in conns:
                await conn.close()

    async def describe(self, url: str) -> str:
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version} (file, WAL)"


class PostgresBench(BenchBackend):
    name = "postgres"

    @asynccontextmanager
    async def scratch(self, url: str | None) -> AsyncIterator[str]:
        import asyncpg

        if url is None:
            raise ConfigurationError("the PostgreSQL benchmark needs a URL")
        # A schema of its own (found through search_path, which asyncpg takes from the URL's
        # query) keeps the benchmark's tables away from the application's.
        schema = f"asyncauth_bench_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(_pg_url(url))
        try:
            await admin.execute(f'CREATE SCHEMA "{schema}"')
            try:
                yield _with_query(_pg_url(url), search_path=schema)
            finally:
                await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        finally:
            await admin.close()

    async def seed(self, url: str, start: int, stop: int) -> None:
        import asyncpg

        expires = _expiry()
        stamp = datetime.now(UTC).replace(microsecond=0)
        conn = await asyncpg.connect(url)
        try:
            first, last = _user_of(start), _user_of(stop - 1)
            await conn.copy_records_to_table(
                "users",
                records=[
                    (u, *_user_fields(u)[:2], stamp, _user_fields(u)[2], stamp, stamp)
                    for u in range(first, last + 1)
                ],
                columns=[
                    "id",
                    "name",
                    "email",
                    "email_verified",
                    "image",
                    "created_at",
                    "updated_at",
                ],
            )
            for lo in range(start, stop, 100_000):
                await conn.copy_records_to_table(
                    "sessions",
                    records=[
                        (_user_of(i), expires, session_token(i), _access_token(i), stamp, stamp)
                        for i in range(lo, min(stop, lo + 100_000))
                    ],
                    columns=[
                        "user_id",
                        "expires",
                        "session_token",
                        "access_token",
                        "created_at",
                        "updated_at",
                    ],
                )
            # Explicit ids bypassed the sequence; later inserts must not collide with them.
            await conn.execute("SELECT setval(pg_get_serial_sequence('users', 'id'), $1)", last)
            await conn.execute("ANALYZE users")
            await conn.execute("ANALYZE sessions")
        finally:
            await conn.close()

    @asynccontextmanager
    async def floor(self, url: str, pool_size: int) -> AsyncIterator[Lookup]:
        import asyncpg

        sql = _statement("postgres", "numeric")

        async def no_reset(conn: asyncpg.Connection) -> None:
            # "Nothing else": asyncpg's default reset is a second query on every release.
            del conn

        pool = await asyncpg.create_pool(
            url, min_size=pool_size, max_size=pool_size, reset=no_reset
        )
        try:

            async def lookup(token: str) -> object:
                return await pool.fetchrow(sql, token, datetime.now(UTC))

            yield lookup
        finally:
            await pool.close()

    @asynccontextmanager
    async def floor_with_timeout(self, url: str, pool_size: int) -> AsyncIterator[Lookup]:
        """The floor plus the statement timeout asyncauth must keep (a timer per statement).

        Not a contender for the bar: it shows how much of the gap to the floor is the
        timeout the contract asks for, rather than the adapter.
        """
        import asyncpg

        sql = _statement("postgres", "numeric")

        async def no_reset(conn: asyncpg.Connection) -> None:
            del conn

        pool = await asyncpg.create_pool(
            url, min_size=pool_size, max_size=pool_size, reset=no_reset, command_timeout=10.0
        )
        try:

            async def lookup(token: str) -> object:
                return await pool.fetchrow(sql, token, datetime.now(UTC))

            yield lookup
        finally:
            await pool.close()

    async def describe(self, url: str) -> str:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            version = await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()
        return f"PostgreSQL {str(version).split()[0]}"


def _pg_url(url: str) -> str:
    return "postgresql://" + url[len("postgres://") :] if url.startswith("postgres://") else url


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query)))


def _statement(dialect: str, style: Any) -> str:
    """The adapter's own hot statement, so that the floor runs exactly the same SQL."""
    stmt = load_queries(dialect, style)["get_session_and_user"].single
    assert stmt is not None and stmt.names == ("session_token", "now")
    return stmt.sql


class MySqlBench(BenchBackend):
    """MariaDB / MySQL through aiomysql (the floor: an aiomysql pool, autocommit, UTC)."""

    name = "mysql"

    @asynccontextmanager
    async def scratch(self, url: str | None) -> AsyncIterator[str]:
        import aiomysql

        if url is None:
            raise ConfigurationError("the MySQL benchmark needs a URL")
        # A database of its own (MySQL's schemas are databases), dropped afterwards.
        name = f"asyncauth_bench_{uuid.uuid4().hex[:12]}"
        admin = await aiomysql.connect(**_mysql_kwargs(url), autocommit=True)
        try:
            async with admin.cursor() as cur:
                await cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
            try:
                yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
            finally:
                async with admin.cursor() as cur:
                    await cur.execute(f"DROP DATABASE `{name}`")
        finally:
            admin.close()

    async def seed(self, url: str, start: int, stop: int) -> None:
        import aiomysql

        expires = _expiry().replace(tzinfo=None)
        stamp = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
        conn = await aiomysql.connect(**_mysql_kwargs(url), autocommit=False)
        try:
            async with conn.cursor() as cur:
                await cur.execute("SET time_zone = '+00:00'")
                # executemany on a plain INSERT ... VALUES sends multi-row inserts.
                await cur.executemany(
                    "INSERT INTO users (id, name, email, email_verified, image, created_at, "
                    "updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        (u, *_user_fields(u)[:2], stamp, _user_fields(u)[2], stamp, stamp)
                        for u in range(_user_of(start), _user_of(stop - 1) + 1)
                    ],
                )
                for lo in range(start, stop, 20_000):
                    await cur.executemany(
                        "INSERT INTO sessions (user_id, expires, session_token, access_token, "
                        "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s)",
                        [
                            (
                                _user_of(i),
                                expires,
                                session_token(i),
                                _access_token(i),
                                stamp,
                                stamp,
                            )
                            for i in range(lo, min(stop, lo + 20_000))
                        ],
                    )
            await conn.commit()
            async with conn.cursor() as cur:
                await cur.execute("ANALYZE TABLE users, sessions")
                await cur.fetchall()
        finally:
            conn.close()

    @asynccontextmanager
    async def floor(self, url: str, pool_size: int) -> AsyncIterator[Lookup]:
        import aiomysql

        stmt = load_queries("mysql", "format")["get_session_and_user"].single
        assert stmt is not None
        sql, names = stmt.sql, stmt.names
        pool = await aiomysql.create_pool(
            minsize=pool_size,
            maxsize=pool_size,
            autocommit=True,
            # The statement compares TIMESTAMPs with a naive UTC value, as asyncauth does.
            init_command="SET time_zone = '+00:00'",
            **_mysql_kwargs(url),
        )
        try:

            async def lookup(token: str) -> object:
                now = datetime.now(UTC).replace(tzinfo=None)
                params = tuple(token if n == "session_token" else now for n in names)
                async with pool.acquire() as conn, conn.cursor() as cur:
                    await cur.execute(sql, params)
                    return await cur.fetchone()

            yield lookup
        finally:
            pool.close()
            await pool.wait_closed()

    async def describe(self, url: str) -> str:
        import aiomysql

        conn = await aiomysql.connect(**_mysql_kwargs(url))
        try:
            async with conn.cursor() as cur:
                await cur.execute("SELECT VERSION()")
                row = await cur.fetchone()
        finally:
            conn.close()
        version = str(row[0]) if row else "?"
        kind = "MariaDB" if "mariadb" in version.lower() else "MySQL"
        return f"{kind} {version.split('-')[0]}"


def _mysql_kwargs(url: str) -> dict[str, Any]:
    # The adapter's own reading of the URL (user, password, port, options), so the bench
    # connects exactly as connect() would; "mysql" when the URL names no database, because
    # the bench only needs a place to create its scratch database from.
    from ._mysql import connect_kwargs

    parts = urlsplit(url)
    if not parts.path.lstrip("/"):
        url = urlunsplit(parts._replace(path="/mysql"))
    kwargs: dict[str, Any] = connect_kwargs(url)
    return kwargs


class MongoBench(BenchBackend):
    """MongoDB through PyMongo's async client (the floor: the adapter's own aggregation).

    The same code serves a real mongod and SecantusDB (the MongoDB-wire server the tests
    start as a separate process); nothing here imports SecantusDB.
    """

    name = "mongodb"

    @asynccontextmanager
    async def scratch(self, url: str | None) -> AsyncIterator[str]:
        from pymongo import AsyncMongoClient

        if url is None:
            raise ConfigurationError("the MongoDB benchmark needs a URL")
        # A database of its own on the URL's server, dropped afterwards. A short server
        # selection timeout: an unreachable server is reported as "not run" in seconds, where
        # the driver's default would wait 30.
        name = f"asyncauth_bench_{uuid.uuid4().hex[:12]}"
        admin: Any = AsyncMongoClient(url, serverSelectionTimeoutMS=5000)
        try:
            await admin.admin.command("ping")
            try:
                yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
            finally:
                await admin.drop_database(name)
        finally:
            await admin.close()

    async def seed(self, url: str, start: int, stop: int) -> None:
        from pymongo import AsyncMongoClient

        expires = _expiry()
        stamp = datetime.now(UTC).replace(microsecond=0)
        client: Any = AsyncMongoClient(url)
        try:
            db = client.get_default_database()
            # Large insert_many batches: the driver splits them into as few wire messages as
            # the server's limits allow, so the cost is the server's, not round trips.
            first, last = _user_of(start), _user_of(stop - 1)
            for lo in range(first, last + 1, _MONGO_BATCH):
                await db.users.insert_many(
                    [_mongo_user(u, stamp) for u in range(lo, min(last + 1, lo + _MONGO_BATCH))],
                    ordered=False,
                )
            for lo in range(start, stop, _MONGO_BATCH):
                await db.sessions.insert_many(
                    [
                        {
                            "userId": _mongo_user_id(_user_of(i)),
                            "expires": expires,
                            "sessionToken": session_token(i),
                            "accessToken": _access_token(i),
                            "createdAt": stamp,
                            "updatedAt": stamp,
                        }
                        for i in range(lo, min(stop, lo + _MONGO_BATCH))
                    ],
                    ordered=False,
                )
        finally:
            await client.close()

    @asynccontextmanager
    async def floor(self, url: str, pool_size: int) -> AsyncIterator[Lookup]:
        async with _mongo_floor(url, maxPoolSize=pool_size) as lookup:
            yield lookup

    @asynccontextmanager
    async def floor_with_timeout(self, url: str, pool_size: int) -> AsyncIterator[Lookup]:
        """The floor plus the client-side operation timeout asyncauth's client is built with.

        Not a contender for the bar: it shows how much of the gap to the floor is PyMongo's
        per-operation deadline (``timeoutMS``), which the contract's ``timeout`` asks for.
        """
        async with _mongo_floor(url, maxPoolSize=pool_size, timeoutMS=10_000) as lookup:
            yield lookup

    async def describe(self, url: str) -> str:
        from pymongo import AsyncMongoClient

        client: Any = AsyncMongoClient(url, serverSelectionTimeoutMS=5000)
        try:
            info = await client.admin.command("buildInfo")
        finally:
            await client.close()
        version = str(info.get("version", "?"))
        # SecantusDB answers buildInfo with the MongoDB version it speaks; say which it is.
        kind = "SecantusDB" if "secantus" in json.dumps(info, default=str).lower() else "MongoDB"
        return f"{kind} {version}"


#: Documents per insert_many call when seeding MongoDB.
_MONGO_BATCH = 50_000


def _mongo_user_id(u: int) -> Any:
    from bson import ObjectId

    # Deterministic ids: a session's userId is computed, never looked up, while seeding.
    return ObjectId(u.to_bytes(12, "big"))


def _mongo_user(u: int, stamp: datetime) -> dict[str, Any]:
    name, email, image = _user_fields(u)
    return {
        "_id": _mongo_user_id(u),
        "name": name,
        "email": email,
        "emailVerified": stamp,
        "image": image,
        "createdAt": stamp,
        "updatedAt": stamp,
    }


@asynccontextmanager
async def _mongo_floor(url: str, **options: Any) -> AsyncIterator[Lookup]:
    """The bare PyMongo calls of the session read: one aggregate and its ``to_list``."""
    from pymongo import AsyncMongoClient

    from ._mongo import session_and_user_pipeline

    client: Any = AsyncMongoClient(url, **options)
    sessions = client.get_default_database()["sessions"]
    try:

        async def lookup(token: str) -> object:
            cursor = await sessions.aggregate(session_and_user_pipeline(token, datetime.now(UTC)))
            found = await cursor.to_list(1)
            return found[0] if found else None

        yield lookup
    finally:
        await client.close()


#: scheme -> backend; adding a backend is one class and one line here.
BACKENDS: dict[str, Callable[[], BenchBackend]] = {
    "sqlite": SqliteBench,
    "postgresql": PostgresBench,
    "postgres": PostgresBench,
    "mysql": MySqlBench,
    "mariadb": MySqlBench,
    "mongodb": MongoBench,
}


def backend_for(url: str | None) -> BenchBackend:
    """The benchmark backend for a URL (SQLite when None)."""
    scheme = "sqlite" if url is None else urlsplit(url).scheme.lower().split("+", 1)[0]
    factory = BACKENDS.get(scheme)
    if factory is None:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigurationError(f"no benchmark for scheme {scheme!r} (known: {known})")
    return factory()


# -- contenders ----------------------------------------------------------------------------------


@asynccontextmanager
async def asyncauth_contender(url: str, pool_size: int) -> AsyncIterator[Lookup]:
    """asyncauth's :meth:`get_session_and_user` on a pool of ``pool_size``."""
    async with connect(url, pool_size=pool_size) as auth:
        yield auth.get_session_and_user


def floor_contender(backend: BenchBackend) -> Contender:
    """The bare-driver floor of ``backend`` as a contender."""
    return backend.floor


# -- measuring -----------------------------------------------------------------------------------


def _pct(ordered: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of sorted values, interpolated."""
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def latency_summary(ns: Sequence[int]) -> dict[str, float]:
    """p50/p99/mean in microseconds of per-call times in nanoseconds."""
    ordered = sorted(ns)
    return {
        "p50_us": _pct(ordered, 0.50) / 1000,
        "p99_us": _pct(ordered, 0.99) / 1000,
        "mean_us": sum(ordered) / len(ordered) / 1000 if ordered else float("nan"),
    }


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, quartiles and extremes of per-round values."""
    ordered = sorted(values)
    return {
        "median": _pct(ordered, 0.5),
        "q1": _pct(ordered, 0.25),
        "q3": _pct(ordered, 0.75),
        "min": ordered[0] if ordered else float("nan"),
        "max": ordered[-1] if ordered else float("nan"),
    }


async def sequential(lookup: Lookup, tokens: Sequence[str], calls: int, offset: int) -> list[int]:
    """Per-call nanoseconds of ``calls`` lookups, one at a time."""
    clock = time.perf_counter_ns
    n = len(tokens)
    out = []
    for k in range(offset, offset + calls):
        token = tokens[k % n]
        t0 = clock()
        await lookup(token)
        out.append(clock() - t0)
    return out


async def concurrent(
    lookup: Lookup, tokens: Sequence[str], concurrency: int, duration: float, offset: int
) -> tuple[float, list[int]]:
    """Throughput (calls/s) and per-call ns with ``concurrency`` callers for ``duration`` s."""
    clock = time.perf_counter_ns
    n = len(tokens)
    latencies: list[int] = []
    counter = [offset]
    start = clock()
    deadline = start + int(duration * 1e9)

    async def caller() -> None:
        while True:
            k = counter[0]
            counter[0] = k + 1
            t0 = clock()
            await lookup(tokens[k % n])
            t1 = clock()
            latencies.append(t1 - t0)
            if t1 >= deadline:
                return

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    elapsed = (clock() - start) / 1e9
    return len(latencies) / elapsed, latencies


async def warm_up(name: str, lookup: Lookup, tokens: Sequence[str], calls: int, width: int) -> None:
    """Fill the pool and the statement caches, and check that lookups find their sessions."""
    if await lookup(tokens[0]) is None:
        raise RuntimeError(f"{name}: a seeded session was not found; the benchmark is broken")
    await concurrent(lookup, tokens, width, 0.0, 1)
    for k in range(calls):
        await lookup(tokens[k % len(tokens)])


class Progress:
    """A one-line progress bar on stderr (or nothing, when disabled)."""

    def __init__(self, total: int, *, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.total = max(1, total)
        self.done = 0
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.label = ""

    def step(self, label: str | None = None, amount: int = 1) -> None:
        """Advance by ``amount`` units; ``label`` names what runs now."""
        self.done = min(self.total, self.done + amount)
        if label is not None:
            self.label = label
        self._draw()

    def show(self, label: str) -> None:
        """Name what runs now without advancing."""
        self.label = label
        self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        width = 30
        filled = width * self.done // self.total
        bar = "#" * filled + "-" * (width - filled)
        pct = 100 * self.done // self.total
        self.stream.write(f"\r[{bar}] {pct:3d}% {self.label[:40]:<40}")
        self.stream.flush()

    def close(self) -> None:
        """End the line."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def rotated(names: Sequence[str], r: int) -> list[str]:
    """Round ``r``'s running order: each contender goes first in turn."""
    k = r % len(names)
    return [*names[k:], *names[:k]]


def plan_steps(workload: Workload, contenders: int) -> int:
    """Progress units of :func:`measure`."""
    return workload.rounds * contenders * (1 + len(workload.concurrency))


async def measure(
    url: str,
    contenders: Mapping[str, Contender],
    workload: Workload,
    progress: Progress,
) -> dict[str, Any]:
    """Sequential latency and throughput at each concurrency, contenders alternating.

    Returns per-round figures: ``sequential[name]`` is a list of latency summaries, and
    ``concurrency[c][name]`` a list of ``{"ops_s", "p50_us", "p99_us", "mean_us"}``.
    """
    names = list(contenders)
    tokens = lookup_tokens(workload.sessions, workload.lookup_sample)
    seq: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    conc: dict[str, dict[str, list[dict[str, float]]]] = {
        str(c): {n: [] for n in names} for c in workload.concurrency
    }
    async with _open_all(url, contenders, workload.pool_size) as lookups:
        for name in names:
            progress.show(f"warm-up {name}")
            await warm_up(
                name, lookups[name], tokens, workload.warmup_calls, 2 * workload.pool_size
            )
        offset = 0
        for r in range(workload.rounds):
            for name in rotated(names, r):
                progress.show(f"sequential {name} ({r + 1}/{workload.rounds})")
                ns = await sequential(lookups[name], tokens, workload.sequential_calls, offset)
                seq[name].append(latency_summary(ns))
                progress.step()
            offset += workload.sequential_calls
        for c in workload.concurrency:
            for r in range(workload.rounds):
                for name in rotated(names, r):
                    progress.show(f"c={c} {name} ({r + 1}/{workload.rounds})")
                    ops, ns = await concurrent(lookups[name], tokens, c, workload.duration, offset)
                    conc[str(c)][name].append({"ops_s": ops, **latency_summary(ns)})
                    offset += len(ns)
                    progress.step()
    return {"sequential": seq, "concurrency": conc}


@asynccontextmanager
async def _open_all(
    url: str, contenders: Mapping[str, Contender], pool_size: int
) -> AsyncIterator[dict[str, Lookup]]:
    opened: dict[str, Lookup] = {}
    stack: list[AbstractAsyncContextManager[Lookup]] = []
    try:
        for name, factory in contenders.items():
            cm = factory(url, pool_size)
            opened[name] = await cm.__aenter__()
            stack.append(cm)
        yield opened
    finally:
        while stack:
            await stack.pop().__aexit__(None, None, None)


async def bootstrap_cost(url: str, repeats: int) -> dict[str, Any]:
    """Milliseconds of ``bootstrap()`` on an up-to-date database.

    ``first`` is the first call on a newly opened adapter (it also reads the bundled migration
    files, as a process starting up does); ``again`` a second call on the same adapter.
    Opening the connection is not counted: that is the application's start-up, not bootstrap.
    """
    from . import bootstrap

    first: list[float] = []
    again: list[float] = []
    for _ in range(repeats):
        async with connect(url, pool_size=1) as auth:
            t0 = time.perf_counter()
            applied = await bootstrap(auth)
            t1 = time.perf_counter()
            await bootstrap(auth)
            t2 = time.perf_counter()
            if applied:
                raise RuntimeError(f"bootstrap applied {applied} on a database meant to be current")
            first.append((t1 - t0) * 1000)
            again.append((t2 - t1) * 1000)
    return {"first_ms": first, "again_ms": again}


_IMPORT_PROBE = (
    "import sys, time, json\n"
    "t = time.perf_counter()\n"
    "import asyncauth\n"
    "ms = (time.perf_counter() - t) * 1000\n"
    "print(json.dumps({'ms': ms, 'drivers': sorted(m for m in sys.modules "
    "if m.split('.')[0] in %r)}))\n"
)


def import_cost(repeats: int, python: str | None = None) -> dict[str, Any]:
    """Milliseconds of ``import asyncauth`` in fresh interpreters, and the drivers it loaded."""
    times: list[float] = []
    drivers: set[str] = set()
    for _ in range(repeats):
        out = subprocess.run(
            [python or sys.executable, "-c", _IMPORT_PROBE % (DRIVERS,)],
            check=True,
            capture_output=True,
            text=True,
        )
        data = json.loads(out.stdout)
        times.append(float(data["ms"]))
        drivers.update(data["drivers"])
    return {"ms": times, "drivers_imported": sorted(drivers)}


def environment() -> dict[str, Any]:
    """The machine and the versions a result was measured with."""
    from importlib import metadata

    versions: dict[str, str] = {"python": platform.python_version()}
    for dist in ("asyncauth", "asyncpg", "aiosqlite", "aiomysql", "pymongo", "sqlalchemy"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": _cpu_name(),
            "cores": os.cpu_count(),
            "python_implementation": platform.python_implementation(),
        },
        "versions": versions,
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# -- summary -------------------------------------------------------------------------------------


def ratios(rounds_a: Sequence[float], rounds_b: Sequence[float]) -> dict[str, float]:
    """Spread of a/b taken round by round (the two ran back to back in each round)."""
    return spread([a / b for a, b in zip(rounds_a, rounds_b, strict=True) if b])


def summarise(raw: Mapping[str, Any], subject: str, base: str) -> dict[str, Any]:
    """Medians per contender and ``subject``/``base`` ratios for :func:`measure`'s output."""
    out: dict[str, Any] = {"sequential": {}, "concurrency": {}}
    seq = raw["sequential"]
    for name, rounds in seq.items():
        out["sequential"][name] = {
            key: spread([r[key] for r in rounds])["median"] for key in ("p50_us", "p99_us")
        }
    if subject in seq and base in seq:
        out["sequential"]["ratio_p50"] = ratios(
            [r["p50_us"] for r in seq[subject]], [r["p50_us"] for r in seq[base]]
        )
    for c, per in raw["concurrency"].items():
        row: dict[str, Any] = {}
        for name, rounds in per.items():
            row[name] = {
                key: spread([r[key] for r in rounds])["median"]
                for key in ("ops_s", "p50_us", "p99_us")
            }
        if subject in per and base in per:
            row["ratio_ops"] = ratios(
                [r["ops_s"] for r in per[subject]], [r["ops_s"] for r in per[base]]
            )
            row["ratio_p50"] = ratios(
                [r["p50_us"] for r in per[subject]], [r["p50_us"] for r in per[base]]
            )
        out["concurrency"][c] = row
    return out


def _ratio_text(r: Mapping[str, float]) -> str:
    return f"{r['median']:.2f}x ({r['min']:.2f}–{r['max']:.2f})"


def markdown_table(
    backend: str, summary: Mapping[str, Any], names: Sequence[str], subject: str, base: str
) -> str:
    """One backend's figures: p50 latency and throughput per contender, and the ratios."""
    head = ["measure", *names, f"{subject} / {base} (median, min–max)"]
    lines = [
        f"| {backend} | " + " | ".join(head) + " |",
        "|" + "---|" * (len(head) + 1),
    ]
    seq = summary["sequential"]
    cells = [f"{seq[n]['p50_us']:.0f} µs / {seq[n]['p99_us']:.0f} µs" for n in names]
    ratio = seq.get("ratio_p50")
    lines.append(
        "| | sequential p50 / p99 | "
        + " | ".join(cells)
        + f" | {_ratio_text(ratio) if ratio else ''} latency |"
    )
    for c, row in summary["concurrency"].items():
        cells = [f"{row[n]['ops_s']:,.0f}/s (p50 {row[n]['p50_us']:.0f} µs)" for n in names]
        extra = ""
        if "ratio_ops" in row:
            extra = (
                f"{_ratio_text(row['ratio_ops'])} throughput, {_ratio_text(row['ratio_p50'])} p50"
            )
        lines.append(f"| | concurrency {c} | " + " | ".join(cells) + f" | {extra} |")
    return "\n".join(lines)


# -- the quick run -------------------------------------------------------------------------------


@dataclass
class QuickResult:
    """What ``asyncauth bench`` measured."""

    backend: str
    server: str
    workload: Workload
    raw: dict[str, Any]
    summary: dict[str, Any]
    seed_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        """The Markdown table of the run."""
        title = (
            f"asyncauth bench: {self.server}, {self.workload.sessions:,} sessions, "
            f"pool {self.workload.pool_size}, {self.workload.rounds} alternating rounds"
        )
        return (
            title
            + "\n\n"
            + markdown_table(
                self.backend, self.summary, ["floor", "asyncauth"], "asyncauth", "floor"
            )
        )


async def run_quick(
    url: str | None = None, *, workload: Workload | None = None, progress: bool = True
) -> QuickResult:
    """Seed a scratch table, then measure asyncauth against the bare driver on it."""
    import asyncauth

    wl = workload or Workload()
    backend = backend_for(url)
    contenders: dict[str, Contender] = {
        "floor": floor_contender(backend),
        "asyncauth": asyncauth_contender,
    }
    bar = Progress(plan_steps(wl, len(contenders)) + 2, enabled=progress)
    try:
        async with backend.scratch(url) as scratch:
            bar.show("bootstrap + seed")
            await asyncauth.bootstrap(scratch)
            t0 = time.perf_counter()
            await backend.seed(scratch, 0, wl.sessions)
            seeded = time.perf_counter() - t0
            bar.step("seeded", 2)
            server = await backend.describe(scratch)
            raw = await measure(scratch, contenders, wl, bar)
    finally:
        bar.close()
    summary = summarise(raw, "asyncauth", "floor")
    return QuickResult(backend.name, server, wl, raw, summary, seeded)


async def command(
    url: str | None = None,
    *,
    sessions: int = 10_000,
    rounds: int = 5,
    duration: float = 0.25,
    progress: bool = True,
    stream: TextIO | None = None,
) -> int:
    """``asyncauth bench [URL]``: run the quick benchmark and print its table."""
    workload = Workload(sessions=sessions, rounds=rounds, duration=duration)
    result = await run_quick(url, workload=workload, progress=progress)
    out = stream if stream is not None else sys.stdout
    out.write(result.table() + "\n")
    out.write(
        "\nfloor = the same statement (on MongoDB: the same aggregation) through the bare "
        "driver on a pool of the same size. "
        "The full benchmark (SQLAlchemy ORM, table sizes, saved results) is in benchmarks/.\n"
    )
    return 0
