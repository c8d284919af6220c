"""SQLite compares expiry as an instant, whatever ISO-8601 form another client wrote.

asyncauth writes 'YYYY-MM-DD HH:MM:SS.SSS' (UTC), which compares correctly as text; a row
written as '...T...Z' or with an offset ('+02:00') does not: compared as text, it was served
after it expired and never purged.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import asyncauth
from asyncauth.nextauth_v3 import NextAuthV3

pytestmark = [pytest.mark.sqlite, pytest.mark.anyio]

UTC = timezone.utc


def _forms(instant: datetime) -> list[str]:
    """The same instant written the ways other clients write it."""
    local = instant.astimezone(timezone(timedelta(hours=2)))
    west = instant.astimezone(timezone(-timedelta(hours=5, minutes=30)))
    return [
        instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z",
        instant.strftime("%Y-%m-%dT%H:%M:%SZ"),
        instant.strftime("%Y-%m-%d %H:%M:%S"),
        local.isoformat(timespec="milliseconds"),  # 2026-12-01T12:00:00.000+02:00
        local.strftime("%Y-%m-%d %H:%M:%S+02:00"),
        west.isoformat(timespec="seconds"),
        # The extreme offsets: the purge's date bound must let both through.
        instant.astimezone(timezone(timedelta(hours=14))).isoformat(timespec="milliseconds"),
        instant.astimezone(timezone(-timedelta(hours=12))).isoformat(timespec="milliseconds"),
    ]


@pytest.fixture
async def setup(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "expiry.db"
    url = f"sqlite:///{path}"
    await asyncauth.bootstrap(url)
    return url, path


def _write(path: Path, sql: str, rows: list[tuple[object, ...]]) -> None:
    db = sqlite3.connect(path)
    with db:
        db.executemany(sql, rows)
    db.close()


def _session_rows(user_id: int, stamps: list[str], prefix: str) -> list[tuple[object, ...]]:
    return [(user_id, stamp, f"{prefix}{i}", f"a-{prefix}{i}") for i, stamp in enumerate(stamps)]


SESSION_SQL = (
    "INSERT INTO sessions (user_id, expires, session_token, access_token) VALUES (?, ?, ?, ?)"
)
TOKEN_SQL = "INSERT INTO verification_requests (identifier, token, expires) VALUES (?, ?, ?)"


async def test_sessions_in_every_form_expire_and_purge_as_instants(
    setup: tuple[str, Path],
) -> None:
    url, path = setup
    now = datetime.now(UTC).replace(microsecond=0)
    # An hour ago and an hour ahead: in the '+02:00' forms the expired ones read as text
    # later than now, and in the '-05:30' forms the live ones read as earlier.
    past, future = _forms(now - timedelta(hours=1)), _forms(now + timedelta(hours=1))
    async with await asyncauth.connect(url) as auth:
        user = await auth.create_user(email="forms@example.com")
        _write(path, SESSION_SQL, _session_rows(int(user.id), past, "past"))
        _write(path, SESSION_SQL, _session_rows(int(user.id), future, "live"))
        for i, stamp in enumerate(past):
            assert await auth.get_session_and_user(f"past{i}") is None, stamp
        for i, stamp in enumerate(future):
            found = await auth.get_session_and_user(f"live{i}")
            assert found is not None, stamp
            assert found[0].expires == now + timedelta(hours=1), stamp
        result = await auth.purge_expired(batch_size=2)
        assert result.sessions == len(past)
        left = sqlite3.connect(path).execute("SELECT session_token FROM sessions").fetchall()
        assert sorted(t for (t,) in left) == sorted(f"live{i}" for i in range(len(future)))


async def test_verification_tokens_in_every_form(setup: tuple[str, Path]) -> None:
    url, path = setup
    now = datetime.now(UTC).replace(microsecond=0)
    past, future = _forms(now - timedelta(hours=1)), _forms(now + timedelta(hours=1))
    rows = [("e@example.com", f"past{i}", s) for i, s in enumerate(past)]
    rows += [("e@example.com", f"live{i}", s) for i, s in enumerate(future)]
    _write(path, TOKEN_SQL, rows)
    async with await asyncauth.connect(url) as auth:
        # use_verification_token returns a token even when expired, with its true expiry.
        used = await auth.use_verification_token("e@example.com", "past3")
        assert used is not None and used.expires == now - timedelta(hours=1)
        used = await auth.use_verification_token("e@example.com", "live3")
        assert used is not None and used.expires == now + timedelta(hours=1)
        result = await auth.purge_expired(batch_size=2)
        assert result.verification_tokens == len(past) - 1
    left = sqlite3.connect(path).execute("SELECT token FROM verification_requests").fetchall()
    assert sorted(t for (t,) in left) == sorted(f"live{i}" for i in range(len(future)) if i != 3)


async def test_nextauth_v3_paths_read_every_form(setup: tuple[str, Path]) -> None:
    url, path = setup
    now = datetime.now(UTC).replace(microsecond=0)
    async with await asyncauth.connect(url) as auth:
        v3 = NextAuthV3(auth, secret="s")
        user = await auth.create_user(email="v3@example.com")
        past = _forms(now - timedelta(hours=1))
        _write(path, SESSION_SQL, _session_rows(int(user.id), past, "v3past"))
        for i, stamp in enumerate(past):
            assert await v3.get_session(f"v3past{i}") is None, stamp
        assert sqlite3.connect(path).execute("SELECT count(*) FROM sessions").fetchone() == (0,)


async def test_the_session_read_is_one_indexed_lookup(setup: tuple[str, Path]) -> None:
    url, path = setup
    async with await asyncauth.connect(url) as auth:
        sql = auth.queries["get_session_and_user"].single
        assert sql is not None
    db = sqlite3.connect(path)
    plan = db.execute("EXPLAIN QUERY PLAN " + sql.sql, ("t", "2026-01-01 00:00:00.000")).fetchall()
    details = [row[-1] for row in plan]
    assert any("USING INDEX" in d and "session_token" in d for d in details), details
    assert not any(d.startswith("SCAN") for d in details), details
    db.close()


@pytest.mark.parametrize("name", ["purge_sessions", "purge_verification_tokens"])
async def test_a_purge_batch_walks_the_expires_index(setup: tuple[str, Path], name: str) -> None:
    url, path = setup
    async with await asyncauth.connect(url) as auth:
        sql = auth.queries[name].single
        assert sql is not None
    db = sqlite3.connect(path)
    args = sql.bind({"now": "2026-01-01 00:00:00.000", "batch_size": 10})
    plan = db.execute("EXPLAIN QUERY PLAN " + sql.sql, args).fetchall()
    details = [row[-1] for row in plan]
    # The inner SELECT is a range over the expires index, not a scan of the whole table.
    assert any(d.startswith("SEARCH") and "INDEX" in d and "expires<" in d for d in details), (
        details
    )
    assert not any(d.startswith("SCAN") and "INDEX" not in d for d in details), details
    db.close()
