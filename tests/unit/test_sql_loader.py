"""The SQL loader: parameters checked at load, styles translated once, dialects in step."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncauth import ConfigurationError
from asyncauth._sql import _parse, load_migrations, load_queries, split_statements

SQL_ROOT = Path(__file__).resolve().parents[2] / "asyncauth" / "sql"
# sql/layouts/ holds the other table layouts (tests/test_layouts.py), not a dialect.
SQL_DIALECTS = sorted(p.name for p in SQL_ROOT.iterdir() if p.is_dir() and p.name != "layouts")


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


def custom(root: Path, dialect: str, text: str, file: str = "users.sql") -> Path:
    """A custom SQL folder (queries/<dialect>/<file>) under ``root``."""
    folder = root / "queries" / dialect
    folder.mkdir(parents=True, exist_ok=True)
    (folder / file).write_text(text)
    return root


def test_override_must_declare_the_same_parameters(tmp_path: Path) -> None:
    custom(
        tmp_path,
        "sqlite",
        "-- name: get_user\n-- params: id, extra\nSELECT * FROM users WHERE id = :id AND :extra;",
    )
    with pytest.raises(ConfigurationError, match="declares"):
        load_queries("sqlite", "qmark", [tmp_path])


def test_override_may_not_drop_a_parameter(tmp_path: Path) -> None:
    # Dropping 'now' from the hot path would serve expired sessions.
    custom(
        tmp_path,
        "sqlite",
        "-- name: get_session_and_user\n-- params: session_token\n"
        "SELECT s.expires, u.id FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.session_token = :session_token;",
        "sessions.sql",
    )
    with pytest.raises(ConfigurationError, match="instead of"):
        load_queries("sqlite", "qmark", [tmp_path])


def test_override_replaces_bundled_query(tmp_path: Path) -> None:
    custom(
        tmp_path,
        "sqlite",
        "-- name: get_user\n-- params: id\nSELECT id, name, email, email_verified, image, 1 AS x"
        " FROM users WHERE id = :id;",
    )
    queries = load_queries("sqlite", "qmark", [tmp_path])
    assert "1 AS x" in queries["get_user"].statements[0].sql
    assert queries["get_user"].custom and not queries["get_user_by_email"].custom


def test_create_user_may_declare_extra_fields(tmp_path: Path) -> None:
    custom(
        tmp_path,
        "sqlite",
        "-- name: create_user\n-- params: name, email, email_verified, image, now, phone\n"
        "INSERT INTO users (name, email, email_verified, image, phone, created_at, updated_at)"
        " VALUES (:name, :email, :email_verified, :image, :phone, :now, :now) RETURNING id;",
    )
    assert "phone" in load_queries("sqlite", "qmark", [tmp_path])["create_user"].params


def test_update_user_extra_fields_come_with_their_flag(tmp_path: Path) -> None:
    custom(
        tmp_path,
        "sqlite",
        "-- name: update_user\n-- params: id, set_name, name, set_email, email, set_image, image,"
        " set_email_verified, email_verified, now, phone\n"
        "UPDATE users SET name = CASE WHEN :set_name THEN :name ELSE name END,"
        " email = CASE WHEN :set_email THEN :email ELSE email END,"
        " image = CASE WHEN :set_image THEN :image ELSE image END,"
        " email_verified = CASE WHEN :set_email_verified THEN :email_verified"
        " ELSE email_verified END, phone = :phone, updated_at = :now WHERE id = :id"
        " RETURNING id, name, email, email_verified, image, phone;",
    )
    with pytest.raises(ConfigurationError, match=r"unpaired: \['phone'\]"):
        load_queries("sqlite", "qmark", [tmp_path])


def test_override_of_an_unknown_query_is_refused(tmp_path: Path) -> None:
    custom(tmp_path, "sqlite", "-- name: get_user_by_mail\n-- params: email\nSELECT :email;")
    with pytest.raises(ConfigurationError, match="overrides no bundled query"):
        load_queries("sqlite", "qmark", [tmp_path])


def test_every_targeted_dialect_is_checked(tmp_path: Path) -> None:
    good = "-- name: get_user\n-- params: id\nSELECT id FROM users WHERE id = :id;"
    custom(tmp_path, "sqlite", good)
    # A mistake in the PostgreSQL file fails when a developer loads SQLite, not in production.
    custom(tmp_path, "postgres", "-- name: get_user\n-- params: id\nSELECT :id, :oops;")
    with pytest.raises(ConfigurationError, match="undeclared"):
        load_queries("sqlite", "qmark", [tmp_path])
    custom(tmp_path, "postgres", "-- name: get_user_by_email\n-- params: email\nSELECT :email;")
    (tmp_path / "queries" / "postgres" / "users.sql").unlink()
    with pytest.raises(ConfigurationError, match=r"same queries.*get_user"):
        load_queries("sqlite", "qmark", [tmp_path])


def test_a_folder_must_target_the_dialect_in_use(tmp_path: Path) -> None:
    custom(tmp_path, "postgres", "-- name: get_user\n-- params: id\nSELECT :id;")
    with pytest.raises(ConfigurationError, match="not for sqlite"):
        load_queries("sqlite", "qmark", [tmp_path])
    with pytest.raises(ConfigurationError, match="not a custom SQL folder"):
        load_queries("sqlite", "qmark", [tmp_path / "queries"])


def test_custom_migrations_start_at_1001(tmp_path: Path) -> None:
    folder = tmp_path / "migrations" / "sqlite"
    folder.mkdir(parents=True)
    (folder / "0003_mine.sql").write_text("ALTER TABLE users ADD COLUMN x text;")
    with pytest.raises(ConfigurationError, match="numbered from 1001"):
        load_migrations("sqlite", [folder])
    (folder / "0003_mine.sql").rename(folder / "1001_mine.sql")
    assert [m.version for m in load_migrations("sqlite", [folder])] == [1, 2, 1001]
    # A folder of queries only has no migrations folder: nothing to add.
    assert [m.version for m in load_migrations("sqlite", [tmp_path / "none"])] == [1, 2]


def test_shipped_example_loads_for_every_dialect_it_targets() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "custom_models"
    for dialect in ("sqlite", "postgres", "mysql"):
        queries = load_queries(dialect, "qmark", [example])
        assert "phone" in queries["create_user"].params
        assert {"set_phone", "phone"} <= queries["update_user"].params
