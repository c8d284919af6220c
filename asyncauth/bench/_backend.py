"""What every benchmark backend shares: the seeded data, the backend interface, the registry.

A backend is one module of this package (``_sqlite``, ``_postgres``, ``_mysql``,
``_mongodb``) with one :class:`BenchBackend` subclass; it is imported only when its URL scheme
is asked for, so the bench never loads a driver it does not use.
"""

from __future__ import annotations

import abc
import hashlib
import importlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from .._connect import connect
from .._errors import ConfigurationError
from .._sql import load_queries

UTC = timezone.utc
Lookup = Callable[[str], Awaitable[object]]
#: A contender: given the scratch URL and the pool size, an async context yielding a lookup.
Contender = Callable[[str, int], AbstractAsyncContextManager[Lookup]]

#: Each user owns this many sessions in the seeded tables.
SESSIONS_PER_USER = 10


# -- the seeded data ------------------------------------------------------------------------------


def session_token(i: int) -> str:
    """The token of seeded session ``i``: 64 hex chars, spread over the index like real ones."""
    return hashlib.blake2b(b"asyncauth-bench-s%d" % i, digest_size=32).hexdigest()


def access_token(i: int) -> str:
    """The access token of seeded session ``i``."""
    return hashlib.blake2b(b"asyncauth-bench-a%d" % i, digest_size=32).hexdigest()


def user_of(i: int) -> int:
    """The user (1-based) who owns seeded session ``i``."""
    return i // SESSIONS_PER_USER + 1


def user_fields(u: int) -> tuple[str, str, str]:
    """Seeded user ``u``'s name, email and image."""
    return f"Bench User {u}", f"user{u}@bench.example", f"https://img.example/{u}.png"


def expiry() -> datetime:
    """The expiry of every seeded session.

    Every seeded session is live: the lookups measure hits, the case a request pays for.
    """
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


def lookup_tokens(sessions: int, sample: int, seed: int = 1) -> list[str]:
    """A random sample of the seeded tokens, in random order (the same for every contender)."""
    rng = random.Random(seed)
    return [session_token(i) for i in rng.sample(range(sessions), min(sessions, sample))]


def hot_statement(dialect: str, style: Any) -> tuple[str, tuple[str, ...]]:
    """The adapter's own session-read statement and its parameter names, in bind order.

    Read from the same SQL files through the same loader as the adapter, so that a floor runs
    exactly the SQL asyncauth runs.
    """
    stmt = load_queries(dialect, style)["get_session_and_user"].single
    assert stmt is not None and set(stmt.names) == {"session_token", "now"}
    return stmt.sql, stmt.names


# -- backends ------------------------------------------------------------------------------------


class BenchBackend(abc.ABC):
    """What the engine needs from one backend: a scratch area, bulk seeding and the floor."""

    name: str = ""
    #: Whether :meth:`floor` takes a ``timeout`` (the driver's own per-statement deadline).
    driver_timeout: bool = False

    @abc.abstractmethod
    def scratch(self, url: str | None) -> AbstractAsyncContextManager[str]:
        """A URL to an empty area of ``url``'s server that is removed on exit."""

    @abc.abstractmethod
    async def seed(self, url: str, start: int, stop: int) -> None:
        """Bulk-insert sessions ``start..stop-1`` and the users they belong to."""

    @abc.abstractmethod
    def floor(
        self, url: str, pool_size: int, *, timeout: float | None = None
    ) -> AbstractAsyncContextManager[Lookup]:
        """The bare driver running the adapter's own statement on a pool of ``pool_size``.

        ``timeout`` (only where :attr:`driver_timeout` is set) adds the driver's own
        per-statement deadline, the one asyncauth's ``timeout`` option turns on: it shows how
        much of the gap to the floor is the contract's timeout rather than the adapter.
        """

    async def describe(self, url: str) -> str:
        """The server's name and version."""
        return self.name

    def _no_timeout(self, timeout: float | None) -> None:
        if timeout is not None:
            raise ConfigurationError(f"the {self.name} floor has no driver timeout to show")


#: URL scheme -> the module of this package that holds its backend, and the class name.
#: Adding a backend is one module and one line here.
BACKENDS: dict[str, tuple[str, str]] = {
    "sqlite": ("_sqlite", "SqliteBench"),
    "postgresql": ("_postgres", "PostgresBench"),
    "postgres": ("_postgres", "PostgresBench"),
    "mysql": ("_mysql", "MySqlBench"),
    "mariadb": ("_mysql", "MySqlBench"),
    "mongodb": ("_mongodb", "MongoBench"),
}


def backend_for(url: str | None) -> BenchBackend:
    """The benchmark backend for a URL (SQLite when None)."""
    scheme = "sqlite" if url is None else urlsplit(url).scheme.lower().split("+", 1)[0]
    entry = BACKENDS.get(scheme)
    if entry is None:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigurationError(f"no benchmark for scheme {scheme!r} (known: {known})")
    module = importlib.import_module(f"{__package__}.{entry[0]}")
    backend: BenchBackend = getattr(module, entry[1])()
    return backend


@asynccontextmanager
async def asyncauth_contender(url: str, pool_size: int) -> AsyncIterator[Lookup]:
    """asyncauth's :meth:`get_session_and_user` on a pool of ``pool_size``."""
    async with connect(url, pool_size=pool_size) as auth:
        yield auth.get_session_and_user
