"""Pure pieces: validation, models' repr, URL handling, imports."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

import asyncauth
from asyncauth import (
    Account,
    Authenticator,
    ConfigurationError,
    Session,
    ValidationError,
    VerificationToken,
)
from asyncauth import _validate as v
from asyncauth._schema import family


def test_import_loads_no_driver() -> None:
    code = (
        "import sys, asyncauth, asyncauth.nextauth_v3, asyncauth.cli\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('aiosqlite','asyncpg','aiomysql','pymysql','aioodbc','pyodbc','pymongo','motor','bson')]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_names_are_sorted_and_present() -> None:
    assert asyncauth.__all__ == sorted(asyncauth.__all__)
    for name in asyncauth.__all__:
        assert getattr(asyncauth, name) is not None


def test_error_tree() -> None:
    for cls in (
        asyncauth.ConfigurationError,
        asyncauth.SchemaError,
        asyncauth.DuplicateError,
        asyncauth.NotFoundError,
        asyncauth.ValidationError,
        asyncauth.BackendError,
    ):
        assert issubclass(cls, asyncauth.AsyncAuthError)
        assert cls.__doc__ and cls.__doc__.startswith("Raised when")


def test_repr_masks_secrets() -> None:
    secret = "s3cr3t-token-value-0123456789"
    shown = " ".join(
        repr(x)
        for x in (
            Session(secret, "1", datetime.now(timezone.utc)),
            VerificationToken("a@b.c", secret, datetime.now(timezone.utc)),
            Account(
                "1", "oauth", "gh", "1", refresh_token=secret, access_token=secret, id_token=secret
            ),
            Authenticator("c", "1", "p", secret, 0, "single", False),
        )
    )
    assert secret not in shown
    assert "s3cr…" in shown


def test_moment_converts_and_truncates() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    value = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=ist)
    got = v.moment(value, "expires")
    assert got == value.replace(microsecond=123000)
    assert got.tzinfo is timezone.utc
    with pytest.raises(ValidationError, match="expires: must be timezone-aware"):
        v.moment(datetime(2026, 1, 1), "expires")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "must not be empty"),
        ("a\x00b", "NUL"),
        ("\ud800", "lone surrogate"),
        ("x" * 256, "longer than 255"),
        (5, "must be a str"),
    ],
)
def test_text_refuses(value: object, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem) as info:
        v.required_text(value, "email")
    assert info.value.field == "email"


def test_text_accepts_hostile_but_storable() -> None:
    for value in ("'; DROP TABLE users; --", "\u202eevil", "🙂" * 255, "a" * 255):
        assert v.required_text(value, "name") == value


@pytest.mark.parametrize(
    ("type_name", "expected"),
    [
        ("character varying", "string"),
        ("varchar(255)", "string"),
        ("text", "string"),
        ("integer", "integer"),
        ("bigint", "integer"),
        ("timestamp with time zone", "timestamp"),
        ("datetime", "timestamp"),
        ("datetime2", "timestamp"),
        ("boolean", "boolean"),
        ("tinyint(1)", "boolean"),
        ("bit", "boolean"),
    ],
)
def test_type_families(type_name: str, expected: str) -> None:
    assert family(type_name) == expected


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("nosuch://x", {}, "unsupported URL scheme"),
        ("sqlite://host/x.db", {}, "has no host"),
        ("sqlite:///:memory:", {"pool_sise": 3}, "unknown option"),
        ("sqlite:///:memory:", {"timeout": -1}, "timeout must be"),
        ("sqlite:///:memory:", {"pool_size": 0}, "pool_size must be"),
    ],
)
def test_connect_configuration_errors(url: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        asyncauth.connect(url, **options)


def test_sqlite_url_paths() -> None:
    from asyncauth._sqlite import path_from_url

    assert path_from_url("sqlite:///:memory:") == ":memory:"
    assert path_from_url("sqlite:///rel/x.db") == "rel/x.db"
    assert path_from_url("sqlite:////abs/x.db") == "/abs/x.db"


def _an_instance(cls: type[Exception]) -> Exception:
    """One instance of a driver's exception class, whatever its constructor wants."""
    # PyMongo's bulk and encryption errors take a result document or a cause, not a message.
    for args in (("boom",), ({"writeErrors": []},), ({"writeErrors": []}, False)):
        try:
            return cls(*args)
        except (TypeError, AttributeError):
            continue
    if cls.__name__ == "EncryptedCollectionError":
        return cls(RuntimeError("boom"), {})
    return cls.__new__(cls)


def test_every_driver_error_class_is_mapped() -> None:
    """Each exception class a driver defines is translated (httpx's all-mapped test)."""
    import sqlite3

    import asyncpg
    import bson.errors
    import pymongo.errors
    import pymysql.err
    import pyodbc

    from asyncauth import AsyncAuthError
    from asyncauth._mongo import map_error as mongo_map_error
    from asyncauth._mysql import MySQLDriver
    from asyncauth._odbc import OdbcDriver
    from asyncauth._postgres import PostgresDriver
    from asyncauth._sqlite import SqliteDriver

    class MongoDriver:
        # The MongoDB adapter translates in one function, around every call it makes.
        errors = (pymongo.errors.PyMongoError, bson.errors.BSONError)
        map_error = staticmethod(mongo_map_error)

    for driver, module in (
        (SqliteDriver, sqlite3),
        (PostgresDriver, asyncpg.exceptions),
        (MySQLDriver, pymysql.err),
        (OdbcDriver, pyodbc),
        (MongoDriver, pymongo.errors),
    ):
        classes = [
            c
            for c in vars(module).values()
            if isinstance(c, type)
            and issubclass(c, Exception)
            and not issubclass(c, Warning)
            and c.__module__.startswith(module.__name__.split(".")[0])
            and c.__name__ != "PostgresLogMessage"
        ]
        assert len(classes) > 5
        for cls in classes:
            assert issubclass(cls, driver.errors), f"{cls} is not caught by {driver.__name__}"
            instance = _an_instance(cls)
            assert isinstance(driver.map_error(instance), AsyncAuthError)


@pytest.mark.parametrize(
    ("name", "table", "key"),
    [
        ("users.email", None, "users.email"),  # SQLite, MySQL 8
        ("email", None, "users.email"),  # MariaDB, PostgreSQL's constraint name
        ("email", "dbo.users", "users.email"),  # SQL Server names the table too
        ("session_token", "sessions", "sessions.session_token"),
        ("email", "sessions", None),  # a table the index does not belong to
        ("users.phone", None, "users.phone"),  # a custom model's unique column
        ("UQ_97672ac88f789774dd47f7c8be3", "users", None),  # a name asyncauth did not make
        ("accounts.provider, accounts.providerAccountId", None, None),
        (None, None, None),
    ],
)
def test_unique_key_is_table_dot_column(
    name: str | None, table: str | None, key: str | None
) -> None:
    from asyncauth._driver import unique_key

    assert unique_key(name, table) == key


def test_exported_names_report_the_public_module() -> None:
    for name in asyncauth.__all__:
        if name != "__version__":
            assert getattr(asyncauth, name).__module__ == "asyncauth", name
    assert repr(asyncauth.User).startswith("<class 'asyncauth.User'")


def test_adapters_implement_the_protocol_visibly() -> None:
    import inspect

    from asyncauth import Adapter

    for cls in (asyncauth.SqliteAdapter, asyncauth.PostgresAdapter, asyncauth.MongoAdapter):
        assert issubclass(cls, Adapter) and Adapter in cls.__mro__
        assert inspect.getdoc(cls.get_session_and_user), cls
    # NextAuth v3's own reads are not part of the public contract.
    assert not any(name.startswith("_get") or name == "_link_account_at" for name in vars(Adapter))


def test_typeorm_options_become_a_quoted_url() -> None:
    from urllib.parse import unquote, urlsplit

    from asyncauth._connect import typeorm_url

    hostile = "p@ss:/w?o#r%d "
    url, sync = typeorm_url(
        {
            "type": "postgres",
            "host": "db",
            "port": 5433,
            "username": "a@b",
            "password": hostile,
            "database": "auth/x",
            "ssl": True,
            "synchronize": True,
        }
    )
    parts = urlsplit(url)
    assert sync and parts.scheme == "postgresql" and parts.hostname == "db" and parts.port == 5433
    assert unquote(parts.username or "") == "a@b" and unquote(parts.password or "") == hostile
    assert unquote(parts.path) == "/auth/x" and parts.query == "sslmode=require"
    assert typeorm_url({"type": "sqlite", "database": ":memory:", "synchronize": True}) == (
        "sqlite:///:memory:",
        True,
    )
    assert (
        typeorm_url({"type": "sqlite", "database": "/abs/a b.db"})[0] == "sqlite:////abs/a%20b.db"
    )
    url, _ = typeorm_url({"type": "mariadb", "host": "::1", "database": "d"})
    assert url == "mariadb://[::1]/d"


def test_typeorm_mssql_password_reaches_the_connection_string_intact() -> None:
    from asyncauth._odbc import mssql_connection_string

    url, _ = asyncauth._connect.typeorm_url(
        {"type": "mssql", "host": "sql", "username": "sa", "password": "x;y}@z", "database": "a"}
    )
    assert "PWD={x;y}}@z}" in mssql_connection_string(url)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "sqlite", "database": ":memory:", "entities": []}, "'entities'"),
        ({"type": "oracle", "database": "x"}, "type must be one of"),
        ({"type": "sqlite"}, "needs database"),
        ({"type": "sqlite", "database": "x", "host": "h"}, "takes no host"),
        ({"type": "postgres", "host": "a/b", "database": "d"}, "'host'"),
        ({"type": "postgres", "port": "5432", "database": "d"}, "'port'"),
        ({"type": "postgres", "password": "p", "database": "d"}, "needs 'username'"),
        ({"type": "postgres", "ssl": {"ca": "..."}, "database": "d"}, "'ssl'"),
        ({"type": "sqlite", "database": ":memory:", "synchronize": "yes"}, "synchronize"),
    ],
)
def test_typeorm_options_refused_by_name(config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        asyncauth.connect(config)
