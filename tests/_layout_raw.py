"""The conformance suite's direct-access helper, over another table layout (docs/layouts.md).

The suite names tables and columns as the default layout (NextAuth v3) does; this wrapper
translates names and the few values stored differently (``expires_at`` in seconds), so the
same tests check the rows a layout really stored. One mapping per layout, from its upstream
schema (tests/interop/ddl).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from tests._raw import Operation, Raw, Row

UTC = timezone.utc

#: v3 table -> (layout table, {v3 column: layout column})
LAYOUT_NAMES: dict[str, dict[str, tuple[str, dict[str, str]]]] = {
    "pg": {
        "users": ("users", {"email_verified": "emailVerified"}),
        "accounts": (
            "accounts",
            {
                "user_id": "userId",
                "provider_type": "type",
                "provider_id": "provider",
                "provider_account_id": "providerAccountId",
                "access_token_expires": "expires_at",
            },
        ),
        "sessions": ("sessions", {"user_id": "userId", "session_token": "sessionToken"}),
        "verification_requests": ("verification_token", {}),
    },
}
_IDS = {"id", "user_id"}


def _to_db(column: str, value: object) -> object:
    if column in _IDS and isinstance(value, str) and value.isdigit():
        return int(value)
    if column == "access_token_expires" and isinstance(value, datetime):
        return int(value.timestamp())
    return value


class LayoutRaw:
    """A :class:`~tests._raw.Raw` speaking v3 names over a layout's tables."""

    def __init__(self, inner: Raw, layout: str) -> None:
        self._inner = inner
        self._names = LAYOUT_NAMES[layout]
        self._back = {table: v3 for v3, (table, _) in self._names.items()}

    def _table(self, table: str) -> tuple[str, dict[str, str]]:
        return self._names.get(table, (table, {}))

    def _where(self, table: str, where: Mapping[str, object]) -> dict[str, object]:
        _, columns = self._table(table)
        return {columns.get(c, c): _to_db(c, v) for c, v in where.items()}

    def _row(self, table: str, row: Row) -> Row:
        _, columns = self._table(table)
        back = {layout: v3 for v3, layout in columns.items()}
        out: dict[str, Any] = {}
        for column, value in row.items():
            name = back.get(column, column)
            if name in _IDS and value is not None:
                value = str(value)
            if name == "access_token_expires" and value is not None:
                value = datetime.fromtimestamp(int(value), UTC)
            out[name] = value
        return out

    async def rows(self, table: str, **where: object) -> list[Row]:
        found = await self._inner.rows(self._table(table)[0], **self._where(table, where))
        return [self._row(table, r) for r in found]

    async def one(self, table: str, **where: object) -> Row | None:
        found = await self._inner.one(self._table(table)[0], **self._where(table, where))
        return None if found is None else self._row(table, found)

    async def count(self, table: str, **where: object) -> int:
        return await self._inner.count(self._table(table)[0], **self._where(table, where))

    async def update(self, table: str, where: Mapping[str, object], **values: object) -> int:
        return await self._inner.update(
            self._table(table)[0], self._where(table, where), **self._where(table, values)
        )

    async def tables(self) -> set[str]:
        return {self._back.get(t, t) for t in await self._inner.tables()}

    async def execute(self, statement: str, *args: object) -> None:
        await self._inner.execute(statement, *args)

    async def kill_midway(
        self, table: str, where: Mapping[str, object], operation: Operation
    ) -> BaseException:
        return await self._inner.kill_midway(
            self._table(table)[0], self._where(table, where), operation
        )

    async def aclose(self) -> None:
        await self._inner.aclose()
