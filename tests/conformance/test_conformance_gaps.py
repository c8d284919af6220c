"""Behaviours a mutation run found unguarded (mutation-report.md), on every backend.

Each test names the report's gap it closes. The NextAuth v3 ones go through
``asyncauth.nextauth_v3`` and read rows back through ``raw``, like test_conformance_v3.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import anyio
import pytest

import asyncauth
from asyncauth import Adapter, BackendError, SchemaError, User, ValidationError
from asyncauth._sql import split_statements
from asyncauth.nextauth_v3 import NextAuthV3, V3Account, V3VerificationRequest
from tests._backends import Backend
from tests._raw import Raw
from tests.conformance._support import (
    authenticator_for,
    in_future,
    make_user,
    ms,
    now,
    sha256_hex,
    unique,
    unique_email,
)

pytestmark = [pytest.mark.anyio, pytest.mark.conformance]

SECRET = "gaps-secret"


@pytest.fixture
def v3(adapter: Adapter) -> NextAuthV3:
    return NextAuthV3(adapter, secret=SECRET, max_age=7 * 86400, update_age=3600)


async def _v3_user(v3: NextAuthV3) -> User:
    user: User = await v3.create_user({"email": unique_email()})
    return user


async def _never_sent(**message: Any) -> None:
    raise AssertionError(f"nothing may be sent for a refused request: {message!r}")


class _Outbox:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, **message: Any) -> None:
        self.sent.append(message)


# -- gap 1 and 14: v3 unlink_account's ownership check and its result ------------------------


async def test_v3_unlink_account_of_another_user_is_refused(v3: NextAuthV3, raw: Raw) -> None:
    owner, intruder = await _v3_user(v3), await _v3_user(v3)
    provider, pai = unique("provider-"), unique("pai-")
    await v3.link_account(owner.id, provider, "oauth", pai, None, "access", None)

    assert await v3.unlink_account(intruder.id, provider, pai) is None
    row = await raw.one("accounts", provider_id=provider, provider_account_id=pai)
    assert row is not None and row["user_id"] == owner.id
    assert await v3.get_user_by_provider_account_id(provider, pai) == owner
    # An unknown account is no error either, and removes nothing.
    assert await v3.unlink_account(owner.id, provider, unique("pai-")) is None
    assert await raw.count("accounts", provider_id=provider) == 1

    removed = await v3.unlink_account(owner.id, provider, pai)
    assert isinstance(removed, V3Account)
    assert (removed.user_id, removed.provider_id, removed.provider_account_id) == (
        owner.id,
        provider,
        pai,
    )
    assert removed.compound_id == sha256_hex(f"{provider}:{pai}")
    assert removed.access_token == "access"
    assert await raw.count("accounts", provider_id=provider) == 0


# -- gap 14: v3 link_account's result --------------------------------------------------------


async def test_v3_link_account_returns_the_stored_account(v3: NextAuthV3) -> None:
    user = await _v3_user(v3)
    provider, pai = unique("provider-"), unique("pai-")
    expires = in_future(hours=1)
    linked = await v3.link_account(user.id, provider, "oauth", pai, "refresh", "access", expires)
    assert linked == V3Account(
        compound_id=sha256_hex(f"{provider}:{pai}"),
        user_id=user.id,
        provider_type="oauth",
        provider_id=provider,
        provider_account_id=pai,
        refresh_token="refresh",
        access_token="access",
        access_token_expires=ms(expires),
    )
    # Seconds since the epoch, as v3's providers often give it.
    other = unique("pai-")
    by_epoch = await v3.link_account(user.id, provider, "oidc", other, None, None, 1_900_000_123)
    assert by_epoch.access_token_expires == datetime.fromtimestamp(1_900_000_123, ms(now()).tzinfo)
    assert by_epoch.compound_id == sha256_hex(f"{provider}:{other}")
    assert (by_epoch.refresh_token, by_epoch.access_token) == (None, None)
    none = await v3.link_account(user.id, provider, "oauth", unique("pai-"), None, None, None)
    assert none.access_token_expires is None


# -- gap 16: v3 link_account's access_token_expires type ------------------------------------


@pytest.mark.parametrize("expires", [True, False, "x", 1.5])
async def test_v3_link_account_refuses_an_expiry_of_the_wrong_type(
    v3: NextAuthV3, raw: Raw, expires: object
) -> None:
    user = await _v3_user(v3)
    provider = unique("provider-")
    with pytest.raises(ValidationError, match="access_token_expires"):
        await v3.link_account(user.id, provider, "oauth", unique("pai-"), None, None, expires)  # type: ignore[arg-type]
    assert await raw.count("accounts", provider_id=provider) == 0


# -- gaps 4, 14, 15: v3 verification requests -----------------------------------------------


async def test_v3_create_verification_request_returns_the_stored_hash(
    v3: NextAuthV3, raw: Raw
) -> None:
    identifier, token = unique_email(), unique("raw-token-")
    before = now()
    made = await v3.create_verification_request(
        identifier, "https://app/cb", token, send=_Outbox(), max_age=600
    )
    after = now()
    assert isinstance(made, V3VerificationRequest)
    assert made.identifier == identifier
    assert made.token == sha256_hex(token + SECRET)  # the stored hash, never the raw token
    window = timedelta(seconds=600)
    assert ms(before + window) <= made.expires <= after + window
    row = await raw.one("verification_requests", token=made.token)
    assert row is not None and row["identifier"] == identifier and row["expires"] == made.expires


async def test_v3_verification_requests_refuse_an_empty_raw_token(v3: NextAuthV3, raw: Raw) -> None:
    identifier = unique_email()
    with pytest.raises(ValidationError, match="token"):
        await v3.create_verification_request(
            identifier, "https://app/cb", "", send=_never_sent, max_age=600
        )
    assert await raw.count("verification_requests", identifier=identifier) == 0
    assert await raw.count("verification_requests", token=sha256_hex(SECRET)) == 0
    with pytest.raises(ValidationError, match="token"):
        await v3.get_verification_request(identifier, "")
    with pytest.raises(ValidationError, match="token"):
        await v3.delete_verification_request(identifier, "")


@pytest.mark.parametrize("max_age", [0, -1, True, 1.5])
async def test_v3_create_verification_request_refuses_a_non_positive_max_age(
    v3: NextAuthV3, raw: Raw, max_age: object
) -> None:
    identifier = unique_email()
    with pytest.raises(ValidationError, match="max_age"):
        await v3.create_verification_request(
            identifier,
            "https://app/cb",
            unique("raw-token-"),
            send=_never_sent,
            max_age=max_age,  # type: ignore[arg-type]
        )
    assert await raw.count("verification_requests", identifier=identifier) == 0


# -- gap 6: update_authenticator_counter's range ----------------------------------------------


async def test_update_authenticator_counter_keeps_webauthns_unsigned_32_bits(
    adapter: Adapter, raw: Raw
) -> None:
    user = await make_user(adapter)
    made = await adapter.create_authenticator(authenticator_for(user.id, counter=5))
    cid = made.credential_id
    for bad in (-1, 2**32, 2**40):
        with pytest.raises(ValidationError, match="counter"):
            await adapter.update_authenticator_counter(cid, bad)
        stored = await adapter.get_authenticator(cid)
        assert stored is not None and stored.counter == 5
    for good in (2**32 - 1, 0):
        updated = await adapter.update_authenticator_counter(cid, good)
        assert updated.counter == good
        stored = await adapter.get_authenticator(cid)
        assert stored is not None and stored.counter == good


# -- gaps 19, 20: authenticator field types ---------------------------------------------------


@pytest.mark.parametrize("value", ["yes", 1, 0, None])
async def test_create_authenticator_refuses_a_non_bool_backed_up(
    adapter: Adapter, raw: Raw, value: object
) -> None:
    user = await make_user(adapter)
    bad = authenticator_for(user.id, credential_backed_up=value)
    with pytest.raises(ValidationError, match="credential_backed_up"):
        await adapter.create_authenticator(bad)
    assert await adapter.get_authenticator(bad.credential_id) is None


async def test_create_authenticator_refuses_a_missing_counter(adapter: Adapter) -> None:
    user = await make_user(adapter)
    bad = replace(authenticator_for(user.id), counter=None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="counter"):
        await adapter.create_authenticator(bad)
    assert await adapter.get_authenticator(bad.credential_id) is None
    made = await adapter.create_authenticator(authenticator_for(user.id))
    with pytest.raises(ValidationError, match="counter"):
        await adapter.update_authenticator_counter(made.credential_id, None)  # type: ignore[arg-type]


# -- gaps 7, 20: purge_expired's batch size -------------------------------------------------


@pytest.mark.parametrize("batch_size", [0, -1, None, True, 2.0])
async def test_purge_expired_refuses_a_batch_size_below_one(
    adapter: Adapter, batch_size: object
) -> None:
    # fail_after: a batch size of 0 that reached the database would loop forever.
    with anyio.fail_after(10), pytest.raises(ValidationError, match="batch_size"):
        await adapter.purge_expired(batch_size=batch_size)  # type: ignore[arg-type]


# -- gap 10: a closed adapter refuses work ---------------------------------------------------


async def test_a_closed_adapter_refuses_work(db_url: str) -> None:
    auth = await asyncauth.connect(db_url)
    user = await auth.create_user(email=unique_email())
    await auth.aclose()
    with anyio.fail_after(20):
        with pytest.raises(BackendError, match="(?i)close"):
            await auth.get_user(user.id)
        with pytest.raises(BackendError, match="(?i)close"):
            await auth.create_user(email=unique_email())
        with pytest.raises(BackendError, match="(?i)close"):
            await auth.get_session_and_user(unique("token-"))


# -- gap 25: a missing migration record is a difference --------------------------------------


async def test_check_reports_a_missing_migration_record(
    backend: Backend, fresh_db_url: str, fresh_raw: Raw
) -> None:
    async with asyncauth.connect(fresh_db_url) as auth:
        assert (await auth.check()).ok
        if backend.marker == "mongodb":
            from tests._raw import MongoRaw

            assert isinstance(fresh_raw, MongoRaw)
            await fresh_raw.collection("asyncauth_migrations").delete_one({"_id": 2})
        else:
            await fresh_raw.execute("DELETE FROM asyncauth_migrations WHERE version = 2")
        report = await auth.check()
        assert not report.ok
        assert report.pending == [2]
        assert any("migration 2" in d and "not applied" in d for d in report.differences)


# -- gap 12: a NextAuth v3 schema that differs is refused, not adopted ------------------------


async def test_a_v3_schema_with_a_changed_column_is_not_adopted(backend: Backend) -> None:
    if backend.marker == "mongodb":
        pytest.skip("adopting NextAuth v3 tables is SQL only")
    dialect = backend.name.removeprefix("odbc-")
    v3_ddl = asyncauth.ddl(dialect).split("-- 0002_asyncauth.sql")[0]
    async with backend.provision() as url, backend.raw(url) as raw:
        for statement in split_statements(v3_ddl):
            await raw.execute(statement)
        await raw.execute("ALTER TABLE users DROP COLUMN image")
        await raw.execute("INSERT INTO users (email) VALUES ('kept@example.com')")
        with pytest.raises(SchemaError, match="differ"):
            await asyncauth.bootstrap(url)
        if "asyncauth_migrations" in await raw.tables():
            assert await raw.count("asyncauth_migrations") == 0
        assert await raw.count("users") == 1
        assert "authenticators" not in await raw.tables()
