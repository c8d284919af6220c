"""``bootstrap`` and ``check`` for a layout other than asyncauth's own.

Another tool owns such a schema (Prisma's migrations, drizzle-kit, the Auth.js docs' SQL run by
hand), so asyncauth never alters it and keeps no migration records in it:

- ``check`` compares the database with the layout's documented schema and reports every
  difference (missing tables and columns, type families, nullability, missing keys);
- ``bootstrap`` creates the documented schema only when none of the layout's tables exists,
  and logs that it did; otherwise it changes nothing: a schema that matches is left as it is,
  and one that does not is refused with a message naming what is missing or different.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ._bootstrap import LOCK_KEY, _take_lock
from ._errors import SchemaError
from ._schema import SchemaReport, compare
from ._sql import split_statements

if TYPE_CHECKING:
    from ._adapter import SqlAdapter

__all__ = ["bootstrap_layout", "check_layout"]

log = logging.getLogger("asyncauth")

#: what ``bootstrap`` returns after creating a layout's schema (it has no numbered migrations)
CREATED = [1]


async def _differences(adapter: SqlAdapter) -> tuple[list[str], set[str]]:
    q, drv = adapter.queries, adapter.driver
    columns = await drv.fetch_all(q["catalog_columns"], {})
    indexes = await drv.fetch_all(q["catalog_indexes"], {})
    want = adapter.layout.expected(adapter.dialect.name)
    present = {str(r["table_name"]).lower() for r in columns} & set(want.tables)
    return compare(columns, indexes, want), present


async def check_layout(adapter: SqlAdapter) -> SchemaReport:
    """Every way the database differs from the layout's documented schema; changes nothing."""
    differences, _ = await _differences(adapter)
    return SchemaReport(differences=differences)


async def bootstrap_layout(adapter: SqlAdapter) -> list[int]:
    """Create the layout's documented schema in a database that has none of its tables.

    Returns ``[1]`` when it created the schema, ``[]`` when the schema was there and matches;
    raises :class:`SchemaError` when some of it is there but differs or is incomplete.
    """
    layout, dialect = adapter.layout, adapter.dialect.name
    differences, present = await _differences(adapter)
    if present:
        if differences:
            raise SchemaError(
                f"the database has {layout.name} layout tables that differ from its documented "
                f"schema; asyncauth does not alter a schema another tool owns, so it changed "
                f"nothing: {'; '.join(differences)}"
            )
        return []
    statements = split_statements(layout.schema_sql(dialect))
    async with adapter.driver.transaction(exclusive=True) as tx:
        await _take_lock(adapter, tx)
        # Read again under the lock: another process may have created the tables meanwhile.
        columns = await tx.fetch_all(adapter.queries["catalog_columns"], {})
        tables = {str(r["table_name"]).lower() for r in columns}
        if not tables & set(layout.expected(dialect).tables):
            for statement in statements:
                await tx.execute_ddl(statement)
            created = True
        else:
            created = False
        await tx.fetch_all(adapter.queries["bootstrap_unlock"], {"key": LOCK_KEY})
    if not created:
        return await bootstrap_layout(adapter)  # now present: compared as above
    log.info(
        "bootstrap: created the %s layout's documented schema (%s) in a database that had none "
        "of its tables",
        layout.name,
        layout.upstream,
    )
    return list(CREATED)
