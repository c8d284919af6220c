"""The MySQL / MariaDB adapter: :class:`SqlAdapter` over :class:`MySQLDriver`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aiomysql

from ._adapter import SqlAdapter
from ._connect import Options
from ._mysql import MySQLDriver, connect_kwargs
from ._sql import load_queries

__all__ = ["MySQLAdapter", "from_url"]


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
        sql_folders: Sequence[Path] = (),
    ) -> None:
        driver = MySQLDriver(
            None if url is None else connect_kwargs(url),
            pool=pool,
            pool_size=pool_size or 10,
            timeout=timeout,
        )
        super().__init__(
            driver,
            load_queries("mysql", driver.dialect.paramstyle, sql_folders),
            hash_session_tokens=hash_session_tokens,
            owns_driver=pool is None,
            extra_migrations=[Path(f) / "migrations" / "mysql" for f in sql_folders],
        )


def from_url(url: str, options: Options) -> MySQLAdapter:
    """Build the adapter for a ``mysql://`` or ``mariadb://`` URL."""
    return MySQLAdapter(
        url=url,
        pool_size=options.pool_size,
        timeout=options.timeout,
        hash_session_tokens=options.hash_session_tokens,
        sql_folders=options.sql_folders,
    )
