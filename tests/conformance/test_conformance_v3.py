"""docs/conformance.md cases 14-18: the NextAuth v3 adapter suite, through asyncauth.nextauth_v3.

Rows must be exactly what NextAuth v3 itself writes (it shares the database), so each test
reads them back through ``raw``.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from asyncauth import Adapter, User
from asyncauth.nextauth_v3 import NextAuthV3
from tests._raw import Raw
from tests.conformance._support import (
    USER_TABLES,
    in_future,
    in_past,
    is_utc,
    ms,
    now,
    sha256_hex,
    unique,
    unique_email,
)

pytestmark = [pytest.mark.anyio, pytest.mark.conformance]

SECRET = "conformance-secret"
MAX_AGE = 7 * 86400  # not the default, so a wrong unit or a hard-coded 30 days shows
UPDATE_AGE = 3600
HEX64 = re.compile(r"[0-9a-f]{64}")

V3_METHODS = (
    "create_user",
    "get_user",
    "get_user_by_email",
    "get_user_by_provider_account_id",
    "update_user",
    "delete_user",
    "link_account",
    "unlink_account",
    "create_session",
    "get_session",
    "update_session",
    "delete_session",
    "create_verification_request",
    "get_verification_request",
    "delete_verification_request",
)


@pytest.fixture
def v3(adapter: Adapter) -> NextAuthV3:
    return NextAuthV3(adapter, secret=SECRET, max_age=MAX_AGE, update_age=UPDATE_AGE)


async def _v3_user(v3: NextAuthV3) -> User:
    user: User = await v3.create_user(
        {"name": "V3 User", "email": unique_email(), "image": None, "email_verified": None}
    )
    return user


def _within(value: datetime, earliest: datetime, latest: datetime) -> bool:
    return ms(earliest) <= value <= latest


def test_every_v3_method_is_a_coroutine_function() -> None:
    assert [m for m in V3_METHODS if not inspect.iscoroutinefunction(getattr(NextAuthV3, m))] == []


def test_v3_has_a_display_name(v3: NextAuthV3) -> None:
    # v3's shared adapter suite asks every adapter for its displayName.
    assert isinstance(v3.display_name, str) and v3.display_name


async def test_v3_create_user_stores_now_for_a_truthy_email_verified(
    v3: NextAuthV3, raw: Raw
) -> None:
    email = unique_email()
    before = now()

    user = await v3.create_user(
        {
            "name": "Ada",
            "email": email,
            "image": "https://example.com/a.png",
            "email_verified": True,
        }
    )

    after = now()
    assert (user.name, user.email, user.image) == ("Ada", email, "https://example.com/a.png")
    assert user.email_verified is not None and _within(user.email_verified, before, after)
    row = await raw.one("users", id=user.id)
    assert row is not None
    assert row["email"] == email and row["email_verified"] == user.email_verified
    assert await v3.get_user(user.id) == user
    assert await v3.get_user_by_email(email) == user

    unverified = await v3.create_user({"name": "Bob", "email": unique_email()})
    assert unverified.email_verified is None


async def test_v3_update_and_delete_user(v3: NextAuthV3, adapter: Adapter, raw: Raw) -> None:
    user = await _v3_user(v3)
    session = await v3.create_session(user)
    account_id = unique("pai-")
    await v3.link_account(user.id, "github", "oauth", account_id, None, None, None)

    updated = await v3.update_user(replace(user, name="Renamed"))

    assert updated.name == "Renamed" and updated.id == user.id
    row = await raw.one("users", id=user.id)
    assert row is not None and (row["name"], row["email"]) == ("Renamed", user.email)

    # v3 left delete_user unimplemented; here it removes everything, like the modern one.
    await v3.delete_user(user.id)
    for table, column in USER_TABLES.items():
        assert await raw.count(table, **{column: user.id}) == 0, table
    assert await v3.get_session(session.session_token) is None
    assert await v3.get_user_by_provider_account_id("github", account_id) is None


# 14 --------------------------------------------------------------------------------------


async def test_v3_create_session(v3: NextAuthV3, raw: Raw) -> None:
    user = await _v3_user(v3)
    before = now()

    session = await v3.create_session(user)

    after = now()
    assert HEX64.fullmatch(session.session_token)
    assert HEX64.fullmatch(session.access_token)
    assert session.session_token != session.access_token
    assert session.user_id == user.id
    assert is_utc(session.expires)
    max_age = timedelta(seconds=MAX_AGE)
    assert _within(session.expires, before + max_age, after + max_age)

    row = await raw.one("sessions", session_token=session.session_token)
    assert row is not None
    assert row["id"] == session.id
    assert row["user_id"] == user.id
    assert row["access_token"] == session.access_token
    assert row["expires"] == session.expires


# 15 --------------------------------------------------------------------------------------


async def test_v3_get_session_and_its_expiry(v3: NextAuthV3, raw: Raw) -> None:
    user = await _v3_user(v3)
    session = await v3.create_session(user)

    found = await v3.get_session(session.session_token)

    assert found is not None
    assert (found.id, found.user_id, found.session_token, found.access_token, found.expires) == (
        session.id,
        user.id,
        session.session_token,
        session.access_token,
        session.expires,
    )
    assert await v3.get_session(unique("missing-")) is None

    changed = await raw.update(
        "sessions", {"session_token": session.session_token}, expires=in_past(seconds=1)
    )
    assert changed == 1
    assert await v3.get_session(session.session_token) is None
    assert await raw.count("sessions", session_token=session.session_token) == 0


async def test_v3_delete_session(v3: NextAuthV3, raw: Raw) -> None:
    user = await _v3_user(v3)
    session = await v3.create_session(user)
    kept = await v3.create_session(user)

    await v3.delete_session(session.session_token)

    assert await raw.count("sessions", session_token=session.session_token) == 0
    assert await v3.get_session(session.session_token) is None
    assert await v3.get_session(kept.session_token) is not None


# 16 --------------------------------------------------------------------------------------


async def test_v3_update_session_inside_update_age(v3: NextAuthV3, raw: Raw) -> None:
    user = await _v3_user(v3)
    session = await v3.create_session(user)
    row_before = await raw.one("sessions", session_token=session.session_token)

    assert await v3.update_session(session) is None
    assert await raw.one("sessions", session_token=session.session_token) == row_before

    forced = await v3.update_session(session, force=True)

    assert forced is not None
    assert (forced.id, forced.session_token, forced.access_token, forced.user_id) == (
        session.id,
        session.session_token,
        session.access_token,
        user.id,
    )
    assert forced.expires >= session.expires
    row = await raw.one("sessions", session_token=session.session_token)
    assert row is not None
    assert (row["access_token"], row["user_id"], row["expires"]) == (
        session.access_token,
        user.id,
        forced.expires,
    )


async def test_v3_update_session_past_update_age_slides_expires(v3: NextAuthV3, raw: Raw) -> None:
    user = await _v3_user(v3)
    created = await v3.create_session(user)
    # As if the session was made update_age + a minute ago.
    aged = created.expires - timedelta(seconds=UPDATE_AGE + 60)
    await raw.update("sessions", {"session_token": created.session_token}, expires=aged)
    session = await v3.get_session(created.session_token)
    assert session is not None and session.expires == ms(aged)
    before = now()

    updated = await v3.update_session(session)

    after = now()
    assert updated is not None
    assert (updated.session_token, updated.access_token, updated.user_id) == (
        created.session_token,
        created.access_token,
        user.id,
    )
    max_age = timedelta(seconds=MAX_AGE)
    assert _within(updated.expires, before + max_age, after + max_age)
    row = await raw.one("sessions", session_token=created.session_token)
    assert row is not None and row["expires"] == updated.expires


# 17 --------------------------------------------------------------------------------------


async def test_v3_link_account(v3: NextAuthV3, raw: Raw) -> None:
    user = await _v3_user(v3)
    other = await _v3_user(v3)
    provider_id, provider_account_id = unique("provider-"), unique("pai-")
    expires = in_future(hours=1)

    await v3.link_account(
        user.id, provider_id, "oauth", provider_account_id, "refresh-1", "access-1", expires
    )

    row = await raw.one("accounts", provider_id=provider_id)
    assert row is not None
    assert row["compound_id"] == sha256_hex(f"{provider_id}:{provider_account_id}")
    assert {
        k: row[k]
        for k in (
            "user_id",
            "provider_type",
            "provider_account_id",
            "refresh_token",
            "access_token",
            "access_token_expires",
        )
    } == {
        "user_id": user.id,
        "provider_type": "oauth",
        "provider_account_id": provider_account_id,
        "refresh_token": "refresh-1",
        "access_token": "access-1",
        "access_token_expires": ms(expires),
    }
    assert await v3.get_user_by_provider_account_id(provider_id, provider_account_id) == user
    assert await v3.get_user_by_provider_account_id(provider_id, unique("pai-")) is None
    assert await v3.get_user_by_provider_account_id(unique("p-"), provider_account_id) is None

    await v3.link_account(other.id, provider_id, "oauth", unique("pai-"), None, None, None)
    assert await raw.count("accounts", provider_id=provider_id) == 2

    # v3 left unlink_account unimplemented; here it works.
    await v3.unlink_account(user.id, provider_id, provider_account_id)
    assert await raw.count("accounts", provider_id=provider_id) == 1
    assert await v3.get_user_by_provider_account_id(provider_id, provider_account_id) is None


# 18 --------------------------------------------------------------------------------------


class _Outbox:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, **message: Any) -> None:
        self.sent.append(message)


async def test_v3_verification_request(v3: NextAuthV3, raw: Raw) -> None:
    identifier = unique_email()
    token = unique("raw-token-")
    url = f"https://app.example.com/api/auth/callback/email?token={token}"
    outbox = _Outbox()
    before = now()

    await v3.create_verification_request(identifier, url, token, send=outbox, max_age=600)

    after = now()
    assert len(outbox.sent) == 1
    message = outbox.sent[0]
    assert (message["identifier"], message["url"], message["token"]) == (identifier, url, token)
    hashed = sha256_hex(token + SECRET)
    assert await raw.count("verification_requests", token=token) == 0  # never stored raw
    row = await raw.one("verification_requests", token=hashed)
    assert row is not None
    assert row["identifier"] == identifier
    max_age = timedelta(seconds=600)
    assert _within(row["expires"], before + max_age, after + max_age)

    found = await v3.get_verification_request(identifier, token)

    assert found is not None
    assert (found.identifier, found.token, found.expires) == (identifier, hashed, row["expires"])
    assert await v3.get_verification_request(unique_email(), token) is None
    assert await v3.get_verification_request(identifier, unique("other-")) is None

    await v3.delete_verification_request(identifier, token)

    assert await raw.count("verification_requests", token=hashed) == 0
    assert await v3.get_verification_request(identifier, token) is None


async def test_v3_expired_verification_request_is_deleted(v3: NextAuthV3, raw: Raw) -> None:
    identifier = unique_email()
    token = unique("raw-token-")
    outbox = _Outbox()
    await v3.create_verification_request(
        identifier, "https://app.example.com/x", token, send=outbox, max_age=600
    )
    hashed = sha256_hex(token + SECRET)
    changed = await raw.update(
        "verification_requests", {"token": hashed}, expires=in_past(seconds=1)
    )
    assert changed == 1

    assert await v3.get_verification_request(identifier, token) is None
    assert await raw.count("verification_requests", token=hashed) == 0
