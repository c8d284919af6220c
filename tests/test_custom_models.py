"""Custom models: the shipped ``phone`` example on every SQL backend, end to end.

Each test bootstraps a database of its own with ``examples/custom_models`` (migration 1001 adds
``users.phone``; overridden queries bind and select it) and checks what comes back on ``User``
and what is stored, read directly.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import asyncauth
from asyncauth import Account, ConfigurationError, User, ValidationError
from tests._backends import Backend

pytestmark = pytest.mark.anyio
UTC = timezone.utc
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_models"


def dialect_of(backend: Backend) -> str:
    return backend.name.removeprefix("odbc-")


@pytest.fixture
async def custom_url(backend: Backend, db_url: str, anyio_backend: str) -> AsyncIterator[str]:
    del db_url  # only so that an unreachable server is reported once per session
    if not (EXAMPLE / "queries" / dialect_of(backend)).is_dir():
        pytest.skip(f"examples/custom_models has no SQL for {dialect_of(backend)}")
    async with backend.provision() as url:
        yield url


def email() -> str:
    return f"{uuid.uuid4().hex}@example.com"


async def test_phone_round_trips_through_every_user_method(
    backend: Backend, custom_url: str
) -> None:
    async with asyncauth.connect(custom_url, sql_folders=[EXAMPLE]) as auth:
        assert await auth.bootstrap() == [1, 2, 1001]
        assert await auth.bootstrap() == []
        user = await auth.create_user(email=email(), name="Ada", phone="+44 20 7946 0000")
        assert user.extra == {"phone": "+44 20 7946 0000"}
        assert await auth.get_user(user.id) == user
        assert await auth.get_user_by_email(user.email) == user

        github_id = uuid.uuid4().hex
        await auth.link_account(Account(user.id, "oauth", "github", github_id))
        assert await auth.get_user_by_account("github", github_id) == user

        session = await auth.create_session(user.id, datetime.now(UTC) + timedelta(days=1))
        found = await auth.get_session_and_user(session.session_token)
        assert found is not None and found[1] == user

        # Partial: phone alone, then name alone keeps the phone.
        moved = await auth.update_user(user.id, phone="+1 555 0100")
        assert moved == User(user.id, "Ada", user.email, None, None, {"phone": "+1 555 0100"})
        renamed = await auth.update_user(user.id, name="Ada L.")
        assert renamed.extra == {"phone": "+1 555 0100"} and renamed.name == "Ada L."
        cleared = await auth.update_user(user.id, phone=None)
        assert cleared.extra == {"phone": None}

        async with backend.raw(custom_url) as raw:
            row = await raw.one("users", id=user.id)
            assert row is not None and row["phone"] is None and row["name"] == "Ada L."

        deleted = await auth.delete_user(user.id)
        assert deleted == cleared
        assert await auth.get_user(user.id) is None


async def test_unknown_and_undeclared_fields_are_refused(custom_url: str) -> None:
    async with asyncauth.connect(custom_url, sql_folders=[EXAMPLE], bootstrap=True) as auth:
        with pytest.raises(ValidationError, match="fax"):
            await auth.create_user(email=email(), fax="1")
        user = await auth.create_user(email=email())
        assert user.extra == {"phone": None}
        with pytest.raises(ValidationError, match="fax"):
            await auth.update_user(user.id, fax="1")
        with pytest.raises(ValidationError, match="phone"):
            await auth.update_user(user.id, phone=b"bytes")
        with pytest.raises(ValidationError, match="phone"):
            await auth.update_user(user.id, phone="a\x00b")
    # Without the custom folder the same database serves the plain model: no phone, no extra.
    async with asyncauth.connect(custom_url) as plain:
        again = await plain.get_user(user.id)
        assert again == User(user.id, email=user.email) and again.extra is None
        with pytest.raises(ValidationError, match="phone: is not a user field"):
            await plain.create_user(email=email(), phone="+1")
        assert (await plain.check()).ok


async def test_custom_migration_is_checked_like_bundled_ones(
    custom_url: str, tmp_path: Path
) -> None:
    async with asyncauth.connect(custom_url, sql_folders=[EXAMPLE], bootstrap=True) as auth:
        report = await auth.check()
        assert report.ok and report.applied == [1, 2, 1001]
    # The same migration edited after it was applied: bootstrap refuses, check reports it.
    edited = tmp_path / "edited"
    for dialect in ("sqlite", "postgres", "mysql"):
        (edited / "migrations" / dialect).mkdir(parents=True)
        original = (EXAMPLE / "migrations" / dialect / "1001_users_phone.sql").read_text()
        (edited / "migrations" / dialect / "1001_users_phone.sql").write_text(
            original + "\n-- edited\n"
        )
    async with asyncauth.connect(custom_url, sql_folders=[edited]) as auth:
        report = await auth.check()
        assert not report.ok
        assert report.differences == ["migration 1001 (users_phone) applied with another checksum"]
        with pytest.raises(asyncauth.SchemaError, match="migration 1001"):
            await auth.bootstrap()


async def test_plain_adapter_keeps_the_plain_row_helper(db_url: str, custom_url: str) -> None:
    # The hot path must not look for extra columns when no custom SQL is loaded.
    async with asyncauth.connect(db_url) as auth:
        assert auth._to_user == auth._user
    async with asyncauth.connect(custom_url, sql_folders=[EXAMPLE]) as auth:
        assert auth._to_user == auth._user_with_extra


def test_a_folder_without_the_dialect_is_refused(tmp_path: Path) -> None:
    (tmp_path / "migrations" / "postgres").mkdir(parents=True)
    with pytest.raises(ConfigurationError, match="not for sqlite"):
        asyncauth.connect("sqlite:///:memory:", sql_folders=[tmp_path])
