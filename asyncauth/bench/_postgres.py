"""The PostgreSQL benchmark backend: a schema of its own, seeded by ``COPY``; asyncpg's floor."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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

#: Sessions per COPY.
_BATCH = 100_000
_USER_COLUMNS = ["id", "name", "email", "email_verified", "image", "created_at", "updated_at"]
_SESSION_COLUMNS = [
    "user_id",
    "expires",
    "session_token",
    "access_token",
    "created_at",
    "updated_at",
]


def _pg_url(url: str) -> str:
    return "postgresql://" + url[len("postgres://") :] if url.startswith("postgres://") else url


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query)))


class PostgresBench(BenchBackend):
    """PostgreSQL through asyncpg (the floor: asyncpg's pool with its reset query off)."""

    name = "postgres"
    driver_timeout = True

    @asynccontextmanager
    async def scratch(self, url: str | None) -> AsyncIterator[str]:
        import asyncpg

        if url is None:
            raise ConfigurationError("the PostgreSQL benchmark needs a URL")
        # A schema of its own (found through search_path, which asyncpg takes from the URL's
        # query) keeps the benchmark's tables away from the application's. The name is ours
        # (a fixed prefix and hex digits), never text from the URL.
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

        expires = expiry()
        stamp = datetime.now(UTC).replace(microsecond=0)
        conn = await asyncpg.connect(url)
        try:
            first, last = user_of(start), user_of(stop - 1)
            await conn.copy_records_to_table(
                "users",
                records=[
                    (u, *user_fields(u)[:2], stamp, user_fields(u)[2], stamp, stamp)
                    for u in range(first, last + 1)
                ],
                columns=_USER_COLUMNS,
            )
            for lo in range(start, stop, _BATCH):
                await conn.copy_records_to_table(
                    "sessions",
                    records=[
                        (user_of(i), expires, session_token(i), access_token(i), stamp, stamp)
                        for i in range(lo, min(stop, lo + _BATCH))
                    ],
                    columns=_SESSION_COLUMNS,
                )
            # Explicit ids bypassed the sequence; later inserts must not collide with them.
            await conn.execute("SELECT setval(pg_get_serial_sequence('users', 'id'), $1)", last)
            await conn.execute("ANALYZE users")
            await conn.execute("ANALYZE sessions")
        finally:
            await conn.close()

    @asynccontextmanager
    async def floor(
        self, url: str, pool_size: int, *, timeout: float | None = None
    ) -> AsyncIterator[Lookup]:
        """asyncpg's ``pool.fetchrow``; ``timeout`` becomes its ``command_timeout``."""
        import asyncpg

        sql, names = hot_statement("postgres", "numeric")
        assert names == ("session_token", "now")

        async def no_reset(conn: asyncpg.Connection) -> None:
            # "Nothing else": asyncpg's default reset is a second query on every release.
            del conn

        pool = await asyncpg.create_pool(
            url, min_size=pool_size, max_size=pool_size, reset=no_reset, command_timeout=timeout
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
