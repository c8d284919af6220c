"""Bootstrap and check on SQLite and PostgreSQL: the schema of docs/schema.md, concurrency,
adoption of NextAuth v3 databases, checksum drift. Each test gets a database of its own.

The catalog is read here with the bare drivers, independently of the library's own catalog
queries, and compared with docs/schema.md's migration 1 written out literally.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import asyncauth
from asyncauth import SchemaError
from asyncauth._base import compound_id
from asyncauth._postgres import keep_session_state
from tests._backends import postgres_database, sqlite_database

pytestmark = pytest.mark.anyio
UTC = timezone.utc
ROOT = Path(__file__).resolve().parents[1]

# docs/schema.md, PostgreSQL, migration 1: (type, nullable) per column, and the eight indexes.
PG_V1: dict[str, dict[str, tuple[str, bool]]] = {
    "accounts": {
        "id": ("integer", False),
        "compound_id": ("character varying(255)", False),
        "user_id": ("integer", False),
        "provider_type": ("character varying(255)", False),
        "provider_id": ("character varying(255)", False),
        "provider_account_id": ("character varying(255)", False),
        "refresh_token": ("text", True),
        "access_token": ("text", True),
        "access_token_expires": ("timestamp with time zone", True),
        "created_at": ("timestamp with time zone", False),
        "updated_at": ("timestamp with time zone", False),
    },
    "sessions": {
        "id": ("integer", False),
        "user_id": ("integer", False),
        "expires": ("timestamp with time zone", False),
        "session_token": ("character varying(255)", False),
        "access_token": ("character varying(255)", False),
        "created_at": ("timestamp with time zone", False),
        "updated_at": ("timestamp with time zone", False),
    },
    "users": {
        "id": ("integer", False),
        "name": ("character varying(255)", True),
        "email": ("character varying(255)", True),
        "email_verified": ("timestamp with time zone", True),
        "image": ("text", True),
        "created_at": ("timestamp with time zone", False),
        "updated_at": ("timestamp with time zone", False),
    },
    "verification_requests": {
        "id": ("integer", False),
        "identifier": ("character varying(255)", False),
        "token": ("character varying(255)", False),
        "expires": ("timestamp with time zone", False),
        "created_at": ("timestamp with time zone", False),
        "updated_at": ("timestamp with time zone", False),
    },
}
V1_INDEXES = {
    # name: (table, column, unique)
    "compound_id": ("accounts", "compound_id", True),
    "provider_account_id": ("accounts", "provider_account_id", False),
    "provider_id": ("accounts", "provider_id", False),
    "user_id": ("accounts", "user_id", False),
    "session_token": ("sessions", "session_token", True),
    "access_token": ("sessions", "access_token", True),
    "email": ("users", "email", True),
    "token": ("verification_requests", "token", True),
}


@pytest.fixture
async def pg_url(anyio_backend: str) -> AsyncIterator[str]:
    async with postgres_database() as url:
        yield url


@pytest.fixture
async def sqlite_url(anyio_backend: str) -> AsyncIterator[str]:
    async with sqlite_database() as url:
        yield url


def sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


# -- the schema of docs/schema.md -------------------------------------------------------------


@pytest.mark.postgres
async def test_postgres_schema_is_migration_1_exactly(pg_url: str) -> None:
    import asyncpg

    assert await asyncauth.bootstrap(pg_url) == [1, 2]
    conn = await asyncpg.connect(pg_url)
    try:
        for table, columns in PG_V1.items():
            rows = await conn.fetch(
                "SELECT column_name, format_type(a.atttypid, a.atttypmod) AS type, "
                "c.is_nullable = 'YES' AS nullable, c.column_default "
                "FROM information_schema.columns c JOIN pg_attribute a "
                "ON a.attrelid = $1::text::regclass AND a.attname = c.column_name "
                "WHERE c.table_name = $1::text",
                table,
            )
            live = {r["column_name"]: (r["type"], r["nullable"]) for r in rows}
            for column, want in columns.items():
                assert live[column] == want, f"{table}.{column}"
            defaults = {r["column_name"]: r["column_default"] for r in rows}
            assert defaults["created_at"] == "CURRENT_TIMESTAMP"
            assert defaults["id"].startswith("nextval(")  # SERIAL
            pk = await conn.fetchval(
                "SELECT array_agg(a.attname) FROM pg_index i JOIN pg_attribute a "
                "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                "WHERE i.indrelid = $1::regclass AND i.indisprimary",
                table,
            )
            assert pk == ["id"]
        indexes = await conn.fetch(
            "SELECT c.relname AS name, t.relname AS tbl, a.attname AS col, i.indisunique AS u "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0] "
            "WHERE i.indnatts = 1"
        )
        live_ix = {r["name"]: (r["tbl"], r["col"], r["u"]) for r in indexes}
        for name, want in V1_INDEXES.items():
            assert live_ix.get(name) == want, name
    finally:
        await conn.close()


@pytest.mark.sqlite
async def test_sqlite_schema_is_migration_1_exactly(sqlite_url: str) -> None:
    assert await asyncauth.bootstrap(sqlite_url) == [1, 2]
    db = sqlite3.connect(sqlite_path(sqlite_url))
    try:
        for table, columns in PG_V1.items():
            info = {r[1]: r for r in db.execute(f"PRAGMA table_info({table})")}
            for column, (pg_type, nullable) in columns.items():
                want = {
                    "integer": "integer",
                    "character varying(255)": "varchar(255)",
                    "text": "text",
                    "timestamp with time zone": "datetime",
                }[pg_type]
                _cid, _name, sql_type, notnull, _default, pk = info[column]
                assert sql_type.lower() == want, f"{table}.{column}"
                assert (not notnull and not pk) == nullable, f"{table}.{column}"
            assert info["id"][5] == 1  # INTEGER PRIMARY KEY
            assert info["created_at"][4] == "datetime('now')"
        for name, (table, column, unique) in V1_INDEXES.items():
            listed = {r[1]: r[2] for r in db.execute(f"PRAGMA index_list({table})")}
            assert listed.get(name) == int(unique), name
            assert [r[2] for r in db.execute(f"PRAGMA index_info({name})")] == [column]
    finally:
        db.close()


async def test_sql_ddl_is_the_migrations() -> None:
    text = asyncauth.ddl("postgres")
    assert "CREATE TABLE accounts" in text and "CREATE TABLE IF NOT EXISTS authenticators" in text


# -- cost, idempotence, concurrency ---------------------------------------------------------


@pytest.mark.postgres
async def test_bootstrap_on_current_postgres_costs_one_query(pg_url: str) -> None:
    import asyncpg

    await asyncauth.bootstrap(pg_url)
    sent: list[str] = []

    async def count_queries(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda record: sent.append(record.query))

    # The pool is the application's, made as asyncauth makes its own (no reset round trip).
    pool = await asyncpg.create_pool(
        pg_url, min_size=1, max_size=2, init=count_queries, reset=keep_session_state
    )
    try:
        adapter = asyncauth.PostgresAdapter(pool)
        await asyncio.sleep(0.01)  # asyncpg calls query loggers from the event loop, later
        sent.clear()
        assert await asyncauth.bootstrap(adapter) == []
        await asyncio.sleep(0.01)
        assert len(sent) == 1, sent
        assert "asyncauth_migrations" in sent[0]
    finally:
        await pool.close()


@pytest.mark.sqlite
async def test_bootstrap_is_idempotent_and_keeps_rows(sqlite_url: str) -> None:
    async with asyncauth.connect(sqlite_url, bootstrap=True) as auth:
        user = await auth.create_user(email="keep@example.com")
    for _ in range(3):
        assert await asyncauth.bootstrap(sqlite_url) == []
    async with asyncauth.connect(sqlite_url) as auth:
        assert await auth.get_user(user.id) == user


async def _race(url: str, processes: int = 8) -> list[subprocess.CompletedProcess[str]]:
    def run() -> list[subprocess.CompletedProcess[str]]:
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "asyncauth", "bootstrap", url],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(processes)
        ]
        done = []
        for p in procs:
            out, err = p.communicate(timeout=60)
            done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
        return done

    return await asyncio.to_thread(run)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["sqlite", "postgres"])
async def test_eight_processes_bootstrap_at_once(
    which: str, request: pytest.FixtureRequest
) -> None:
    request.applymarker(getattr(pytest.mark, which))
    provision = sqlite_database if which == "sqlite" else postgres_database
    async with provision() as url:
        results = await _race(url)
        for r in results:
            assert r.returncode == 0, r.stderr
        applied = [r for r in results if r.stdout.startswith("applied migrations 1, 2")]
        assert len(applied) == 1, [r.stdout for r in results]
        async with asyncauth.connect(url) as auth:
            report = await auth.check()
        assert report.ok, report.differences
        assert report.applied == [1, 2]


# -- adoption ---------------------------------------------------------------------------------

# What TypeORM's synchronize makes for NextAuth v3 on PostgreSQL: varchar without length,
# constraint and index names of its own, now() defaults, and a typeorm_metadata table.
TYPEORM_PG = """
CREATE TABLE accounts (id SERIAL NOT NULL, compound_id varchar NOT NULL, user_id integer NOT NULL,
  provider_type varchar NOT NULL, provider_id varchar NOT NULL,
  provider_account_id varchar NOT NULL,
  refresh_token text, access_token text, access_token_expires TIMESTAMP WITH TIME ZONE,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
  updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
  CONSTRAINT "UQ_8fce7ab1e55b5b6cc03a8e0ba1b" UNIQUE (compound_id),
  CONSTRAINT "PK_5a7a02c20412299d198e097a8fe" PRIMARY KEY (id));
CREATE INDEX "IDX_3000dad1da61b29953f0747632" ON accounts (user_id);
CREATE INDEX "IDX_a8cd4ab0a0b3c8b4b4c6b9a1e5" ON accounts (provider_id);
CREATE INDEX "IDX_d2b1c1f0d1e4a3c2b5a6f7e8d9" ON accounts (provider_account_id);
CREATE TABLE sessions (id SERIAL NOT NULL, user_id integer NOT NULL,
  expires TIMESTAMP WITH TIME ZONE NOT NULL, session_token varchar NOT NULL,
  access_token varchar NOT NULL,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
  updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
  CONSTRAINT "UQ_f10db2949bbea55b44f31108e1a" UNIQUE (session_token),
  CONSTRAINT "UQ_b02a7acc05fe8194bed8433cf25" UNIQUE (access_token),
  CONSTRAINT "PK_3238ef96f18b355b671619111bc" PRIMARY KEY (id));
CREATE TABLE users (id SERIAL NOT NULL, name varchar, email varchar,
  email_verified TIMESTAMP WITH TIME ZONE, image varchar,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
  updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
  CONSTRAINT "UQ_97672ac88f789774dd47f7c8be3" UNIQUE (email),
  CONSTRAINT "PK_a3ffb1c0c8416b9fc6f907b7433" PRIMARY KEY (id));
CREATE TABLE verification_requests (id SERIAL NOT NULL, identifier varchar NOT NULL,
  token varchar NOT NULL, expires TIMESTAMP WITH TIME ZONE NOT NULL,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
  updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
  CONSTRAINT "UQ_3a4b5c6d7e8f9a0b1c2d3e4f5a6" UNIQUE (token),
  CONSTRAINT "PK_4b5c6d7e8f9a0b1c2d3e4f5a6b7" PRIMARY KEY (id));
CREATE TABLE typeorm_metadata (type varchar NOT NULL, database varchar, schema varchar,
  "table" varchar, name varchar, value text);
"""

# TypeORM on SQLite: varchar/datetime types and unique keys as table constraints.
TYPEORM_SQLITE = """
CREATE TABLE "accounts" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  "compound_id" varchar NOT NULL, "user_id" integer NOT NULL, "provider_type" varchar NOT NULL,
  "provider_id" varchar NOT NULL, "provider_account_id" varchar NOT NULL,
  "refresh_token" text, "access_token" text, "access_token_expires" datetime,
  "created_at" datetime NOT NULL DEFAULT (datetime('now')),
  "updated_at" datetime NOT NULL DEFAULT (datetime('now')),
  CONSTRAINT "UQ_8fce7ab1e55b5b6cc03a8e0ba1b" UNIQUE ("compound_id"));
CREATE INDEX "IDX_3000dad1da61b29953f0747632" ON "accounts" ("user_id");
CREATE INDEX "IDX_a8cd4ab0a0b3c8b4b4c6b9a1e5" ON "accounts" ("provider_id");
CREATE INDEX "IDX_d2b1c1f0d1e4a3c2b5a6f7e8d9" ON "accounts" ("provider_account_id");
CREATE TABLE "sessions" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  "user_id" integer NOT NULL, "expires" datetime NOT NULL, "session_token" varchar NOT NULL,
  "access_token" varchar NOT NULL, "created_at" datetime NOT NULL DEFAULT (datetime('now')),
  "updated_at" datetime NOT NULL DEFAULT (datetime('now')),
  CONSTRAINT "UQ_f10db2949bbea55b44f31108e1a" UNIQUE ("session_token"),
  CONSTRAINT "UQ_b02a7acc05fe8194bed8433cf25" UNIQUE ("access_token"));
CREATE TABLE "users" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "name" varchar,
  "email" varchar, "email_verified" datetime, "image" varchar,
  "created_at" datetime NOT NULL DEFAULT (datetime('now')),
  "updated_at" datetime NOT NULL DEFAULT (datetime('now')),
  CONSTRAINT "UQ_97672ac88f789774dd47f7c8be3" UNIQUE ("email"));
CREATE TABLE "verification_requests" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  "identifier" varchar NOT NULL, "token" varchar NOT NULL, "expires" datetime NOT NULL,
  "created_at" datetime NOT NULL DEFAULT (datetime('now')),
  "updated_at" datetime NOT NULL DEFAULT (datetime('now')),
  CONSTRAINT "UQ_3a4b5c6d7e8f9a0b1c2d3e4f5a6" UNIQUE ("token"));
"""

V3_ROWS_SQLITE = [
    "INSERT INTO users (name, email, email_verified) VALUES "
    "('Grace', 'grace@example.com', '2026-12-26 16:44:05.557')",
    f"INSERT INTO accounts (compound_id, user_id, provider_type, provider_id, provider_account_id, "
    f"access_token) VALUES ('{compound_id('github', '42')}', 1, 'oauth', 'github', '42', 'gho')",
    "INSERT INTO sessions (user_id, expires, session_token, access_token) VALUES "
    "(1, '2999-01-01 00:00:00.000', 'v3-session', 'v3-access')",
    "INSERT INTO verification_requests (identifier, token, expires) VALUES "
    "('grace@example.com', 'hashed', '2999-01-01 00:00:00')",
]


async def _assert_adopted(url: str) -> None:
    assert await asyncauth.bootstrap(url) == [1, 2]  # 1 recorded (adopted), 2 applied
    async with asyncauth.connect(url) as auth:
        report = await auth.check()
        assert report.ok, report.differences
        user = await auth.get_user_by_account("github", "42")
        assert user is not None and user.email == "grace@example.com"
        assert user.email_verified == datetime(2026, 12, 26, 16, 44, 5, 557000, tzinfo=UTC)
        found = await auth.get_session_and_user("v3-session")
        assert found is not None and found[1] == user
        assert await auth._get_verification_token("grace@example.com", "hashed") is not None
        # New rows next to NextAuth's own work, and the new columns are there.
        other = await auth.create_user(email="new@example.com")
        await auth.create_session(other.id, datetime.now(UTC) + timedelta(days=1), "new-token")
        assert (await auth.get_session_and_user("new-token")) is not None


@pytest.mark.sqlite
@pytest.mark.parametrize("ddl", ["typeorm", "documented"])
async def test_sqlite_adopts_nextauth_v3(sqlite_url: str, ddl: str) -> None:
    path = sqlite_path(sqlite_url)
    db = sqlite3.connect(path)
    if ddl == "typeorm":
        db.executescript(TYPEORM_SQLITE)
    else:
        db.executescript(asyncauth.ddl("sqlite").split("-- 0002_asyncauth.sql")[0])
    for statement in V3_ROWS_SQLITE:
        db.execute(statement)
    db.commit()
    db.close()
    await _assert_adopted(sqlite_url)
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM users").fetchone() == (2,)
    assert db.execute("SELECT version FROM asyncauth_migrations").fetchall() == [(1,), (2,)]
    db.close()


@pytest.mark.postgres
@pytest.mark.parametrize("ddl", ["typeorm", "documented"])
async def test_postgres_adopts_nextauth_v3(pg_url: str, ddl: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(pg_url)
    try:
        if ddl == "typeorm":
            await conn.execute(TYPEORM_PG)
        else:
            await conn.execute(asyncauth.ddl("postgres").split("-- 0002_asyncauth.sql")[0])
        for statement in V3_ROWS_SQLITE:
            await conn.execute(statement)
    finally:
        await conn.close()
    await _assert_adopted(pg_url)
    conn = await asyncpg.connect(pg_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM users") == 2
        if ddl == "typeorm":
            assert await conn.fetchval("SELECT count(*) FROM typeorm_metadata") == 0
    finally:
        await conn.close()


@pytest.mark.sqlite
async def test_partial_nextauth_schema_is_refused(sqlite_url: str) -> None:
    db = sqlite3.connect(sqlite_path(sqlite_url))
    db.execute("CREATE TABLE users (id integer PRIMARY KEY, email varchar(255))")
    db.execute("INSERT INTO users (email) VALUES ('x@example.com')")
    db.commit()
    db.close()
    with pytest.raises(SchemaError, match="partial"):
        await asyncauth.bootstrap(sqlite_url)
    db = sqlite3.connect(sqlite_path(sqlite_url))
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "accounts" not in tables  # nothing half-applied: the transaction rolled back
    assert db.execute("SELECT count(*) FROM users").fetchone() == (1,)
    db.close()


# -- drift ------------------------------------------------------------------------------------


@pytest.mark.postgres
async def test_changed_checksum_is_a_schema_error(pg_url: str) -> None:
    import asyncpg

    await asyncauth.bootstrap(pg_url)
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(
            "UPDATE asyncauth_migrations SET checksum = repeat('0', 64) WHERE version = 2"
        )
    finally:
        await conn.close()
    with pytest.raises(SchemaError, match="migration 2"):
        await asyncauth.bootstrap(pg_url)
    report = await asyncauth.check(pg_url)
    assert not report.ok
    assert any("another checksum" in d for d in report.differences)


async def _catalog(conn: Any) -> list[tuple[Any, ...]]:
    rows = await conn.fetch(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY 1, 2"
    )
    ix = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
    )
    return [tuple(r) for r in rows] + [tuple(r) for r in ix]


@pytest.mark.postgres
async def test_check_reports_every_difference_and_changes_nothing(pg_url: str) -> None:
    import asyncpg

    await asyncauth.bootstrap(pg_url)
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("DROP INDEX sessions_expires")
        await conn.execute("ALTER TABLE accounts DROP COLUMN scope")
        await conn.execute("ALTER TABLE users ALTER COLUMN created_at DROP NOT NULL")
        await conn.execute("ALTER TABLE sessions ALTER COLUMN access_token TYPE integer USING 0")
        await conn.execute("DROP INDEX email")
        await conn.execute("DROP TABLE authenticators")
        before = await _catalog(conn)
        report = await asyncauth.check(pg_url)
        after = await _catalog(conn)
    finally:
        await conn.close()
    assert before == after
    assert sorted(report.differences) == sorted(
        [
            "missing index sessions(expires)",
            "missing column accounts.scope",
            "wrong nullability users.created_at: expected NOT NULL",
            "wrong type sessions.access_token: integer, expected string",
            "missing unique index users(email)",
            "missing table authenticators",
        ]
    )
