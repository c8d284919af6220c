"""MySQL / MariaDB specifics, against the real server (each test in a database of its own).

The conformance suite covers behaviour; this file covers what only MySQL has: its schema
(checked against docs/schema.md through information_schema), adoption of a NextAuth v3 database,
migrations interrupted midway (MySQL commits DDL implicitly), the session time zone, the 2038
limit of TIMESTAMP, the error mapping, and a connection killed inside delete_user.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import asyncauth
from asyncauth import Account, BackendError, ConfigurationError, DuplicateError, ValidationError
from asyncauth._base import compound_id
from asyncauth._sql import load_migrations
from tests._backends import mysql_database
from tests._raw import MySQLRaw, end_other_connections

aiomysql = pytest.importorskip("aiomysql")
pymysql = pytest.importorskip("pymysql")

pytestmark = [pytest.mark.anyio, pytest.mark.mysql]

UTC = timezone.utc


@pytest.fixture
async def url(anyio_backend: str) -> AsyncIterator[str]:
    """A fresh, empty (not bootstrapped) database of this test's own."""
    async with mysql_database() as database_url:
        yield database_url


@pytest.fixture
async def raw(url: str) -> AsyncIterator[MySQLRaw]:
    helper = await MySQLRaw.open(url)
    try:
        yield helper
    finally:
        await helper.aclose()


# -- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["mysql", "mariadb"])
async def test_both_schemes_reach_the_server(url: str, scheme: str) -> None:
    async with asyncauth.connect(scheme + url[len("mysql") :], bootstrap=True) as auth:
        assert isinstance(auth, asyncauth.MySQLAdapter)
        user = await auth.create_user(email="ada@example.com")
        assert await auth.get_user(user.id) == user


@pytest.mark.parametrize(
    "bad",
    ["mysql://root@127.0.0.1:3306/", "mysql://root@127.0.0.1/db?charset=latin1"],
)
def test_bad_urls_are_configuration_errors(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        asyncauth.connect(bad)


async def test_an_unreachable_server_is_a_backend_error(anyio_backend: str) -> None:
    auth = asyncauth.connect("mysql://root@127.0.0.1:1/nothing", timeout=2)
    with pytest.raises(BackendError, match="cannot connect"):
        await auth.open()


# -- schema --------------------------------------------------------------------------------

# docs/schema.md, migration 1 for MySQL/MariaDB: (column, type, nullable, default), in order.
STAMPS = [
    ("created_at", "timestamp(6)", False, "current_timestamp(6)"),
    ("updated_at", "timestamp(6)", False, "current_timestamp(6)"),
]
V1_COLUMNS = {
    "accounts": [
        ("id", "int", False, None),
        ("compound_id", "varchar(255)", False, None),
        ("user_id", "int", False, None),
        ("provider_type", "varchar(255)", False, None),
        ("provider_id", "varchar(255)", False, None),
        ("provider_account_id", "varchar(255)", False, None),
        ("refresh_token", "text", True, None),
        ("access_token", "text", True, None),
        ("access_token_expires", "timestamp(6)", True, None),
        *STAMPS,
    ],
    "sessions": [
        ("id", "int", False, None),
        ("user_id", "int", False, None),
        ("expires", "timestamp(6)", False, None),
        ("session_token", "varchar(255)", False, None),
        ("access_token", "varchar(255)", False, None),
        *STAMPS,
    ],
    "users": [
        ("id", "int", False, None),
        ("name", "varchar(255)", True, None),
        ("email", "varchar(255)", True, None),
        ("email_verified", "timestamp(6)", True, None),
        ("image", "varchar(255)", True, None),
        *STAMPS,
    ],
    "verification_requests": [
        ("id", "int", False, None),
        ("identifier", "varchar(255)", False, None),
        ("token", "varchar(255)", False, None),
        ("expires", "timestamp(6)", False, None),
        *STAMPS,
    ],
}
# index name -> (table, columns, unique); PRIMARY is the primary key.
V1_INDEXES = {
    ("accounts", "PRIMARY"): (("id",), True),
    ("sessions", "PRIMARY"): (("id",), True),
    ("users", "PRIMARY"): (("id",), True),
    ("verification_requests", "PRIMARY"): (("id",), True),
    ("accounts", "compound_id"): (("compound_id",), True),
    ("accounts", "provider_account_id"): (("provider_account_id",), False),
    ("accounts", "provider_id"): (("provider_id",), False),
    ("accounts", "user_id"): (("user_id",), False),
    ("sessions", "session_token"): (("session_token",), True),
    ("sessions", "access_token"): (("access_token",), True),
    ("users", "email"): (("email",), True),
    ("verification_requests", "token"): (("token",), True),
}


def _type(column_type: str) -> str:
    # MariaDB and MySQL before 8.0.19 show a display width ("int(11)"); it means nothing.
    return "int" if column_type.startswith("int(") else column_type


def _default(value: object) -> str | None:
    # MariaDB reports NULL defaults as the text 'NULL'.
    if value is None or value == "NULL":
        return None
    return str(value).lower()


async def _catalog(raw: MySQLRaw) -> tuple[dict[str, list[tuple[Any, ...]]], dict[Any, Any]]:
    columns = await raw._fetch(
        "SELECT table_name AS t, column_name AS c, column_type AS type, is_nullable AS n, "
        "column_default AS d, extra AS extra, character_set_name AS cs "
        "FROM information_schema.columns WHERE table_schema = DATABASE() "
        "ORDER BY table_name, ordinal_position",
        (),
    )
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for row in columns:
        tables.setdefault(row["t"], []).append(row)
    stats = await raw._fetch(
        "SELECT table_name AS t, index_name AS i, non_unique AS nu, column_name AS c "
        "FROM information_schema.statistics WHERE table_schema = DATABASE() "
        "ORDER BY table_name, index_name, seq_in_index",
        (),
    )
    indexes: dict[Any, Any] = {}
    for row in stats:
        cols, _ = indexes.get((row["t"], row["i"]), ((), True))
        indexes[(row["t"], row["i"])] = ((*cols, row["c"]), not row["nu"])
    return tables, indexes


async def test_a_bootstrapped_database_matches_migration_1_of_schema_md(
    url: str, raw: MySQLRaw
) -> None:
    assert await asyncauth.bootstrap(url) == [1, 2]
    tables, indexes = await _catalog(raw)
    for table, expected in V1_COLUMNS.items():
        live = tables[table]
        # Migration 2 only appends columns, so migration 1's are the first ones, in order.
        got = [
            (r["c"], _type(r["type"]), r["n"] == "YES", _default(r["d"]))
            for r in live[: len(expected)]
        ]
        assert got == expected, table
        assert "auto_increment" in live[0]["extra"].lower(), f"{table}.id is AUTO_INCREMENT"
        for row in live:
            if row["cs"] is not None:
                assert row["cs"] == "utf8mb4", f"{table}.{row['c']}"
        # No ON UPDATE clause anywhere, in particular not on expires (see the migration).
        assert all("on update" not in r["extra"].lower() for r in live), table
    for key, spec in V1_INDEXES.items():
        assert indexes.get(key) == spec, key
    report = await asyncauth.check(url)
    assert report.ok, report.differences


async def test_expires_keeps_its_value_when_the_row_is_updated(url: str, raw: MySQLRaw) -> None:
    # With explicit_defaults_for_timestamp off (MariaDB's default before 10.10), a NOT NULL
    # TIMESTAMP first in its table silently becomes ON UPDATE CURRENT_TIMESTAMP.
    from asyncauth._mysql import connect_kwargs

    off = "SET SESSION explicit_defaults_for_timestamp = 0"
    await raw.execute(off)
    await raw.execute("CREATE TABLE trap (id INT PRIMARY KEY, expires TIMESTAMP(6) NOT NULL)")
    trap = await raw._fetch("SHOW CREATE TABLE trap", ())
    assert "on update" in str(trap[0]["Create Table"]).lower()  # the trap is real here
    await raw.execute("DROP TABLE trap")

    # Bootstrap from connections that have it off: the migrations must not fall in.
    pool = await aiomysql.create_pool(**connect_kwargs(url), init_command=off)
    try:
        async with asyncauth.MySQLAdapter(pool) as auth:
            assert await auth.bootstrap() == [1, 2]
            user = await auth.create_user(email="a@example.com")
            expires = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
            session = await auth.create_session(user.id, expires)
            await raw.update("sessions", {"session_token": session.session_token}, user_id="0")
            row = await raw.one("sessions", session_token=session.session_token)
            assert row is not None and row["expires"] == expires
            for table in ("sessions", "verification_requests"):
                created = await raw._fetch(f"SHOW CREATE TABLE {table}", ())
                assert "on update" not in str(created[0]["Create Table"]).lower(), table
    finally:
        pool.close()
        await pool.wait_closed()


# -- adoption ------------------------------------------------------------------------------

# The NextAuth v3 documented MySQL schema, as a v3 application would have made it by hand.
NEXTAUTH_V3_DDL = """
CREATE TABLE accounts (
  id INT NOT NULL AUTO_INCREMENT, compound_id VARCHAR(255) NOT NULL, user_id INTEGER NOT NULL,
  provider_type VARCHAR(255) NOT NULL, provider_id VARCHAR(255) NOT NULL,
  provider_account_id VARCHAR(255) NOT NULL, refresh_token TEXT, access_token TEXT,
  access_token_expires TIMESTAMP(6) NULL,
  created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (id));
CREATE TABLE sessions (
  id INT NOT NULL AUTO_INCREMENT, user_id INTEGER NOT NULL, expires TIMESTAMP(6) NOT NULL,
  session_token VARCHAR(255) NOT NULL, access_token VARCHAR(255) NOT NULL,
  created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (id));
CREATE TABLE users (
  id INT NOT NULL AUTO_INCREMENT, name VARCHAR(255), email VARCHAR(255),
  email_verified TIMESTAMP(6) NULL, image VARCHAR(255),
  created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (id));
CREATE TABLE verification_requests (
  id INT NOT NULL AUTO_INCREMENT, identifier VARCHAR(255) NOT NULL, token VARCHAR(255) NOT NULL,
  expires TIMESTAMP(6) NOT NULL,
  created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (id));
CREATE UNIQUE INDEX compound_id ON accounts(compound_id);
CREATE INDEX provider_account_id ON accounts(provider_account_id);
CREATE INDEX provider_id ON accounts(provider_id);
CREATE INDEX user_id ON accounts(user_id);
CREATE UNIQUE INDEX session_token ON sessions(session_token);
CREATE UNIQUE INDEX access_token ON sessions(access_token);
CREATE UNIQUE INDEX email ON users(email);
CREATE UNIQUE INDEX token ON verification_requests(token)
"""

# What TypeORM's synchronize makes instead: its own index names, ON UPDATE on updated_at.
TYPEORM_DDL = """
CREATE TABLE accounts (
  id int NOT NULL AUTO_INCREMENT, compound_id varchar(255) NOT NULL, user_id int NOT NULL,
  provider_type varchar(255) NOT NULL, provider_id varchar(255) NOT NULL,
  provider_account_id varchar(255) NOT NULL, refresh_token text NULL, access_token text NULL,
  access_token_expires timestamp(6) NULL,
  created_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  UNIQUE INDEX IDX_4de28a8dd7b8fcf6bd2ef2ba9b (compound_id),
  INDEX IDX_aa3e5e1e4c6b0b7b8f52b8e1e5 (provider_account_id),
  INDEX IDX_9f1e2e4c0e3b8bd5c3e8b2a0c1 (provider_id),
  INDEX IDX_3aa23c0a6d107393e8b40e3e2a (user_id),
  PRIMARY KEY (id)) ENGINE=InnoDB;
CREATE TABLE sessions (
  id int NOT NULL AUTO_INCREMENT, user_id int NOT NULL, expires timestamp(6) NOT NULL,
  session_token varchar(255) NOT NULL, access_token varchar(255) NOT NULL,
  created_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  UNIQUE INDEX IDX_f10db2949bbea55b44f31108e1 (session_token),
  UNIQUE INDEX IDX_b02a7acc05fe8194bed8433cf2 (access_token), PRIMARY KEY (id)) ENGINE=InnoDB;
CREATE TABLE users (
  id int NOT NULL AUTO_INCREMENT, name varchar(255) NULL, email varchar(255) NULL,
  email_verified timestamp(6) NULL, image varchar(255) NULL,
  created_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  UNIQUE INDEX IDX_97672ac88f789774dd47f7c8be (email), PRIMARY KEY (id)) ENGINE=InnoDB;
CREATE TABLE verification_requests (
  id int NOT NULL AUTO_INCREMENT, identifier varchar(255) NOT NULL, token varchar(255) NOT NULL,
  expires timestamp(6) NOT NULL,
  created_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  UNIQUE INDEX IDX_77287a2e9ecc5ad4bd5b4d2d3e (token), PRIMARY KEY (id)) ENGINE=InnoDB;
CREATE TABLE typeorm_metadata (type varchar(255) NOT NULL, name varchar(255) NULL)
"""

SEED = [
    "INSERT INTO users (id, name, email, email_verified, image) VALUES "
    "(7, 'Ada', 'ada@example.com', '2026-01-02 03:04:05.678000', 'https://i.example/a.png'), "
    "(8, 'Grace', NULL, NULL, NULL)",
    "INSERT INTO accounts (id, compound_id, user_id, provider_type, provider_id, "
    "provider_account_id, refresh_token, access_token, access_token_expires) VALUES "
    f"(3, '{compound_id('github', '12345')}', 7, 'oauth', 'github', '12345', 'r-1', 'a-1', "
    "'2031-05-06 07:08:09.000000')",
    "INSERT INTO sessions (id, user_id, expires, session_token, access_token) VALUES "
    "(4, 7, '2036-01-01 00:00:00.000000', "
    "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', "
    "'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb')",
    "INSERT INTO verification_requests (id, identifier, token, expires) VALUES "
    "(5, 'ada@example.com', 'hashed-token', '2036-01-01 00:00:00.000000')",
]


async def _dump(raw: MySQLRaw) -> dict[str, list[dict[str, Any]]]:
    return {t: await raw._fetch(f"SELECT * FROM {t} ORDER BY id", ()) for t in V1_COLUMNS}


@pytest.mark.parametrize("ddl", [NEXTAUTH_V3_DDL, TYPEORM_DDL], ids=["documented", "typeorm"])
async def test_a_nextauth_v3_database_is_adopted_without_loss(
    url: str, raw: MySQLRaw, ddl: str
) -> None:
    for statement in [s for s in ddl.split(";") if s.strip()] + SEED:
        await raw.execute(statement)
    before = await _dump(raw)

    assert await asyncauth.bootstrap(url) == [1, 2]

    after = await _dump(raw)
    for table, rows in before.items():
        # Every row and every value is still there; migration 2 only added (NULL) columns.
        assert [{k: r[k] for k in rows[0]} for r in after[table]] == rows, table
    recorded = await raw._fetch("SELECT version, checksum FROM asyncauth_migrations", ())
    assert {(r["version"], r["checksum"]) for r in recorded} == {
        (m.version, m.checksum) for m in load_migrations("mysql")
    }
    assert (await asyncauth.check(url)).ok

    # The adopted rows serve asyncauth as they are.
    async with asyncauth.connect(url) as auth:
        ada = await auth.get_user("7")
        assert ada is not None and ada.email == "ada@example.com"
        assert ada.email_verified == datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
        assert await auth.get_user_by_account("github", "12345") == ada
        found = await auth.get_session_and_user("a" * 64)
        assert found is not None and found[1] == ada
        token = await auth.use_verification_token("ada@example.com", "hashed-token")
        assert token is not None and token.expires == datetime(2036, 1, 1, tzinfo=UTC)
        # New rows go after the adopted ones.
        assert int((await auth.create_user(email="new@example.com")).id) > 8


async def test_a_partial_foreign_schema_is_refused(url: str, raw: MySQLRaw) -> None:
    # A users table that is not NextAuth's: bootstrap must not build around it.
    await raw.execute("CREATE TABLE users (id INT PRIMARY KEY, login VARCHAR(50))")
    with pytest.raises(asyncauth.SchemaError):
        await asyncauth.bootstrap(url)


# -- interrupted migrations ----------------------------------------------------------------


@pytest.mark.parametrize("stop_after", [2, 4, 7, 10])
async def test_migration_1_interrupted_midway_completes_on_the_next_bootstrap(
    url: str, raw: MySQLRaw, stop_after: int
) -> None:
    # MySQL commits each DDL statement: run the first statements of migration 1 as a
    # bootstrap that died would have, then bootstrap again.
    first = load_migrations("mysql")[0]
    for statement in first.statements[:stop_after]:
        await raw.execute(statement)
    assert await asyncauth.bootstrap(url) == [1, 2]
    report = await asyncauth.check(url)
    assert report.ok, report.differences
    _, indexes = await _catalog(raw)
    for key, spec in V1_INDEXES.items():
        assert indexes.get(key) == spec, key


async def test_migration_2_interrupted_midway_completes_on_the_next_bootstrap(
    url: str, raw: MySQLRaw
) -> None:
    assert await asyncauth.bootstrap(url) == [1, 2]
    # As if the process died inside migration 2: some of it applied, no record yet.
    await raw.execute("DELETE FROM asyncauth_migrations WHERE version = 2")
    await raw.execute("DROP INDEX sessions_user_id ON sessions")
    await raw.execute("DROP INDEX verification_requests_expires ON verification_requests")
    await raw.execute("ALTER TABLE accounts DROP COLUMN session_state")
    assert await asyncauth.bootstrap(url) == [2]
    report = await asyncauth.check(url)
    assert report.ok, report.differences


async def test_concurrent_bootstraps_apply_each_migration_once(url: str) -> None:
    results = await asyncio.gather(*[asyncauth.bootstrap(url) for _ in range(6)])
    assert sorted(results) == [[], [], [], [], [], [1, 2]]


async def test_the_lock_names_the_database(url: str, raw: MySQLRaw) -> None:
    # GET_LOCK is server-wide: a bootstrap holding another database's lock must not block this
    # one, while one holding this database's lock must.
    other = await MySQLRaw.open(url)
    try:
        name = "CONCAT('asyncauth:', LEFT(SHA2(CONCAT(DATABASE(), ':', %s), 256), 40))"
        from asyncauth._bootstrap import LOCK_KEY

        held = await other._fetch(f"SELECT GET_LOCK({name}, 0) AS ok", (LOCK_KEY,))
        assert held[0]["ok"] == 1
        async with asyncauth.connect(url, timeout=1, lock_timeout=0.5) as auth:
            with pytest.raises(BackendError, match="lock_timeout"):
                await auth.bootstrap()
        await other._fetch(f"SELECT RELEASE_LOCK({name}) AS ok", (LOCK_KEY,))
        assert await asyncauth.bootstrap(url) == [1, 2]
    finally:
        await other.aclose()


# -- time ----------------------------------------------------------------------------------


async def test_times_are_utc_whatever_the_connection_zone(url: str, raw: MySQLRaw) -> None:
    from asyncauth._mysql import connect_kwargs

    await asyncauth.bootstrap(url)
    # An application's pool whose sessions run in another zone (and without autocommit).
    pool = await aiomysql.create_pool(
        **connect_kwargs(url), init_command="SET time_zone = '+05:30'", charset="utf8mb4"
    )
    try:
        async with asyncauth.MySQLAdapter(pool) as auth:
            user = await auth.create_user(email="tz@example.com")
            expires = datetime(2030, 6, 1, 12, 0, 0, 250000, tzinfo=timezone(timedelta(hours=-7)))
            session = await auth.create_session(user.id, expires)
            found = await auth.get_session_and_user(session.session_token)
            assert found is not None and found[0].expires == expires
        # The adapter closed; the application's pool did not.
        assert not pool.closed
        stored = await raw._fetch(
            "SELECT UNIX_TIMESTAMP(expires) AS epoch FROM sessions WHERE user_id = %s",
            (int(user.id),),
        )
        assert float(stored[0]["epoch"]) == expires.timestamp()
    finally:
        pool.close()
        await pool.wait_closed()


async def test_times_outside_timestamp_range_are_refused_before_any_write(
    url: str, raw: MySQLRaw
) -> None:
    late = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
    early = datetime(1969, 12, 31, 23, 0, tzinfo=UTC)
    async with asyncauth.connect(url, bootstrap=True) as auth:
        user = await auth.create_user(email="range@example.com")
        attempts: list[tuple[str, Any]] = [
            ("expires", auth.create_session(user.id, late)),
            ("expires", auth.create_verification_token("i", "t", late)),
            ("email_verified", auth.create_user(email="x@example.com", email_verified=early)),
            ("email_verified", auth.update_user(user.id, email_verified=late)),
            ("expires_at", auth.link_account(Account(user.id, "oauth", "p", "1", expires_at=0))),
        ]
        for field, attempt in attempts:
            with pytest.raises(ValidationError) as caught:
                await attempt
            assert caught.value.field == field
        for table in ("sessions", "verification_requests", "accounts"):
            assert await raw.count(table) == 0, table
        assert await raw.count("users") == 1
        # The last instant that fits is accepted.
        edge = datetime(2038, 1, 19, 3, 14, 7, 999000, tzinfo=UTC)
        session = await auth.create_session(user.id, edge)
        assert (await auth.get_session_and_user(session.session_token)) is not None


# -- errors --------------------------------------------------------------------------------


def _exception_classes(*modules: Any) -> set[type[BaseException]]:
    return {
        value
        for module in modules
        for value in vars(module).values()
        if inspect.isclass(value) and issubclass(value, BaseException)
    }


def test_every_driver_exception_class_is_mapped() -> None:
    from asyncauth._mysql import MySQLDriver

    classes = {c for c in _exception_classes(pymysql.err, aiomysql) if c.__module__ != "builtins"}
    assert pymysql.err.IntegrityError in classes  # the walk found the driver's tree
    for cls in classes:
        assert issubclass(cls, MySQLDriver.errors), f"{cls.__module__}.{cls.__name__} unmapped"
        error = cls(2013, "Lost connection to server during query")
        mapped = MySQLDriver.map_error(error)
        assert isinstance(mapped, asyncauth.AsyncAuthError), cls


def test_duplicate_keys_become_duplicate_errors_without_the_value() -> None:
    from asyncauth._mysql import MySQLDriver

    for errno, key in ((1062, "users.email"), (1586, "email")):
        exc = pymysql.err.IntegrityError(errno, f"Duplicate entry 'secret@x' for key '{key}'")
        mapped = MySQLDriver.map_error(exc)
        assert isinstance(mapped, DuplicateError)
        assert key in str(mapped) and "secret" not in str(mapped)
    # Another integrity problem is not a duplicate.
    other = pymysql.err.IntegrityError(1048, "Column 'user_id' cannot be null")
    assert not isinstance(MySQLDriver.map_error(other), DuplicateError)


async def test_delete_user_is_all_or_nothing_when_its_connection_is_killed(
    url: str, raw: MySQLRaw
) -> None:
    async with asyncauth.connect(url, bootstrap=True) as auth:
        user = await auth.create_user(email="kill@example.com")
        await auth.create_session(user.id, datetime.now(UTC) + timedelta(days=1))
        await auth.link_account(Account(user.id, "oauth", "github", "kill-1"))
        before = {t: await raw.count(t, user_id=user.id) for t in ("sessions", "accounts")}

        error = await raw.kill_midway(
            "accounts", {"user_id": user.id}, lambda: auth.delete_user(user.id)
        )

        assert isinstance(error, BackendError)
        assert await raw.count("users", id=user.id) == 1
        for table, count in before.items():
            assert await raw.count(table, user_id=user.id) == count, table
        # The pool dropped the dead connection: the adapter goes on working.
        assert await auth.delete_user(user.id) == user
        assert await raw.count("sessions", user_id=user.id) == 0


async def test_fifty_concurrent_uses_of_a_token_give_it_once(url: str) -> None:
    async with asyncauth.connect(url, bootstrap=True, pool_size=10) as auth:
        for round_ in range(3):
            token = f"tok-{round_}"
            await auth.create_verification_token("a@example.com", token, datetime.now(UTC))
            results = await asyncio.gather(
                *[auth.use_verification_token("a@example.com", token) for _ in range(50)]
            )
            assert sum(r is not None for r in results) == 1


async def test_lookups_are_byte_exact(url: str) -> None:
    # MySQL's '=' ignores trailing spaces, and a case-insensitive collation ignores case.
    async with asyncauth.connect(url, bootstrap=True) as auth:
        user = await auth.create_user(email="Ada@example.com")
        assert await auth.get_user_by_email("Ada@example.com") == user
        for near in ("ada@example.com", "Ada@example.com ", "ADA@EXAMPLE.COM"):
            assert await auth.get_user_by_email(near) is None, near
        with pytest.raises(DuplicateError):
            await auth.create_user(email="Ada@example.com")


async def test_a_lock_not_granted_stops_the_bootstrap(
    url: str, raw: MySQLRaw, tmp_path: Any
) -> None:
    # GET_LOCK answers 0 when its wait ends without the lock: bootstrap must not go on.
    (tmp_path / "queries" / "mysql").mkdir(parents=True)
    (tmp_path / "queries" / "mysql" / "bootstrap.sql").write_text(
        "-- name: bootstrap_lock\n-- params: key\nSELECT 0 AS acquired, :key AS lock_key;\n"
    )
    (tmp_path / "migrations" / "mysql").mkdir(parents=True)
    # The lock is polled until lock_timeout: a short one keeps the test quick.
    auth = asyncauth.connect(url, sql_folders=[tmp_path], lock_timeout=0.5)
    try:
        with pytest.raises(BackendError, match="bootstrap lock"):
            await asyncauth.bootstrap(auth)
    finally:
        await auth.aclose()
    assert "users" not in await raw.tables()


async def test_a_connection_the_server_closed_leaves_the_pool(url: str, raw: MySQLRaw) -> None:
    async with asyncauth.connect(url, bootstrap=True, pool_size=1) as auth:
        user = await auth.create_user(email="gone@example.com")
        await end_other_connections(raw)  # returns once the server let go of them
        # The first call may meet the dead connection; it must not stay in the pool.
        try:
            await auth.get_user(user.id)
        except BackendError:
            pass
        for _ in range(3):
            assert await auth.get_user(user.id) == user


async def test_a_statement_past_the_timeout_is_a_backend_error(url: str) -> None:
    async with asyncauth.connect(url, bootstrap=True, timeout=1, pool_size=1) as auth:
        user = await auth.create_user(email="slow@example.com")
        locker = await MySQLRaw.connect(url)
        try:
            await locker.begin()
            async with locker.cursor() as cursor:
                await cursor.execute(
                    "SELECT id FROM users WHERE id = %s FOR UPDATE", (int(user.id),)
                )
            started = asyncio.get_running_loop().time()
            with pytest.raises(BackendError, match="in time"):
                await auth.update_user(user.id, name="waits")
            assert asyncio.get_running_loop().time() - started < 3
            await locker.rollback()
        finally:
            locker.close()
        # The abandoned connection was dropped; the pool's next one works.
        assert (await auth.update_user(user.id, name="done")).name == "done"
