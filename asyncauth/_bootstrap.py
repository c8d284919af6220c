"""Applies the bundled migrations: idempotent, concurrent-safe, and never destructive.

On a current database the whole cost is one query (the applied versions and checksums).
Otherwise the dialect's lock is taken (an advisory lock on PostgreSQL, an IMMEDIATE transaction
on SQLite, GET_LOCK on MySQL, sp_getapplock on SQL Server), the state is read again under it,
and only what is missing is applied, each migration recorded with its checksum. The lock is
tried and polled, so waiting for another process is bounded by ``lock_timeout``, not by the
statement ``timeout``. On PostgreSQL, indexes that a bundled migration adds to tables that
already exist are built with ``CREATE INDEX CONCURRENTLY`` (see
:func:`_bootstrap_concurrently`), so adopting a large database does not block its writes.

An existing NextAuth v3 database (TypeORM ``synchronize`` or the documented SQL) is adopted:
when its tables match migration 1 closely enough (see :mod:`asyncauth._schema`), migration 1
is recorded as applied without being run, and later migrations add what is missing.
"""

from __future__ import annotations

import logging
import re
import time
import zlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

import anyio

from ._base import now
from ._driver import _BoundTx
from ._errors import AsyncAuthError, BackendError, SchemaError
from ._schema import LATEST, V1_TABLES, Expected, SchemaReport, compare, expected
from ._sql import FIRST_CUSTOM_MIGRATION, Migration, load_migrations

if TYPE_CHECKING:
    from ._adapter import SqlAdapter
    from ._driver import Tx

__all__ = ["bootstrap_sql", "check_sql"]

log = logging.getLogger("asyncauth")

# A fixed advisory-lock key, so every asyncauth process contends for the same lock.
LOCK_KEY = zlib.crc32(b"asyncauth.bootstrap")


def migrations_of(adapter: SqlAdapter) -> list[Migration]:
    """The migrations for the adapter's dialect, loaded once per adapter."""
    cached: list[Migration] | None = getattr(adapter, "_migrations", None)
    if cached is None:
        cached = load_migrations(adapter.dialect.name, adapter.extra_migrations)
        adapter._migrations = cached
    return cached


def _is_current(rows: Sequence[Any], migrations: Sequence[Migration]) -> bool:
    applied = {int(r["version"]): str(r["checksum"]) for r in rows}
    return all(applied.get(m.version) == m.checksum for m in migrations)


def warn_unknown(unknown: Sequence[int | str], backend: str) -> None:
    """Log, once per bootstrap, that a newer asyncauth has migrated this database."""
    if unknown:
        log.warning(
            "bootstrap: the %s database has migration(s) %s that this version of asyncauth "
            "does not know (a newer version applied them); carrying on, since migrations only "
            "add (docs/bootstrap.md)",
            backend,
            ", ".join(map(str, unknown)),
        )


def _unknown(versions: Iterable[int], migrations: Sequence[Migration]) -> list[int]:
    known = {m.version for m in migrations}
    return sorted(v for v in versions if v not in known)


def _verify_checksums(applied: dict[int, str], migrations: Sequence[Migration]) -> None:
    for m in migrations:
        have = applied.get(m.version)
        if have is not None and have != m.checksum:
            raise SchemaError(
                f"migration {m.version} ({m.name}) was applied with checksum {have[:12]}…, "
                f"but its file now has {m.checksum[:12]}…: the file changed after it "
                "was applied; refusing to guess (restore the file or fix the record by hand)"
            )


async def bootstrap_sql(adapter: SqlAdapter) -> list[int]:
    """Bring the adapter's database up to date; the versions applied (or adopted) now."""
    migrations = migrations_of(adapter)
    drv, q = adapter.driver, adapter.queries
    try:
        rows = await drv.fetch_all(q["bootstrap_applied"], {})
    except BackendError:
        rows = None  # no migrations table yet (or unreadable): take the slow path
    if rows is not None and _is_current(rows, migrations):
        log.debug("bootstrap: %s schema is current", adapter.dialect.name)
        warn_unknown(_unknown((int(r["version"]) for r in rows), migrations), adapter.dialect.name)
        return []
    done: list[int] = []
    if getattr(drv, "concurrent_indexes", False):
        await _bootstrap_concurrently(adapter, migrations, done)
        return done
    async with drv.transaction(exclusive=True) as tx:
        await _take_lock(adapter, tx)
        try:
            await _migrate(adapter, tx, migrations, done)
        except BaseException:
            # The migration's own error is the one to report. On PostgreSQL the failed
            # statement aborted the transaction, so any further statement (the unlock
            # included) fails with "current transaction is aborted"; the lock there ends
            # with the rollback anyway. Where the lock is the session's (MySQL's GET_LOCK)
            # the release still runs; if it cannot, the driver drops the connection.
            try:
                await tx.fetch_all(q["bootstrap_unlock"], {"key": LOCK_KEY})
            except Exception as unlock_error:  # logged, not raised: the first error wins
                log.debug("bootstrap: unlock after a failed migration failed: %r", unlock_error)
            raise
        await tx.fetch_all(q["bootstrap_unlock"], {"key": LOCK_KEY})
    return done


async def _take_lock(adapter: SqlAdapter, tx: Tx, query: str = "bootstrap_lock") -> None:
    """Take the bootstrap lock, waiting at most the adapter's ``lock_timeout``.

    The lock statement only tries (``pg_try_advisory_xact_lock``, ``GET_LOCK(..., 0)``,
    ``sp_getapplock`` with no wait) and reports it in an ``acquired`` column, so each attempt
    is a short statement and the wait is bounded by ``lock_timeout``, not by the statement
    ``timeout``: a replica may wait for minutes while another builds indexes on a large
    table. A dialect whose statement takes the lock itself (SQLite's IMMEDIATE transaction)
    returns no ``acquired`` column. Migrating without the lock could apply a migration twice.
    """
    limit = adapter._lock_timeout
    deadline = time.monotonic() + limit
    pause = 0.01
    while True:
        rows = await tx.fetch_all(adapter.queries[query], {"key": LOCK_KEY})
        if not rows or "acquired" not in rows[0] or rows[0]["acquired"]:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise BackendError(
                f"another process held the bootstrap lock for lock_timeout ({limit:g} s): "
                "try again, or raise lock_timeout"
            )
        if pause == 0.01:
            log.info("bootstrap: waiting for another process's bootstrap to finish")
        # Polling, with a growing pause: a lock wait inside one statement would be cut off
        # by the statement timeout.
        await anyio.sleep(min(pause, left))
        pause = min(pause * 2, 0.5)


async def _migrate(
    adapter: SqlAdapter,
    tx: Tx,
    migrations: Sequence[Migration],
    done: list[int],
    existing: set[str] | None = None,
) -> tuple[Migration, list[str]] | None:
    """Apply what is missing, in order, recording each migration.

    With ``existing`` (the tables there before this bootstrap began), the index builds of a
    bundled migration on those tables are not run here: the migration's other statements are,
    it is left unrecorded, and it comes back with those statements for the caller to build
    concurrently and then record (the migrations after it wait for that).
    """
    q = adapter.queries
    await tx.execute(q["bootstrap_create_table"], {})
    applied = {
        int(r["version"]): str(r["checksum"])
        for r in await tx.fetch_all(q["bootstrap_applied"], {})
    }
    _verify_checksums(applied, migrations)
    warn_unknown(_unknown(applied, migrations), adapter.dialect.name)
    if not applied and migrations and migrations[0].version == 1:
        if await _adopt(adapter, tx):
            first = migrations[0]
            await _record(adapter, tx, first)
            log.debug("bootstrap: adopted existing NextAuth v3 tables as migration 1")
            applied[first.version] = first.checksum
            done.append(first.version)
    for m in migrations:
        if m.version in applied:
            continue
        log.debug("bootstrap: applying migration %d (%s)", m.version, m.name)
        later: list[str] = []
        for statement in m.statements:
            if await _column_exists(adapter, tx, statement):
                continue
            if existing is not None and m.version < FIRST_CUSTOM_MIGRATION:
                index = _CREATE_INDEX.match(statement)
                if index is not None and index.group("table").lower() in existing:
                    later.append(statement)
                    continue
            await tx.execute_ddl(statement)
        if later:
            return m, later
        await _record(adapter, tx, m)
        done.append(m.version)
    return None


# A bundled migration's ``CREATE [UNIQUE] INDEX IF NOT EXISTS name ON table(...)``.
_CREATE_INDEX = re.compile(
    r"^(?:\s*--[^\n]*\n)*\s*CREATE\s+(?P<unique>UNIQUE\s+)?INDEX\s+IF\s+NOT\s+EXISTS\s+"
    r"(?P<name>\w+)\s+ON\s+(?P<table>\w+)(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)


async def _bootstrap_concurrently(
    adapter: SqlAdapter, migrations: Sequence[Migration], done: list[int]
) -> None:
    """PostgreSQL: the bootstrap, with indexes on existing tables built without blocking.

    A plain ``CREATE INDEX`` holds a lock that blocks every write to the table (and, in the
    migration's transaction, the ``ALTER TABLE`` before it blocks reads too) for the whole
    build: minutes on a large NextAuth database being adopted. ``CREATE INDEX CONCURRENTLY``
    does not, but cannot run inside a transaction. So here the lock is the session's, held on
    one connection across several transactions: each migration's other statements run in a
    transaction as before, its index builds on tables that existed before run concurrently
    after it, and only then is it recorded. The files are unchanged (their checksums still
    match); only how the statements run differs. A build that crashed leaves an INVALID
    index, which the next bootstrap drops and builds again (the migration is not recorded).
    Tables the bootstrap creates itself are new and empty: their indexes are built in the
    transaction, as before.
    """
    drv, q = adapter.driver, adapter.queries
    limit = adapter._lock_timeout
    try:
        async with drv.connection() as conn:
            session = _BoundTx(drv, conn)
            await _take_lock(adapter, session, "bootstrap_session_lock")
            try:
                existing: set[str] | None = None
                while True:
                    async with drv._transaction(conn, exclusive=True):
                        tx = _BoundTx(drv, conn)
                        if existing is None:
                            await tx.execute(q["bootstrap_create_table"], {})
                            columns = await tx.fetch_all(q["catalog_columns"], {})
                            existing = {str(r["table_name"]).lower() for r in columns}
                        step = await _migrate(adapter, tx, migrations, done, existing)
                    if step is None:
                        break
                    m, builds = step
                    for statement in builds:
                        await _build_concurrently(adapter, conn, statement, limit)
                    async with drv._transaction(conn, exclusive=True):
                        await _record(adapter, _BoundTx(drv, conn), m)
                    done.append(m.version)
            except BaseException:
                # Outside any transaction, so the unlock works after a failure too; if the
                # connection itself failed, the server ends the session and its lock.
                try:
                    await session.fetch_all(q["bootstrap_session_unlock"], {"key": LOCK_KEY})
                except Exception as unlock_error:  # logged, not raised: the first error wins
                    log.debug("bootstrap: unlock after a failure failed: %r", unlock_error)
                raise
            await session.fetch_all(q["bootstrap_session_unlock"], {"key": LOCK_KEY})
    except AsyncAuthError:
        raise
    except drv.errors as exc:
        raise drv.translate(exc) from exc


class _LongDdl(Protocol):
    """A driver that builds indexes concurrently (PostgresDriver)."""

    async def execute_long_ddl(self, conn: Any, sql: str, limit: float) -> None: ...


async def _build_concurrently(adapter: SqlAdapter, conn: Any, statement: str, limit: float) -> None:
    index = _CREATE_INDEX.match(statement)
    assert index is not None
    drv, name = cast(_LongDdl, adapter.driver), index.group("name")
    # The name comes from a bundled migration file (\w+ only), never from user input.
    invalid = adapter.queries["bootstrap_invalid_index"].statements[0]
    if await adapter.driver._fetch(conn, invalid, {"name": name}):
        log.info("bootstrap: dropping the INVALID index %s left by an interrupted build", name)
        await drv.execute_long_ddl(conn, f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"', limit)
    unique = "UNIQUE " if index.group("unique") else ""
    log.info("bootstrap: building index %s concurrently (writes go on meanwhile)", name)
    await drv.execute_long_ddl(
        conn,
        f"CREATE {unique}INDEX CONCURRENTLY IF NOT EXISTS {name} "
        f"ON {index.group('table')}{index.group('rest')}",
        limit,
    )


# ``ALTER TABLE t ADD [COLUMN] c ...``, after any leading comment lines.
_ADD_COLUMN = re.compile(
    r"^(?:\s*--[^\n]*\n)*\s*ALTER\s+TABLE\s+[\"`\[]?(\w+)[\"`\]]?\s+"
    r"ADD\s+(?:COLUMN\s+)?[\"`\[]?(\w+)[\"`\]]?",
    re.IGNORECASE,
)


async def _column_exists(adapter: SqlAdapter, tx: Tx, statement: str) -> bool:
    """True for an ``ADD COLUMN`` whose column exists already, on SQLite only.

    SQLite has no ``ADD COLUMN IF NOT EXISTS``: a migration whose record was deleted by hand
    would fail on its first column ("duplicate column") where PostgreSQL's and MySQL's
    statements check what exists. Asking the catalog first makes SQLite recover the same
    way, without touching the (checksummed) migration files.
    """
    if adapter.dialect.name != "sqlite":
        return False
    match = _ADD_COLUMN.match(statement)
    if match is None:
        return False
    table, column = match.group(1).lower(), match.group(2).lower()
    rows = await tx.fetch_all(adapter.queries["catalog_columns"], {})
    if any(
        str(r["table_name"]).lower() == table and str(r["column_name"]).lower() == column
        for r in rows
    ):
        log.debug("bootstrap: %s.%s exists already; skipping its ADD COLUMN", table, column)
        return True
    return False


async def _record(adapter: SqlAdapter, tx: Tx, m: Migration) -> None:
    await tx.execute(
        adapter.queries["bootstrap_record"],
        {
            "version": m.version,
            "name": m.name,
            "checksum": m.checksum,
            "now": adapter.dialect.time_in(now()),
        },
    )


async def _adopt(adapter: SqlAdapter, tx: Tx) -> bool:
    """True when NextAuth v3's tables already exist and match migration 1."""
    columns = await tx.fetch_all(adapter.queries["catalog_columns"], {})
    tables = {str(r["table_name"]).lower() for r in columns}
    present = V1_TABLES & tables
    if not present:
        return False
    if not adapter.dialect.transactional_ddl:
        # DDL commits itself here, so asyncauth's own migration 1 may have stopped halfway.
        # Its statements check what exists, so when the tables present hold migration 1's
        # columns, running it again completes it; it only ever adds.
        want = expected(1)
        if not compare(columns, [], Expected({t: want.tables[t] for t in present}, [], [])):
            indexes = await tx.fetch_all(adapter.queries["catalog_indexes"], {})
            return present == V1_TABLES and not compare(columns, indexes, want)
    if present != V1_TABLES:
        raise SchemaError(
            f"found some NextAuth tables ({', '.join(sorted(present))}) but not "
            f"{', '.join(sorted(V1_TABLES - present))}: refusing to adopt a partial schema"
        )
    indexes = await tx.fetch_all(adapter.queries["catalog_indexes"], {})
    differences = compare(columns, indexes, expected(1))
    if differences:
        raise SchemaError(
            "existing NextAuth tables differ from the NextAuth v3 schema, so they were not "
            "adopted: " + "; ".join(differences)
        )
    return True


async def check_sql(adapter: SqlAdapter) -> SchemaReport:
    """Compare the live schema with the latest expected one; changes nothing."""
    migrations = migrations_of(adapter)
    drv, q = adapter.driver, adapter.queries
    report = SchemaReport()
    columns = await drv.fetch_all(q["catalog_columns"], {})
    indexes = await drv.fetch_all(q["catalog_indexes"], {})
    report.differences.extend(compare(columns, indexes, expected(LATEST)))
    if "asyncauth_migrations" in {str(r["table_name"]).lower() for r in columns}:
        rows = await drv.fetch_all(q["bootstrap_applied"], {})
        applied = {int(r["version"]): str(r["checksum"]) for r in rows}
        report.applied = sorted(applied)
        report.unknown = list(_unknown(applied, migrations))
        for m in migrations:
            have = applied.get(m.version)
            if have is None:
                report.pending.append(m.version)
                report.differences.append(f"migration {m.version} ({m.name}) not applied")
            elif have != m.checksum:
                report.differences.append(
                    f"migration {m.version} ({m.name}) applied with another checksum"
                )
    else:
        report.pending = [m.version for m in migrations]
        report.differences.append("no asyncauth_migrations table (never bootstrapped)")
    return report
