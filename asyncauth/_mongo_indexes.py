"""MongoDB's "migrations": index sets, created idempotently and recorded.

There is no DDL. Each set is created with ``createIndexes`` (idempotent) and recorded in
``asyncauth_migrations`` under ``_id = version`` with a checksum of its specification, so any
number of processes can bootstrap at once: the unique ``_id`` lets exactly one of them record
each version.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any, Final

from pymongo import ASCENDING
from pymongo import errors as pe

from ._base import now
from ._bootstrap import warn_unknown
from ._errors import SchemaError
from ._schema import SchemaReport

__all__ = ["MIGRATIONS", "MIGRATIONS_COLLECTION", "TTL_INDEXES", "bootstrap", "check"]

log = logging.getLogger("asyncauth")

MIGRATIONS_COLLECTION: Final = "asyncauth_migrations"

Doc = dict[str, Any]
# (collection, key fields, options): options only ``unique`` and ``sparse``.
IndexSpec = tuple[str, tuple[str, ...], dict[str, bool]]

#: version -> (name, index specs); the MongoDB counterpart of the SQL migration files
MIGRATIONS: Final[dict[int, tuple[str, tuple[IndexSpec, ...]]]] = {
    1: (
        "nextauth_v3",
        (
            ("users", ("email",), {"unique": True, "sparse": True}),
            ("accounts", ("compoundId",), {"unique": True}),
            ("accounts", ("userId",), {}),
            ("accounts", ("providerId",), {}),
            ("accounts", ("providerAccountId",), {}),
            ("sessions", ("sessionToken",), {"unique": True}),
            ("sessions", ("accessToken",), {"unique": True}),
            ("verificationRequests", ("token",), {"unique": True}),
        ),
    ),
    2: (
        "asyncauth",
        (
            ("authenticators", ("credentialId",), {"unique": True}),
            ("authenticators", ("userId",), {}),
            # delete_user and the hot path's neighbours look sessions up by user; purge and
            # the TTL monitor scan by expiry.
            ("sessions", ("userId",), {}),
            ("sessions", ("expires",), {}),
            ("verificationRequests", ("expires",), {}),
        ),
    ),
}
# The indexes that ``ttl_indexes=True`` turns into TTL indexes (expireAfterSeconds 0: a
# document goes once its own ``expires`` has passed).
TTL_INDEXES: Final = (("sessions", "expires"), ("verificationRequests", "expires"))
TTL_RECORD: Final = "ttl"


def _checksum(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _spec_checksum(specs: tuple[IndexSpec, ...]) -> str:
    return _checksum([[c, list(k), o] for c, k, o in specs])


def _wanted(ttl_indexes: bool) -> dict[int | str, str]:
    wanted: dict[int | str, str] = {
        version: _spec_checksum(specs) for version, (_, specs) in MIGRATIONS.items()
    }
    if ttl_indexes:
        wanted[TTL_RECORD] = _checksum([list(t) for t in TTL_INDEXES])
    return wanted


async def bootstrap(db: Any, *, ttl_indexes: bool) -> list[int]:
    """Create what is missing of the bundled index sets in ``db``; the versions recorded now.

    On a current database this is one query. An index that holds a different definition is
    never dropped or changed: that is a SchemaError naming it.
    """
    migrations = db[MIGRATIONS_COLLECTION]
    wanted = _wanted(ttl_indexes)
    applied = {d["_id"]: d.get("checksum") async for d in migrations.find({})}
    for key, checksum in wanted.items():
        have = applied.get(key)
        if have is not None and have != checksum:
            raise SchemaError(
                f"migration {key} was applied with checksum {str(have)[:12]}…, but the "
                f"bundled index set now has {checksum[:12]}…: refusing to guess"
            )
    warn_unknown(_unknown_records(applied), "mongodb")
    if all(key in applied for key in wanted):
        log.debug("bootstrap: mongodb index sets are current")
        return []
    done: list[int] = []
    for version, (name, specs) in MIGRATIONS.items():
        if version in applied:
            continue
        log.debug("bootstrap: creating mongodb index set %d (%s)", version, name)
        await _create_indexes(db, specs)
        if await _record(migrations, version, name, wanted[version]):
            done.append(version)
        else:
            log.debug("bootstrap: index set %d was recorded by another process", version)
    if ttl_indexes and TTL_RECORD not in applied:
        log.debug("bootstrap: turning the expires indexes into TTL indexes")
        await _make_ttl(db)
        await _record(migrations, TTL_RECORD, "ttl_indexes", wanted[TTL_RECORD])
    return done


async def _record(migrations: Any, key: int | str, name: str, checksum: str) -> bool:
    """Record a migration; False when another process recorded it first."""
    try:
        await migrations.insert_one(
            # The SQL table's columns too (version, name, checksum, appliedAt).
            {"_id": key, "version": key, "name": name, "checksum": checksum, "appliedAt": now()}
        )
    except pe.DuplicateKeyError:
        return False
    return True


async def _live_indexes(db: Any, collection: str) -> list[Doc]:
    info: dict[str, Doc] = await db[collection].index_information()
    return list(info.values())


async def _create_indexes(db: Any, specs: tuple[IndexSpec, ...]) -> None:
    by_collection: dict[str, list[IndexSpec]] = {}
    for spec in specs:
        by_collection.setdefault(spec[0], []).append(spec)
    for collection, wanted in by_collection.items():
        live = await _live_indexes(db, collection)
        for _, keys, options in wanted:
            found = _find_index(live, keys)
            if found is not None:
                problem = _index_problem(collection, keys, options, found)
                if problem:
                    raise SchemaError(f"{problem}; asyncauth never drops an index")
                continue  # there already, perhaps under another name (TypeORM's)
            try:
                await db[collection].create_index([(k, ASCENDING) for k in keys], **options)
            except pe.OperationFailure as exc:
                if exc.code in (11000, 11001):
                    # The server's message quotes the repeated value: not in ours.
                    raise SchemaError(
                        f"cannot create the unique index {collection}({', '.join(keys)}): "
                        "existing documents repeat a value"
                    ) from None
                # 85/86: another process created it a moment ago under its name.
                if exc.code not in (85, 86):
                    raise


async def _make_ttl(db: Any) -> None:
    for collection, field in TTL_INDEXES:
        found = _find_index(await _live_indexes(db, collection), (field,))
        if found is not None and found.get("expireAfterSeconds") is not None:
            continue
        # collMod turns the existing expires index into a TTL index in place: no drop.
        await db.command(
            "collMod",
            collection,
            index={"keyPattern": {field: 1}, "expireAfterSeconds": 0},
        )


async def check(db: Any, *, ttl_indexes: bool) -> SchemaReport:
    """Compare the live indexes and migration records of ``db`` with the expected ones."""
    report = SchemaReport()
    names = set(await db.list_collection_names())
    specs = [s for _, (_, group) in sorted(MIGRATIONS.items()) for s in group]
    live: dict[str, list[Doc]] = {}
    for collection in sorted({s[0] for s in specs}):
        if collection not in names:
            report.differences.append(f"missing collection {collection}")
            continue
        live[collection] = await _live_indexes(db, collection)
    for collection, keys, options in specs:
        if collection not in live:
            continue
        found = _find_index(live[collection], keys)
        if found is None:
            kind = "unique index" if options.get("unique") else "index"
            report.differences.append(f"missing {kind} {collection}({', '.join(keys)})")
            continue
        problem = _index_problem(collection, keys, options, found)
        if problem:
            report.differences.append(problem)
    if ttl_indexes:
        for collection, field in TTL_INDEXES:
            found = _find_index(live.get(collection, []), (field,))
            if found is not None and found.get("expireAfterSeconds") is None:
                report.differences.append(f"index {collection}({field}) is not a TTL index")
    wanted = _wanted(ttl_indexes)
    if MIGRATIONS_COLLECTION in names:
        applied = {d["_id"]: d.get("checksum") async for d in db[MIGRATIONS_COLLECTION].find({})}
        report.applied = sorted(k for k in applied if isinstance(k, int))
        report.unknown = _unknown_records(applied)
        for key, checksum in wanted.items():
            have = applied.get(key)
            if have is None:
                if isinstance(key, int):
                    report.pending.append(key)
                report.differences.append(f"migration {key} not applied")
            elif have != checksum:
                report.differences.append(f"migration {key} applied with another checksum")
    else:
        report.pending = sorted(MIGRATIONS)
        report.differences.append(f"no {MIGRATIONS_COLLECTION} collection (never bootstrapped)")
    return report


def _unknown_records(applied: Mapping[Any, Any]) -> list[int | str]:
    """Recorded index sets this version does not know: a newer asyncauth wrote them."""
    known: set[Any] = {*MIGRATIONS, TTL_RECORD}
    return sorted((k for k in applied if k not in known), key=str)


def _find_index(live: list[Doc], keys: tuple[str, ...]) -> Doc | None:
    """The live index on exactly these keys (ascending or descending), if any."""
    for info in live:
        fields = tuple(k for k, _ in info.get("key", ()))
        if fields == keys:
            return info
    return None


def _index_problem(
    collection: str, keys: tuple[str, ...], options: Mapping[str, bool], found: Mapping[str, Any]
) -> str | None:
    unique, sparse = bool(found.get("unique")), bool(found.get("sparse"))
    want_unique, want_sparse = options.get("unique", False), options.get("sparse", False)
    # A unique index serves every lookup a plain one does; sparse only matters for a unique
    # index on an optional field (users.email).
    if want_unique and (not unique or sparse != want_sparse):
        have = ("unique" if unique else "not unique") + (", sparse" if sparse else "")
        want = "unique" + (", sparse" if want_sparse else ", not sparse")
        return f"different index {collection}({', '.join(keys)}): {have}, expected {want}"
    return None
