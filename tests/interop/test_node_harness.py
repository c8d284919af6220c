"""The Node interop harness runs every official Auth.js adapter against a real server.

Each combination gets a database of its own (PostgreSQL, MariaDB, a SQLite file or the
session's SecantusDB, made as tests/_backends.py makes them), the layout's upstream DDL from
tests/interop/ddl, and then one harness run through the real npm adapter: createUser,
linkAccount, createSession, getSessionAndUser, getUserByAccount, createVerificationToken and
useVerificationToken (twice: the second finds nothing). The values that come back are checked,
so a later interop test can trust what the harness reports.

Install the harness with ``bash scripts/interop-install``; without it these tests skip, and
fail when ``CI=true``.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timezone
from typing import Any

import pytest

from tests._backends import mysql_database, postgres_database, secantus_database, sqlite_database
from tests.interop._harness import (
    COMBINATIONS,
    js_date,
    py_date,
    require_harness,
    run_harness,
)

pytestmark = [pytest.mark.anyio, pytest.mark.interop]

PROVISION: dict[str, Callable[[], AbstractAsyncContextManager[str]]] = {
    "postgres": postgres_database,
    "mysql": mysql_database,
    "sqlite": sqlite_database,
    "mongodb": secantus_database,
}

# drizzle's MySQL layout declares session.expires and verificationToken.expires as `timestamp`
# with no fractional seconds; MariaDB truncates the milliseconds (authjs-layouts.md §3.2).
WHOLE_SECOND_EXPIRES = {("drizzle", "mysql")}

# How each adapter makes user ids (authjs-layouts.md §1): it never keeps core's UUID.
USER_ID = {
    "prisma": re.compile(r"^c[a-z0-9]{24}$"),  # cuid, made by Prisma Client
    "drizzle": re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$"),
    "kysely": re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$"),
    "pg": re.compile(r"^[0-9]+$"),  # SERIAL
    "mongodb": re.compile(r"^[0-9a-f]{24}$"),  # ObjectId hex
}

SECRET = "interop-secret"
EMAIL_VERIFIED = datetime(2021, 2, 3, 4, 5, 6, 789000, tzinfo=timezone.utc)
EXPIRES = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)


@pytest.fixture
async def database(request: pytest.FixtureRequest, anyio_backend: str) -> AsyncIterator[str]:
    """A fresh, empty database of the dialect the test's combination names."""
    require_harness()  # before making a database the test could not use
    dialect: str = request.param
    async with PROVISION[dialect]() as url:
        yield url


def _calls(core_user_id: str, raw_token: str, session_token: str) -> list[dict[str, Any]]:
    # What Auth.js core hands the adapter in an OAuth sign-in, a database session and an
    # e-mail sign-in (authjs-layouts.md §2): core's own user id, which every adapter replaces,
    # and the verification token hashed with the secret.
    hashed = hashlib.sha256(f"{raw_token}{SECRET}".encode()).hexdigest()
    return [
        {
            "method": "createUser",
            "args": [
                {
                    "id": core_user_id,
                    "name": "Ada Lovelace",
                    "email": "ada@example.com",
                    "emailVerified": js_date(EMAIL_VERIFIED),
                    "image": "https://example.com/ada.png",
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
                    "sessionToken": session_token,
                    "userId": {"$ref": "0.id"},
                    "expires": js_date(EXPIRES),
                }
            ],
        },
        {"method": "getSessionAndUser", "args": [session_token]},
        {"method": "getSessionAndUser", "args": ["no-such-session"]},
        {
            "method": "getUserByAccount",
            "args": [{"provider": "github", "providerAccountId": "1234"}],
        },
        {
            "method": "createVerificationToken",
            "args": [
                {"identifier": "ada@example.com", "token": hashed, "expires": js_date(EXPIRES)}
            ],
        },
        {
            "method": "useVerificationToken",
            "args": [{"identifier": "ada@example.com", "token": hashed}],
        },
        {
            "method": "useVerificationToken",
            "args": [{"identifier": "ada@example.com", "token": hashed}],
        },
    ]


def _scenario(adapter: str, dialect: str, ddl: str | None = None) -> Any:
    # The dialect's backend marker too, so `-m "interop and mysql"` picks one server's runs.
    marks = [getattr(pytest.mark, dialect)]
    return pytest.param(
        adapter, dialect, ddl, dialect, id=ddl or f"{adapter}-{dialect}", marks=marks
    )


SCENARIOS = [_scenario(adapter, dialect) for adapter, dialect in COMBINATIONS] + [
    # The drizzle docs' PostgreSQL schema.ts loses the account and verificationToken primary
    # keys (authjs-layouts.md §3.2); the adapter's default tables run on it all the same.
    _scenario("drizzle", "postgres", "drizzle-docs-postgres"),
]


@pytest.mark.parametrize(
    ("adapter", "dialect", "ddl", "database"), SCENARIOS, indirect=["database"]
)
async def test_adapter_round_trip(
    adapter: str, dialect: str, ddl: str | None, database: str
) -> None:
    core_user_id = str(uuid.uuid4())
    raw_token = uuid.uuid4().hex * 2
    session_token = str(uuid.uuid4())
    answer = await run_harness(
        {
            "adapter": adapter,
            "dialect": dialect,
            "url": database,
            "schema": ddl or True,
            "calls": _calls(core_user_id, raw_token, session_token),
        }
    )
    assert answer.status == 0 and answer.ok, f"{answer.error}\n{answer.stderr[-3000:]}"
    (
        user,
        _account,
        session,
        found,
        missing,
        by_account,
        token,
        used,
        used_again,
    ) = answer.results

    # createUser: the adapter's own id, the fields as given, emailVerified to the millisecond.
    user_id = str(user["id"])
    assert user_id != core_user_id
    assert USER_ID[adapter].match(user_id), user_id
    assert (user["name"], user["email"], user["image"]) == (
        "Ada Lovelace",
        "ada@example.com",
        "https://example.com/ada.png",
    )
    assert py_date(user["emailVerified"]) == EMAIL_VERIFIED

    expires = (
        EXPIRES.replace(microsecond=0) if (adapter, dialect) in WHOLE_SECOND_EXPIRES else EXPIRES
    )

    # createSession returns the session; getSessionAndUser finds it with its user.
    assert session["sessionToken"] == session_token
    assert str(session["userId"]) == user_id
    assert py_date(session["expires"]) == expires
    assert found["session"]["sessionToken"] == session_token
    assert str(found["session"]["userId"]) == user_id
    assert py_date(found["session"]["expires"]) == expires
    assert str(found["user"]["id"]) == user_id
    assert found["user"]["email"] == "ada@example.com"
    assert py_date(found["user"]["emailVerified"]) == EMAIL_VERIFIED
    assert missing is None

    # linkAccount stored the account: getUserByAccount finds the user by it.
    assert by_account is not None and str(by_account["id"]) == user_id

    # The verification token comes back once, with its expiry, then never again.
    hashed = hashlib.sha256(f"{raw_token}{SECRET}".encode()).hexdigest()
    assert token["token"] == hashed
    assert (used["identifier"], used["token"]) == ("ada@example.com", hashed)
    assert py_date(used["expires"]) == expires
    assert used_again is None


async def test_harness_reports_a_bad_request() -> None:
    # Needs no database: the request is refused before anything connects.
    require_harness()
    unknown = await run_harness({"adapter": "typeorm", "dialect": "postgres", "calls": []})
    assert (unknown.status, unknown.ok) == (2, False)
    assert "unknown adapter" in str(unknown.error)
    wrong_dialect = await run_harness({"adapter": "pg", "dialect": "mysql", "calls": []})
    assert (wrong_dialect.status, wrong_dialect.ok) == (2, False)
    assert "runs on postgres" in str(wrong_dialect.error)


@pytest.mark.sqlite
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_harness_reports_which_call_failed(database: str) -> None:
    # A duplicate e-mail violates kysely's UNIQUE(email): call 1 fails, call 0's result stays.
    user = {"method": "createUser", "args": [{"email": "dup@example.com", "emailVerified": None}]}
    answer = await run_harness(
        {
            "adapter": "kysely",
            "dialect": "sqlite",
            "url": database,
            "schema": True,
            "calls": [user, user, {"method": "getUser", "args": ["x"]}],
        }
    )
    assert (answer.status, answer.ok) == (1, False)
    assert len(answer.results) == 1 and answer.results[0]["email"] == "dup@example.com"
    assert answer.error is not None
    assert (answer.error["call"], answer.error["method"]) == (1, "createUser")
    assert "UNIQUE" in answer.error["message"]
