"""The ODBC adapters: :class:`SqlAdapter` over :class:`OdbcDriver`.

URLs:

- ``mssql://user:password@host:port/database?driver=ODBC+Driver+18+for+SQL+Server&Encrypt=yes``
  builds a SQL Server connection string; every other query parameter is passed through as a
  connection-string attribute (``TrustServerCertificate=yes``, ``Encrypt=no``, ...).
- ``odbc://?odbc_connect=<url-encoded connection string>&dialect=mssql|postgres|mysql``
  hands any connection string to the ODBC driver manager; ``dialect`` (default ``mssql``)
  chooses the folder of SQL the queries and migrations come from.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import aioodbc

from ._adapter import SqlAdapter
from ._connect import Options
from ._errors import ConfigurationError
from ._odbc import odbc_driver
from ._sql import load_queries

__all__ = ["MssqlAdapter", "OdbcAdapter", "from_url", "mssql_connection_string"]

DEFAULT_MSSQL_DRIVER = "ODBC Driver 18 for SQL Server"


class OdbcAdapter(SqlAdapter):
    """A database through aioodbc, with the SQL of ``dialect`` (``mssql``, ``postgres``, ``mysql``).

    ``OdbcAdapter(pool, dialect="mssql")`` wraps an ``aioodbc.Pool`` the application owns
    (``aclose()`` leaves it open; asyncauth turns autocommit on for the connections it
    borrows and runs the dialect's session set-up on each once). Give such a pool an
    ``executor`` with at least one thread per connection: aioodbc runs every call in a
    thread, and callers waiting on a row lock must not take the thread that the transaction
    holding the lock needs to commit. ``OdbcAdapter(dsn=...)`` makes and owns a pool (with
    such an executor) from an ODBC connection string.
    """

    def __init__(
        self,
        pool: aioodbc.Pool | None = None,
        *,
        dsn: str | None = None,
        dialect: str = "mssql",
        pool_size: int | None = None,
        timeout: float = 10.0,
        hash_session_tokens: bool = False,
        sql_folders: Sequence[Path] = (),
    ) -> None:
        driver = odbc_driver(dialect, dsn, pool=pool, pool_size=pool_size or 10, timeout=timeout)
        super().__init__(
            driver,
            load_queries(driver.dialect.name, driver.dialect.paramstyle, sql_folders),
            hash_session_tokens=hash_session_tokens,
            owns_driver=pool is None,
            extra_migrations=[Path(f) / "migrations" / driver.dialect.name for f in sql_folders],
        )


class MssqlAdapter(OdbcAdapter):
    """SQL Server through aioodbc (Microsoft's ODBC driver, or FreeTDS)."""

    def __init__(
        self,
        pool: aioodbc.Pool | None = None,
        *,
        dsn: str | None = None,
        pool_size: int | None = None,
        timeout: float = 10.0,
        hash_session_tokens: bool = False,
        sql_folders: Sequence[Path] = (),
    ) -> None:
        super().__init__(
            pool,
            dsn=dsn,
            dialect="mssql",
            pool_size=pool_size,
            timeout=timeout,
            hash_session_tokens=hash_session_tokens,
            sql_folders=sql_folders,
        )


def _braced(value: str) -> str:
    # ODBC connection-string quoting: a value with ; { } or edge spaces goes in braces,
    # with '}' doubled.
    if any(c in value for c in ";{}=") or value != value.strip():
        return "{" + value.replace("}", "}}") + "}"
    return value


def mssql_connection_string(url: str) -> str:
    """The ODBC connection string for a ``mssql://user:pw@host:port/db?driver=...`` URL."""
    parts = urlsplit(url)
    attrs: dict[str, str] = {}
    driver = DEFAULT_MSSQL_DRIVER
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() == "driver":
            driver = value
        else:
            attrs[key] = value
    server = parts.hostname or "localhost"
    if parts.port:
        server = f"{server},{parts.port}"  # SQL Server's host,port form
    pieces = [f"DRIVER={{{driver.replace('}', '}}')}}}", f"SERVER={_braced(server)}"]
    database = unquote(parts.path.lstrip("/"))
    if database:
        pieces.append(f"DATABASE={_braced(database)}")
    if parts.username:
        pieces.append(f"UID={_braced(unquote(parts.username))}")
    if parts.password:
        pieces.append(f"PWD={_braced(unquote(parts.password))}")
    pieces += [f"{k}={_braced(v)}" for k, v in attrs.items()]
    return ";".join(pieces) + ";"


def parse_odbc_url(url: str) -> tuple[str, str]:
    """``odbc://?odbc_connect=...&dialect=...`` -> (connection string, dialect)."""
    parts = urlsplit(url)
    if parts.netloc or parts.path not in ("", "/"):
        raise ConfigurationError(
            "an odbc:// URL carries everything in its query: odbc://?odbc_connect=<url-encoded "
            "connection string>&dialect=mssql|postgres|mysql"
        )
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    dsn = params.pop("odbc_connect", "")
    dialect = params.pop("dialect", "mssql")
    if not dsn:
        raise ConfigurationError(
            "an odbc:// URL needs odbc_connect=<url-encoded connection string>"
        )
    if params:
        raise ConfigurationError(f"unknown odbc:// URL parameter(s): {', '.join(sorted(params))}")
    return dsn, dialect


def from_url(url: str, options: Options) -> OdbcAdapter:
    """Build the adapter for a ``mssql://`` or ``odbc://`` URL."""
    scheme = urlsplit(url).scheme.lower()
    common = {
        "pool_size": options.pool_size,
        "timeout": options.timeout,
        "hash_session_tokens": options.hash_session_tokens,
        "sql_folders": options.sql_folders,
    }
    if scheme == "mssql":
        return MssqlAdapter(dsn=mssql_connection_string(url), **common)  # type: ignore[arg-type]
    dsn, dialect = parse_odbc_url(url)
    return OdbcAdapter(dsn=dsn, dialect=dialect, **common)  # type: ignore[arg-type]
