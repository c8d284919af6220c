"""What only the MongoDB backend has: the NextAuth v3 document layout, ObjectIds, the index
bootstrap and check, TTL indexes, transactions and the fallback without them, client
hand-over (PyMongo and motor), and error translation.

They run on the session's SecantusDB (a separate process; see tests/_backends.py) and, when
``ASYNCAUTH_MONGODB_URL`` is set, on that server too.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import logging
import os
import pydoc
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo import errors as pe

import asyncauth
from asyncauth import (
    Account,
    AsyncAuthError,
    BackendError,
    ConfigurationError,
    DuplicateError,
    SchemaError,
    Session,
    User,
    VerificationToken,
)
from asyncauth import _mongo_indexes as mongo_indexes
from asyncauth._base import compound_id
from asyncauth._mongo import MIGRATIONS, MongoAdapter, map_error
from asyncauth._mongo_gate import Gate
from asyncauth._protocol import Adapter
from tests._backends import (
    SecantusServer,
    mongo_database_on,
    secantus_url,
)
from tests._raw import MongoRaw
from tests.conformance._support import (
    USER_TABLES,
    account_for,
    authenticator_for,
    in_future,
    in_past,
    make_user,
    ms,
    unique,
    unique_email,
)

pytestmark = [pytest.mark.anyio, pytest.mark.mongodb]

UTC = timezone.utc
ROOT = Path(__file__).resolve().parent.parent
SERVERS = ["secantus"] + (["real"] if os.environ.get("ASYNCAUTH_MONGODB_URL") else [])


@pytest.fixture(params=SERVERS)
async def mongo_url(request: pytest.FixtureRequest, anyio_backend: str) -> AsyncIterator[str]:
    """A fresh, empty database (not bootstrapped) on each MongoDB server of the run."""
    server = secantus_url() if request.param == "secantus" else os.environ["ASYNCAUTH_MONGODB_URL"]
    async with mongo_database_on(server) as url:
        yield url


@pytest.fixture
async def raw(mongo_url: str) -> AsyncIterator[MongoRaw]:
    helper = await MongoRaw.open(mongo_url)
    try:
        yield helper
    finally:
        await helper.aclose()


@pytest.fixture
async def auth(mongo_url: str) -> AsyncIterator[MongoAdapter]:
    async with asyncauth.connect(mongo_url, bootstrap=True) as adapter:
        assert isinstance(adapter, MongoAdapter)
        yield adapter


async def indexes(raw: MongoRaw, collection: str) -> dict[tuple[str, ...], dict[str, Any]]:
    info = await raw.db[collection].index_information()
    return {tuple(k for k, _ in spec["key"]): {**spec, "name": name} for name, spec in info.items()}


# -- the NextAuth v3 layout ----------------------------------------------------------------


async def _nextauth_v3_database(raw: MongoRaw) -> dict[str, Any]:
    """Documents and indexes as a NextAuth v3 app (TypeORM's MongoDB driver) leaves them:
    fields that were empty are absent, ids are ObjectIds, and the indexes carry TypeORM's
    own names."""
    db = raw.db
    stamp = datetime(2026, 12, 26, 16, 44, 5, 557000, tzinfo=UTC)
    user_id, bare_id = ObjectId(), ObjectId()
    await db.users.insert_many(
        [
            {
                "_id": user_id,
                "name": "Ada",
                "email": "ada@example.com",
                "emailVerified": stamp,
                "image": "https://example.com/ada.png",
                "createdAt": stamp,
                "updatedAt": stamp,
            },
            {"_id": bare_id, "createdAt": stamp, "updatedAt": stamp},
        ]
    )
    await db.accounts.insert_one(
        {
            "compoundId": compound_id("github", "4242"),
            "userId": user_id,
            "providerType": "oauth",
            "providerId": "github",
            "providerAccountId": "4242",
            "refreshToken": "r-token",
            "accessToken": "a-token",
            "accessTokenExpires": stamp,
            "createdAt": stamp,
            "updatedAt": stamp,
        }
    )
    session_token = "f" * 64
    await db.sessions.insert_one(
        {
            "userId": user_id,
            "expires": datetime.now(UTC) + timedelta(days=30),
            "sessionToken": session_token,
            "accessToken": "e" * 64,
            "createdAt": stamp,
            "updatedAt": stamp,
        }
    )
    await db.verificationRequests.insert_one(
        {
            "identifier": "ada@example.com",
            "token": "d" * 64,
            "expires": datetime.now(UTC) + timedelta(hours=1),
            "createdAt": stamp,
            "updatedAt": stamp,
        }
    )
    for collection, keys, options in MIGRATIONS[1][1]:
        await db[collection].create_index(
            [(k, 1) for k in keys], name=f"IDX_{unique()[:20]}", **options
        )
    return {
        "user_id": str(user_id),
        "bare_id": str(bare_id),
        "session_token": session_token,
        "stamp": stamp,
    }


async def test_a_nextauth_v3_database_is_adopted_and_read(mongo_url: str, raw: MongoRaw) -> None:
    seed = await _nextauth_v3_database(raw)

    async with asyncauth.connect(mongo_url) as auth:
        assert await auth.bootstrap() == [1, 2]
        assert (await auth.check()).ok
        ada = User(
            id=seed["user_id"],
            name="Ada",
            email="ada@example.com",
            email_verified=seed["stamp"],
            image="https://example.com/ada.png",
        )

        assert await auth.get_user(seed["user_id"]) == ada
        assert await auth.get_user(seed["bare_id"]) == User(id=seed["bare_id"])
        assert await auth.get_user_by_email("ada@example.com") == ada
        assert await auth.get_user_by_account("github", "4242") == ada
        assert await auth.get_account("4242", "github") == Account(
            user_id=seed["user_id"],
            type="oauth",
            provider="github",
            provider_account_id="4242",
            refresh_token="r-token",
            access_token="a-token",
            expires_at=int(seed["stamp"].timestamp()),
        )
        found = await auth.get_session_and_user(seed["session_token"])
        assert found is not None and found[1] == ada
        assert found[0].user_id == seed["user_id"] and found[0].expires.tzinfo is not None
        record = await auth._get_session_record(seed["session_token"])
        assert record is not None and record.access_token == "e" * 64
        used = await auth.use_verification_token("ada@example.com", "d" * 64)
        assert isinstance(used, VerificationToken)
        # The adopted indexes are used as they are: none was added a second time.
        assert len(await indexes(raw, "users")) == 2
        assert (await indexes(raw, "accounts"))[("compoundId",)]["name"].startswith("IDX_")


async def test_what_asyncauth_writes_has_the_nextauth_v3_layout(
    auth: MongoAdapter, raw: MongoRaw
) -> None:
    verified = in_past(days=1)
    user = await auth.create_user(email=unique_email(), name="Ada", email_verified=verified)
    bare = await auth.create_user()
    account = await auth.link_account(
        Account(
            user_id=user.id,
            type="oauth",
            provider="github",
            provider_account_id=unique(),
            access_token="a",
            expires_at=1_900_000_000,
        )
    )
    session = await auth.create_session(user.id, in_future(days=30))
    await auth.create_verification_token("ada@example.com", "t" * 64, in_future(hours=1))
    db = raw.db

    u = await db.users.find_one({"_id": ObjectId(user.id)})
    assert u is not None
    assert set(u) == {"_id", "name", "email", "emailVerified", "createdAt", "updatedAt"}
    assert u["emailVerified"] == ms(verified) and isinstance(u["createdAt"], datetime)
    # Empty fields are left out, as NextAuth v3 does (the sparse email index needs it).
    b = await db.users.find_one({"_id": ObjectId(bare.id)})
    assert b is not None and set(b) == {"_id", "createdAt", "updatedAt"}

    a = await db.accounts.find_one({"providerAccountId": account.provider_account_id})
    assert a is not None
    assert set(a) == {
        "_id", "compoundId", "userId", "providerType", "providerId", "providerAccountId",
        "accessToken", "accessTokenExpires", "createdAt", "updatedAt",
    }  # fmt: skip
    assert a["userId"] == ObjectId(user.id) and isinstance(a["_id"], ObjectId)
    assert a["compoundId"] == compound_id("github", account.provider_account_id)
    assert a["accessTokenExpires"] == datetime.fromtimestamp(1_900_000_000, UTC)

    s = await db.sessions.find_one({"sessionToken": session.session_token})
    assert s is not None
    assert set(s) == {
        "_id", "userId", "expires", "sessionToken", "accessToken", "createdAt", "updatedAt",
    }  # fmt: skip
    assert s["userId"] == ObjectId(user.id) and len(s["accessToken"]) == 64

    vt = await db.verificationRequests.find_one({"token": "t" * 64})
    assert vt is not None
    assert set(vt) == {"_id", "identifier", "token", "expires", "createdAt", "updatedAt"}

    # Clearing a field removes it, rather than storing null.
    await auth.update_user(user.id, email=None, email_verified=None)
    u = await db.users.find_one({"_id": ObjectId(user.id)})
    assert u is not None and "email" not in u and "emailVerified" not in u


async def test_authenticators_use_camel_case_fields(auth: MongoAdapter, raw: MongoRaw) -> None:
    user = await make_user(auth)
    authenticator = await auth.create_authenticator(authenticator_for(user.id, counter=2**32 - 1))

    doc = await raw.db.authenticators.find_one({"credentialId": authenticator.credential_id})

    assert doc is not None
    assert set(doc) == {
        "_id", "credentialId", "userId", "providerAccountId", "credentialPublicKey", "counter",
        "credentialDeviceType", "credentialBackedUp", "transports", "createdAt", "updatedAt",
    }  # fmt: skip
    assert doc["userId"] == ObjectId(user.id) and doc["counter"] == 2**32 - 1
    assert doc["credentialBackedUp"] is True


# -- ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "user_id",
    ["", "zz" * 12, "0" * 23, "0" * 25, "not-an-object-id", "0123456789ab", " " + "0" * 23],
)
async def test_an_id_that_is_not_an_object_id_finds_nothing(
    auth: MongoAdapter, user_id: str
) -> None:
    assert await auth.get_user(user_id) is None
    assert await auth.delete_user(user_id) is None
    assert await auth.list_authenticators_by_user_id(user_id) == []
    with pytest.raises(asyncauth.NotFoundError):
        await auth.update_user(user_id, name="x")
    with pytest.raises(asyncauth.ValidationError):
        await auth.create_session(user_id, in_future(hours=1))


async def test_ids_are_object_id_strings(auth: MongoAdapter) -> None:
    user = await make_user(auth)

    assert ObjectId.is_valid(user.id) and str(ObjectId(user.id)) == user.id
    assert await auth.get_user(str(ObjectId())) is None


async def test_a_custom_model_field_is_refused_by_name(auth: MongoAdapter, raw: MongoRaw) -> None:
    # Custom model columns are SQL migrations; MongoDB refuses them like any unknown field.
    before = await raw.count("users")
    with pytest.raises(asyncauth.ValidationError) as info:
        await auth.create_user(email="custom-field@example.com", phone="+44 20 7946 0000")
    assert info.value.field == "phone"
    assert await raw.count("users") == before


# -- bootstrap and check -------------------------------------------------------------------


async def test_bootstrap_creates_the_indexes_of_schema_md(mongo_url: str, raw: MongoRaw) -> None:
    async with asyncauth.connect(mongo_url) as auth:
        report = await auth.check()
        assert not report.ok and report.pending == [1, 2]

        assert await auth.bootstrap() == [1, 2]
        assert await auth.bootstrap() == []

        report = await auth.check()
        assert report.ok, report.differences
        assert report.applied == [1, 2] and report.pending == []

    users = await indexes(raw, "users")
    assert users[("email",)]["unique"] and users[("email",)]["sparse"]
    accounts = await indexes(raw, "accounts")
    assert accounts[("compoundId",)]["unique"]
    assert {("userId",), ("providerId",), ("providerAccountId",)} <= set(accounts)
    sessions = await indexes(raw, "sessions")
    assert sessions[("sessionToken",)]["unique"] and sessions[("accessToken",)]["unique"]
    assert {("userId",), ("expires",)} <= set(sessions)
    assert "expireAfterSeconds" not in sessions[("expires",)]
    tokens = await indexes(raw, "verificationRequests")
    assert tokens[("token",)]["unique"] and ("expires",) in tokens
    assert (await indexes(raw, "authenticators"))[("credentialId",)]["unique"]
    records = await raw.db.asyncauth_migrations.find({}).to_list()
    assert sorted(r["_id"] for r in records) == [1, 2]
    assert all(len(r["checksum"]) == 64 and r["appliedAt"] for r in records)


async def test_check_reports_missing_and_different_indexes(
    auth: MongoAdapter, raw: MongoRaw
) -> None:
    await raw.db.accounts.drop_index("providerId_1")
    await raw.db.users.drop_index("email_1")
    await raw.db.users.create_index("email", unique=True)  # not sparse
    await raw.db.asyncauth_migrations.update_one({"_id": 2}, {"$set": {"checksum": "0" * 64}})

    report = await auth.check()

    assert not report.ok
    assert "missing index accounts(providerId)" in report.differences
    assert "different index users(email): unique, expected unique, sparse" in report.differences
    assert "migration 2 applied with another checksum" in report.differences
    assert len(report.differences) == 3, report.differences
    # bootstrap neither drops nor rewrites an index, and refuses a changed index set.
    with pytest.raises(SchemaError):
        await auth.bootstrap()
    await raw.db.asyncauth_migrations.update_one(
        {"_id": 2}, {"$set": {"checksum": mongo_indexes._wanted(ttl_indexes=False)[2]}}
    )
    await raw.db.asyncauth_migrations.delete_one({"_id": 1})
    with pytest.raises(SchemaError, match="never drops"):
        await auth.bootstrap()
    assert not (await indexes(raw, "users"))[("email",)].get("sparse")


async def test_bootstrap_refuses_a_unique_index_over_duplicates(
    mongo_url: str, raw: MongoRaw
) -> None:
    await raw.db.accounts.insert_many(
        [{"compoundId": "same", "userId": ObjectId()} for _ in range(2)]
    )

    async with asyncauth.connect(mongo_url) as auth:
        with pytest.raises(SchemaError, match="repeat a value"):
            await auth.bootstrap()

    assert await raw.count("accounts") == 2


BOOTSTRAP_SCRIPT = """
import asyncio, json, sys
import asyncauth
print(json.dumps(asyncio.run(asyncauth.bootstrap(sys.argv[1]))))
"""


async def test_eight_processes_bootstrap_at_once(mongo_url: str, raw: MongoRaw) -> None:
    def run_all() -> list[subprocess.CompletedProcess[str]]:
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", BOOTSTRAP_SCRIPT, mongo_url],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(8)
        ]
        done = []
        for p in processes:
            out, err = p.communicate(timeout=90)
            done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
        return done

    results = await asyncio.to_thread(run_all)

    assert [r.returncode for r in results] == [0] * 8, [r.stderr[-800:] for r in results]
    applied = [v for r in results for v in json.loads(r.stdout)]
    assert sorted(applied) == [1, 2]  # each version recorded by exactly one process
    assert await raw.db.asyncauth_migrations.count_documents({}) == 2
    async with asyncauth.connect(mongo_url) as auth:
        assert (await auth.check()).ok


# -- TTL -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fast_ttl_server() -> Any:
    """A SecantusDB of its own whose TTL monitor sweeps every second (the default is 60 s)."""
    server = SecantusServer(ttl_sweep_seconds=1.0)
    try:
        url = server.start()
    except (OSError, RuntimeError) as exc:
        from tests._backends import unavailable

        unavailable(f"could not start SecantusDB: {exc}")
    yield url
    server.stop()


async def test_ttl_indexes_let_mongodb_expire_sessions_and_tokens(fast_ttl_server: str) -> None:
    async with mongo_database_on(fast_ttl_server) as url:
        raw = await MongoRaw.open(url)
        try:
            async with asyncauth.connect(url, bootstrap=True) as plain:
                assert (await plain.check()).ok
            async with asyncauth.connect(url, ttl_indexes=True) as auth:
                report = await auth.check()
                assert "index sessions(expires) is not a TTL index" in report.differences
                assert await auth.bootstrap() == []  # the index sets were there already
                assert (await auth.check()).ok
                assert await auth.bootstrap() == []
                for collection in ("sessions", "verificationRequests"):
                    spec = (await indexes(raw, collection))[("expires",)]
                    assert spec["expireAfterSeconds"] == 0

                user = await make_user(auth)
                gone = await auth.create_session(user.id, in_past(seconds=1))
                kept = await auth.create_session(user.id, in_future(hours=1))
                await auth.create_verification_token(unique_email(), "x" + unique(), in_past())
                # The monitor sweeps every second; a loaded machine may take a few sweeps.
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    if not await raw.count("sessions", session_token=gone.session_token) and (
                        not await raw.count("verification_requests")
                    ):
                        break
                    await asyncio.sleep(0.1)
                assert await raw.count("sessions", session_token=gone.session_token) == 0
                assert await raw.count("verification_requests") == 0
                assert await auth.get_session_and_user(kept.session_token) == (kept, user)
        finally:
            await raw.aclose()


# -- delete_user: transactions and the fallback order --------------------------------------


async def _user_with_everything(auth: Any) -> User:
    user = await make_user(auth)
    for _ in range(2):
        await auth.create_session(user.id, in_future(days=1))
        await auth.link_account(account_for(user.id))
        await auth.create_authenticator(authenticator_for(user.id))
    return user


async def _counts(raw: MongoRaw, user: User) -> dict[str, int]:
    return {t: await raw.count(t, **{c: user.id}) for t, c in USER_TABLES.items()}


def on_secantus(url: str) -> bool:
    return urlsplit(url).netloc == urlsplit(secantus_url()).netloc


async def _fail_point(raw: MongoRaw, mode: Any, data: dict[str, Any]) -> None:
    # Scoped to asyncauth's connections (its appname), so the raw helper keeps working.
    await raw._client.admin.command(
        "configureFailPoint", "failCommand", mode=mode, data={**data, "appName": "asyncauth"}
    )


async def test_transactions_are_detected_and_used(auth: MongoAdapter) -> None:
    # SecantusDB presents itself as a one-node replica set, so delete_user runs in a
    # multi-document transaction there (a standalone mongod takes the fallback path).
    assert await auth._supports_transactions() is True


async def test_delete_user_rolls_back_when_the_connection_dies_midway(
    mongo_url: str, raw: MongoRaw
) -> None:
    if not on_secantus(mongo_url):
        pytest.skip("fail points need test commands (SecantusDB has them on)")
    async with asyncauth.connect(mongo_url, bootstrap=True) as auth:
        user = await _user_with_everything(auth)
        # Let the first delete of the transaction through, then drop the connection.
        await _fail_point(
            raw, {"skip": 1, "times": 1}, {"failCommands": ["delete"], "closeConnection": True}
        )
        try:
            with pytest.raises(BackendError):
                await auth.delete_user(user.id)
        finally:
            await _fail_point(raw, "off", {})

        assert await _counts(raw, user) == {t: 2 if t != "users" else 1 for t in USER_TABLES}
        assert await auth.delete_user(user.id) == user
        assert await _counts(raw, user) == dict.fromkeys(USER_TABLES, 0)


async def test_delete_user_without_transactions_never_leaves_orphans(
    mongo_url: str, raw: MongoRaw
) -> None:
    if not on_secantus(mongo_url):
        pytest.skip("fail points need test commands (SecantusDB has them on)")
    async with asyncauth.connect(mongo_url, bootstrap=True, transactions=False) as auth:
        assert await auth._supports_transactions() is False
        user = await _user_with_everything(auth)
        # The user's own document is deleted with findAndModify: fail exactly that.
        await _fail_point(raw, "alwaysOn", {"failCommands": ["findAndModify"], "errorCode": 1})
        try:
            with pytest.raises(BackendError):
                await auth.delete_user(user.id)
        finally:
            await _fail_point(raw, "off", {})

        # Dependents first: the user is still there, nothing points to a missing user.
        assert await _counts(raw, user) == {t: 1 if t == "users" else 0 for t in USER_TABLES}
        assert await auth.get_user(user.id) == user
        await auth.create_session(user.id, in_future(days=1))
        assert await auth.delete_user(user.id) == user
        assert await _counts(raw, user) == dict.fromkeys(USER_TABLES, 0)


# -- clients handed in ---------------------------------------------------------------------


async def test_an_async_mongo_client_handed_in_stays_open(mongo_url: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        async with MongoAdapter(client) as auth:
            assert auth.database_name == mongo_url.rsplit("/", 1)[1]
            await auth.bootstrap()
            user = await make_user(auth)
            session = await auth.create_session(user.id, in_future(hours=1))
            assert await auth.get_session_and_user(session.session_token) == (session, user)
        # aclose() left the application's client open.
        assert await client[auth.database_name].users.count_documents({}) == 1
    finally:
        await client.close()


async def test_a_motor_client_handed_in_works(mongo_url: str) -> None:
    from motor.motor_asyncio import AsyncIOMotorClient

    # A naive-datetime client (motor's default): the adapter still answers aware UTC.
    client = AsyncIOMotorClient(mongo_url)
    try:
        async with MongoAdapter(client, database=mongo_url.rsplit("/", 1)[1]) as auth:
            assert await auth.bootstrap() == [1, 2]
            user = await _user_with_everything(auth)
            session = await auth.create_session(user.id, in_future(hours=1))
            found = await auth.get_session_and_user(session.session_token)
            assert found == (session, user) and found[0].expires.tzinfo is UTC
            assert await auth.get_user_by_account("nope", "nope") is None
            assert await auth.delete_user(user.id) == user  # in a motor transaction
            assert (await auth.check()).ok
        assert await client[auth.database_name].users.count_documents({}) == 0
    finally:
        client.close()


# -- connect(), options, errors --------------------------------------------------------------


def test_import_asyncauth_does_not_import_pymongo() -> None:
    code = "import sys, asyncauth; print('pymongo' in sys.modules, 'motor' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]


def test_the_mongodb_schemes_are_registered() -> None:
    for url in ("mongodb://h/app", "mongodb+srv://cluster.example.com/app"):
        adapter = asyncauth.connect(url)
        assert isinstance(adapter, MongoAdapter) and adapter.database_name == "app"
    assert asyncauth.connect("mongodb://h").database_name == "asyncauth"
    assert asyncauth.connect("mongodb://h/", database="other").database_name == "other"
    assert asyncauth.MongoAdapter is MongoAdapter


@pytest.mark.parametrize(
    "options",
    [
        {"ttl_indexes": "yes"},
        {"transactions": 1},
        {"database": ""},
        {"sql_folders": "/tmp"},
        {"replicaSet": "rs0"},
    ],
)
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        asyncauth.connect("mongodb://h/app", **options)


async def test_an_unreachable_server_is_a_backend_error() -> None:
    with warnings.catch_warnings():
        # PyMongo's async monitor drops the socket of a refused connection without closing
        # it (pymongo 4.20); collect it here so its ResourceWarning is not pinned on a
        # later test.
        warnings.simplefilter("ignore", ResourceWarning)
        async with asyncauth.connect("mongodb://127.0.0.1:1/x", timeout=0.5) as auth:
            with pytest.raises(BackendError):
                await auth.get_user(str(ObjectId()))
        gc.collect()


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def test_every_pymongo_error_is_mapped() -> None:
    for cls in sorted(_subclasses(pe.PyMongoError) | {pe.PyMongoError}, key=str):
        if not cls.__module__.startswith("pymongo"):
            continue
        try:
            exc = cls("boom")
        except (TypeError, AttributeError):
            continue  # needs arguments this test cannot invent; covered by its base class
        assert isinstance(map_error(exc), AsyncAuthError), cls


def test_duplicate_key_errors_become_duplicate_error() -> None:
    unnamed = map_error(pe.DuplicateKeyError("E11000", 11000))
    assert isinstance(unnamed, DuplicateError) and unnamed.key is None
    assert isinstance(map_error(pe.OperationFailure("E11000", 11000)), DuplicateError)
    bulk = pe.BulkWriteError(
        {"writeErrors": [{"code": 11000, "errmsg": "dup", "keyPattern": {"credentialId": 1}}]}
    )
    assert isinstance(map_error(bulk), DuplicateError) and map_error(bulk).key == "credential_id"
    assert isinstance(map_error(pe.OperationFailure("conflict", 112)), BackendError)
    assert isinstance(map_error(pe.AutoReconnect("gone")), BackendError)


async def test_sessions_round_trip_in_any_zone(auth: MongoAdapter) -> None:
    user = await make_user(auth)
    zone = timezone(timedelta(hours=-3, minutes=-30))
    expires = (datetime.now(UTC) + timedelta(days=1)).astimezone(zone)

    session = await auth.create_session(user.id, expires)

    assert session == Session(session.session_token, user.id, ms(expires.astimezone(UTC)))
    found = await auth.get_session_and_user(session.session_token)
    assert found == (session, user)


# -- the gate in front of PyMongo's pool ----------------------------------------------------------


def _gate(size: int, timeout: float, down: Callable[[], bool] = lambda: False) -> Gate:
    return Gate(size, timeout, down)


async def test_the_gate_lets_waiters_in_first_come_first_served() -> None:
    gate = _gate(1, 5.0)
    assert await gate.enter()
    order: list[int] = []

    async def waiter(index: int) -> None:
        assert await gate.enter()
        order.append(index)
        await asyncio.sleep(0)
        gate.leave()

    tasks = [asyncio.create_task(waiter(i)) for i in range(5)]
    await asyncio.sleep(0.01)  # all five queue
    gate.leave()
    # A late caller that finds the place just freed must not barge in ahead of the queue.
    tasks.append(asyncio.create_task(waiter(5)))
    await asyncio.wait_for(asyncio.gather(*tasks), 10.0)
    assert order == [0, 1, 2, 3, 4, 5]
    assert await asyncio.wait_for(gate.enter(), 1.0)  # the last waiter gave the place back


async def test_the_gate_times_out_and_passes_on_a_place_given_to_a_cancelled_waiter() -> None:
    gate = _gate(1, 0.2)
    assert await gate.enter()
    started = asyncio.get_running_loop().time()
    with pytest.raises(BackendError, match="no MongoDB connection free within 0.2 s"):
        await gate.enter()
    assert 0.15 <= asyncio.get_running_loop().time() - started < 2.0  # a loaded machine
    gate = _gate(1, 5.0)
    assert await gate.enter()
    first = asyncio.create_task(gate.enter())
    second = asyncio.create_task(gate.enter())
    await asyncio.sleep(0.01)
    gate.leave()  # handed to ``first``...
    first.cancel()  # ...which is cancelled before it runs: the place goes to ``second``
    assert await asyncio.wait_for(second, 2.0)
    with pytest.raises(asyncio.CancelledError):
        await first
    late = asyncio.create_task(gate.enter())
    await asyncio.sleep(0.01)
    assert not late.done()  # ``second`` holds the one place
    gate.leave()
    assert await asyncio.wait_for(late, 2.0)


async def test_a_waiter_leaves_the_gate_when_the_deployment_goes_down() -> None:
    down = False
    gate = _gate(1, 30.0, lambda: down)
    assert await gate.enter()
    waiting = asyncio.create_task(gate.enter())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    down = True
    # Told within a check or two (Gate.CHECK_EVERY), not after the 30 s timeout.
    assert await asyncio.wait_for(waiting, 5.0) is None
    gate.leave()  # the place it did not take is free for the next call
    down = False
    assert await asyncio.wait_for(gate.enter(), 1.0)


async def test_an_exhausted_gate_is_a_backend_error_naming_the_wait(
    auth: MongoAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await make_user(auth)
    permits = auth._gate._permits
    monkeypatch.setattr(permits, "timeout", 0.3)
    held = 0
    while permits.idle or permits.opened < permits.size:  # as by calls in flight
        assert await auth._gate.enter()
        held += 1
    try:
        with pytest.raises(BackendError, match="no MongoDB connection free within 0.3 s"):
            await auth.get_user(user.id)
    finally:
        for _ in range(held):
            auth._gate.leave()
    assert await auth.get_user(user.id) == user


# -- duplicate keys, the public protocol ---------------------------------------------------------


async def test_a_duplicate_names_its_key_and_leaves_the_driver_error_alone(
    auth: MongoAdapter,
) -> None:
    user = await make_user(auth)
    token = unique("dup-") + unique()
    await auth.create_session(user.id, in_future(days=1), session_token=token)
    with pytest.raises(DuplicateError) as raised:
        await auth.create_session(user.id, in_future(days=1), session_token=token)
    error = raised.value
    assert error.key == "sessions.session_token"  # the contract's names, as on SQL
    # The server's message quotes the token: not chained, so no logged traceback shows it;
    # PyMongo's exception stays reachable, unedited, as the suppressed context.
    assert error.__cause__ is None and error.__suppress_context__
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    assert token[:12] not in text and "sessions.session_token" in text
    assert isinstance(error.__context__, pe.DuplicateKeyError)
    assert token in str(error.__context__)

    # map_error reads PyMongo's exception without editing it.
    message = (
        "E11000 duplicate key error collection: app.users index: email_1 "
        f'dup key: {{ email: "{token}" }}'
    )
    exc = pe.DuplicateKeyError(
        message,
        11000,
        {
            "code": 11000,
            "errmsg": message,
            "keyPattern": {"email": 1},
            "keyValue": {"email": token},
        },
    )
    before = (exc.args, str(exc), dict(exc.details or {}))
    mapped = map_error(exc)
    assert isinstance(mapped, DuplicateError) and mapped.key == "users.email"
    assert token not in str(mapped)
    assert (exc.args, str(exc), dict(exc.details or {})) == before


def test_the_adapter_is_an_explicit_adapter_and_help_shows_the_contract() -> None:
    assert issubclass(MongoAdapter, Adapter) and Adapter in MongoAdapter.__mro__
    # Methods without a docstring of their own show the protocol's.
    for name in ("get_session_and_user", "link_account", "use_verification_token"):
        assert inspect.getdoc(getattr(MongoAdapter, name)) == inspect.getdoc(getattr(Adapter, name))
    assert "The hot path" in pydoc.render_doc(MongoAdapter, renderer=pydoc.plaintext)


async def test_pymongo_command_log_withholds_documents(
    auth: MongoAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    user = await make_user(auth)
    token = unique("logged-") + unique()
    caplog.set_level(logging.DEBUG)
    await auth.create_session(user.id, in_future(days=1), session_token=token)
    assert await auth.get_session_and_user(token) is not None
    with pytest.raises(DuplicateError):
        await auth.create_session(user.id, in_future(days=1), session_token=token)
    commands = [r for r in caplog.records if r.name == "pymongo.command"]
    texts = [logging.Formatter().format(r) for r in caplog.records]
    # What happened is still there (command names, a failure's code), the documents are not.
    shown = " ".join(logging.Formatter().format(r) for r in commands)
    assert '"commandName": "insert"' in shown and '"commandName": "aggregate"' in shown
    assert all(token[:12] not in text for text in texts)
    assert any(r.name == "asyncauth" and "DuplicateError" in r.getMessage() for r in caplog.records)
