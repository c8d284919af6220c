"""The MongoDB benchmark backend: a database of its own, ``insert_many``; PyMongo's floor.

The same code serves a real mongod and SecantusDB (the MongoDB-wire server the tests start as
a separate process); nothing here imports SecantusDB.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .._errors import ConfigurationError
from ._backend import (
    UTC,
    BenchBackend,
    Lookup,
    access_token,
    expiry,
    session_token,
    user_fields,
    user_of,
)

#: Documents per insert_many call when seeding.
_BATCH = 50_000


def _user_id(u: int) -> Any:
    from bson import ObjectId

    # Deterministic ids: a session's userId is computed, never looked up, while seeding.
    return ObjectId(u.to_bytes(12, "big"))


def _user(u: int, stamp: datetime) -> dict[str, Any]:
    name, email, image = user_fields(u)
    return {
        "_id": _user_id(u),
        "name": name,
        "email": email,
        "emailVerified": stamp,
        "image": image,
        "createdAt": stamp,
        "updatedAt": stamp,
    }


class MongoBench(BenchBackend):
    """MongoDB through PyMongo's async client (the floor: the adapter's own aggregation)."""

    name = "mongodb"
    driver_timeout = True

    @asynccontextmanager
    async def scratch(self, url: str | None) -> AsyncIterator[str]:
        from pymongo import AsyncMongoClient

        if url is None:
            raise ConfigurationError("the MongoDB benchmark needs a URL")
        # A database of its own on the URL's server, dropped afterwards. A short server
        # selection timeout: an unreachable server is reported as "not run" in seconds, where
        # the driver's default would wait 30.
        name = f"asyncauth_bench_{uuid.uuid4().hex[:12]}"
        admin: Any = AsyncMongoClient(url, serverSelectionTimeoutMS=5000)
        try:
            await admin.admin.command("ping")
            try:
                yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
            finally:
                await admin.drop_database(name)
        finally:
            await admin.close()

    async def seed(self, url: str, start: int, stop: int) -> None:
        from pymongo import AsyncMongoClient

        expires = expiry()
        stamp = datetime.now(UTC).replace(microsecond=0)
        client: Any = AsyncMongoClient(url)
        try:
            db = client.get_default_database()
            # Large insert_many batches: the driver splits them into as few wire messages as
            # the server's limits allow, so the cost is the server's, not round trips.
            first, last = user_of(start), user_of(stop - 1)
            for lo in range(first, last + 1, _BATCH):
                await db.users.insert_many(
                    [_user(u, stamp) for u in range(lo, min(last + 1, lo + _BATCH))],
                    ordered=False,
                )
            for lo in range(start, stop, _BATCH):
                await db.sessions.insert_many(
                    [
                        {
                            "userId": _user_id(user_of(i)),
                            "expires": expires,
                            "sessionToken": session_token(i),
                            "accessToken": access_token(i),
                            "createdAt": stamp,
                            "updatedAt": stamp,
                        }
                        for i in range(lo, min(stop, lo + _BATCH))
                    ],
                    ordered=False,
                )
        finally:
            await client.close()

    @asynccontextmanager
    async def floor(
        self, url: str, pool_size: int, *, timeout: float | None = None
    ) -> AsyncIterator[Lookup]:
        """One ``aggregate`` and its ``to_list``; ``timeout`` becomes PyMongo's ``timeoutMS``."""
        from pymongo import AsyncMongoClient

        # The adapter's own pipeline, so that the floor runs exactly the statement asyncauth
        # runs (as the SQL floors read the adapter's SQL files). This is the bench's one use
        # of the MongoDB backend's code.
        from .._mongo import session_and_user_pipeline

        options: dict[str, Any] = {"maxPoolSize": pool_size}
        if timeout is not None:
            options["timeoutMS"] = int(timeout * 1000)
        client: Any = AsyncMongoClient(url, **options)
        sessions = client.get_default_database()["sessions"]
        try:

            async def lookup(token: str) -> object:
                cursor = await sessions.aggregate(
                    session_and_user_pipeline(token, datetime.now(UTC))
                )
                found = await cursor.to_list(1)
                return found[0] if found else None

            yield lookup
        finally:
            await client.close()

    async def describe(self, url: str) -> str:
        from pymongo import AsyncMongoClient

        client: Any = AsyncMongoClient(url, serverSelectionTimeoutMS=5000)
        try:
            info = await client.admin.command("buildInfo")
        finally:
            await client.close()
        version = str(info.get("version", "?"))
        # SecantusDB answers buildInfo with the MongoDB version it speaks; say which it is.
        kind = "SecantusDB" if "secantus" in json.dumps(info, default=str).lower() else "MongoDB"
        return f"{kind} {version}"
