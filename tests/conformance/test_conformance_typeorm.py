"""NextAuth v3's TypeORM options object accepted by ``connect()`` on every backend, as a v3
app has them: the conformance fixtures' URLs are turned into such a mapping."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

import asyncauth
from tests._backends import Backend
from tests.conformance._support import unique_email

pytestmark = [pytest.mark.anyio, pytest.mark.conformance]

_TYPES = {"sqlite": "sqlite", "postgresql": "postgres", "mysql": "mysql", "mongodb": "mongodb"}


def typeorm_options(url: str) -> dict[str, Any]:
    """The TypeORM options a v3 app would have written for ``url``."""
    parts = urlsplit(url)
    kind = _TYPES.get(parts.scheme)
    if kind is None or parts.query:
        pytest.skip(f"TypeORM has no options form for {parts.scheme}:// URLs with parameters")
    if kind == "sqlite":
        return {"type": "sqlite", "database": unquote(parts.path)[1:]}
    options: dict[str, Any] = {"type": kind, "host": parts.hostname}
    if parts.port:
        options["port"] = parts.port
    if parts.username:
        options["username"] = unquote(parts.username)
    if parts.password:
        options["password"] = unquote(parts.password)
    options["database"] = unquote(parts.path.lstrip("/"))
    return options


async def test_connect_takes_typeorm_options(backend: Backend, db_url: str) -> None:
    options = typeorm_options(db_url)
    async with asyncauth.connect(options) as auth:
        user = await auth.create_user(email=unique_email())
        assert await auth.get_user(user.id) == user


async def test_typeorm_synchronize_bootstraps(backend: Backend, db_url: str) -> None:
    options = typeorm_options(db_url)  # skips before provisioning a database for nothing
    async with backend.provision() as url:
        options = {**typeorm_options(url), "synchronize": True}
        async with asyncauth.connect(options) as auth:
            user = await auth.create_user(email=unique_email())
            assert await auth.get_user(user.id) == user
            assert (await auth.check()).ok
