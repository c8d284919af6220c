"""The T-SQL of ``asyncauth/sql/mssql`` is checked without a SQL Server.

No SQL Server can run on this project's machines, so every T-SQL statement is parsed with
sqlfluff's T-SQL dialect, exactly as the driver will send it (one statement at a time, with
the loader's ``?`` parameters); tests/unit/test_sql_loader.py checks that every dialect
defines the same queries with the same parameters. The behaviour is tested by the
conformance suite only where ASYNCAUTH_MSSQL_URL names a real server.
"""

from __future__ import annotations

import os
import re

import pytest

from asyncauth._sql import dialect_folder, load_migrations, load_queries
from tests._backends import BACKENDS, MSSQL_SKIP

sqlfluff = pytest.importorskip("sqlfluff")

DIALECTS = ("sqlite", "postgres", "mysql", "mssql")


def _statements() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for name, query in sorted(load_queries("mssql", "qmark").items()):
        for i, stmt in enumerate(query.statements):
            found.append((f"{name}[{i}]", stmt.sql))
    for migration in load_migrations("mssql"):
        for i, sql in enumerate(migration.statements):
            found.append((f"migration {migration.version}[{i}]", sql))
    return found


def _as_tsql(sql: str) -> str:
    # sqlfluff has no placeholder for '?': give each its own T-SQL variable. (No T-SQL file
    # has a '?' inside a string literal.)
    counter = iter(range(1, 1000))
    return re.sub(r"\?", lambda _: f"@p{next(counter)}", sql)


@pytest.mark.parametrize(("where", "sql"), _statements(), ids=lambda v: v if "\n" not in v else "")
def test_every_tsql_statement_parses(where: str, sql: str) -> None:
    try:
        sqlfluff.parse(_as_tsql(sql), dialect="tsql")
    except sqlfluff.api.APIParsingError as exc:  # pragma: no cover - the failure message
        pytest.fail(f"{where} is not valid T-SQL for sqlfluff:\n{sql}\n{exc}")


def test_the_parser_rejects_broken_tsql() -> None:
    # The check above is worth something only if sqlfluff refuses what SQL Server would.
    for broken in (
        "DELETE FROM sessions OUTPUT WHERE id = @p1",
        "SELECT id FROM users WHERE",
        "INSERT INTO users (name) VALUES (@p1",
    ):
        with pytest.raises(sqlfluff.api.APIParsingError):
            sqlfluff.parse(broken, dialect="tsql")


def test_tsql_uses_output_not_returning() -> None:
    for where, sql in _statements():
        assert "RETURNING" not in sql.upper(), where


def test_every_dialect_has_the_same_files_and_migrations() -> None:
    reference = [(m.version, m.name) for m in load_migrations("postgres")]
    for dialect in DIALECTS:
        assert [(m.version, m.name) for m in load_migrations(dialect)] == reference, dialect
        files = sorted(f.name for f in dialect_folder(dialect).iterdir() if f.name.endswith(".sql"))
        assert files == sorted(
            f.name for f in dialect_folder("postgres").iterdir() if f.name.endswith(".sql")
        ), dialect


def test_the_suite_runs_against_sql_server_when_one_is_configured() -> None:
    # The one line that says SQL Server behaviour was not tested in this run (in CI too).
    configured = bool(os.environ.get("ASYNCAUTH_MSSQL_URL"))
    assert ("mssql" in {b.name for b in BACKENDS}) == configured
    if not configured:
        pytest.skip(MSSQL_SKIP)
