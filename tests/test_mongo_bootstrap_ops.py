"""MongoDB bootstrap and check on a database a newer asyncauth has migrated (SecantusDB)."""

from __future__ import annotations

import pytest

import asyncauth
from tests._backends import mongo_database_on, secantus_url

pytestmark = [pytest.mark.anyio, pytest.mark.mongodb]


async def test_a_newer_mongodb_database_is_accepted_and_reported(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    from pymongo import AsyncMongoClient

    async with mongo_database_on(secantus_url()) as url:
        assert await asyncauth.bootstrap(url) == [1, 2]
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(url)
        try:
            await client.get_default_database()["asyncauth_migrations"].insert_one(
                {"_id": 3, "version": 3, "name": "future", "checksum": "f" * 64}
            )
        finally:
            await client.close()
        report = await asyncauth.check(url)
        assert report.ok and report.unknown == [3]
        with caplog.at_level("WARNING", logger="asyncauth"):
            assert await asyncauth.bootstrap(url) == []
        assert any("does not know" in r.getMessage() for r in caplog.records)
