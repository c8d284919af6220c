"""A test-only URL scheme, ``mongodb+motor://``, that runs the suite through a motor client.

motor is not a dependency of asyncauth (it reached its end of life in May 2026); the contract
only promises that an adapter built around a motor client the user hands in works. The
conformance suite builds adapters from URLs, so this scheme builds exactly that: a
``MongoAdapter`` around an ``AsyncIOMotorClient``, which it closes on ``aclose`` since the
test made it.
"""

from __future__ import annotations

from typing import Any

from asyncauth._connect import Options
from asyncauth._mongo import MongoAdapter, _database_from_url, _settle
from tests._raw import mongo_url


class MotorOwningAdapter(MongoAdapter):
    """A MongoAdapter over a motor client that this test adapter also closes."""

    async def aclose(self) -> None:
        client = self._client
        await super().aclose()
        if client is not None:
            await _settle(client.close())


def motor_client(url: str, **kwargs: Any) -> Any:
    from motor.motor_asyncio import AsyncIOMotorClient

    return AsyncIOMotorClient(mongo_url(url), **kwargs)


def from_url(url: str, options: Options) -> MongoAdapter:
    """``mongodb+motor://host/db`` -> a MongoAdapter around a motor client for ``mongodb://``."""
    client = motor_client(
        url, maxPoolSize=options.pool_size or 100, timeoutMS=int(options.timeout * 1000)
    )
    return MotorOwningAdapter(
        client,
        database=_database_from_url(mongo_url(url)),
        hash_session_tokens=options.hash_session_tokens,
        ttl_indexes=bool(options.take("ttl_indexes", False)),
        transactions=options.take("transactions", None),
    )
