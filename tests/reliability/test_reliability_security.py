"""Security: hashed session tokens, no secret in a repr, a log record or an error, and a purge
that deletes in bounded batches while reads go on.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import anyio
import pytest

import asyncauth
from asyncauth import AsyncAuthError, ConfigurationError, DuplicateError
from tests._backends import Backend, unavailable
from tests._raw import Raw
from tests.conformance._support import (
    account_for,
    authenticator_for,
    sha256_hex,
    unique,
    unique_email,
)
from tests.reliability._servers import NATIVE_SCHEME, THROWAWAY, server_backends
from tests.reliability._tally import tally_of

if TYPE_CHECKING:
    from asyncauth import Adapter
else:
    Adapter = Any

pytestmark = [pytest.mark.anyio]

UTC = timezone.utc


def _in_future(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**(delta or {"hours": 1}))


def _leaks(text: str, secrets: list[str]) -> list[str]:
    """The secrets of which ``text`` shows 8 characters in a row or more (a 4-char mask is ok)."""
    found = []
    for secret in secrets:
        if any(secret[i : i + 8] in text for i in range(len(secret) - 7)):
            found.append(secret)
    return found


def _full_text(exc: BaseException) -> str:
    """Everything a logged traceback of ``exc`` would print, causes included."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


# -- hashed session tokens ------------------------------------------------------------------------


async def test_a_leaked_dump_of_hashed_sessions_cannot_be_replayed(
    db_url: str, raw: Raw, tally: Counter[str]
) -> None:
    async with asyncauth.connect(db_url, hash_session_tokens=True) as auth:
        user = await auth.create_user(email=unique_email())
        sessions = [await auth.create_session(user.id, _in_future(days=1)) for _ in range(5)]
        sessions.append(await auth.create_session(user.id, _in_future(days=1), unique("mine-")))
        dump = await raw.rows("sessions", user_id=user.id)
        assert len(dump) == len(sessions)
        stored = {row["session_token"] for row in dump}
        assert stored == {sha256_hex(s.session_token) for s in sessions}
        for leaked in stored:
            # Whatever the attacker does with a stored value, it is not a session token.
            assert await auth.get_session_and_user(leaked) is None
            assert await auth.update_session(leaked, expires=_in_future(days=9)) is None
            assert await auth.delete_session(leaked) is None
            tally["hashed tokens: replays of a leaked value refused"] += 3
        # The rows are untouched by the replays, and the real tokens still work.
        assert await raw.rows("sessions", user_id=user.id) == dump
        for session in sessions:
            assert await auth.get_session_and_user(session.session_token) == (session, user)
    # Off by default, as NextAuth stores tokens raw (a Next.js app must find them).
    async with asyncauth.connect(db_url) as plain:
        session = await plain.create_session(user.id, _in_future())
        assert await raw.count("sessions", session_token=session.session_token) == 1


# -- no secret in a repr, a log record or an error ------------------------------------------------


async def test_no_secret_in_reprs_logs_or_errors(
    backend: Backend, fresh_db_url: str, caplog: pytest.LogCaptureFixture, tally: Counter[str]
) -> None:
    # Random text only: a secret must not share 8 characters with a field name.
    names = ("session", "verify", "access", "refresh", "id_token")
    secrets = {name: unique() + unique() for name in names}
    values = list(secrets.values())
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    errors: list[BaseException] = []

    async def expect_error(call: Callable[[], Awaitable[object]]) -> None:
        try:
            await call()
        except AsyncAuthError as exc:
            errors.append(exc)
        else:
            raise AssertionError("the call was expected to fail")

    async with asyncauth.connect(fresh_db_url, bootstrap=True) as auth:
        user = await auth.create_user(email=unique_email())
        session = await auth.create_session(user.id, _in_future(), secrets["session"])
        account = account_for(
            user.id,
            access_token=secrets["access"],
            refresh_token=secrets["refresh"],
            id_token=secrets["id_token"],
        )
        linked = await auth.link_account(account)
        vt = await auth.create_verification_token("a@b.c", secrets["verify"], _in_future())
        authenticator = await auth.create_authenticator(authenticator_for(user.id))
        found = await auth.get_session_and_user(secrets["session"])
        used = await auth.use_verification_token("a@b.c", secrets["verify"])
        shown += [repr(x) for x in (auth, session, linked, vt, authenticator, found, used)]
        shown += [str(x) for x in (session, linked, vt, found, used)]
        # Errors whose natural message would quote the value: unique keys on the secrets.
        await expect_error(lambda: auth.create_session(user.id, _in_future(), secrets["session"]))
        await auth.create_verification_token("a@b.c", secrets["verify"], _in_future())
        await expect_error(
            lambda: auth.create_verification_token("x@y.z", secrets["verify"], _in_future())
        )
        await expect_error(lambda: auth.link_account(account))
        # Refused input: the message names the field, never the value.
        await expect_error(
            lambda: auth.create_session(user.id, _in_future(), secrets["session"] * 9)
        )
        await expect_error(lambda: auth.update_session(secrets["session"], expires=datetime.now()))
    assert any(isinstance(e, DuplicateError) for e in errors)
    shown += [_full_text(e) for e in errors]

    for text in shown:
        assert _leaks(text, values) == [], text
    # Every record, formatted as a handler would, with any traceback it carries.
    asyncauth_records = 0
    for record in caplog.records:
        text = logging.Formatter().format(record)
        assert _leaks(text, values) == [], text
        asyncauth_records += record.name.startswith("asyncauth")
    # The library does log (bootstrap, errors): this test checks real records.
    assert asyncauth_records > 0
    tally["secrets: texts checked (reprs, errors, tracebacks)"] += len(shown)
    tally["secrets: log records checked"] += len(caplog.records)
    del backend


@pytest.mark.parametrize("server_backend", server_backends())
async def test_a_password_in_the_url_never_shows_in_errors(
    server_backend: Backend, caplog: pytest.LogCaptureFixture, anyio_backend: str
) -> None:
    del anyio_backend
    async with server_backend.provision():
        pass  # the backend's own rule first: its driver is there, its server configured
    if server_backend.name not in THROWAWAY:
        unavailable(f"no URL builder for {server_backend.name} in tests/reliability/_servers")
    start, url_for = THROWAWAY[server_backend.name]
    scheme = NATIVE_SCHEME[start]
    password = "S3cr3t-" + unique()
    caplog.set_level(logging.DEBUG)
    urls = [url_for(f"{scheme}://user:{password}@127.0.0.1:1/db")]  # nobody listens there
    if url_for("x://") == "x://":  # a plain URL backend: malformed ones too
        urls += [
            f"{scheme}://user:{password}@127.0.0.1:notaport/db",
            f"{scheme}://user:{password}@[::1/db",
        ]
    for url in urls:
        # Connect, then one call: a SQL backend fails in connect, MongoDB's connects lazily
        # and fails in the call; either way the error must not show the password.
        with pytest.raises(AsyncAuthError) as caught:
            async with asyncauth.connect(url, timeout=2) as auth:
                await auth.get_user_by_email("nobody@example.com")
        assert isinstance(caught.value, ConfigurationError | asyncauth.BackendError)
        text = _full_text(caught.value)
        assert password not in text, text
        tally_of(server_backend.name)["secrets: bad URLs with a password"] += 1
    adapter = asyncauth.connect(urls[0])
    assert password not in repr(adapter)
    for record in caplog.records:
        assert password not in logging.Formatter().format(record)


# -- purge in bounded batches while reads go on ---------------------------------------------------

PURGE_ROWS = 100_000
PURGE_TOKENS = 10_000
BATCH = 1_000


async def _bulk_sqlite(raw: Raw, user_id: str, tag: str, sessions: int, tokens: int) -> None:
    past = "2020-01-01 00:00:00.000"
    await raw.execute(
        "INSERT INTO sessions (user_id, expires, session_token, access_token, created_at, "
        "updated_at) WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
        "SELECT ?, ?, 'purge-' || ? || i, 'access-' || ? || i, ?, ? FROM c",
        sessions,
        int(user_id),
        past,
        tag,
        tag,
        past,
        past,
    )
    await raw.execute(
        "INSERT INTO verification_requests (identifier, token, expires, created_at, updated_at) "
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
        "SELECT 'purge@example.com', 'purge-' || ? || i, ?, ?, ? FROM c",
        tokens,
        tag,
        past,
        past,
        past,
    )


async def _bulk_postgres(raw: Raw, user_id: str, tag: str, sessions: int, tokens: int) -> None:
    await raw.execute(
        "INSERT INTO sessions (user_id, expires, session_token, access_token) "
        "SELECT $1, now() - interval '1 day' - i * interval '1 ms', 'purge-' || $2 || i, "
        "'access-' || $2 || i FROM generate_series(1, $3) AS i",
        int(user_id),
        tag,
        sessions,
    )
    await raw.execute(
        "INSERT INTO verification_requests (identifier, token, expires) "
        "SELECT 'purge@example.com', 'purge-' || $1 || i, now() - interval '1 day' "
        "FROM generate_series(1, $2) AS i",
        tag,
        tokens,
    )


async def _bulk_mysql(raw: Raw, user_id: str, tag: str, sessions: int, tokens: int) -> None:
    # Numbers 0..99999 from five joined digit tables: no recursive CTE, whose depth MySQL 8
    # caps at 1000 by default.
    digits = "(" + " UNION ALL ".join(f"SELECT {d} AS d" for d in range(10)) + ")"
    numbers = (
        f"SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d AS i FROM {digits} a "
        f"CROSS JOIN {digits} b CROSS JOIN {digits} c CROSS JOIN {digits} e "
        f"CROSS JOIN {digits} f"
    )
    past = "2020-01-01 00:00:00"
    await raw.execute(
        "INSERT INTO sessions (user_id, expires, session_token, access_token, created_at, "
        f"updated_at) SELECT %s, %s, CONCAT('purge-', %s, n.i), CONCAT('access-', %s, n.i), "
        f"%s, %s FROM ({numbers}) n WHERE n.i < %s",
        int(user_id),
        past,
        tag,
        tag,
        past,
        past,
        sessions,
    )
    await raw.execute(
        "INSERT INTO verification_requests (identifier, token, expires, created_at, updated_at) "
        f"SELECT 'purge@example.com', CONCAT('purge-', %s, n.i), %s, %s, %s FROM ({numbers}) n "
        "WHERE n.i < %s",
        tag,
        past,
        past,
        past,
        tokens,
    )


async def _bulk_mongo(raw: Raw, user_id: str, tag: str, sessions: int, tokens: int) -> None:
    from bson import ObjectId

    from tests._raw import MongoRaw

    assert isinstance(raw, MongoRaw)
    past = datetime(2020, 1, 1, tzinfo=UTC)
    user = ObjectId(user_id)
    step = 10_000  # documents per insert_many: a few MB per round trip
    for start in range(0, sessions, step):
        await raw.collection("sessions").insert_many(
            [
                {
                    "userId": user,
                    "expires": past,
                    "sessionToken": f"purge-{tag}{i}",
                    "accessToken": f"access-{tag}{i}",
                    "createdAt": past,
                    "updatedAt": past,
                }
                for i in range(start, min(start + step, sessions))
            ],
            ordered=False,
        )
    for start in range(0, tokens, step):
        await raw.collection("verification_requests").insert_many(
            [
                {
                    "identifier": "purge@example.com",
                    "token": f"purge-{tag}{i}",
                    "expires": past,
                    "createdAt": past,
                    "updatedAt": past,
                }
                for i in range(start, min(start + step, tokens))
            ],
            ordered=False,
        )


#: raw helper class -> insert expired sessions and verification tokens in bulk, natively (by
#: the raw helper, so a backend reached another way, e.g. over ODBC, uses its database's own)
BULK_EXPIRED = {
    "SqliteRaw": _bulk_sqlite,
    "PostgresRaw": _bulk_postgres,
    "MySQLRaw": _bulk_mysql,
    "MongoRaw": _bulk_mongo,
}


@pytest.mark.slow
async def test_purge_deletes_in_bounded_batches_while_reads_go_on(
    backend: Backend, fresh_db_url: str, fresh_raw: Raw, tally: Counter[str]
) -> None:
    bulk = BULK_EXPIRED.get(type(fresh_raw).__name__)
    if bulk is None:
        unavailable(f"no bulk insert of expired rows for {type(fresh_raw).__name__} (BULK_EXPIRED)")
    async with asyncauth.connect(fresh_db_url, timeout=30) as auth:
        user = await auth.create_user(email=unique_email())
        live = [await auth.create_session(user.id, _in_future(days=1)) for _ in range(20)]
        await bulk(fresh_raw, user.id, unique(), PURGE_ROWS, PURGE_TOKENS)
        assert await fresh_raw.count("sessions") == PURGE_ROWS + len(live)

        purging = True
        latencies: list[float] = []
        wrong: list[object] = []
        observed: list[int] = []

        async def reader(index: int) -> None:
            n = 0
            while purging:
                session = live[(index + n) % len(live)]
                n += 1
                started = time.perf_counter()
                got = await auth.get_session_and_user(session.session_token)
                latencies.append(time.perf_counter() - started)
                if got != (session, user):
                    wrong.append(got)

        async def watcher() -> None:
            while purging:
                observed.append(await fresh_raw.count("sessions"))
                await anyio.sleep(0.005)

        async def purge() -> Any:
            nonlocal purging
            try:
                return await auth.purge_expired(batch_size=BATCH)
            finally:
                purging = False

        result: list[Any] = []
        started = time.perf_counter()
        with anyio.fail_after(90):  # inside pytest's own 120 s
            async with anyio.create_task_group() as group:
                for i in range(8):
                    group.start_soon(reader, i)
                group.start_soon(watcher)
                result.append(await purge())
        elapsed = time.perf_counter() - started

        assert result[0].sessions == PURGE_ROWS
        assert result[0].verification_tokens == PURGE_TOKENS
        assert wrong == []
        assert await fresh_raw.count("sessions") == len(live)
        # Reads went on throughout, none stuck behind the purge.
        assert len(latencies) > 100, len(latencies)
        assert max(latencies) < 1.0, max(latencies)
        # Each commit removed one bounded batch: every count seen from outside is the
        # starting count minus whole batches (the last batch of sessions excepted).
        between = sorted({c for c in observed if len(live) < c < PURGE_ROWS + len(live)})
        assert len(between) >= 5, f"only {len(between)} intermediate counts seen: one big delete?"
        assert all((PURGE_ROWS + len(live) - c) % BATCH == 0 for c in between), between[:10]
    tally["purge: expired rows purged"] += PURGE_ROWS + PURGE_TOKENS
    tally["purge: reads during purge"] += len(latencies)
    tally["purge: max read latency ms"] = max(
        tally["purge: max read latency ms"], int(max(latencies) * 1000)
    )
    tally["purge: seconds"] = int(elapsed)
