"""Table layouts (docs/layouts.md): selecting one, bootstrap and check, and interop.

The interop tests drive the real npm adapter (tests/interop) on the same database as
asyncauth, in both directions: rows the JS adapter writes are read by asyncauth, and rows
asyncauth writes are read by the JS adapter.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

import asyncauth
from asyncauth import Account, Authenticator
from asyncauth._errors import ConfigurationError, SchemaError
from asyncauth._layout import layout_names, load_layout, new_cuid
from tests._backends import postgres_database
from tests.interop._harness import js_date, py_date, require_harness, run_harness

pytestmark = pytest.mark.anyio

UTC = timezone.utc
SECRET = "interop-secret"
VERIFIED = datetime(2021, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)
EXPIRES = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def test_the_layouts_are_the_folders() -> None:
    assert layout_names()[0] == "nextauth-v3"
    assert "pg" in layout_names()
    pg = load_layout("pg")
    assert (pg.user_id, pg.authenticators) == ("serial", False)
    assert pg.new_id() is None  # SERIAL: the database makes it


def test_an_unknown_layout_is_refused_naming_the_known() -> None:
    with pytest.raises(ConfigurationError, match="unknown layout 'typeorm'.*nextauth-v3.*pg"):
        asyncauth.connect("sqlite:///:memory:", layout="typeorm")
    with pytest.raises(ConfigurationError, match="unknown layout"):
        asyncauth.connect("sqlite:///:memory:?layout=nope")


def test_a_layout_without_sql_for_the_dialect_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="pg layout has no SQL for sqlite"):
        asyncauth.connect("sqlite:///:memory:?layout=pg")


def test_a_layout_named_twice_differently_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="named twice"):
        asyncauth.connect("sqlite:///:memory:?layout=pg", layout="nextauth-v3")


def test_custom_sql_folders_extend_the_default_layout_only(tmp_path: object) -> None:
    with pytest.raises(ConfigurationError, match="nextauth-v3 layout only"):
        asyncauth.PostgresAdapter(dsn="postgresql://x/y", layout="pg", sql_folders=["x"])


def test_cuids_have_the_shape_prisma_makes() -> None:
    ids = {new_cuid() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 25 and i[0] == "c" and i.isalnum() and i.islower() for i in ids)


@pytest.fixture
async def pg_url(anyio_backend: str) -> AsyncIterator[str]:
    """An empty PostgreSQL database; its URL selects the pg layout."""
    async with postgres_database() as url:
        yield url + "?layout=pg"


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url.split("?")[0])
    try:
        rows = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    finally:
        await conn.close()
    return {r["table_name"] for r in rows}


@pytest.mark.postgres
async def test_bootstrap_creates_the_layout_schema_only_in_an_empty_database(pg_url: str) -> None:
    assert await asyncauth.bootstrap(pg_url) == [1]
    # The upstream tables, and nothing of asyncauth's own (no migration records).
    assert await _tables(pg_url) == {"users", "accounts", "sessions", "verification_token"}
    assert await asyncauth.bootstrap(pg_url) == []
    report = await asyncauth.check(pg_url)
    assert report.ok, report.differences


@pytest.mark.postgres
async def test_bootstrap_refuses_a_partial_schema_and_changes_nothing(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url.split("?")[0])
    try:
        await conn.execute("CREATE TABLE users (id SERIAL PRIMARY KEY, name VARCHAR(255))")
    finally:
        await conn.close()
    with pytest.raises(SchemaError, match="does not alter") as caught:
        await asyncauth.bootstrap(pg_url)
    message = str(caught.value)
    for missing in (
        "missing table accounts",
        "missing table verification_token",
        "missing column users.emailverified",
    ):
        assert missing in message
    assert await _tables(pg_url) == {"users"}
    report = await asyncauth.check(pg_url)
    assert not report.ok and "missing table sessions" in report.differences


@pytest.mark.postgres
async def test_check_reports_a_changed_column(pg_url: str) -> None:
    assert await asyncauth.bootstrap(pg_url) == [1]
    conn = await asyncpg.connect(pg_url.split("?")[0])
    try:
        await conn.execute("ALTER TABLE sessions ALTER COLUMN expires DROP NOT NULL")
        await conn.execute("ALTER TABLE verification_token DROP CONSTRAINT verification_token_pkey")
    finally:
        await conn.close()
    report = await asyncauth.check(pg_url)
    assert "wrong nullability sessions.expires: expected NOT NULL" in report.differences
    assert "missing unique index verification_token(identifier, token)" in report.differences


@pytest.mark.postgres
async def test_the_pg_layout_has_no_webauthn(pg_url: str) -> None:
    async with asyncauth.connect(pg_url, bootstrap=True) as auth:
        user = await auth.create_user(email="w@example.com")
        with pytest.raises(ConfigurationError, match="no authenticator table"):
            await auth.create_authenticator(
                Authenticator("cred", user.id, "pa", "key", 0, "singleDevice", False)
            )
        with pytest.raises(ConfigurationError, match="no authenticator table"):
            await auth.get_authenticator("cred")


@pytest.mark.postgres
async def test_uniqueness_the_pg_schema_lacks_is_kept_for_asyncauth_writers(pg_url: str) -> None:
    # @auth/pg-adapter's schema has no UNIQUE on email, (provider, providerAccountId) or
    # sessionToken: asyncauth's own writes still refuse duplicates, and leave no row behind.
    async with asyncauth.connect(pg_url, bootstrap=True) as auth:
        user = await auth.create_user(email="u@example.com")
        other = await auth.create_user(email="o@example.com")
        with pytest.raises(asyncauth.DuplicateError):
            await auth.create_user(email="u@example.com")
        with pytest.raises(asyncauth.DuplicateError):
            await auth.update_user(other.id, email="u@example.com")
        account = Account(user.id, "oauth", "github", "42")
        await auth.link_account(account)
        with pytest.raises(asyncauth.DuplicateError):
            await auth.link_account(Account(other.id, "oauth", "github", "42"))
        session = await auth.create_session(user.id, EXPIRES)
        with pytest.raises(asyncauth.DuplicateError):
            await auth.create_session(other.id, EXPIRES, session.session_token)
        with pytest.raises(asyncauth.NotFoundError):
            await auth.create_session("999999", EXPIRES)
        assert (await auth.get_user(other.id)).email == "o@example.com"  # type: ignore[union-attr]
    conn = await asyncpg.connect(pg_url.split("?")[0])
    try:
        assert await conn.fetchval("SELECT count(*) FROM users") == 2
        assert await conn.fetchval("SELECT count(*) FROM accounts") == 1
        assert await conn.fetchval("SELECT count(*) FROM sessions") == 1
    finally:
        await conn.close()


def _hashed(raw: str) -> str:
    return hashlib.sha256(f"{raw}{SECRET}".encode()).hexdigest()


@pytest.mark.postgres
@pytest.mark.interop
async def test_pg_layout_reads_what_the_pg_adapter_wrote(pg_url: str) -> None:
    require_harness()
    token, raw = str(uuid.uuid4()), uuid.uuid4().hex
    answer = await run_harness(
        {
            "adapter": "pg",
            "dialect": "postgres",
            "url": pg_url.split("?")[0],
            "schema": True,
            "calls": [
                {
                    "method": "createUser",
                    "args": [
                        {
                            "id": str(uuid.uuid4()),
                            "name": "Ada",
                            "email": "ada@example.com",
                            "emailVerified": js_date(VERIFIED),
                            "image": None,
                        }
                    ],
                },
                {
                    "method": "linkAccount",
                    "args": [
                        {
                            "userId": {"$ref": "0.id"},
                            "type": "oauth",
                            "provider": "github",
                            "providerAccountId": "1234",
                            "access_token": "gho_access",
                            "expires_at": 1893456000,
                            "token_type": "bearer",
                            "scope": "read:user",
                        }
                    ],
                },
                {
                    "method": "createSession",
                    "args": [
                        {
                            "sessionToken": token,
                            "userId": {"$ref": "0.id"},
                            "expires": js_date(EXPIRES),
                        }
                    ],
                },
                {
                    "method": "createVerificationToken",
                    "args": [
                        {
                            "identifier": "ada@example.com",
                            "token": _hashed(raw),
                            "expires": js_date(EXPIRES),
                        }
                    ],
                },
            ],
        }
    )
    assert answer.ok, f"{answer.error}\n{answer.stderr[-2000:]}"
    user_id = str(answer.results[0]["id"])
    async with asyncauth.connect(pg_url) as auth:
        assert (await auth.check()).ok  # the JS-made schema is the layout's
        found = await auth.get_session_and_user(token)
        assert found is not None
        session, user = found
        assert (user.id, user.email, user.name) == (user_id, "ada@example.com", "Ada")
        assert user.email_verified == VERIFIED
        assert session.expires == EXPIRES and session.user_id == user_id
        assert (await auth.get_user_by_account("github", "1234")).id == user_id  # type: ignore[union-attr]
        account = await auth.get_account("1234", "github")
        assert account is not None
        assert (account.expires_at, account.access_token, account.scope) == (
            1893456000,
            "gho_access",
            "read:user",
        )
        used = await auth.use_verification_token("ada@example.com", _hashed(raw))
        assert used is not None and used.expires == EXPIRES
        assert await auth.use_verification_token("ada@example.com", _hashed(raw)) is None
        # delete_user removes what the JS side wrote for the user, in one transaction.
        assert (await auth.delete_user(user_id)) is not None
        assert await auth.get_session_and_user(token) is None
        assert await auth.get_account("1234", "github") is None


@pytest.mark.postgres
@pytest.mark.interop
async def test_the_pg_adapter_reads_what_the_pg_layout_wrote(pg_url: str) -> None:
    require_harness()
    raw = uuid.uuid4().hex
    async with asyncauth.connect(pg_url, bootstrap=True) as auth:
        user = await auth.create_user(email="bob@example.com", name="Bob", email_verified=VERIFIED)
        await auth.link_account(
            Account(user.id, "oauth", "github", "777", access_token="tok", expires_at=1893456000)
        )
        session = await auth.create_session(user.id, EXPIRES)
        await auth.create_verification_token("bob@example.com", _hashed(raw), EXPIRES)
    answer = await run_harness(
        {
            "adapter": "pg",
            "dialect": "postgres",
            "url": pg_url.split("?")[0],
            "calls": [
                {"method": "getSessionAndUser", "args": [session.session_token]},
                {
                    "method": "getUserByAccount",
                    "args": [{"provider": "github", "providerAccountId": "777"}],
                },
                {
                    "method": "useVerificationToken",
                    "args": [{"identifier": "bob@example.com", "token": _hashed(raw)}],
                },
                {"method": "getUser", "args": [user.id]},
            ],
        }
    )
    assert answer.ok, f"{answer.error}\n{answer.stderr[-2000:]}"
    found, by_account, used, got = answer.results
    assert str(found["user"]["id"]) == user.id and found["user"]["email"] == "bob@example.com"
    assert py_date(found["user"]["emailVerified"]) == VERIFIED
    assert found["session"]["sessionToken"] == session.session_token
    assert py_date(found["session"]["expires"]) == EXPIRES
    assert str(by_account["id"]) == user.id
    assert used["token"] == _hashed(raw) and py_date(used["expires"]) == EXPIRES
    assert got["name"] == "Bob"
    assert EXPIRES - datetime.now(UTC) > timedelta(days=1)  # the fixed instant is in the future
