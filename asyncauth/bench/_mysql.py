"""The MariaDB / MySQL benchmark backend: a database of its own, multi-row inserts; aiomysql."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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
_BATCH = 20_000
_INSERT_USERS = (
    "INSERT INTO users (id, name, email, email_verified, image, created_at, updated_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
_INSERT_SESSIONS = (
    "INSERT INTO sessions (user_id, expires, session_token, access_token, created_at, "
    "updated_at) VALUES (%s, %s, %s, %s, %s, %s)"
)


def connect_kwargs(url: str) -> dict[str, Any]:
    """aiomysql's arguments for ``url``, read exactly as ``asyncauth.connect`` reads it.

    The same user (the operating-system user when the URL names none), password, port and
    options; only a URL without a database gets ``mysql``, because the bench needs no more
    than a place to create its scratch database from.
    """
    from .._mysql import connect_kwargs as library_kwargs

    parts = urlsplit(url)
    if not parts.path.lstrip("/"):
        url = urlunsplit(parts._replace(path="/mysql"))
    kwargs: dict[str, Any] = library_kwargs(url)
    return kwargs


class MySqlBench(BenchBackend):
    """MariaDB / MySQL through aiomysql (the floor: an aiomysql pool, autocommit, UTC)."""

    name = "mysql"

    @asynccontextmanager
    async def scratch(self, url: str | None) -> AsyncIterator[str]:
        import aiomysql

        if url is None:
            raise ConfigurationError("the MySQL benchmark needs a URL")
        # A database of its own (MySQL's schemas are databases), dropped afterwards. The
        # name is ours (a fixed prefix and hex digits), never text from the URL.
        name = f"asyncauth_bench_{uuid.uuid4().hex[:12]}"
        admin = await aiomysql.connect(**connect_kwargs(url), autocommit=True)
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

        expires = expiry().replace(tzinfo=None)
        stamp = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
        conn = await aiomysql.connect(**connect_kwargs(url), autocommit=False)
        try:
            async with conn.cursor() as cur:
                await cur.execute("SET time_zone = '+00:00'")
                # executemany on a plain INSERT ... VALUES sends multi-row inserts.
                await cur.executemany(
                    _INSERT_USERS,
                    [
                        (u, *user_fields(u)[:2], stamp, user_fields(u)[2], stamp, stamp)
                        for u in range(user_of(start), user_of(stop - 1) + 1)
                    ],
                )
                for lo in range(start, stop, _BATCH):
                    await cur.executemany(
                        _INSERT_SESSIONS,
                        [
                            (user_of(i), expires, session_token(i), access_token(i), stamp, stamp)
                            for i in range(lo, min(stop, lo + _BATCH))
                        ],
                    )
            await conn.commit()
            async with conn.cursor() as cur:
                await cur.execute("ANALYZE TABLE users, sessions")
                await cur.fetchall()
        finally:
            conn.close()

    @asynccontextmanager
    async def floor(
        self, url: str, pool_size: int, *, timeout: float | None = None
    ) -> AsyncIterator[Lookup]:
        import aiomysql

        self._no_timeout(timeout)
        sql, names = hot_statement("mysql", "format")
        pool = await aiomysql.create_pool(
            minsize=pool_size,
            maxsize=pool_size,
            autocommit=True,
            # The statement compares TIMESTAMPs with a naive UTC value, as asyncauth does.
            init_command="SET time_zone = '+00:00'",
            **connect_kwargs(url),
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

        conn = await aiomysql.connect(**connect_kwargs(url))
        try:
            async with conn.cursor() as cur:
                await cur.execute("SELECT VERSION()")
                row = await cur.fetchone()
        finally:
            conn.close()
        version = str(row[0]) if row else "?"
        kind = "MariaDB" if "mariadb" in version.lower() else "MySQL"
        return f"{kind} {version.split('-')[0]}"
