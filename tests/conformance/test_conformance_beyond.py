"""docs/conformance.md cases 19-24, which neither the Auth.js nor the NextAuth v3 suite has,
plus the validation limits and the hashed-session-token option of the contract.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import pytest

import asyncauth
from asyncauth import (
    Account,
    Adapter,
    BackendError,
    DuplicateError,
    PurgeResult,
    Session,
    User,
    ValidationError,
    VerificationToken,
)
from tests._raw import TABLES, Raw
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
    sha256_hex,
    stored,
    unique,
    unique_email,
)

pytestmark = [pytest.mark.anyio, pytest.mark.conformance]


# 19 --------------------------------------------------------------------------------------


async def test_a_verification_token_is_used_exactly_once(db_url: str, raw: Raw) -> None:
    identifier, token = unique_email(), sha256_hex(unique())
    results: list[VerificationToken | None] = []

    # A pool wide enough that the callers really race on the server, not in a queue.
    async with asyncauth.connect(db_url, pool_size=10) as auth:
        created = await auth.create_verification_token(identifier, token, in_future(hours=1))

        async def use() -> None:
            results.append(await auth.use_verification_token(identifier, token))

        async with anyio.create_task_group() as group:
            for _ in range(50):
                group.start_soon(use)

    assert len(results) == 50
    winners = [r for r in results if r is not None]
    assert winners == [created]
    assert await raw.count("verification_requests", token=token) == 0


# 20 --------------------------------------------------------------------------------------


async def test_expired_sessions_are_never_returned(adapter: Adapter, raw: Raw) -> None:
    user = await make_user(adapter)
    expired = await adapter.create_session(user.id, in_past(seconds=1))
    valid = await adapter.create_session(user.id, in_future(minutes=5))

    assert await adapter.get_session_and_user(expired.session_token) is None
    assert await adapter.get_session_and_user(valid.session_token) == (valid, user)
    # None because it expired, not because it was never stored.
    assert await raw.count("sessions", session_token=expired.session_token) == 1

    await raw.update(
        "sessions", {"session_token": valid.session_token}, expires=in_past(milliseconds=5)
    )
    assert await adapter.get_session_and_user(valid.session_token) is None


async def test_purge_expired_removes_exactly_the_expired_rows(
    fresh_db_url: str, fresh_raw: Raw
) -> None:
    async with asyncauth.connect(fresh_db_url) as auth:
        user = await make_user(auth)
        expired_sessions = [
            await auth.create_session(user.id, in_past(hours=1, seconds=i)) for i in range(17)
        ]
        valid_sessions = [
            await auth.create_session(user.id, in_future(hours=1, seconds=i)) for i in range(4)
        ]
        for i in range(9):
            await auth.create_verification_token(unique_email(), unique(), in_past(minutes=i + 1))
        valid_tokens = [
            await auth.create_verification_token(unique_email(), unique(), in_future(hours=1))
            for _ in range(3)
        ]
        for session in expired_sessions:
            assert await auth.get_session_and_user(session.session_token) is None

        # Counts that are not multiples of the batch size, so a last partial batch must run.
        reported: list[tuple[str, int]] = []
        result = await auth.purge_expired(
            batch_size=7, progress=lambda kind, count: reported.append((kind, count))
        )

        assert result == PurgeResult(sessions=17, verification_tokens=9)
        # One report per batch, with the running total of its kind.
        assert reported == [
            ("sessions", 7),
            ("sessions", 14),
            ("sessions", 17),
            ("verification_tokens", 7),
            ("verification_tokens", 9),
        ]
        assert await fresh_raw.count("sessions") == 4
        assert await fresh_raw.count("verification_requests") == 3
        for session in valid_sessions:
            assert await auth.get_session_and_user(session.session_token) == (session, user)
        for vt in valid_tokens:
            assert await fresh_raw.count("verification_requests", token=vt.token) == 1
        assert await fresh_raw.count("users", id=user.id) == 1

        assert await auth.purge_expired(batch_size=7) == PurgeResult(0, 0)


# 21 --------------------------------------------------------------------------------------

INSTANT = datetime(2031, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
KEPT = INSTANT.replace(microsecond=123000)
ZONES = {
    "+05:30": timezone(timedelta(hours=5, minutes=30)),
    "-08:00": timezone(timedelta(hours=-8)),
    "UTC": UTC,
}


@pytest.mark.parametrize("zone", list(ZONES.values()), ids=list(ZONES))
async def test_aware_datetimes_round_trip_as_the_same_instant(
    adapter: Adapter, raw: Raw, zone: timezone
) -> None:
    local = INSTANT.astimezone(zone)
    later = (INSTANT + timedelta(days=1)).astimezone(zone)
    assert local == INSTANT and (zone is UTC or local.hour != INSTANT.hour)

    user = await make_user(adapter, email_verified=local)
    session = await adapter.create_session(user.id, local, session_token=unique("s-"))
    vt = await adapter.create_verification_token(unique_email(), unique(), local)

    for value in (user.email_verified, session.expires, vt.expires):
        assert value == KEPT and is_utc(value) and value.microsecond == 123000
    found = await adapter.get_session_and_user(session.session_token)
    assert found is not None
    assert found[0].expires == KEPT and is_utc(found[0].expires)
    assert found[1].email_verified == KEPT and is_utc(found[1].email_verified)
    assert await stored(raw, "users", "email_verified", id=user.id) == KEPT
    assert await stored(raw, "sessions", "expires", session_token=session.session_token) == KEPT
    assert await stored(raw, "verification_requests", "expires", token=vt.token) == KEPT
    used = await adapter.use_verification_token(vt.identifier, vt.token)
    assert used is not None and used.expires == KEPT and is_utc(used.expires)

    updated_session = await adapter.update_session(session.session_token, expires=later)
    updated_user = await adapter.update_user(user.id, email_verified=later)
    expected_later = ms(later.astimezone(UTC))
    assert updated_session is not None and updated_session.expires == expected_later
    assert is_utc(updated_session.expires) and is_utc(updated_user.email_verified)
    assert updated_user.email_verified == expected_later
    assert (
        await stored(raw, "sessions", "expires", session_token=session.session_token)
        == expected_later
    )


NAIVE = datetime(2031, 3, 4, 5, 6, 7)
# (description, table whose row count must not move, the call with a naive datetime)
NAIVE_CALLS: dict[str, tuple[str, Callable[[Adapter, User, str], Awaitable[object]]]] = {
    "create_user": (
        "users",
        lambda a, u, t: a.create_user(email=unique_email(), email_verified=NAIVE),
    ),
    "update_user": ("users", lambda a, u, t: a.update_user(u.id, email_verified=NAIVE)),
    "create_session": ("sessions", lambda a, u, t: a.create_session(u.id, NAIVE)),
    "update_session": ("sessions", lambda a, u, t: a.update_session(t, expires=NAIVE)),
    "create_verification_token": (
        "verification_requests",
        lambda a, u, t: a.create_verification_token(unique_email(), unique(), NAIVE),
    ),
}


@pytest.mark.parametrize("call", list(NAIVE_CALLS.values()), ids=list(NAIVE_CALLS))
async def test_naive_datetimes_are_refused(
    adapter: Adapter,
    raw: Raw,
    call: tuple[str, Callable[[Adapter, User, str], Awaitable[object]]],
) -> None:
    table, operation = call
    user = await make_user(adapter)
    session = await adapter.create_session(user.id, in_future(days=1))
    before = await raw.rows(table)

    with pytest.raises(ValidationError):
        await operation(adapter, user, session.session_token)

    assert await raw.rows(table) == before


# 22 --------------------------------------------------------------------------------------

HOSTILE = {
    "quotes": "O'Brien \"the\" `quoted` \\ back\\slash \\'",
    "sql-injection": "'; DROP TABLE users; --",
    "or-true": "' OR '1'='1' --",
    "placeholders": "%s %(name)s ? $1 :name {0} %%",
    "nul": "nul\x00byte",
    "emoji": "\U0001f469\u200d\U0001f4bb\U0001f511\U0001f3f3\ufe0f\u200d\U0001f308",
    "10k-chars": "x" * 10_000,
    "rtl-marks": "\u202egpj.exe\u202c \u200fעברית\u200e",
    "combining": "e\u0301 \u00e9 \u212b",
    "whitespace": "  line1\r\nline2\ttab  ",
    "lone-surrogate": "\ud800",
}


async def _accepted(call: Awaitable[Any]) -> Any:
    """The call's result, or None if asyncauth refused the value with ValidationError."""
    try:
        return await call
    except ValidationError:
        return None


async def _finds_nothing(call: Awaitable[Any]) -> bool:
    """A lookup with a value that cannot be stored may refuse it, or find nothing."""
    try:
        return await call is None
    except ValidationError:
        return True


@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_hostile_strings_are_stored_exactly_or_refused(
    adapter: Adapter, raw: Raw, value: str
) -> None:
    tag = unique("-")
    counts = {table: await raw.count(table) for table in TABLES}
    added = dict.fromkeys(TABLES, 0)
    owner = await make_user(adapter)
    added["users"] += 1

    # Lookups first: a hostile value must match nothing, let alone everything.
    assert await _finds_nothing(adapter.get_user_by_email(value + tag))
    assert await _finds_nothing(adapter.get_session_and_user(value + tag))
    assert await _finds_nothing(adapter.get_user_by_account(value + tag, value + tag))

    # As an email.
    email = value + tag
    user = await _accepted(adapter.create_user(email=email))
    if user is not None:
        added["users"] += 1
        assert user.email == email
        assert await adapter.get_user_by_email(email) == user
        assert await stored(raw, "users", "email", id=user.id) == email

    # As a name (no unique key: the value exactly as given).
    user = await _accepted(adapter.create_user(name=value))
    if user is not None:
        added["users"] += 1
        assert user.name == value
        assert await adapter.get_user(user.id) == user
        assert await stored(raw, "users", "name", id=user.id) == value

    # As a session token.
    token = value + tag
    session = await _accepted(adapter.create_session(owner.id, in_future(hours=1), token))
    if session is not None:
        added["sessions"] += 1
        assert session.session_token == token
        assert await adapter.get_session_and_user(token) == (session, owner)
        assert await raw.count("sessions", session_token=token) == 1

    # As a verification identifier and token.
    identifier, vt_token = value + tag, value + unique("-")
    vt = await _accepted(
        adapter.create_verification_token(identifier, vt_token, in_future(hours=1))
    )
    if vt is not None:
        assert (vt.identifier, vt.token) == (identifier, vt_token)
        row = await raw.one("verification_requests", token=vt_token)
        assert row is not None and row["identifier"] == identifier
        assert await adapter.use_verification_token(identifier, vt_token) == vt

    # As provider ids, and as the (TEXT) tokens of the account.
    account = account_for(
        owner.id,
        provider=value + tag,
        provider_account_id=value + unique("-"),
        access_token=value,
        refresh_token=value,
    )
    linked = await _accepted(adapter.link_account(account))
    if linked is not None:
        added["accounts"] += 1
        assert linked == account
        assert await adapter.get_account(account.provider_account_id, account.provider) == account
        assert (
            await adapter.get_user_by_account(account.provider, account.provider_account_id)
            == owner
        )
        row = await raw.one("accounts", provider_id=account.provider)
        assert row is not None
        assert (row["provider_account_id"], row["access_token"], row["refresh_token"]) == (
            account.provider_account_id,
            value,
            value,
        )

    # As a WebAuthn credential id.
    authenticator = authenticator_for(owner.id, credential_id=value + tag)
    created = await _accepted(adapter.create_authenticator(authenticator))
    if created is not None:
        added["authenticators"] += 1
        assert await adapter.get_authenticator(authenticator.credential_id) == authenticator
        row = await raw.one("authenticators", credential_id=authenticator.credential_id)
        assert row is not None and row["user_id"] == owner.id

    # The tables are intact and hold exactly what was accepted.
    assert set(TABLES) <= await raw.tables()
    for table in TABLES:
        assert await raw.count(table) == counts[table] + added[table], table


# 23 --------------------------------------------------------------------------------------


async def test_duplicate_email(adapter: Adapter, raw: Raw) -> None:
    user = await make_user(adapter, name="first")
    total = await raw.count("users")

    with pytest.raises(DuplicateError):
        await adapter.create_user(email=user.email, name="second")

    assert await raw.count("users") == total
    assert await raw.count("users", email=user.email) == 1
    assert await adapter.get_user_by_email(user.email) == user


async def test_duplicate_email_on_update(adapter: Adapter, raw: Raw) -> None:
    taken = await make_user(adapter)
    user = await make_user(adapter, name="unchanged")
    row = await raw.one("users", id=user.id)

    with pytest.raises(DuplicateError):
        await adapter.update_user(user.id, email=taken.email, name="changed")

    assert await raw.one("users", id=user.id) == row
    assert await adapter.get_user(user.id) == user


async def test_duplicate_account(adapter: Adapter, raw: Raw) -> None:
    user, other = await make_user(adapter), await make_user(adapter)
    account = await adapter.link_account(account_for(user.id))
    total = await raw.count("accounts")

    with pytest.raises(DuplicateError):
        await adapter.link_account(replace(account, user_id=other.id, access_token="other"))

    assert await raw.count("accounts") == total
    assert await raw.count("accounts", user_id=other.id) == 0
    row = await raw.one("accounts", provider_id=account.provider)
    assert row is not None and (row["user_id"], row["access_token"]) == (
        user.id,
        account.access_token,
    )
    assert await adapter.get_user_by_account(account.provider, account.provider_account_id) == user


async def test_duplicate_credential_id(adapter: Adapter, raw: Raw) -> None:
    user, other = await make_user(adapter), await make_user(adapter)
    authenticator = await adapter.create_authenticator(authenticator_for(user.id))
    total = await raw.count("authenticators")

    with pytest.raises(DuplicateError):
        await adapter.create_authenticator(replace(authenticator, user_id=other.id, counter=99))

    assert await raw.count("authenticators") == total
    assert await adapter.get_authenticator(authenticator.credential_id) == authenticator
    assert await adapter.list_authenticators_by_user_id(other.id) == []


async def test_duplicate_session_token(adapter: Adapter, raw: Raw) -> None:
    user, other = await make_user(adapter), await make_user(adapter)
    session = await adapter.create_session(user.id, in_future(days=1), unique("s-"))
    total = await raw.count("sessions")

    with pytest.raises(DuplicateError):
        await adapter.create_session(other.id, in_future(days=2), session.session_token)

    assert await raw.count("sessions") == total
    assert await adapter.get_session_and_user(session.session_token) == (session, user)


async def test_duplicate_verification_token(adapter: Adapter, raw: Raw) -> None:
    identifier, token = unique_email(), unique()
    vt = await adapter.create_verification_token(identifier, token, in_future(hours=1))
    total = await raw.count("verification_requests")

    with pytest.raises(DuplicateError):
        await adapter.create_verification_token(unique_email(), token, in_future(hours=2))

    assert await raw.count("verification_requests") == total
    assert await adapter.use_verification_token(identifier, token) == vt


# 24 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", list(USER_TABLES))
async def test_delete_user_is_all_or_nothing_when_the_connection_dies(
    fresh_db_url: str, fresh_raw: Raw, table: str
) -> None:
    # Breaking each table in turn puts the failure after the other deletes, whatever order
    # the adapter runs them in.
    async with asyncauth.connect(fresh_db_url) as auth:
        user = await make_user(auth)
        for _ in range(2):
            await auth.create_session(user.id, in_future(days=1))
            await auth.link_account(account_for(user.id))
            await auth.create_authenticator(authenticator_for(user.id))
        before = {t: await fresh_raw.rows(t, **{c: user.id}) for t, c in USER_TABLES.items()}
        assert all(before.values())

        error = await fresh_raw.kill_midway(
            table, {USER_TABLES[table]: user.id}, lambda: auth.delete_user(user.id)
        )

        assert isinstance(error, BackendError), repr(error)
        for t, c in USER_TABLES.items():
            assert await fresh_raw.rows(t, **{c: user.id}) == before[t], t
        # The adapter (and its pool) recovers: the next calls work.
        assert await auth.get_user(user.id) == user
        session = await auth.create_session(user.id, in_future(days=1))
        assert await auth.get_session_and_user(session.session_token) == (session, user)
        assert await auth.delete_user(user.id) == user
        for t, c in USER_TABLES.items():
            assert await fresh_raw.count(t, **{c: user.id}) == 0, t


# Hashed session tokens (connect option) --------------------------------------------------


async def test_hash_session_tokens_stores_only_the_digest(db_url: str, raw: Raw) -> None:
    async with asyncauth.connect(db_url, hash_session_tokens=True) as auth:
        user = await make_user(auth)
        token = unique("s-")
        expires = in_future(days=1)

        session = await auth.create_session(user.id, expires, token)

        assert session == Session(session_token=token, user_id=user.id, expires=ms(expires))
        assert await raw.count("sessions", session_token=token) == 0
        row = await raw.one("sessions", session_token=sha256_hex(token))
        assert row is not None and row["user_id"] == user.id
        assert await auth.get_session_and_user(token) == (session, user)
        assert await auth.get_session_and_user(sha256_hex(token)) is None

        later = in_future(days=2)
        updated = await auth.update_session(token, expires=later)
        assert updated == Session(session_token=token, user_id=user.id, expires=ms(later))
        assert await stored(raw, "sessions", "expires", session_token=sha256_hex(token)) == ms(
            later
        )

        assert await auth.delete_session(token) == updated
        assert await raw.count("sessions", session_token=sha256_hex(token)) == 0


async def test_hash_session_tokens_with_a_generated_token(db_url: str, raw: Raw) -> None:
    async with asyncauth.connect(db_url, hash_session_tokens=True) as auth:
        user = await make_user(auth)

        session = await auth.create_session(user.id, in_future(days=1))

        assert len(session.session_token) == 64
        assert await raw.count("sessions", session_token=session.session_token) == 0
        assert await raw.count("sessions", session_token=sha256_hex(session.session_token)) == 1
        assert await auth.get_session_and_user(session.session_token) == (session, user)


# Validation limits ------------------------------------------------------------------------

S256 = "s" * 256
T16384 = "t" * 16_384
Call = Callable[[Adapter, User], Awaitable[object]]


def mistyped(value: object) -> Any:
    """A deliberately wrong-typed argument, hidden from the type checker."""
    return value


def _account(user: User, **fields: Any) -> Account:
    return account_for(user.id, **fields)


REFUSED: dict[str, tuple[str, Call]] = {
    "user-email-empty": ("users", lambda a, u: a.create_user(email="")),
    "user-email-256": ("users", lambda a, u: a.create_user(email=S256)),
    "user-name-256": ("users", lambda a, u: a.create_user(email=unique_email(), name=S256)),
    "user-image-256": ("users", lambda a, u: a.create_user(email=unique_email(), image=S256)),
    "user-email-nul": ("users", lambda a, u: a.create_user(email=unique("\x00"))),
    "user-name-surrogate": ("users", lambda a, u: a.create_user(name="a\udfffb")),
    "user-email-int": ("users", lambda a, u: a.create_user(email=mistyped(12345))),
    "user-verified-str": (
        "users",
        lambda a, u: a.create_user(
            email=unique_email(), email_verified=mistyped("2030-01-01T00:00:00Z")
        ),
    ),
    "update-user-name-256": ("users", lambda a, u: a.update_user(u.id, name=S256)),
    "update-user-email-nul": ("users", lambda a, u: a.update_user(u.id, email="a\x00@b.c")),
    "session-token-empty": (
        "sessions",
        lambda a, u: a.create_session(u.id, in_future(hours=1), ""),
    ),
    "session-token-256": (
        "sessions",
        lambda a, u: a.create_session(u.id, in_future(hours=1), S256),
    ),
    "session-expires-str": (
        "sessions",
        lambda a, u: a.create_session(u.id, mistyped("2030-01-01")),
    ),
    "vt-identifier-empty": (
        "verification_requests",
        lambda a, u: a.create_verification_token("", unique(), in_future(hours=1)),
    ),
    "vt-token-empty": (
        "verification_requests",
        lambda a, u: a.create_verification_token(unique_email(), "", in_future(hours=1)),
    ),
    "vt-identifier-256": (
        "verification_requests",
        lambda a, u: a.create_verification_token(S256, unique(), in_future(hours=1)),
    ),
    "vt-token-256": (
        "verification_requests",
        lambda a, u: a.create_verification_token(unique_email(), S256, in_future(hours=1)),
    ),
    "account-provider-empty": ("accounts", lambda a, u: a.link_account(_account(u, provider=""))),
    "account-pai-empty": (
        "accounts",
        lambda a, u: a.link_account(_account(u, provider_account_id="")),
    ),
    "account-provider-256": (
        "accounts",
        lambda a, u: a.link_account(_account(u, provider=S256)),
    ),
    "account-pai-256": (
        "accounts",
        lambda a, u: a.link_account(_account(u, provider_account_id=S256)),
    ),
    "account-type-256": ("accounts", lambda a, u: a.link_account(_account(u, type=S256))),
    "account-token-type-256": (
        "accounts",
        lambda a, u: a.link_account(_account(u, token_type=S256)),
    ),
    "account-session-state-256": (
        "accounts",
        lambda a, u: a.link_account(_account(u, session_state=S256)),
    ),
    "account-access-token-16384": (
        "accounts",
        lambda a, u: a.link_account(_account(u, access_token=T16384)),
    ),
    "account-refresh-token-16384": (
        "accounts",
        lambda a, u: a.link_account(_account(u, refresh_token=T16384)),
    ),
    "account-id-token-16384": (
        "accounts",
        lambda a, u: a.link_account(_account(u, id_token=T16384)),
    ),
    "account-scope-16384": ("accounts", lambda a, u: a.link_account(_account(u, scope=T16384))),
    "account-expires-at-str": (
        "accounts",
        lambda a, u: a.link_account(_account(u, expires_at="1900000000")),
    ),
    "authenticator-credential-id-empty": (
        "authenticators",
        lambda a, u: a.create_authenticator(authenticator_for(u.id, credential_id="")),
    ),
    "authenticator-credential-id-256": (
        "authenticators",
        lambda a, u: a.create_authenticator(authenticator_for(u.id, credential_id=S256)),
    ),
    "authenticator-public-key-16384": (
        "authenticators",
        lambda a, u: a.create_authenticator(authenticator_for(u.id, credential_public_key=T16384)),
    ),
    "authenticator-device-type-256": (
        "authenticators",
        lambda a, u: a.create_authenticator(authenticator_for(u.id, credential_device_type=S256)),
    ),
    "authenticator-transports-256": (
        "authenticators",
        lambda a, u: a.create_authenticator(authenticator_for(u.id, transports=S256)),
    ),
    "authenticator-counter-str": (
        "authenticators",
        lambda a, u: a.create_authenticator(authenticator_for(u.id, counter="1")),
    ),
    "authenticator-update-counter-str": (
        "authenticators",
        lambda a, u: a.update_authenticator_counter(unique("cred-"), mistyped("5")),
    ),
}


@pytest.mark.parametrize("case", list(REFUSED.values()), ids=list(REFUSED))
async def test_invalid_input_is_refused_before_the_database(
    adapter: Adapter, raw: Raw, case: tuple[str, Call]
) -> None:
    table, call = case
    user = await make_user(adapter)
    before = await raw.rows(table)

    with pytest.raises(ValidationError):
        await call(adapter, user)

    assert await raw.rows(table) == before


async def test_values_at_the_limits_are_accepted(adapter: Adapter, raw: Raw) -> None:
    email = unique_email().rjust(255, "e")
    user = await adapter.create_user(email=email, name="n" * 255, image="i" * 255)
    assert (user.email, user.name, user.image) == (email, "n" * 255, "i" * 255)
    account = account_for(
        user.id,
        provider=unique().rjust(255, "p"),
        provider_account_id=unique().rjust(255, "a"),
        access_token="t" * 16_383,
        id_token="i" * 16_383,
    )

    assert await adapter.link_account(account) == account

    assert await adapter.get_user_by_email(email) == user
    assert await adapter.get_account(account.provider_account_id, account.provider) == account
    row = await raw.one("accounts", provider_id=account.provider)
    assert row is not None and row["access_token"] == "t" * 16_383
    token = unique().rjust(255, "s")
    session = await adapter.create_session(user.id, in_future(hours=1), token)
    assert await adapter.get_session_and_user(token) == (session, user)
