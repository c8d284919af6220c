"""docs/conformance.md cases 1-13: the project's port of the Auth.js adapter suite.

Each test checks the adapter's answers and, through ``raw``, the rows it actually stored.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import replace
from datetime import datetime, timedelta
from operator import attrgetter

import pytest

import asyncauth
from asyncauth import (
    Account,
    Adapter,
    Authenticator,
    NotFoundError,
    Session,
    User,
    VerificationToken,
)
from tests._raw import Raw
from tests.conformance._support import (
    USER_TABLES,
    UTC,
    account_for,
    authenticator_for,
    in_future,
    in_past,
    is_utc,
    make_user,
    ms,
    now,
    sha256_hex,
    unique,
    unique_email,
)

pytestmark = [pytest.mark.anyio, pytest.mark.conformance]

CONTRACT_METHODS = (
    "create_user",
    "get_user",
    "get_user_by_email",
    "get_user_by_account",
    "update_user",
    "delete_user",
    "link_account",
    "unlink_account",
    "get_account",
    "create_session",
    "get_session_and_user",
    "update_session",
    "delete_session",
    "create_verification_token",
    "use_verification_token",
    "create_authenticator",
    "get_authenticator",
    "list_authenticators_by_user_id",
    "update_authenticator_counter",
    "purge_expired",
    "aclose",
)

# Ids that no backend can hold (wrong shape, or past a 32/64-bit key): getters give None.
IMPOSSIBLE_IDS = ("not-a-number", "", "1.5", " 1", "2147483648", "9" * 30, "0x1f")

HEX64 = re.compile(r"[0-9a-f]{64}")


# 1 ---------------------------------------------------------------------------------------


async def test_every_contract_method_is_a_coroutine_function(adapter: Adapter) -> None:
    missing = [name for name in CONTRACT_METHODS if not hasattr(adapter, name)]
    assert missing == []
    not_async = [
        name for name in CONTRACT_METHODS if not inspect.iscoroutinefunction(getattr(adapter, name))
    ]
    assert not_async == []


async def test_connect_is_awaitable_as_well_as_a_context_manager(db_url: str) -> None:
    auth = await asyncauth.connect(db_url)
    try:
        user = await auth.create_user(email=unique_email())
        assert await auth.get_user(user.id) == user
    finally:
        await auth.aclose()


# 2 ---------------------------------------------------------------------------------------


async def test_create_user_stores_exactly_the_given_fields(adapter: Adapter, raw: Raw) -> None:
    email = unique_email()
    verified = datetime(2024, 2, 29, 23, 59, 58, 987654, tzinfo=UTC)
    before = now()

    user = await adapter.create_user(
        email=email,
        name="Ada Lovelace",
        image="https://example.com/ada.png",
        email_verified=verified,
    )

    assert isinstance(user, User)
    assert isinstance(user.id, str) and user.id
    assert (user.email, user.name, user.image) == (
        email,
        "Ada Lovelace",
        "https://example.com/ada.png",
    )
    assert user.email_verified == ms(verified) and is_utc(user.email_verified)
    assert await adapter.get_user(user.id) == user

    row = await raw.one("users", id=user.id)
    assert row is not None
    assert row["email"] == email
    assert row["name"] == "Ada Lovelace"
    assert row["image"] == "https://example.com/ada.png"
    assert row["email_verified"] == ms(verified)
    # docs/schema.md: asyncauth sets created_at / updated_at itself.
    for column in ("created_at", "updated_at"):
        assert row[column] is not None
        assert ms(before) - timedelta(seconds=5) <= row[column] <= now() + timedelta(seconds=5)


async def test_create_user_leaves_unset_fields_empty(adapter: Adapter, raw: Raw) -> None:
    email = unique_email()

    user = await adapter.create_user(email=email)

    assert user == User(id=user.id, email=email)
    assert await adapter.get_user(user.id) == user
    row = await raw.one("users", id=user.id)
    assert row is not None
    assert (row["email"], row["name"], row["image"], row["email_verified"]) == (
        email,
        None,
        None,
        None,
    )


async def test_create_user_without_email(adapter: Adapter, raw: Raw) -> None:
    name = unique("anonymous-")

    first = await adapter.create_user(name=name)
    second = await adapter.create_user(name=name)

    assert first.id != second.id
    assert first.email is None and await adapter.get_user(first.id) == first
    assert await raw.count("users", name=name) == 2


async def test_get_user_of_an_unknown_id_is_none(adapter: Adapter) -> None:
    gone = await make_user(adapter)
    assert await adapter.delete_user(gone.id) == gone

    assert await adapter.get_user(gone.id) is None


@pytest.mark.parametrize("user_id", IMPOSSIBLE_IDS)
async def test_get_user_of_an_impossible_id_is_none(adapter: Adapter, user_id: str) -> None:
    assert await adapter.get_user(user_id) is None


# 3 ---------------------------------------------------------------------------------------


async def test_get_user_by_email(adapter: Adapter) -> None:
    user = await make_user(adapter, name="Grace")

    assert await adapter.get_user_by_email(unique_email()) is None
    assert await adapter.get_user_by_email(user.email) == user


@pytest.mark.parametrize("email", [None, ""])
async def test_get_user_by_empty_email_is_none(adapter: Adapter, email: str | None) -> None:
    await adapter.create_user(name=unique("no-email-"))

    assert await adapter.get_user_by_email(email) is None


# 4 ---------------------------------------------------------------------------------------


async def test_create_session_and_get_session_and_user(adapter: Adapter, raw: Raw) -> None:
    user = await make_user(adapter, name="Linus")
    token = unique("session-")
    expires = in_future(days=30)

    session = await adapter.create_session(user.id, expires, session_token=token)

    assert session == Session(session_token=token, user_id=user.id, expires=ms(expires))
    assert is_utc(session.expires)
    row = await raw.one("sessions", session_token=token)
    assert row is not None
    assert row["user_id"] == user.id
    assert row["expires"] == ms(expires)
    assert row["access_token"]  # NOT NULL in the v3 schema: a NextAuth v3 app reads it

    assert await adapter.get_session_and_user(unique("invalid-")) is None
    assert await adapter.get_session_and_user(token) == (session, user)


async def test_create_session_makes_a_token_when_none_is_given(adapter: Adapter, raw: Raw) -> None:
    user = await make_user(adapter)

    first = await adapter.create_session(user.id, in_future(hours=1))
    second = await adapter.create_session(user.id, in_future(hours=1))

    assert HEX64.fullmatch(first.session_token)
    assert HEX64.fullmatch(second.session_token)
    assert first.session_token != second.session_token
    assert await raw.count("sessions", user_id=user.id) == 2
    found = await adapter.get_session_and_user(first.session_token)
    assert found == (first, user)


# 5 ---------------------------------------------------------------------------------------


async def test_update_user_is_partial(adapter: Adapter, raw: Raw) -> None:
    verified = in_past(days=3)
    user = await make_user(
        adapter, name="Before", image="https://example.com/a.png", email_verified=verified
    )

    updated = await adapter.update_user(user.id, name="After")

    assert updated == User(
        id=user.id,
        name="After",
        email=user.email,
        email_verified=ms(verified),
        image="https://example.com/a.png",
    )
    assert await adapter.get_user(user.id) == updated
    row = await raw.one("users", id=user.id)
    assert row is not None
    assert (row["name"], row["email"], row["image"], row["email_verified"]) == (
        "After",
        user.email,
        "https://example.com/a.png",
        ms(verified),
    )


async def test_update_user_can_clear_and_set_several_fields(adapter: Adapter, raw: Raw) -> None:
    user = await make_user(adapter, name="Someone", image="https://example.com/x.png")
    email = unique_email()
    verified = in_past(minutes=1)

    updated = await adapter.update_user(user.id, email=email, image=None, email_verified=verified)

    assert updated == User(
        id=user.id, name="Someone", email=email, email_verified=ms(verified), image=None
    )
    row = await raw.one("users", id=user.id)
    assert row is not None
    assert (row["email"], row["image"], row["email_verified"]) == (email, None, ms(verified))
    assert await adapter.get_user_by_email(user.email) is None


@pytest.mark.parametrize("user_id", ["deleted", *IMPOSSIBLE_IDS[:3]])
async def test_update_user_of_an_unknown_user_raises(adapter: Adapter, user_id: str) -> None:
    if user_id == "deleted":
        gone = await make_user(adapter)
        await adapter.delete_user(gone.id)
        user_id = gone.id

    with pytest.raises(NotFoundError):
        await adapter.update_user(user_id, name="nobody")


# 6 ---------------------------------------------------------------------------------------


async def test_update_session_changes_expires_to_the_millisecond(
    adapter: Adapter, raw: Raw
) -> None:
    user = await make_user(adapter)
    token = unique("session-")
    await adapter.create_session(user.id, in_future(hours=1), session_token=token)
    expires = (now() + timedelta(days=2)).replace(microsecond=654321)

    updated = await adapter.update_session(token, expires=expires)

    assert updated == Session(session_token=token, user_id=user.id, expires=ms(expires))
    assert updated.expires.microsecond == 654000
    found = await adapter.get_session_and_user(token)
    assert found is not None and found[0].expires == ms(expires)
    row = await raw.one("sessions", session_token=token)
    assert row is not None and row["expires"] == ms(expires)


async def test_update_session_of_an_unknown_token_is_none(adapter: Adapter, raw: Raw) -> None:
    token = unique("missing-")

    assert await adapter.update_session(token, expires=in_future(days=1)) is None
    assert await raw.count("sessions", session_token=token) == 0


# 7 ---------------------------------------------------------------------------------------


async def test_link_account_stores_every_field(adapter: Adapter, raw: Raw) -> None:
    user = await make_user(adapter)
    account = account_for(user.id)

    linked = await adapter.link_account(account)

    assert linked == account
    assert type(linked.expires_at) is int
    row = await raw.one(
        "accounts", provider_id=account.provider, provider_account_id=account.provider_account_id
    )
    assert row is not None
    assert row["user_id"] == user.id
    assert row["provider_type"] == account.type
    assert row["refresh_token"] == account.refresh_token
    assert row["access_token"] == account.access_token
    assert row["access_token_expires"] == datetime.fromtimestamp(1_900_000_123, UTC)
    assert row["token_type"] == account.token_type
    assert row["scope"] == account.scope
    assert row["id_token"] == account.id_token
    assert row["session_state"] == account.session_state
    # Readable by NextAuth v3: its unique key over the pair.
    assert row["compound_id"] == sha256_hex(f"{account.provider}:{account.provider_account_id}")

    stored = await adapter.get_account(account.provider_account_id, account.provider)
    assert stored == account and type(stored.expires_at) is int


async def test_link_account_with_only_the_required_fields(adapter: Adapter, raw: Raw) -> None:
    user = await make_user(adapter)
    account = Account(
        user_id=user.id, type="oauth", provider=unique("p-"), provider_account_id=unique("a-")
    )

    assert await adapter.link_account(account) == account

    assert await adapter.get_account(account.provider_account_id, account.provider) == account
    row = await raw.one("accounts", provider_id=account.provider)
    assert row is not None
    assert (row["refresh_token"], row["access_token"], row["access_token_expires"]) == (
        None,
        None,
        None,
    )


async def test_get_user_by_account(adapter: Adapter) -> None:
    user = await make_user(adapter)
    other = await make_user(adapter)
    account = await adapter.link_account(account_for(user.id))
    await adapter.link_account(account_for(other.id))

    provider, provider_account_id = account.provider, account.provider_account_id
    assert await adapter.get_user_by_account(provider, unique("wrong-")) is None
    assert await adapter.get_user_by_account(unique("wrong-"), provider_account_id) is None
    assert await adapter.get_user_by_account(provider_account_id, provider) is None
    assert await adapter.get_user_by_account(provider, provider_account_id) == user


# 8 ---------------------------------------------------------------------------------------


async def test_delete_session(adapter: Adapter, raw: Raw) -> None:
    user = await make_user(adapter)
    token = unique("session-")
    kept = unique("session-")
    session = await adapter.create_session(user.id, in_future(days=1), session_token=token)
    await adapter.create_session(user.id, in_future(days=1), session_token=kept)

    assert await adapter.delete_session(token) == session

    assert await raw.count("sessions", session_token=token) == 0
    assert await adapter.get_session_and_user(token) is None
    assert await adapter.delete_session(token) is None
    assert await raw.count("sessions", session_token=kept) == 1


# 9 ---------------------------------------------------------------------------------------


async def test_verification_token_is_used_once(adapter: Adapter, raw: Raw) -> None:
    identifier = unique_email()
    token = sha256_hex(unique())
    expires = in_future(hours=1)

    created = await adapter.create_verification_token(identifier, token, expires)

    expected = VerificationToken(identifier=identifier, token=token, expires=ms(expires))
    assert created == expected
    row = await raw.one("verification_requests", token=token)
    assert row is not None
    assert (row["identifier"], row["expires"]) == (identifier, ms(expires))

    assert await adapter.use_verification_token(identifier, token) == expected
    assert await raw.count("verification_requests", token=token) == 0
    assert await adapter.use_verification_token(identifier, token) is None


async def test_verification_token_needs_both_fields(adapter: Adapter, raw: Raw) -> None:
    identifier = unique_email()
    token = sha256_hex(unique())
    await adapter.create_verification_token(identifier, token, in_future(hours=1))
    await adapter.use_verification_token(identifier, token)

    recreated = await adapter.create_verification_token(identifier, token, in_future(hours=1))

    assert await adapter.use_verification_token(unique_email(), token) is None
    assert await adapter.use_verification_token(identifier, sha256_hex(unique())) is None
    assert await raw.count("verification_requests", token=token) == 1
    assert await adapter.use_verification_token(identifier, token) == recreated


async def test_an_expired_verification_token_is_still_returned(adapter: Adapter, raw: Raw) -> None:
    identifier = unique_email()
    token = sha256_hex(unique())
    expires = in_past(minutes=5)
    await adapter.create_verification_token(identifier, token, expires)

    used = await adapter.use_verification_token(identifier, token)

    assert used == VerificationToken(identifier=identifier, token=token, expires=ms(expires))
    assert await raw.count("verification_requests", token=token) == 0


# 10 --------------------------------------------------------------------------------------


async def test_unlink_account(adapter: Adapter, raw: Raw) -> None:
    user = await make_user(adapter)
    account = await adapter.link_account(account_for(user.id))
    kept = await adapter.link_account(account_for(user.id))

    assert await adapter.unlink_account(account.provider, account.provider_account_id) == account

    assert await raw.count("accounts", provider_id=account.provider) == 0
    assert await adapter.get_account(account.provider_account_id, account.provider) is None
    assert await adapter.get_user_by_account(account.provider, account.provider_account_id) is None
    assert await adapter.unlink_account(account.provider, account.provider_account_id) is None
    assert await adapter.get_account(kept.provider_account_id, kept.provider) == kept


# 11 --------------------------------------------------------------------------------------


async def _user_with_everything(adapter: Adapter) -> tuple[User, list[Session]]:
    user = await make_user(adapter, name=unique("n-"))
    sessions = [await adapter.create_session(user.id, in_future(days=1)) for _ in range(2)]
    for _ in range(2):
        await adapter.link_account(account_for(user.id))
        await adapter.create_authenticator(authenticator_for(user.id))
    return user, sessions


async def test_delete_user_removes_everything_of_the_user(adapter: Adapter, raw: Raw) -> None:
    user, sessions = await _user_with_everything(adapter)
    bystander, _ = await _user_with_everything(adapter)
    bystander_rows = {t: await raw.rows(t, **{c: bystander.id}) for t, c in USER_TABLES.items()}

    assert await adapter.delete_user(user.id) == user

    for table, column in USER_TABLES.items():
        assert await raw.count(table, **{column: user.id}) == 0, table
    assert await adapter.get_user(user.id) is None
    for session in sessions:
        assert await adapter.get_session_and_user(session.session_token) is None
    assert await adapter.list_authenticators_by_user_id(user.id) == []
    # Nobody else's rows went with it.
    for table, column in USER_TABLES.items():
        assert await raw.rows(table, **{column: bystander.id}) == bystander_rows[table], table


async def test_delete_user_of_an_unknown_user_is_none(adapter: Adapter) -> None:
    gone = await make_user(adapter)
    await adapter.delete_user(gone.id)

    assert await adapter.delete_user(gone.id) is None
    assert await adapter.delete_user("not-a-number") is None


# 12 --------------------------------------------------------------------------------------


async def test_get_account(adapter: Adapter, raw: Raw) -> None:
    user = await make_user(adapter)
    account = await adapter.link_account(account_for(user.id))
    good_id, good_provider = account.provider_account_id, account.provider

    assert await adapter.get_account(unique("bad-"), unique("bad-")) is None
    assert await adapter.get_account(good_id, unique("bad-")) is None
    assert await adapter.get_account(unique("bad-"), good_provider) is None

    found = await adapter.get_account(good_id, good_provider)
    assert found == account
    row = await raw.one("accounts", provider_id=good_provider, provider_account_id=good_id)
    assert row is not None
    assert found == Account(
        user_id=row["user_id"],
        type=row["provider_type"],
        provider=row["provider_id"],
        provider_account_id=row["provider_account_id"],
        refresh_token=row["refresh_token"],
        access_token=row["access_token"],
        expires_at=int(row["access_token_expires"].timestamp()),
        token_type=row["token_type"],
        scope=row["scope"],
        id_token=row["id_token"],
        session_state=row["session_state"],
    )


# 13 --------------------------------------------------------------------------------------


async def test_create_and_get_authenticator(adapter: Adapter, raw: Raw) -> None:
    user = await make_user(adapter)
    authenticator = authenticator_for(user.id)

    assert await adapter.create_authenticator(authenticator) == authenticator

    assert await adapter.get_authenticator(authenticator.credential_id) == authenticator
    assert await adapter.get_authenticator(unique("cred-")) is None
    row = await raw.one("authenticators", credential_id=authenticator.credential_id)
    assert row is not None
    assert {
        k: row[k]
        for k in (
            "user_id",
            "provider_account_id",
            "credential_public_key",
            "counter",
            "credential_device_type",
            "credential_backed_up",
            "transports",
        )
    } == {
        "user_id": user.id,
        "provider_account_id": authenticator.provider_account_id,
        "credential_public_key": authenticator.credential_public_key,
        "counter": 3,
        "credential_device_type": "multiDevice",
        "credential_backed_up": True,
        "transports": "usb,nfc",
    }


async def test_authenticator_optional_and_false_fields_round_trip(adapter: Adapter) -> None:
    user = await make_user(adapter)
    authenticator = authenticator_for(
        user.id,
        transports=None,
        credential_backed_up=False,
        counter=0,
        credential_device_type="singleDevice",
    )

    await adapter.create_authenticator(authenticator)

    stored = await adapter.get_authenticator(authenticator.credential_id)
    assert stored == authenticator
    assert stored.credential_backed_up is False and stored.counter == 0


async def test_list_authenticators_by_user_id(adapter: Adapter) -> None:
    user = await make_user(adapter)
    other = await make_user(adapter)
    mine = [await adapter.create_authenticator(authenticator_for(user.id)) for _ in range(3)]
    await adapter.create_authenticator(authenticator_for(other.id))

    listed = await adapter.list_authenticators_by_user_id(user.id)

    assert isinstance(listed, list)
    key = attrgetter("credential_id")
    assert sorted(listed, key=key) == sorted(mine, key=key)
    fresh = await make_user(adapter)
    assert await adapter.list_authenticators_by_user_id(fresh.id) == []
    assert await adapter.list_authenticators_by_user_id("not-a-number") == []


async def test_update_authenticator_counter(adapter: Adapter, raw: Raw) -> None:
    user = await make_user(adapter)
    authenticator = await adapter.create_authenticator(authenticator_for(user.id))

    with pytest.raises(NotFoundError):
        await adapter.update_authenticator_counter(unique("cred-"), 10)

    updated = await adapter.update_authenticator_counter(authenticator.credential_id, 42)

    assert isinstance(updated, Authenticator)
    assert updated == replace(authenticator, counter=42)
    row = await raw.one("authenticators", credential_id=authenticator.credential_id)
    assert row is not None and row["counter"] == 42
    assert await adapter.get_authenticator(authenticator.credential_id) == updated


async def test_authenticator_counter_holds_the_whole_webauthn_range(adapter: Adapter) -> None:
    # WebAuthn's signCount is an unsigned 32-bit integer: past a signed INTEGER column.
    user = await make_user(adapter)
    authenticator = await adapter.create_authenticator(authenticator_for(user.id))

    updated = await adapter.update_authenticator_counter(authenticator.credential_id, 2**32 - 1)

    assert updated.counter == 2**32 - 1
    assert await adapter.get_authenticator(authenticator.credential_id) == updated
