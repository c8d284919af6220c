"""The SQL loader: parameters checked at load, styles translated once, dialects in step."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncauth import ConfigurationError
from asyncauth._sql import _parse, load_migrations, load_queries, split_statements

SQL_ROOT = Path(__file__).resolve().parents[2] / "asyncauth" / "sql"
SQL_DIALECTS = sorted(p.name for p in SQL_ROOT.iterdir() if p.is_dir())


def parse(text: str, style: str = "qmark") -> dict[str, object]:
    return {q.name: q for q in _parse(text, style, "test.sql")}  # type: ignore[arg-type]


def test_translates_each_style_once() -> None:
    text = "-- name: q\n-- params: a, b\nSELECT :a, :b, :a WHERE x = '%:no' AND y::int = 1;"
    qmark = parse(text, "qmark")["q"]
    numeric = parse(text, "numeric")["q"]
    fmt = parse(text, "format")["q"]
    assert qmark.statements[0].sql == "SELECT ?, ?, ? WHERE x = '%:no' AND y::int = 1"  # type: ignore[attr-defined]
    assert qmark.statements[0].names == ("a", "b", "a")  # type: ignore[attr-defined]
    # asyncpg numbers parameters: a repeated name reuses its number.
    assert numeric.statements[0].sql == "SELECT $1, $2, $1 WHERE x = '%:no' AND y::int = 1"  # type: ignore[attr-defined]
    assert numeric.statements[0].names == ("a", "b")  # type: ignore[attr-defined]
    # %s style: a literal % must be doubled, even inside a string.
    assert fmt.statements[0].sql == "SELECT %s, %s, %s WHERE x = '%%:no' AND y::int = 1"  # type: ignore[attr-defined]


def test_bind_orders_arguments() -> None:
    q = parse("-- name: q\n-- params: b, a\nSELECT :a, :b, :a;")["q"]
    assert q.statements[0].bind({"a": 1, "b": 2}) == (1, 2, 1)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-- name: q\n-- params: a\nSELECT :a, :b;", "undeclared ['b']"),
        ("-- name: q\n-- params: a, b\nSELECT :a;", "unused ['b']"),
        ("-- name: q\nSELECT 1;", "missing '-- params:'"),
        ("SELECT 1;", "outside a '-- name:' block"),
        ("-- name: q\n-- params:\n", "no SQL"),
    ],
)
def test_rejects_bad_declarations(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(text)


def test_multi_statement_query_and_comments() -> None:
    text = (
        "-- name: q\n-- params: id\n-- doc line; with a semicolon and :notaparam\n"
        "DELETE FROM a WHERE id = :id; -- trailing ; comment\n"
        "SELECT ';' AS s FROM b WHERE id = :id;\n"
    )
    q = parse(text)["q"]
    assert len(q.statements) == 2  # type: ignore[attr-defined]
    assert q.statements[1].sql.startswith("SELECT ';' AS s")  # type: ignore[attr-defined]


def test_split_statements_ignores_quoted_semicolons() -> None:
    assert split_statements("A ';'; B \"x;y\"; -- c;\n") == ["A ';'", 'B "x;y"']


def test_every_dialect_defines_the_same_queries() -> None:
    names = {d: set(load_queries(d, "qmark")) for d in SQL_DIALECTS}
    reference = names["postgres"]
    for dialect, found in names.items():
        assert found == reference, (
            f"{dialect}: missing {sorted(reference - found)}, extra {sorted(found - reference)}"
        )


def test_every_dialect_declares_the_same_parameters() -> None:
    # The adapter binds one dict for every dialect: a query must take the same names everywhere.
    loaded = {d: load_queries(d, "qmark") for d in SQL_DIALECTS}
    for name, query in loaded["postgres"].items():
        for dialect, queries in loaded.items():
            assert queries[name].params == query.params, f"{dialect}:{name}"


def test_migrations_are_numbered_and_checksummed() -> None:
    for dialect in SQL_DIALECTS:
        migrations = load_migrations(dialect)
        assert [m.version for m in migrations] == [1, 2], dialect
        assert all(len(m.checksum) == 64 and m.statements for m in migrations)


def test_override_must_declare_the_same_parameters(tmp_path: Path) -> None:
    (tmp_path / "users.sql").write_text(
        "-- name: get_user\n-- params: id, extra\nSELECT * FROM users WHERE id = :id AND :extra;"
    )
    with pytest.raises(ConfigurationError, match="declares"):
        load_queries("sqlite", "qmark", [tmp_path])


def test_override_replaces_bundled_query(tmp_path: Path) -> None:
    (tmp_path / "users.sql").write_text(
        "-- name: get_user\n-- params: id\nSELECT id, name, email, email_verified, image, 1 AS x"
        " FROM users WHERE id = :id;"
    )
    queries = load_queries("sqlite", "qmark", [tmp_path])
    assert "1 AS x" in queries["get_user"].statements[0].sql
