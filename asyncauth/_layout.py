"""Table layouts: whose tables asyncauth reads and writes.

The default layout, ``nextauth-v3``, is asyncauth's own: the NextAuth v3 tables, which
``bootstrap`` creates and migrates (``asyncauth/sql/<dialect>/``). Every other layout is the
schema of an upstream Auth.js adapter package (``pg``, ``prisma``, ...): another tool owns
those tables, so asyncauth only reads and writes them, creates them only in an empty database,
and never alters them.

A layout is a folder, not code (docs/layouts.md)::

    asyncauth/sql/layouts/<name>/layout.json        the descriptor read here
    asyncauth/sql/layouts/<name>/<dialect>/*.sql    the same named queries as sql/<dialect>/
    asyncauth/sql/layouts/<name>/<dialect>/schema.sql   the upstream DDL, for bootstrap

The descriptor says what the shared adapter cannot learn from the SQL: who makes user ids and
in what form, how each dialect's columns hold an instant, whether there is an authenticator
table, and the schema ``check`` compares the database with.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

from ._errors import BackendError, ConfigurationError
from ._schema import Expected

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

__all__ = ["DEFAULT_LAYOUT", "Layout", "TimeCodec", "layout_names", "load_layout"]

UTC = timezone.utc

#: asyncauth's own layout (``asyncauth/sql/<dialect>/``), used when none is named
DEFAULT_LAYOUT: Final = "nextauth-v3"

#: how user ids are made: by the database (``serial``) or by the writer, as the JS side would
ID_KINDS: Final = frozenset({"serial", "uuid", "cuid"})


@dataclass(frozen=True, slots=True)
class TimeCodec:
    """How one (layout, dialect) stores an instant: what to bind, and how to read it back.

    ``None`` means the dialect's own conversion (a ``timestamptz`` on PostgreSQL, say).
    """

    name: str
    time_in: Callable[[datetime], Any] | None
    time_out: Callable[[Any], datetime] | None


def _wall_in(value: datetime) -> datetime:
    # A `timestamp without time zone` that holds the UTC wall clock (drizzle, prisma on PG).
    return value.astimezone(UTC).replace(tzinfo=None)


def _wall_out(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise BackendError(f"expected a timestamp, got {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ms_in(value: datetime) -> int:
    # Integer milliseconds since the epoch (drizzle on SQLite, Prisma's classic SQLite engine).
    return round(value.timestamp() * 1000)


def _ms_out(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BackendError(f"expected epoch milliseconds, got {type(value).__name__}")
    if isinstance(value, str):
        return _iso_out(value)  # a column shared with a writer that stores ISO text
    return datetime.fromtimestamp(int(value) // 1000, UTC).replace(
        microsecond=int(value) % 1000 * 1000
    )


def _iso_in(value: datetime) -> str:
    # JavaScript's Date.toISOString(): always UTC, always milliseconds, a 'Z' (kysely, SQLite).
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _iso_out(value: Any) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _ms_out(value)
    if not isinstance(value, str):
        raise BackendError(f"expected an ISO 8601 time, got {type(value).__name__}")
    text = value.strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BackendError("a stored time is not ISO 8601") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


CODECS: Final[dict[str, TimeCodec]] = {
    "native": TimeCodec("native", None, None),
    "utc-wall": TimeCodec("utc-wall", _wall_in, _wall_out),
    "epoch-ms": TimeCodec("epoch-ms", _ms_in, _ms_out),
    "iso-z": TimeCodec("iso-z", _iso_in, _iso_out),
}

_CUID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 36)
        digits.append(_CUID_ALPHABET[rest])
    return "".join(reversed(digits))


def new_cuid() -> str:
    """A 25-character, 'c'-prefixed id of the shape Prisma Client's ``cuid()`` makes.

    Prisma checks nothing but the type: any unique string is accepted. This one is a time
    prefix (so ids sort roughly by creation, as cuids do) and 96 random bits.
    """
    millis = _base36(int(datetime.now(UTC).timestamp() * 1000), 8)
    return "c" + millis + _base36(int.from_bytes(os.urandom(11), "big"), 16)


ID_MAKERS: Final[dict[str, Callable[[], str] | None]] = {
    "serial": None,
    "uuid": lambda: str(uuid.uuid4()),
    "cuid": new_cuid,
}


@dataclass(frozen=True)
class Layout:
    """One layout's descriptor (``layout.json``), checked when it is loaded."""

    name: str
    upstream: str
    user_id: str
    authenticators: bool
    dialects: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_LAYOUT

    def new_id(self) -> str | None:
        """A fresh user id where the writer makes it (``None``: the database does)."""
        maker = ID_MAKERS[self.user_id]
        return None if maker is None else maker()

    def _dialect(self, dialect: str) -> dict[str, Any]:
        spec = self.dialects.get(dialect)
        if spec is None:
            raise ConfigurationError(
                f"the {self.name} layout has no SQL for {dialect} "
                f"(it runs on {', '.join(sorted(self.dialects))})"
            )
        return spec

    def folder(self, dialect: str) -> Traversable:
        """The layout's queries for ``dialect``."""
        self._dialect(dialect)
        return _layouts_root() / self.name / dialect

    def time_codec(self, dialect: str) -> TimeCodec:
        return CODECS[self._dialect(dialect)["time"]]

    def expected(self, dialect: str) -> Expected:
        """The schema ``check`` compares the database with (from the descriptor)."""
        schema = self._dialect(dialect)["schema"]
        tables = {
            table.lower(): {col.lower(): (fam, bool(null)) for col, (fam, null) in cols.items()}
            for table, cols in schema["tables"].items()
        }
        unique = [(t.lower(), tuple(c.lower() for c in cols)) for t, cols in schema["unique"]]
        return Expected(tables, unique, [])

    def tables(self, dialect: str) -> list[str]:
        return list(self._dialect(dialect)["schema"]["tables"])

    def schema_sql(self, dialect: str) -> str:
        """The upstream DDL that ``bootstrap`` runs in an empty database."""
        return (self.folder(dialect) / "schema.sql").read_text(encoding="utf-8")


def _layouts_root() -> Traversable:
    return resources.files("asyncauth") / "sql" / "layouts"


def layout_names() -> list[str]:
    """Every layout asyncauth ships, the default first."""
    found = sorted(d.name for d in _layouts_root().iterdir() if (d / "layout.json").is_file())
    return [DEFAULT_LAYOUT, *found]


@cache
def load_layout(name: str | None) -> Layout:
    """The descriptor of layout ``name`` (``None``: the default)."""
    name = DEFAULT_LAYOUT if name is None else name
    if name == DEFAULT_LAYOUT:
        return Layout(DEFAULT_LAYOUT, "next-auth v3 (asyncauth's own)", "serial", True)
    if not isinstance(name, str) or not name.replace("-", "").isalnum():
        raise ConfigurationError(f"layout must be a layout name, not {name!r}")
    path = _layouts_root() / name / "layout.json"
    if not path.is_file():
        raise ConfigurationError(f"unknown layout {name!r}; known: {', '.join(layout_names())}")
    data = json.loads(path.read_text(encoding="utf-8"))
    where = f"layouts/{name}/layout.json"
    if data.get("name") != name:
        raise ConfigurationError(f"{where}: 'name' must be {name!r}")
    if data.get("user_id") not in ID_KINDS:
        raise ConfigurationError(f"{where}: 'user_id' must be one of {sorted(ID_KINDS)}")
    for dialect, spec in data.get("dialects", {}).items():
        if spec.get("time") not in CODECS:
            raise ConfigurationError(
                f"{where}: dialects.{dialect}.time must be one of {sorted(CODECS)}"
            )
        if not isinstance(spec.get("schema", {}).get("tables"), dict):
            raise ConfigurationError(f"{where}: dialects.{dialect}.schema.tables is missing")
    return Layout(
        name=name,
        upstream=str(data.get("upstream", "")),
        user_id=data["user_id"],
        authenticators=bool(data.get("authenticators", False)),
        dialects=dict(data.get("dialects", {})),
    )
