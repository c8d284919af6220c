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

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _connect
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
    from ._mongo import MongoAdapter
    from ._mysql import MySQLAdapter
    from ._odbc import MssqlAdapter, OdbcAdapter
    from ._postgres import PostgresAdapter
    from ._sqlite import SqliteAdapter

__all__ = [
    "Account",
    "Adapter",
    "AsyncAuthError",
    "Authenticator",
    "BackendError",
    "ConfigurationError",
    "DuplicateError",
    "MongoAdapter",
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


def __getattr__(name: str) -> Any:
    # Adapter classes that name a driver are imported on first use (PEP 562), never at
    # import; which module holds each is read from the one backend registry.
    found = _connect.adapter_classes().get(name)
    if found is None:
        raise AttributeError(f"module 'asyncauth' has no attribute {name!r}")
    module, extra = found
    value = getattr(_connect.import_backend(module, extra, name), name)
    value.__module__ = __name__
    globals()[name] = value
    return value


async def _with_adapter(url_or_adapter: Any, action: str, layout: str | None = None) -> Any:
    if isinstance(url_or_adapter, str) or url_or_adapter is None:
        options: dict[str, Any] = {} if layout is None else {"layout": layout}
        async with connect(url_or_adapter, **options) as adapter:
            return await getattr(adapter, action)()
    await url_or_adapter.open()
    return await getattr(url_or_adapter, action)()


async def bootstrap(
    url_or_adapter: str | Adapter | None = None, *, layout: str | None = None
) -> list[int]:
    """Bring a database's schema up to date; the migration versions applied (or adopted).

    Idempotent and safe to run from many processes at once: one applies each migration under
    the database's lock, the others wait and find nothing to do. On a current database it
    costs one query. Never drops, renames or narrows anything. With another ``layout`` (an
    Auth.js adapter's tables) it only creates that layout's schema in a database without it
    (docs/layouts.md).
    """
    result: list[int] = await _with_adapter(url_or_adapter, "bootstrap", layout)
    return result


async def check(
    url_or_adapter: str | Adapter | None = None, *, layout: str | None = None
) -> SchemaReport:
    """Compare the live schema with the expected one; report with ``.ok`` and ``.differences``.

    Changes nothing.
    """
    result: SchemaReport = await _with_adapter(url_or_adapter, "check", layout)
    return result


def ddl(dialect: str, *, sql_folders: Sequence[str | Path] = ()) -> str:
    """The full DDL of a SQL dialect (every bundled migration, in order), for review.

    ``sql_folders`` adds the custom migrations of those folders (``migrations/<dialect>/``).
    """
    from ._sql import dialect_folder, load_migrations

    extra = [Path(f) / "migrations" / dialect for f in sql_folders]
    load_migrations(dialect, extra)  # the same checks as bootstrap: numbering, duplicates

    folders: list[Any] = [dialect_folder(dialect) / "migrations"]
    folders += [f for f in extra if f.is_dir()]
    files = sorted(
        (f for folder in folders for f in folder.iterdir() if f.name.endswith(".sql")),
        key=lambda f: f.name,
    )
    return "\n".join(f"-- {f.name}\n{f.read_text(encoding='utf-8').strip()}\n" for f in files)


# Exported names report the public module (``asyncauth.User``, not ``asyncauth._models.User``)
# in reprs, tracebacks and help(); pickling finds them there too.
for _name in __all__:
    if _name in globals() and _name != "__version__":
        globals()[_name].__module__ = __name__
del _name
