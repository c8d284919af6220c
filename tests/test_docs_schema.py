"""docs/schema.md against what it describes, so that the reference page cannot drift.

The page lists, per table, every column with its declared type in each SQL dialect, its
MongoDB field, nullability, default and the migration that adds it, then every index. Here
those lists are compared with:

- the DDL itself: ``asyncauth.ddl(dialect)`` split per migration, plus the bookkeeping table
  of ``bootstrap.sql``, for all four SQL dialects (SQL Server included, which cannot run here);
- the live catalog of a database that ``bootstrap`` just made, on every SQL server the test
  machine has (SQL Server only when ``ASYNCAUTH_MSSQL_URL`` is set);
- MongoDB's index sets (``asyncauth._mongo.MIGRATIONS``) and the documents and indexes a
  bootstrapped MongoDB-wire server really holds.

Both directions are checked: whatever the page lists exists, and whatever exists is listed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import pytest

import asyncauth
from asyncauth import Account, Authenticator
from asyncauth._adapter import SqlAdapter
from asyncauth._mongo import MIGRATIONS
from asyncauth._schema import family
from tests import _backends

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "schema.md"
SQL_DIALECTS = ("sqlite", "postgres", "mysql", "mssql")
# The page's column headings -> dialect.
HEADINGS = {
    "SQLite": "sqlite",
    "PostgreSQL": "postgres",
    "MySQL / MariaDB": "mysql",
    "SQL Server": "mssql",
    "MongoDB": "mongodb",
}
BOOKKEEPING = "asyncauth_migrations"
UTC = timezone.utc


# -- the page --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    types: dict[str, str]
    """dialect -> declared type (SQL dialects only)"""
    fields: tuple[str, ...]
    """the MongoDB field(s) holding the column"""
    nullable: bool
    default: bool
    migration: str
    """"1", "2", ... or "bootstrap" """


@dataclass(frozen=True)
class Table:
    collection: str
    columns: dict[str, Column]


def _spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def _section(text: str, title: str) -> str:
    """The text under a ``## title`` heading, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/schema.md has no '## {title}' section"
    return match.group(1)


def _rows(text: str) -> list[tuple[list[str], list[str]]]:
    """Every markdown table in ``text`` as (header cells, row cells) pairs."""
    out: list[tuple[list[str], list[str]]] = []
    header: list[str] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not set("".join(cells)) <= set("-: "):
            out.append((header, cells))
    return out


def page_tables() -> dict[str, Table]:
    text = _section(PAGE.read_text(encoding="utf-8"), "Tables")
    tables: dict[str, Table] = {}
    for match in re.finditer(r"^### ([^\n]*)\n(.*?)(?=^### |\Z)", text, re.M | re.S):
        names = _spans(match.group(1))
        table = Table(names[-1], {})
        tables[names[0]] = table
        for header, cells in _rows(match.group(2)):
            row = dict(zip(header, cells, strict=True))
            [name] = _spans(row["column"])
            assert name not in table.columns, f"{names[0]}.{name} is listed twice"
            assert row["nullable"] in ("yes", "no"), row
            table.columns[name] = Column(
                types={HEADINGS[h]: _spans(row[h])[0] for h in HEADINGS if h != "MongoDB"},
                fields=tuple(_spans(row["MongoDB"])),
                nullable=row["nullable"] == "yes",
                default=row["default"] == "now",
                migration=row["migration"],
            )
    assert tables, "docs/schema.md lists no tables"
    return tables


@dataclass(frozen=True)
class Index:
    table: str
    columns: tuple[str, ...]
    unique: bool
    migration: str


def page_sql_indexes() -> dict[str, Index]:
    out: dict[str, Index] = {}
    for header, cells in _rows(_section(PAGE.read_text(encoding="utf-8"), "Indexes")):
        row = dict(zip(header, cells, strict=True))
        if "index" not in row:
            continue
        [name] = _spans(row["index"])
        assert name not in out, f"index {name} is listed twice"
        [table] = _spans(row["table"])
        out[name] = Index(
            table, tuple(_spans(row["columns"])), row["unique"] == "yes", row["migration"]
        )
    assert out, "docs/schema.md lists no SQL indexes"
    return out


def page_mongo_indexes() -> dict[tuple[str, tuple[str, ...]], tuple[dict[str, bool], str]]:
    out: dict[tuple[str, tuple[str, ...]], tuple[dict[str, bool], str]] = {}
    for header, cells in _rows(_section(PAGE.read_text(encoding="utf-8"), "Indexes")):
        row = dict(zip(header, cells, strict=True))
        if "collection" not in row:
            continue
        [collection] = _spans(row["collection"])
        options = dict.fromkeys(_spans(row["options"]), True)
        out[(collection, tuple(_spans(row["keys"])))] = (options, row["migration"])
    assert out, "docs/schema.md lists no MongoDB indexes"
    return out


# -- the DDL ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DdlColumn:
    type: str
    nullable: bool
    default: str | None
    migration: str


_CREATE_TABLE = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+) \(", re.I)
_ADD_COLUMN = re.compile(
    r"ALTER TABLE (\w+) ADD (?:COLUMN )?(?:IF NOT EXISTS )?(\w+) ([^;]*);", re.I
)
_CREATE_INDEX = re.compile(
    r"CREATE (UNIQUE )?INDEX (?:IF NOT EXISTS )?(\w+) ON (\w+)\s*\(([^)]*)\)", re.I
)
# Words that end a column's type and start its constraints.
_AFTER_TYPE = {"NOT", "NULL", "DEFAULT", "PRIMARY", "AUTOINCREMENT", "AUTO_INCREMENT", "COLLATE"}


def _parenthesised(text: str, start: int) -> str:
    """The text inside the parenthesis opening at ``start`` (nested ones included)."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1 : i]
    raise AssertionError(f"unbalanced parenthesis at {text[start : start + 40]!r}")


def _top_level_items(body: str) -> list[str]:
    """Split on the commas outside parentheses (IDENTITY(1,1) keeps its comma)."""
    items, depth, current = [], 0, ""
    for char in body:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    return [" ".join(i.split()) for i in [*items, current] if i.strip()]


def _column(definition: str, in_key: bool, migration: str) -> DdlColumn:
    words = definition.split()
    type_words = []
    for word in words:
        if word.upper().split("(")[0] in _AFTER_TYPE | {"IDENTITY"}:
            break
        type_words.append(word)
    upper = definition.upper()
    default = re.search(r"\bDEFAULT (.+?)(?= COLLATE | NOT | PRIMARY |$)", definition)
    return DdlColumn(
        type=" ".join(type_words),
        nullable=not (
            "NOT NULL" in upper or "PRIMARY KEY" in upper or in_key or upper.startswith("SERIAL")
        ),
        default=default.group(1) if default else None,
        migration=migration,
    )


@dataclass
class Ddl:
    tables: dict[str, dict[str, DdlColumn]]
    indexes: dict[str, Index]


def parse_ddl(dialect: str) -> Ddl:
    """Every table, column and index that the dialect's migrations and bootstrap create."""
    pieces = re.split(r"^-- (\d{4})_\w+\.sql$", asyncauth.ddl(dialect), flags=re.M)
    by_migration = [(str(int(n)), sql) for n, sql in zip(pieces[1::2], pieces[2::2], strict=True)]
    bootstrap = (ROOT / "asyncauth" / "sql" / dialect / "bootstrap.sql").read_text("utf-8")
    by_migration.append(("bootstrap", bootstrap))
    ddl = Ddl({}, {})
    for migration, raw_sql in by_migration:
        sql = re.sub(r"--[^\n]*", "", raw_sql)
        for match in _CREATE_TABLE.finditer(sql):
            table = match.group(1)
            items = _top_level_items(_parenthesised(sql, match.end() - 1))
            key: set[str] = set()
            for item in items:
                pk = re.fullmatch(r"(?:CONSTRAINT \w+ )?PRIMARY KEY \(([^)]*)\)", item, re.I)
                if pk:
                    key |= {c.strip() for c in pk.group(1).split(",")}
            columns = ddl.tables.setdefault(table, {})
            for item in items:
                name, _, definition = item.partition(" ")
                if name.upper() in ("CONSTRAINT", "PRIMARY", "UNIQUE", "KEY", "INDEX"):
                    continue
                columns[name] = _column(definition, name in key, migration)
        for table, name, definition in _ADD_COLUMN.findall(sql):
            if name.upper() != "CONSTRAINT":
                ddl.tables[table][name] = _column(definition, False, migration)
        for unique, name, table, columns_text in _CREATE_INDEX.findall(sql):
            cols = tuple(c.strip() for c in columns_text.split(","))
            # SQL Server's migration 2 re-creates `email` filtered: keep the first definition.
            ddl.indexes.setdefault(name, Index(table, cols, bool(unique), migration))
    return ddl


# -- the page against the DDL (every dialect, no server needed) ------------------------------


def page_time_row(label: str) -> dict[str, str]:
    """dialect -> the code in the Times table's row that starts with ``label``."""
    for header, cells in _rows(_section(PAGE.read_text(encoding="utf-8"), "Times")):
        if cells[0].startswith(label):
            return {
                HEADINGS[h]: _spans(c)[0]
                for h, c in zip(header, cells, strict=True)
                if h in HEADINGS and h != "MongoDB"
            }
    raise AssertionError(f"docs/schema.md's Times table has no {label!r} row")


@pytest.mark.parametrize("dialect", SQL_DIALECTS)
def test_the_page_lists_exactly_the_tables_and_columns_of_the_ddl(dialect: str) -> None:
    ddl, page = parse_ddl(dialect), page_tables()
    default, time_type = page_time_row("default")[dialect], page_time_row("column type")[dialect]

    assert sorted(page) == sorted(ddl.tables)
    for table, listed in page.items():
        assert list(listed.columns) == list(ddl.tables[table]), f"{dialect}: {table}'s columns"
        for name, column in listed.columns.items():
            made = ddl.tables[table][name]
            where = f"{dialect}: {table}.{name}"
            assert column.types[dialect] == made.type, where
            assert column.nullable == made.nullable, where
            assert column.migration == made.migration, where
            assert column.default == (made.default is not None), where
            if made.default is not None:
                assert made.default == default, where
            if family(made.type) == "timestamp":
                assert made.type == time_type, where


@pytest.mark.parametrize("dialect", SQL_DIALECTS)
def test_the_page_lists_exactly_the_indexes_of_the_ddl(dialect: str) -> None:
    assert page_sql_indexes() == parse_ddl(dialect).indexes


def test_the_page_lists_exactly_the_mongodb_index_sets() -> None:
    bundled = {
        (collection, keys): (options, str(version))
        for version, (_, specs) in MIGRATIONS.items()
        for collection, keys, options in specs
    }
    assert page_mongo_indexes() == bundled


def test_the_parsers_see_what_they_should() -> None:
    """Guards the checks above against a parser that silently finds nothing."""
    sample = parse_ddl("mssql").tables["users"]
    assert sample["id"] == DdlColumn("int", False, None, "1")
    assert sample["image"] == DdlColumn("nvarchar(255)", True, None, "1")
    assert sample["created_at"].default == "SYSUTCDATETIME()"
    assert parse_ddl("sqlite").tables["asyncauth_migrations"]["version"].nullable is False
    assert page_tables()["verification_requests"].collection == "verificationRequests"
    assert len(page_sql_indexes()) == 13


# -- the page against a bootstrapped database ------------------------------------------------

PROVISION: dict[str, Callable[[], AbstractAsyncContextManager[str]]] = {
    "sqlite": _backends.sqlite_database,
    "postgres": _backends.postgres_database,
    "mysql": _backends.mysql_database,
    "mssql": _backends.mssql_database,
}
# SQL Server only where one is configured (none can run on the project's machines); its DDL is
# still checked above.
LIVE = [d for d in SQL_DIALECTS if d != "mssql" or os.environ.get("ASYNCAUTH_MSSQL_URL")]


def _primary_key(table: str) -> tuple[str, ...]:
    return ("version",) if table == BOOKKEEPING else ("id",)


@pytest.mark.anyio
@pytest.mark.parametrize("dialect", [pytest.param(d, marks=getattr(pytest.mark, d)) for d in LIVE])
async def test_the_page_matches_the_catalog_after_a_bootstrap(dialect: str) -> None:
    page = page_tables()
    async with PROVISION[dialect]() as url, asyncauth.connect(url, bootstrap=True) as auth:
        adapter = cast(SqlAdapter, auth)
        columns = await adapter.driver.fetch_all(adapter.queries["catalog_columns"], {})
        index_rows = await adapter.driver.fetch_all(adapter.queries["catalog_indexes"], {})

    live: dict[str, dict[str, tuple[str, bool]]] = {}
    for row in columns:
        table, name = str(row["table_name"]).lower(), str(row["column_name"]).lower()
        live.setdefault(table, {})[name] = (family(str(row["data_type"])), bool(row["nullable"]))
    assert set(live) - set(page) <= {"sqlite_sequence"}
    for table, listed in page.items():
        want = {n: (family(c.types[dialect]), c.nullable) for n, c in listed.columns.items()}
        assert live.get(table) == want, f"{dialect}: {table}"

    parts: dict[tuple[str, str], list[tuple[int, str, bool]]] = {}
    for row in index_rows:
        table = str(row["table_name"]).lower()
        if table in page:
            parts.setdefault((table, str(row["index_name"])), []).append(
                (int(row["position"]), str(row["column_name"]).lower(), bool(row["is_unique"]))
            )
    found = {key: (tuple(c for _, c, _ in sorted(cols)), cols[0][2]) for key, cols in parts.items()}
    want = {(i.table, name): (i.columns, i.unique) for name, i in page_sql_indexes().items()}
    assert {key: found.get(key) for key in want} == want
    # Whatever else the catalog has is a primary key (one per table), nothing unlisted.
    others = {key: value for key, value in found.items() if key not in want}
    assert all(value == (_primary_key(table), True) for (table, _), value in others.items()), others
    assert {table for table, _ in others} == set(page)


@pytest.mark.anyio
@pytest.mark.mongodb
async def test_the_page_matches_mongodb_after_a_bootstrap() -> None:
    from pymongo import AsyncMongoClient

    page = page_tables()
    later = datetime.now(UTC) + timedelta(days=1)
    async with _backends.secantus_database() as url:
        async with asyncauth.connect(url, bootstrap=True) as auth:
            # One document of each kind with every field set: absent fields are left out.
            user = await auth.create_user(
                email="ada@example.com", name="Ada", image="i", email_verified=later
            )
            await auth.link_account(
                Account(
                    user.id, "oauth", "github", "1", "r", "a", 2_000_000_000, "t", "s", "i", "st"
                )
            )
            await auth.create_session(user.id, later)
            await auth.create_verification_token("ada@example.com", "token", later)
            await auth.create_authenticator(
                Authenticator("cred", user.id, "1", "key", 1, "singleDevice", True, "usb")
            )
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
        try:
            db = client.get_default_database()
            for table, listed in page.items():
                want = {f for c in listed.columns.values() for f in c.fields}
                have: set[str] = set()
                async for doc in db[listed.collection].find({"_id": {"$ne": "ttl"}}):
                    have |= set(doc)
                assert have == want, table
            indexes: dict[tuple[str, tuple[str, ...]], tuple[dict[str, bool], str]] = {}
            versions = {k: m for k, (_, m) in page_mongo_indexes().items()}
            for collection in {c for c, _ in versions}:
                info = await db[collection].index_information()
                for name, spec in info.items():
                    if name == "_id_":
                        continue
                    keys = tuple(k for k, _ in spec["key"])
                    options = {o: True for o in ("unique", "sparse") if spec.get(o)}
                    indexes[(collection, keys)] = (options, versions.get((collection, keys), "?"))
            assert indexes == page_mongo_indexes()
        finally:
            await client.close()
