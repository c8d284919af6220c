"""asyncauth: async storage for authentication state, the NextAuth.js / Auth.js way.

Users, OAuth accounts, database sessions, magic-link tokens and WebAuthn authenticators, in
the tables NextAuth uses, through hand-written SQL (SQLite, PostgreSQL, MySQL/MariaDB, SQL
Server) or MongoDB::

    async with asyncauth.connect("postgresql://app@db/app", bootstrap=True) as auth:
        user = await auth.create_user(email="ada@example.com", name="Ada")

``import asyncauth`` imports no database driver; each backend's driver is loaded when a URL
or adapter class of that backend is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._connect import connect
from ._errors import (
    AsyncAuthError,
    BackendError,
    ConfigurationError,
    DuplicateError,
    NotFoundError,
    SchemaError,
    ValidationError,
)
from ._models import Account, Authenticator, PurgeResult, Session, User, VerificationToken
from ._protocol import Adapter
from ._schema import SchemaReport

if TYPE_CHECKING:
    from ._mysql_adapter import MySQLAdapter
    from ._odbc_adapter import MssqlAdapter, OdbcAdapter
    from ._postgres_adapter import PostgresAdapter
    from ._sqlite_adapter import SqliteAdapter

__all__ = [
    "Account",
    "Adapter",
    "AsyncAuthError",
    "Authenticator",
    "BackendError",
    "ConfigurationError",
    "DuplicateError",
    "MssqlAdapter",
    "MySQLAdapter",
    "NotFoundError",
    "OdbcAdapter",
    "PostgresAdapter",
    "PurgeResult",
    "SchemaError",
    "SchemaReport",
    "Session",
    "SqliteAdapter",
    "User",
    "ValidationError",
    "VerificationToken",
    "__version__",
    "bootstrap",
    "check",
    "connect",
    "ddl",
]

__version__ = "0.1.0"

# Adapter classes that name a driver are imported on first use (PEP 562), never at import.
_LAZY = {
    "SqliteAdapter": "asyncauth._sqlite_adapter",
    "PostgresAdapter": "asyncauth._postgres_adapter",
    "MySQLAdapter": "asyncauth._mysql_adapter",
    "OdbcAdapter": "asyncauth._odbc_adapter",
    "MssqlAdapter": "asyncauth._odbc_adapter",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'asyncauth' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ConfigurationError(
            f"{name} needs its driver ({exc.name}); install the matching asyncauth extra"
        ) from exc
    globals()[name] = value
    return value


async def _with_adapter(url_or_adapter: Any, action: str) -> Any:
    if isinstance(url_or_adapter, str) or url_or_adapter is None:
        async with connect(url_or_adapter) as adapter:
            return await getattr(adapter, action)()
    await url_or_adapter.open()
    return await getattr(url_or_adapter, action)()


async def bootstrap(url_or_adapter: str | Adapter | None = None) -> list[int]:
    """Bring a database's schema up to date; the migration versions applied (or adopted).

    Idempotent and safe to run from many processes at once: one applies each migration under
    the database's lock, the others wait and find nothing to do. On a current database it
    costs one query. Never drops, renames or narrows anything.
    """
    result: list[int] = await _with_adapter(url_or_adapter, "bootstrap")
    return result


async def check(url_or_adapter: str | Adapter | None = None) -> SchemaReport:
    """Compare the live schema with the expected one; report with ``.ok`` and ``.differences``.

    Changes nothing.
    """
    result: SchemaReport = await _with_adapter(url_or_adapter, "check")
    return result


def ddl(dialect: str) -> str:
    """The full DDL of a SQL dialect (every bundled migration, in order), for review."""
    from ._sql import dialect_folder

    folder = dialect_folder(dialect) / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return "\n".join(f"-- {f.name}\n{f.read_text(encoding='utf-8').strip()}\n" for f in files)
