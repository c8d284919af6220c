"""Loads the hand-written SQL: named queries and numbered migrations, one folder per dialect.

A query file holds one or more queries, each introduced by a header::

    -- name: get_user
    -- params: id
    -- Any further comment lines are documentation.
    SELECT id, name FROM users WHERE id = :id;

Parameters are written ``:name`` in every dialect and must match the ``params`` line exactly:
an undeclared or unused parameter fails when the folder is loaded, not when a request runs.
Each statement is translated once, at load time, into the driver's own parameter style.

A query may hold several statements (for a dialect that lacks ``RETURNING``, say). The driver
runs them in order inside one transaction, and the query's result is the rows of the last
statement that returned any.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._errors import ConfigurationError

if TYPE_CHECKING:
    # importlib.abc.Traversable is deprecated from 3.12 and gone in 3.14.
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

__all__ = [
    "EXTENSIBLE",
    "FIRST_CUSTOM_MIGRATION",
    "Migration",
    "ParamStyle",
    "Query",
    "Statement",
    "custom_dialects",
    "dialect_folder",
    "load_layout_queries",
    "load_migrations",
    "load_queries",
    "split_statements",
]

#: Bundled migrations are numbered below this; a user's own start at it, so a future bundled
#: migration can never take a number a user already applied.
FIRST_CUSTOM_MIGRATION = 1001

#: The bundled queries an override may give more parameters than the bundled one: the extra
#: user fields of custom models. ``create_user`` takes each field as itself; ``update_user``
#: takes each as a pair, ``set_<field>`` (a flag) and ``<field>``, as the bundled one does.
EXTENSIBLE: dict[str, Literal["plain", "flagged"]] = {
    "create_user": "plain",
    "update_user": "flagged",
}

ParamStyle = Literal["qmark", "numeric", "format"]

_HEADER = re.compile(r"^--\s*name:\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*$", re.MULTILINE)
_PARAMS = re.compile(r"^--\s*params:(?P<params>.*)$")
# One scanner for everything that can hide a ':' or ';' : string literals, quoted names,
# comments and PostgreSQL '::' casts are passed over; ':name' is a parameter.
_TOKENS = re.compile(
    r"""(?P<str>'(?:[^']|'')*')"""
    r"""|(?P<ident>"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\])"""
    r"""|(?P<comment>--[^\n]*)"""
    r"""|(?P<cast>::)"""
    r"""|:(?P<param>[A-Za-z_][A-Za-z0-9_]*)"""
    r"""|(?P<pct>%)"""
    r"""|(?P<semi>;)"""
)


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQL statement in the driver's parameter style, with the names it binds, in order."""

    sql: str
    names: tuple[str, ...]

    def bind(self, args: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional arguments for this statement."""
        return tuple([args[n] for n in self.names])


@dataclass(frozen=True, slots=True)
class Query:
    """A named query: one or more statements sharing the declared parameters."""

    name: str
    params: frozenset[str]
    statements: tuple[Statement, ...]
    source: str
    custom: bool = False
    """True when the query comes from the user's folder (custom models), not the bundle."""

    @property
    def single(self) -> Statement | None:
        """The statement, when the query has just one (the common, fast case)."""
        return self.statements[0] if len(self.statements) == 1 else None


@dataclass(frozen=True, slots=True)
class Migration:
    """A numbered DDL script; ``checksum`` guards against a file edited after it was applied."""

    version: int
    name: str
    statements: tuple[str, ...]
    checksum: str


def split_statements(sql: str) -> list[str]:
    """Split a script on top-level semicolons, ignoring those in strings and comments."""
    out: list[str] = []
    start = 0
    for m in _TOKENS.finditer(sql):
        if m.lastgroup == "semi":
            out.append(sql[start : m.start()])
            start = m.end()
    out.append(sql[start:])
    # Comment lines are documentation for readers; the server need not parse them.
    return [stripped for s in out if (stripped := _strip_comments(s).strip())]


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


def _translate(sql: str, style: ParamStyle, where: str) -> tuple[str, tuple[str, ...]]:
    """Rewrite ``:name`` parameters into ``style``; return the SQL and the binding order."""
    names: list[str] = []
    numbered: dict[str, int] = {}
    pieces: list[str] = []
    pos = 0
    for m in _TOKENS.finditer(sql):
        kind = m.lastgroup
        if kind == "param":
            name = m.group("param")
            pieces.append(sql[pos : m.start()])
            if style == "numeric":
                # asyncpg binds by number, so a repeated name reuses its slot.
                if name not in numbered:
                    numbered[name] = len(numbered) + 1
                    names.append(name)
                pieces.append(f"${numbered[name]}")
            else:
                names.append(name)
                pieces.append("?" if style == "qmark" else "%s")
            pos = m.end()
        elif kind == "pct" and style == "format":
            pieces.append(sql[pos : m.end()] + "%")  # a literal % must be doubled for %s style
            pos = m.end()
        elif kind == "str" and style == "format" and "%" in m.group():
            # pymysql formats the whole text, string literals included.
            pieces.append(sql[pos : m.start()] + m.group().replace("%", "%%"))
            pos = m.end()
        elif kind == "semi":
            raise ConfigurationError(f"{where}: stray ';' inside a statement")
    pieces.append(sql[pos:])
    return "".join(pieces).strip(), tuple(names)


def _parse(text: str, style: ParamStyle, origin: str) -> Iterator[Query]:
    headers = list(_HEADER.finditer(text))
    if not headers and _strip_comments(text).strip():
        raise ConfigurationError(f"{origin}: SQL outside a '-- name:' block")
    for i, head in enumerate(headers):
        name = head.group("name")
        where = f"{origin}:{name}"
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        block = text[head.end() : end].strip("\n")
        declared: set[str] | None = None
        body_lines: list[str] = []
        for line in block.splitlines():
            pm = _PARAMS.match(line.strip())
            if pm and declared is None and not body_lines:
                declared = {p.strip() for p in pm.group("params").split(",") if p.strip()}
            elif line.lstrip().startswith("--") and not body_lines:
                continue  # documentation
            else:
                body_lines.append(line)
        if declared is None:
            raise ConfigurationError(f"{where}: missing '-- params:' line (may be empty)")
        statements = []
        used: set[str] = set()
        for raw in split_statements("\n".join(body_lines)):
            sql, names = _translate(raw, style, where)
            used.update(names)
            statements.append(Statement(sql, names))
        if not statements:
            raise ConfigurationError(f"{where}: no SQL")
        if used != declared:
            problems = []
            if used - declared:
                problems.append(f"undeclared {sorted(used - declared)}")
            if declared - used:
                problems.append(f"unused {sorted(declared - used)}")
            raise ConfigurationError(f"{where}: parameters do not match: {', '.join(problems)}")
        yield Query(name, frozenset(declared), tuple(statements), where)


def dialect_folder(dialect: str) -> Traversable:
    """The bundled folder of a dialect's SQL, inside the installed package."""
    folder = resources.files("asyncauth") / "sql" / dialect
    if not folder.is_dir():
        raise ConfigurationError(f"no bundled SQL for dialect {dialect!r}")
    return folder


def _sql_files(folder: Traversable | Path) -> list[Traversable | Path]:
    return sorted(
        (f for f in folder.iterdir() if f.name.endswith(".sql") and f.is_file()),
        key=lambda f: f.name,
    )


def custom_dialects(folder: Path) -> set[str]:
    """The dialects a user's SQL folder targets: its ``queries/*`` and ``migrations/*``."""
    found: set[str] = set()
    for part in ("queries", "migrations"):
        sub = folder / part
        if sub.is_dir():
            found.update(d.name for d in sub.iterdir() if d.is_dir())
    return found


def _check_override(q: Query, bundled: Query | None) -> None:
    if bundled is None:
        # Most likely a typo in a name: it would silently override nothing.
        raise ConfigurationError(f"{q.source}: overrides no bundled query")
    missing = bundled.params - q.params
    added = q.params - bundled.params
    kind = EXTENSIBLE.get(q.name)
    if missing or (added and kind is None):
        raise ConfigurationError(
            f"{q.source}: overrides {bundled.source} but declares "
            f"{sorted(q.params)} instead of {sorted(bundled.params)}"
        )
    if kind == "flagged":
        fields = {p for p in added if not p.startswith("set_")}
        flags = {p[4:] for p in added if p.startswith("set_")}
        if fields != flags:
            raise ConfigurationError(
                f"{q.source}: each extra field needs its flag: declare set_<field> with <field> "
                f"(unpaired: {sorted(fields ^ flags)})"
            )


def _user_queries(folder: Path, dialect: str, style: ParamStyle) -> list[Query]:
    out: list[Query] = []
    sub = folder / "queries" / dialect
    if not sub.is_dir():
        return out
    for f in _sql_files(sub):
        for q in _parse(f.read_text(encoding="utf-8"), style, str(f)):
            out.append(Query(q.name, q.params, q.statements, q.source, custom=True))
    return out


def load_queries(
    dialect: str,
    style: ParamStyle,
    overrides: Iterable[Path] = (),
) -> dict[str, Query]:
    """Every named query of ``dialect``, translated to ``style``.

    ``overrides`` are the user's own folders (custom models), laid out like the bundle::

        my_sql/queries/<dialect>/*.sql        named queries replacing bundled ones
        my_sql/migrations/<dialect>/NNNN_*.sql  numbered from 1001

    An override must declare the bundled query's parameters; only ``create_user`` and
    ``update_user`` may declare more (the extra user fields). Every dialect the folder targets
    is checked, not only ``dialect``: the same names and parameters in each, so a query that
    only breaks on the production database fails on the developer's SQLite too.
    """
    queries: dict[str, Query] = {}
    for f in _sql_files(dialect_folder(dialect)):
        for q in _parse(f.read_text(encoding="utf-8"), style, f"{dialect}/{f.name}"):
            if q.name in queries:
                raise ConfigurationError(f"{q.source}: query defined twice")
            queries[q.name] = q
    for folder in overrides:
        folder = Path(folder)
        targets = custom_dialects(folder)
        if not folder.is_dir() or not targets:
            raise ConfigurationError(
                f"{folder}: not a custom SQL folder (expected queries/<dialect>/ or "
                "migrations/<dialect>/ inside)"
            )
        if dialect not in targets:
            raise ConfigurationError(
                f"{folder} has SQL for {', '.join(sorted(targets))}, not for {dialect}"
            )
        shapes: dict[str, dict[str, frozenset[str]]] = {}
        for target in sorted(targets):
            bundled = queries if target == dialect else load_queries(target, style)
            mine = _user_queries(folder, target, style)
            shapes[target] = {}
            for q in mine:
                if q.name in shapes[target]:
                    raise ConfigurationError(f"{q.source}: query defined twice")
                _check_override(q, bundled.get(q.name))
                shapes[target][q.name] = q.params
            if target == dialect:
                queries.update((q.name, q) for q in mine)
        reference = shapes[dialect]
        for target, shape in shapes.items():
            if shape != reference:
                differ = sorted(set(shape.items()) ^ set(reference.items()))
                raise ConfigurationError(
                    f"{folder}: queries/{target} and queries/{dialect} must override the same "
                    f"queries with the same parameters (differ: {sorted({n for n, _ in differ})})"
                )
    return queries


_MIGRATION = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


def load_migrations(dialect: str, extra: Iterable[Path] = ()) -> list[Migration]:
    """The numbered migrations of ``dialect`` (bundled, then the user's), in version order."""
    found: dict[int, Migration] = {}
    folders: list[Traversable | Path] = [dialect_folder(dialect) / "migrations", *extra]
    for i, folder in enumerate(folders):
        custom = i > 0
        if custom and not folder.is_dir():
            continue  # a custom folder may hold queries only
        for f in _sql_files(folder):
            m = _MIGRATION.match(f.name)
            if m is None:
                raise ConfigurationError(f"{f.name}: migrations are named NNNN_name.sql")
            text = f.read_text(encoding="utf-8").replace("\r\n", "\n")
            version = int(m.group("version"))
            if custom and version < FIRST_CUSTOM_MIGRATION:
                raise ConfigurationError(
                    f"{f}: custom migrations are numbered from {FIRST_CUSTOM_MIGRATION} "
                    "(lower numbers belong to asyncauth's own migrations)"
                )
            if version in found:
                raise ConfigurationError(f"{f.name}: migration {version} defined twice")
            found[version] = Migration(
                version=version,
                name=m.group("name"),
                statements=tuple(split_statements(text)),
                checksum=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            )
    return [found[v] for v in sorted(found)]


#: What a layout takes from its dialect's own folder: catalog reads and the bootstrap lock,
#: which depend on the database, not on whose tables these are.
DIALECT_QUERIES: frozenset[str] = frozenset(
    {"catalog_columns", "catalog_indexes", "bootstrap_lock", "bootstrap_unlock"}
)
#: The default layout's queries a layout has no use for: asyncauth's migration records.
_MIGRATION_QUERIES = frozenset({"bootstrap_applied", "bootstrap_create_table", "bootstrap_record"})
_AUTHENTICATOR_QUERIES = frozenset(
    {
        "create_authenticator",
        "get_authenticator",
        "list_authenticators_by_user_id",
        "update_authenticator_counter",
    }
)


def load_layout_queries(
    layout: str,
    folder: Traversable,
    dialect: str,
    style: ParamStyle,
    *,
    authenticators: bool,
) -> dict[str, Query]:
    """A layout's named queries for ``dialect`` (``asyncauth/sql/layouts/<layout>/<dialect>``).

    The layout must define every query of the default layout's adapter contract (the
    authenticator ones only when it has that table); the catalog and lock queries come from the
    dialect's own folder. ``schema.sql`` in the folder is the layout's DDL, not queries.
    """
    base = load_queries(dialect, style)
    queries = {name: q for name, q in base.items() if name in DIALECT_QUERIES}
    mine: dict[str, Query] = {}
    for f in _sql_files(folder):
        if f.name == "schema.sql":
            continue
        for q in _parse(
            f.read_text(encoding="utf-8"), style, f"layouts/{layout}/{dialect}/{f.name}"
        ):
            if q.name in mine:
                raise ConfigurationError(f"{q.source}: query defined twice")
            mine[q.name] = q
    wanted = set(base) - DIALECT_QUERIES - _MIGRATION_QUERIES
    if not authenticators:
        wanted -= _AUTHENTICATOR_QUERIES
    missing = sorted(wanted - set(mine))
    if missing:
        raise ConfigurationError(f"layouts/{layout}/{dialect} does not define {', '.join(missing)}")
    queries.update(mine)
    return queries
