"""The SQLite adapter: :class:`SqlAdapter` over :class:`SqliteDriver`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ._adapter import SqlAdapter
from ._connect import Options
from ._errors import ConfigurationError
from ._redact import redact_url
from ._sql import load_queries
from ._sqlite import SqliteDriver

__all__ = ["SqliteAdapter", "from_url", "path_from_url"]


class SqliteAdapter(SqlAdapter):
    """SQLite through aiosqlite: ``SqliteAdapter("auth.db")`` or ``SqliteAdapter(":memory:")``."""

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        pool_size: int | None = None,
        timeout: float = 10.0,
        hash_session_tokens: bool = False,
        sql_folders: Sequence[Path] = (),
    ) -> None:
        driver = SqliteDriver(str(path), pool_size=pool_size or 4, timeout=timeout)
        super().__init__(
            driver,
            load_queries("sqlite", driver.dialect.paramstyle, sql_folders),
            hash_session_tokens=hash_session_tokens,
            extra_migrations=[Path(f) / "migrations" / "sqlite" for f in sql_folders],
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
    return SqliteAdapter(
        path_from_url(url),
        pool_size=options.pool_size,
        timeout=options.timeout,
        hash_session_tokens=options.hash_session_tokens,
        sql_folders=options.sql_folders,
    )
