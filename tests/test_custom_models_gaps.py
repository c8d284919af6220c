"""A custom model with a datetime column, on every SQL backend (mutation-report.md, gap 17).

The shipped example only adds a text column; here the example's queries are rewritten for a
``seen_at`` timestamp, so a datetime extra field must reach the database, through both
``create_user`` and ``update_user``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import asyncauth
from tests._backends import Backend

pytestmark = pytest.mark.anyio
UTC = timezone.utc
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_models"
# The type each dialect's bundled schema gives users.email_verified.
TIME_COLUMN = {
    "sqlite": "ALTER TABLE users ADD COLUMN seen_at datetime;",
    "postgres": "ALTER TABLE users ADD COLUMN IF NOT EXISTS seen_at TIMESTAMPTZ;",
    "mysql": "ALTER TABLE users ADD COLUMN seen_at TIMESTAMP(6) NULL;",
}


@pytest.fixture
async def seen_at_url(
    backend: Backend, db_url: str, tmp_path: Path, anyio_backend: str
) -> AsyncIterator[tuple[str, Path]]:
    del db_url  # only so that an unreachable server is reported once per session
    dialect = backend.name.removeprefix("odbc-")
    if dialect not in TIME_COLUMN:
        pytest.skip(f"no custom SQL for {backend.name}")
    queries = tmp_path / "queries" / dialect
    migrations = tmp_path / "migrations" / dialect
    queries.mkdir(parents=True)
    migrations.mkdir(parents=True)
    text = (EXAMPLE / "queries" / dialect / "users.sql").read_text(encoding="utf-8")
    # The example casts its text parameter (PostgreSQL needs a type in a CASE): cast ours.
    text = text.replace(":phone::varchar", ":phone::timestamptz").replace("phone", "seen_at")
    (queries / "users.sql").write_text(text, encoding="utf-8")
    (migrations / "1001_users_seen_at.sql").write_text(TIME_COLUMN[dialect], encoding="utf-8")
    async with backend.provision() as url:
        yield url, tmp_path


def as_instant(auth: Any, value: object) -> datetime:
    # User.extra holds the driver's own form (docs/custom-models.md): decode it as the
    # adapter decodes its standard columns.
    assert value is not None, "the datetime extra field was not stored"
    decoded: datetime = auth.dialect.time_out(value)
    return decoded


async def test_a_datetime_extra_field_is_stored_by_create_and_update(
    seen_at_url: tuple[str, Path],
) -> None:
    url, folder = seen_at_url
    first = datetime(2026, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)
    later = first + timedelta(days=1, milliseconds=1)
    async with asyncauth.connect(url, sql_folders=[folder], bootstrap=True) as auth:
        user = await auth.create_user(email=f"{uuid.uuid4().hex}@example.com", seen_at=first)
        assert user.extra is not None
        assert as_instant(auth, user.extra["seen_at"]) == first
        read = await auth.get_user(user.id)
        assert read is not None and read.extra is not None
        assert as_instant(auth, read.extra["seen_at"]) == first

        updated = await auth.update_user(user.id, seen_at=later)
        assert updated.extra is not None
        assert as_instant(auth, updated.extra["seen_at"]) == later
        read = await auth.get_user(user.id)
        assert read is not None and read.extra is not None
        assert as_instant(auth, read.extra["seen_at"]) == later
