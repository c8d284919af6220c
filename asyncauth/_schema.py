"""The schema asyncauth expects, as data, and the comparison used by ``check`` and adoption.

Dialects name types and indexes differently, and TypeORM names them differently again, so the
comparison works on what matters (docs/schema.md): tables, columns, type families, nullability, and
which column sets are unique or indexed. Extra tables, columns and indexes are allowed: they are
the user's (custom migrations) or TypeORM's (``typeorm_metadata``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["Expected", "SchemaReport", "compare", "expected", "family"]

S, N, T, B = "string", "integer", "timestamp", "boolean"  # N: whole numbers
Col = tuple[str, bool]  # (type family, nullable)
ColumnSets = list[tuple[str, tuple[str, ...]]]

_STAMPS: Final[dict[str, Col]] = {"created_at": (T, False), "updated_at": (T, False)}

# Migration 1: the NextAuth v3 schema.
_V1_TABLES: Final[dict[str, dict[str, Col]]] = {
    "accounts": {
        "id": (N, False),
        "compound_id": (S, False),
        "user_id": (N, False),
        "provider_type": (S, False),
        "provider_id": (S, False),
        "provider_account_id": (S, False),
        "refresh_token": (S, True),
        "access_token": (S, True),
        "access_token_expires": (T, True),
        **_STAMPS,
    },
    "sessions": {
        "id": (N, False),
        "user_id": (N, False),
        "expires": (T, False),
        "session_token": (S, False),
        "access_token": (S, False),
        **_STAMPS,
    },
    "users": {
        "id": (N, False),
        "name": (S, True),
        "email": (S, True),
        "email_verified": (T, True),
        "image": (S, True),
        **_STAMPS,
    },
    "verification_requests": {
        "id": (N, False),
        "identifier": (S, False),
        "token": (S, False),
        "expires": (T, False),
        **_STAMPS,
    },
}
_V1_UNIQUE: Final[ColumnSets] = [
    ("accounts", ("id",)),
    ("sessions", ("id",)),
    ("users", ("id",)),
    ("verification_requests", ("id",)),
    ("accounts", ("compound_id",)),
    ("sessions", ("session_token",)),
    ("sessions", ("access_token",)),
    ("users", ("email",)),
    ("verification_requests", ("token",)),
]
_V1_INDEXED: Final[ColumnSets] = [
    ("accounts", ("provider_account_id",)),
    ("accounts", ("provider_id",)),
    ("accounts", ("user_id",)),
]

# Migration 2: additions.
_V2_COLUMNS: Final[dict[str, dict[str, Col]]] = {
    "accounts": {
        "token_type": (S, True),
        "scope": (S, True),
        "id_token": (S, True),
        "session_state": (S, True),
    },
    "authenticators": {
        "id": (N, False),
        "credential_id": (S, False),
        "user_id": (N, False),
        "provider_account_id": (S, False),
        "credential_public_key": (S, False),
        "counter": (N, False),
        "credential_device_type": (S, False),
        "credential_backed_up": (B, False),
        "transports": (S, True),
        **_STAMPS,
    },
}
_V2_UNIQUE: Final[ColumnSets] = [
    ("authenticators", ("id",)),
    ("authenticators", ("credential_id",)),
]
_V2_INDEXED: Final[ColumnSets] = [
    ("authenticators", ("user_id",)),
    ("sessions", ("expires",)),
    ("sessions", ("user_id",)),
    ("verification_requests", ("expires",)),
]

V1_TABLES: Final = frozenset(_V1_TABLES)
#: the schema version the bundled migrations reach
LATEST: Final = 2


@dataclass(frozen=True)
class Expected:
    """The tables, unique column sets and indexed column sets of one schema version."""

    tables: dict[str, dict[str, Col]]
    unique: list[tuple[str, tuple[str, ...]]]
    indexed: list[tuple[str, tuple[str, ...]]]


def expected(version: int) -> Expected:
    """What the schema looks like once migrations up to ``version`` are applied."""
    tables = {t: dict(cols) for t, cols in _V1_TABLES.items()}
    unique, indexed = list(_V1_UNIQUE), list(_V1_INDEXED)
    if version >= 2:
        for t, cols in _V2_COLUMNS.items():
            tables.setdefault(t, {}).update(cols)
        unique += _V2_UNIQUE
        indexed += _V2_INDEXED
    return Expected(tables, unique, indexed)


def family(data_type: str) -> str:
    """The type family of a catalog type name, in any of the SQL dialects."""
    t = data_type.lower()
    if "bool" in t or t == "bit" or t.startswith("tinyint(1)"):
        return B
    if "int" in t or "serial" in t:
        return N
    if "time" in t or "date" in t:
        return T
    if "char" in t or "text" in t or "clob" in t or "string" in t:
        return S
    return t or "unknown"


@dataclass
class SchemaReport:
    """The result of :func:`asyncauth.check`: ``ok`` when ``differences`` is empty."""

    differences: list[str] = field(default_factory=list)
    applied: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    #: migrations recorded in the database that this version of asyncauth does not know:
    #: a newer version bootstrapped it (a rolling deploy). Not a difference: migrations only
    #: add, so an older version keeps working on the newer schema (docs/bootstrap.md).
    unknown: list[int | str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the live schema has everything asyncauth expects."""
        return not self.differences

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``asyncauth check --json``)."""
        return {
            "ok": self.ok,
            "differences": list(self.differences),
            "applied": list(self.applied),
            "pending": list(self.pending),
            "unknown": list(self.unknown),
        }


def compare(
    columns: Iterable[Mapping[str, Any]],
    indexes: Iterable[Mapping[str, Any]],
    want: Expected,
) -> list[str]:
    """Every way the live catalog falls short of ``want``, as readable lines."""
    live: dict[str, dict[str, Col]] = defaultdict(dict)
    for row in columns:
        live[str(row["table_name"]).lower()][str(row["column_name"]).lower()] = (
            family(str(row["data_type"])),
            bool(row["nullable"]),
        )
    parts: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    unique_flag: dict[tuple[str, str], bool] = {}
    for row in indexes:
        k = (str(row["table_name"]).lower(), str(row["index_name"]))
        parts[k].append((int(row["position"]), str(row["column_name"]).lower()))
        unique_flag[k] = bool(row["is_unique"])
    live_indexes: dict[str, list[tuple[tuple[str, ...], bool]]] = defaultdict(list)
    for (table, name), cols in parts.items():
        ordered = tuple(c for _, c in sorted(cols))
        live_indexes[table].append((ordered, unique_flag[(table, name)]))

    out: list[str] = []
    for table, want_cols in want.tables.items():
        if table not in live:
            out.append(f"missing table {table}")
            continue
        for col, (fam, nullable) in want_cols.items():
            have = live[table].get(col)
            if have is None:
                out.append(f"missing column {table}.{col}")
                continue
            if have[0] != fam:
                out.append(f"wrong type {table}.{col}: {have[0]}, expected {fam}")
            if have[1] != nullable:
                want_null = "nullable" if nullable else "NOT NULL"
                out.append(f"wrong nullability {table}.{col}: expected {want_null}")
    for table, cols_set in want.unique:
        if table in live and not any(u and set(c) == set(cols_set) for c, u in live_indexes[table]):
            out.append(f"missing unique index {table}({', '.join(cols_set)})")
    for table, cols_set in want.indexed:
        # Any index whose leading columns are these serves the lookups it exists for.
        if table in live and not any(
            c[: len(cols_set)] == cols_set for c, _ in live_indexes[table]
        ):
            out.append(f"missing index {table}({', '.join(cols_set)})")
    return out
