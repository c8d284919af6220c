"""What is mutated by default, and which tests judge each target.

A selection is the pytest arguments (paths, ``-m``, ``--ignore``) of the tests that run against
a target's mutants. Most Python modules are judged by the fast SQLite subset; code that only a
server backend reaches also gets that backend's tests, and each dialect's SQL gets its own.
"""

from __future__ import annotations

from pathlib import Path

# Never part of a selection: slow or server-specific checks that no mutant here can fail, and
# the mutation smoke test itself (it would start this tool inside its own test run).
_IGNORED = [
    "--ignore=tests/test_mutation_smoke.py",
    "--ignore=tests/test_bench_smoke.py",
    "--ignore=tests/test_mssql_sql.py",
    "--ignore=tests/test_odbc.py",
]
_SERVERS = ("postgres", "mysql", "odbc", "mssql", "mongodb")


def _without(*kept: str) -> str:
    others = [f"not {m}" for m in _SERVERS if m not in kept]
    return " and ".join([*others, "not slow"])


SELECTIONS: dict[str, list[str]] = {
    # Everything that runs without a server (SQLite, pure units, the Starlette app, docs).
    "sqlite": ["tests", "-m", _without(), *_IGNORED],
    # The SQLite subset plus the PostgreSQL tests: for code that only a server pool reaches.
    "sqlite+postgres": ["tests", "-m", _without("postgres"), *_IGNORED],
    "postgres": ["tests", "-m", "postgres and not slow", *_IGNORED],
    "mysql": ["tests", "-m", "mysql and not slow", *_IGNORED],
    "mongodb": ["tests", "-m", "mongodb and not slow", *_IGNORED],
}

#: Python modules mutated by default, with their selection.
MODULES: dict[str, str] = {
    "asyncauth/_adapter.py": "sqlite",
    "asyncauth/nextauth_v3.py": "sqlite",
    "asyncauth/_validate.py": "sqlite",
    "asyncauth/_pool.py": "sqlite+postgres",
    "asyncauth/_sql.py": "sqlite",
    "asyncauth/_bootstrap.py": "sqlite+postgres",
    "asyncauth/integrations/starlette.py": "sqlite",
    "asyncauth/_mongo.py": "mongodb",
}

#: SQL dialects mutated by default; each dialect's query files are judged by its selection.
DIALECTS: dict[str, str] = {
    "sqlite": "sqlite",
    "postgres": "postgres",
}
#: Dialects that can be asked for with ``--sql`` beyond the defaults.
OTHER_DIALECTS: dict[str, str] = {"mysql": "mysql"}


def sql_files(root: Path, dialect: str) -> list[str]:
    """The query files of a dialect (migrations are DDL, not mutated here)."""
    folder = root / "asyncauth" / "sql" / dialect
    return sorted(p.relative_to(root).as_posix() for p in folder.glob("*.sql"))


def selection_for_module(module: str) -> str:
    return MODULES.get(module, "sqlite")


def selection_for_dialect(dialect: str) -> str:
    found = {**DIALECTS, **OTHER_DIALECTS}.get(dialect)
    if found is None:
        raise SystemExit(f"no test selection for SQL dialect {dialect!r}; use --tests")
    return found
