"""The SQLite benchmark backend: a new file, seeded in one transaction; aiosqlite's floor."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from .._errors import ConfigurationError
from ._backend import (
    UTC,
    BenchBackend,
    Lookup,
    access_token,
    expiry,
    hot_statement,
    session_token,
    user_fields,
    user_of,
)

#: Sessions per executemany call while seeding.
_BATCH = 50_000
_INSERT_USERS = (
    "INSERT INTO users (id, name, email, email_verified, image, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_SESSIONS = (
    "INSERT INTO sessions (user_id, expires, session_token, access_token, created_at, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?)"
)


def _exists(path: str) -> bool:
    # A stat of a local file: not worth a thread hop.
    return os.path.exists(path)


class SqliteBench(BenchBackend):
    """SQLite through aiosqlite (the floor: connections in an ``asyncio.Queue``)."""

    name = "sqlite"

    @asynccontextmanager
    async def scratch(self, url: str | None) -> AsyncIterator[str]:
        from .._sqlite import path_from_url

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

        from .._sqlite import dialect, path_from_url

        # Times in the very form the adapter writes them (the dialect's own conversion).
        expires = dialect.time_in(expiry())
        stamp = dialect.time_in(datetime.now(UTC).replace(microsecond=0))
        async with aiosqlite.connect(path_from_url(url), isolation_level=None) as conn:
            await conn.execute("BEGIN")
            await conn.executemany(
                _INSERT_USERS,
                [
                    (u, *user_fields(u)[:2], stamp, user_fields(u)[2], stamp, stamp)
                    for u in range(user_of(start), user_of(stop - 1) + 1)
                ],
            )
            for lo in range(start, stop, _BATCH):
                await conn.executemany(
                    _INSERT_SESSIONS,
                    [
                        (user_of(i), expires, session_token(i), access_token(i), stamp, stamp)
                        for i in range(lo, min(stop, lo + _BATCH))
                    ],
                )
            await conn.execute("COMMIT")
            await conn.execute("ANALYZE")

    @asynccontextmanager
    async def floor(
        self, url: str, pool_size: int, *, timeout: float | None = None
    ) -> AsyncIterator[Lookup]:
        import aiosqlite

        from .._sqlite import path_from_url

        self._no_timeout(timeout)
        sql, names = hot_statement("sqlite", "qmark")
        assert names == ("session_token", "now")
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
