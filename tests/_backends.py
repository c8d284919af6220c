"""The backends the conformance suite runs against.

Each entry says how to make a fresh, empty database for the backend (yielding its URL and
dropping it afterwards) and how to open the direct-access helper of ``tests._raw`` on it.
Adding a backend is one provisioning context manager and one line in ``BACKENDS``.

A server that cannot be reached skips its tests locally, but fails them when ``CI=true``:
in CI an unreachable server is a broken set-up, not a reason to pass.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests._raw import PostgresRaw, Raw, SqliteRaw

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Backend:
    name: str
    """The pytest id of the backend's tests."""
    marker: str
    """The marker every test of the backend carries (``-m postgres``)."""
    description: str
    provision: Callable[[], AbstractAsyncContextManager[str]]
    """A brand-new empty database: yields its URL, removes it on exit."""
    open_raw: Callable[[str], Awaitable[Raw]]
    """The direct-access helper for a database URL (close it with ``aclose``)."""

    @asynccontextmanager
    async def raw(self, url: str) -> AsyncIterator[Raw]:
        helper = await self.open_raw(url)
        try:
            yield helper
        finally:
            await helper.aclose()


def unavailable(message: str) -> NoReturn:
    """Skip the test, or fail it in CI where every configured server must be up."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: an unreachable backend is a failure)", pytrace=False)
    pytest.skip(message)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@asynccontextmanager
async def sqlite_database() -> AsyncIterator[str]:
    directory = Path(tempfile.mkdtemp(prefix="asyncauth-test-"))
    try:
        yield f"sqlite:///{directory / 'x.db'}"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    try:
        import asyncpg
    except ImportError:
        unavailable("asyncpg is not installed (pip install asyncauth[postgres])")

    admin_url = os.environ.get("ASYNCAUTH_PG_ADMIN_URL", PG_ADMIN_URL)

    async def admin() -> asyncpg.Connection:
        try:
            return await asyncpg.connect(admin_url, timeout=5)
        except (
            OSError,
            asyncio.TimeoutError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
        ) as exc:
            problem = exc
        # Outside the except block, so the report is one line, not a chained traceback.
        unavailable(f"PostgreSQL is unreachable at {_redact(admin_url)}: {problem!r}")

    name = f"asyncauth_test_{uuid.uuid4().hex}"
    connection = await admin()
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        connection = await admin()
        try:
            # FORCE: a test that failed may have left a pool open on it.
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


BACKENDS: tuple[Backend, ...] = (
    Backend("sqlite", "sqlite", "runs against SQLite (aiosqlite)", sqlite_database, SqliteRaw.open),
    Backend(
        "postgres",
        "postgres",
        "runs against the PostgreSQL server (asyncpg)",
        postgres_database,
        PostgresRaw.open,
    ),
)
