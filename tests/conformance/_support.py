"""Small builders for the conformance tests: unique values, times, model factories.

Every value that lands in a unique column is made from a fresh uuid, so tests sharing the
session database never collide and never depend on each other's rows.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import asyncauth
from asyncauth import Account, Adapter, Authenticator, User
from tests._raw import Raw

if TYPE_CHECKING:
    from tests._backends import Backend

UTC = timezone.utc

# The rows delete_user must remove, keyed by table, and the column naming the user in each.
USER_TABLES = {
    "users": "id",
    "sessions": "user_id",
    "accounts": "user_id",
    "authenticators": "user_id",
}


def unique(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex}"


def unique_email() -> str:
    return f"{uuid.uuid4().hex}@example.com"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)


def ms(value: datetime) -> datetime:
    """The instant as every backend keeps it: truncated to the millisecond."""
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def in_future(**delta: float) -> datetime:
    return now() + timedelta(**delta)


def in_past(**delta: float) -> datetime:
    return now() - timedelta(**delta)


def is_utc(value: datetime | None) -> bool:
    return value is not None and value.utcoffset() == timedelta(0)


async def stored(raw: Raw, table: str, column: str, **where: object) -> Any:
    """One column of the single row of ``table`` matching ``where`` (the row must exist)."""
    row = await raw.one(table, **where)
    assert row is not None, f"no row of {table} matches {where!r}"
    return row[column]


async def make_user(adapter: Adapter, **fields: Any) -> User:
    fields.setdefault("email", unique_email())
    user: User = await adapter.create_user(**fields)
    return user


def account_for(user_id: str, **fields: Any) -> Account:
    """An account with every field set, each value unique to this call."""
    values: dict[str, Any] = {
        "user_id": user_id,
        "type": "oidc",
        "provider": unique("provider-"),
        "provider_account_id": unique("pai-"),
        "refresh_token": unique("refresh-"),
        "access_token": unique("access-"),
        "expires_at": 1_900_000_123,
        "token_type": "Bearer",
        "scope": "openid email profile",
        "id_token": unique("idtoken-"),
        "session_state": unique("state-"),
    }
    values.update(fields)
    return Account(**values)


def authenticator_for(user_id: str, **fields: Any) -> Authenticator:
    values: dict[str, Any] = {
        "credential_id": unique("cred-"),
        "user_id": user_id,
        "provider_account_id": unique("pai-"),
        "credential_public_key": unique("pk-"),
        "counter": 3,
        "credential_device_type": "multiDevice",
        "credential_backed_up": True,
        "transports": "usb,nfc",
    }
    values.update(fields)
    return Authenticator(**values)


@asynccontextmanager
async def sql_row_locked(db_url: str, user_id: str) -> AsyncIterator[None]:
    """Another SQL adapter keeps the user's row (SQLite: the database) write-locked: an
    ``update_user`` left open in a transaction for the duration of the block."""
    async with asyncauth.connect(db_url, timeout=30) as holder:
        if not hasattr(holder, "queries"):
            raise AssertionError(f"{type(holder).__name__} has no SQL to hold a row lock with")
        args = {
            "id": int(user_id),
            "now": holder.dialect.time_in(datetime.now(timezone.utc)),
            "set_name": True,
            "name": "held",
            "set_email": False,
            "email": None,
            "set_image": False,
            "image": None,
            "set_email_verified": False,
            "email_verified": None,
        }
        async with holder.driver.transaction() as tx:
            await tx.execute(holder.queries["update_user"], args)
            yield


@asynccontextmanager
async def _hold_sql_connections(adapter: Adapter, count: int, **_: Any) -> AsyncIterator[None]:
    driver = getattr(adapter, "driver", None)  # every SQL adapter lends connections through it
    if driver is None:
        raise AssertionError(f"no way to hold the connections of {type(adapter).__name__}")
    async with AsyncExitStack() as stack:
        for _ in range(count):
            await stack.enter_async_context(driver.connection())
        yield


@asynccontextmanager
async def _hold_mongo_connections(
    adapter: Adapter, count: int, *, backend: Backend, db_url: str
) -> AsyncIterator[None]:
    # PyMongo lends no connection to hold: fill the adapter's places with its own calls, each
    # blocked on a document that a transaction of another client keeps write-locked.
    # ``pymongo.timeout`` lets them outlast the adapter's short timeout; they must still be
    # waiting when the lock goes, or they did not hold the pool the whole time.
    import anyio
    import pymongo

    from tests._raw import MongoRaw

    victim = await make_user(adapter)
    ended: list[float] = []
    released = float("inf")

    async def held() -> None:
        with pymongo.timeout(30):
            got = await adapter.update_user(victim.id, name="held")
        assert got.name == "held"
        ended.append(time.monotonic())

    async with backend.raw(db_url) as raw, anyio.create_task_group() as group:
        assert isinstance(raw, MongoRaw), raw
        async with raw.hold_write_lock("users", id=victim.id):
            for _ in range(count):
                group.start_soon(held)
            await anyio.sleep(0.2)  # each call has its place and waits on the server
            yield
            released = time.monotonic()
    assert len(ended) == count and min(ended) >= released, (ended, released)


@asynccontextmanager
async def pool_held(
    adapter: Adapter, backend: Backend, db_url: str, count: int
) -> AsyncIterator[None]:
    """``count`` connections of the adapter's pool kept busy for the block, as calls in flight
    would keep them (SQL: borrowed from the driver; MongoDB: its own calls, blocked)."""
    hold = _hold_mongo_connections if backend.marker == "mongodb" else _hold_sql_connections
    async with hold(adapter, count, backend=backend, db_url=db_url):
        yield
