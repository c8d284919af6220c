"""The PostgreSQL adapter: :class:`SqlAdapter` over :class:`PostgresDriver`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import asyncpg

from ._adapter import SqlAdapter
from ._connect import Options
from ._postgres import PostgresDriver
from ._sql import load_queries

__all__ = ["PostgresAdapter", "from_url"]


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
        sql_folders: Sequence[Path] = (),
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
            load_queries("postgres", driver.dialect.paramstyle, sql_folders),
            hash_session_tokens=hash_session_tokens,
            owns_driver=pool is None,
            extra_migrations=[Path(f) / "migrations" / "postgres" for f in sql_folders],
        )


def from_url(url: str, options: Options) -> PostgresAdapter:
    """Build the adapter for a ``postgresql://`` URL (asyncpg reads the DSN itself)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    return PostgresAdapter(
        dsn=url,
        pool_size=options.pool_size,
        timeout=options.timeout,
        statement_cache=bool(options.take("statement_cache", True)),
        hash_session_tokens=options.hash_session_tokens,
        sql_folders=options.sql_folders,
    )
