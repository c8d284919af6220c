"""Pure-code behaviours a mutation run found unguarded (mutation-report.md, gaps 3, 13, 15,
18, 21, 22, 23): no database involved, each check names the gap it closes.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from asyncauth import ConfigurationError, ValidationError
from asyncauth._sql import _translate, load_migrations, load_queries, split_statements
from asyncauth.integrations.starlette import NextAuthSessions
from asyncauth.nextauth_v3 import NextAuthV3

UTC = timezone.utc
# The constructors below never touch the adapter: a stand-in is enough.
NO_ADAPTER: Any = object()


# -- gap 3: the secret ---------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["", None, 123, b"bytes"])
def test_v3_refuses_an_empty_or_non_str_secret(secret: object) -> None:
    # An empty secret would store verification tokens as plain sha256(token).
    with pytest.raises(ValidationError, match="secret"):
        NextAuthV3(NO_ADAPTER, secret=secret)  # type: ignore[arg-type]


# -- gap 13: the defaults are NextAuth's ------------------------------------------------------


def test_v3_defaults_are_nextauths_30_days_and_1_day() -> None:
    v3 = NextAuthV3(NO_ADAPTER, secret="s")
    assert (v3.max_age, v3.update_age) == (2_592_000, 86_400)


def test_starlette_defaults_are_nextauths_30_days_and_1_day() -> None:
    sessions = NextAuthSessions()
    assert (sessions.max_age, sessions.update_age) == (2_592_000, 86_400)


# -- gap 15: ages are checked ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_age", -1),
        ("max_age", True),
        ("max_age", 1.5),
        ("update_age", -1),
        ("update_age", True),
    ],
)
def test_v3_refuses_a_negative_bool_or_float_age(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        NextAuthV3(NO_ADAPTER, secret="s", **{field: value})


def test_v3_accepts_ages_of_zero() -> None:
    v3 = NextAuthV3(NO_ADAPTER, secret="s", max_age=0, update_age=0)
    assert (v3.max_age, v3.update_age) == (0, 0)


# -- gap 18: the hot path's "now" -----------------------------------------------------------


@pytest.mark.parametrize("millis", [0, 1, 500, 999])
def test_hot_now_is_the_current_millisecond_exactly(
    monkeypatch: pytest.MonkeyPatch, millis: int
) -> None:
    from asyncauth._adapter import SqlAdapter

    # Only the dialect's time_in and the cache fields are used: no driver needed.
    adapter: Any = object.__new__(SqlAdapter)
    adapter._time_in = lambda moment: moment
    adapter._now_ms = -1
    adapter._now_value = None
    seconds = 1_900_000_123
    instant = seconds * 1_000_000_000 + millis * 1_000_000 + 456_789  # sub-ms part dropped
    monkeypatch.setattr(time, "time_ns", lambda: instant)
    expected = datetime.fromtimestamp(seconds, UTC).replace(microsecond=millis * 1000)
    assert adapter._hot_now() == expected
    assert adapter._hot_now() == expected  # the cached value is the same instant


# -- gaps 21-23: the SQL loader ---------------------------------------------------------------


def test_split_statements_keeps_a_last_statement_without_semicolon() -> None:
    assert split_statements("SELECT 1; SELECT 2") == ["SELECT 1", "SELECT 2"]
    assert split_statements("SELECT 1") == ["SELECT 1"]


def test_format_style_doubles_a_bare_percent() -> None:
    sql, names = _translate("SELECT a % 2 FROM t WHERE b = :b", "format", "test")
    assert sql == "SELECT a %% 2 FROM t WHERE b = %s" and names == ("b",)
    # The other styles leave it alone: no driver there formats the text.
    assert _translate("SELECT a % 2", "qmark", "test")[0] == "SELECT a % 2"


def test_two_custom_migrations_with_one_number_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "migrations" / "sqlite"
    folder.mkdir(parents=True)
    (folder / "1001_one.sql").write_text("ALTER TABLE users ADD COLUMN a text;")
    (folder / "1001_two.sql").write_text("ALTER TABLE users ADD COLUMN b text;")
    with pytest.raises(ConfigurationError, match="1001 defined twice"):
        load_migrations("sqlite", [folder])


def test_one_custom_query_defined_in_two_files_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "queries" / "sqlite"
    folder.mkdir(parents=True)
    get_user = "-- name: get_user\n-- params: id\nSELECT id, name FROM users WHERE id = :id;\n"
    (folder / "a.sql").write_text(get_user)
    (folder / "b.sql").write_text(get_user.replace("id, name", "id, email"))
    with pytest.raises(ConfigurationError, match="defined twice"):
        load_queries("sqlite", "qmark", [tmp_path])
