"""What an error says, on every backend: which unique key a DuplicateError is about, which
query a BackendError comes from, and that neither carries (or edits) the driver's exception
that quotes bound values."""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import asyncauth
from asyncauth import Adapter, BackendError, DuplicateError
from tests._backends import Backend
from tests.conformance._support import account_for, authenticator_for, unique, unique_email

pytestmark = [pytest.mark.anyio, pytest.mark.conformance]

UTC = timezone.utc


def _skip_mongo(backend: Backend) -> None:
    if backend.marker == "mongodb":
        pytest.skip("MongoDB's errors name no query: its calls are not named statements")


async def _duplicate(call: Callable[[], Awaitable[Any]]) -> DuplicateError:
    with pytest.raises(DuplicateError) as info:
        await call()
    return info.value


async def test_duplicate_error_names_the_key_as_table_column(
    backend: Backend, adapter: Adapter
) -> None:
    expires = datetime.now(UTC) + timedelta(hours=1)
    email = unique_email()
    user = await adapter.create_user(email=email)
    error = await _duplicate(lambda: adapter.create_user(email=email))
    assert error.key == "users.email"

    account = account_for(user.id)
    await adapter.link_account(account)
    error = await _duplicate(lambda: adapter.link_account(account))
    assert error.key == "accounts.compound_id"

    token = unique("dup-session-")
    await adapter.create_session(user.id, expires, token)
    error = await _duplicate(lambda: adapter.create_session(user.id, expires, token))
    assert error.key == "sessions.session_token"

    identifier, hashed = unique_email(), unique("dup-vt-")
    await adapter.create_verification_token(identifier, hashed, expires)
    error = await _duplicate(lambda: adapter.create_verification_token(identifier, hashed, expires))
    assert error.key == "verification_requests.token"

    authenticator = authenticator_for(user.id)
    await adapter.create_authenticator(authenticator)
    error = await _duplicate(lambda: adapter.create_authenticator(authenticator))
    assert error.key == "authenticators.credential_id"
    assert error.key in str(error)


async def test_duplicate_error_neither_chains_nor_edits_the_driver_exception(
    backend: Backend, adapter: Adapter
) -> None:
    user = await adapter.create_user(email=unique_email())
    expires = datetime.now(UTC) + timedelta(hours=1)
    token = unique("secret-session-") + unique()
    await adapter.create_session(user.id, expires, token)
    error = await _duplicate(lambda: adapter.create_session(user.id, expires, token))
    # Not chained: a logged traceback shows asyncauth's error alone, with no value in it.
    assert error.__cause__ is None and error.__suppress_context__
    logged = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    assert token[:16] not in logged
    # The driver's exception is still reachable for a debugger, exactly as the driver made
    # it: where its message quoted the value, it still does (nothing was rewritten).
    driver_exc = error.__context__
    if backend.layout is not None and driver_exc is None:
        return  # a layout without the UNIQUE constraint: asyncauth found the duplicate itself
    assert driver_exc is not None and not isinstance(driver_exc, asyncauth.AsyncAuthError)
    if backend.name in ("postgres", "mysql", "odbc-mysql"):
        quoted = str(driver_exc) + str(getattr(driver_exc, "detail", ""))
        assert token[:40] in quoted  # MariaDB cuts the value it quotes to 64 characters


async def test_backend_error_names_the_query_that_failed(backend: Backend) -> None:
    _skip_mongo(backend)  # MongoDB needs no tables: nothing fails before a bootstrap
    async with backend.provision() as url, asyncauth.connect(url) as auth:
        # No bootstrap: the users table does not exist.
        with pytest.raises(BackendError) as info:
            await auth.get_user("1")
        assert info.value.query == "get_user"
        assert "get_user" in str(info.value)
        with pytest.raises(BackendError) as info:
            await auth.create_verification_token("who@example.com", "t", datetime.now(UTC))
        assert info.value.query == "create_verification_token"
