"""asyncauth._redact: every credential a URL can carry is masked, and nothing else changes."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from asyncauth._redact import redact_connection_string, redact_text, redact_url, secrets_of

CASES = [
    ("postgresql://app:s3cret@db:5432/app", "postgresql://app:***@db:5432/app"),
    ("postgresql://app@db/app", "postgresql://app@db/app"),
    ("postgresql://db/app?password=s3cret", "postgresql://db/app?password=***"),
    (
        "postgresql://db/app?sslmode=require&sslpassword=s3cret",
        "postgresql://db/app?sslmode=require&sslpassword=***",
    ),
    ("mysql://root@db/app?PWD=s3cret&ssl=true", "mysql://root@db/app?PWD=***&ssl=true"),
    ("mysql://db/app?pass=s3cret", "mysql://db/app?pass=***"),
    (
        "x://db/?client_secret=s3cret&access_token=s3cret",
        "x://db/?client_secret=***&access_token=***",
    ),
    ("x://db/?pass%77ord=s3cret", "x://db/?pass%77ord=***"),
    (
        "mongodb://u:s3cret@h1:27017,h2:27018,h3/app?replicaSet=rs&authSource=admin",
        "mongodb://u:***@h1:27017,h2:27018,h3/app?replicaSet=rs&authSource=admin",
    ),
    (
        "mongodb://u:p%40ss@h1,h2/app?authMechanismProperties=AWS_SESSION_TOKEN:s3cret",
        "mongodb://u:***@h1,h2/app?authMechanismProperties=***",
    ),
    ("mongodb+srv://u:s3cret@cluster.example.net/", "mongodb+srv://u:***@cluster.example.net/"),
    ("sqlite:///app.db", "sqlite:///app.db"),
    ("postgresql://app:s3cret@[::1/app", "postgresql://app:***@[::1/app"),  # urllib refuses it
    ("postgresql://app:s3cret@db:notaport/app", "postgresql://app:***@db:notaport/app"),
]


@pytest.mark.parametrize(("url", "shown"), CASES)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "s3cret" not in redact_url(url)


@pytest.mark.parametrize(
    "connection",
    [
        "DRIVER={PostgreSQL Unicode};SERVER=db;UID=app;PWD=s3cret;",
        "Driver={x};Server=db;Uid=app;pwd={s3;cr}}et};Database=app",
        "DRIVER={x};SERVER=db;Password=s3cret",
        "DRIVER={x};SERVER=db; password = s3cret ;",
    ],
)
def test_odbc_connect_passwords(connection: str) -> None:
    url = f"odbc://?dialect=postgres&odbc_connect={quote(connection, safe='')}"
    shown = redact_url(url)
    for leak in ("s3cret", "s3;cr", "cr}}et", "s3%3Bcr"):
        assert leak not in shown
    assert "dialect=postgres" in shown and "SERVER" in shown.upper()
    assert "***" in shown
    masked = redact_connection_string(connection)
    assert "s3" not in masked and "***" in masked and "SERVER=DB" in masked.replace(" ", "").upper()


def test_text_secrets_in_every_spelling() -> None:
    url = "postgresql://app:p%40ss%3Aw0rd@db/app?sslpassword=an%26other"
    message = "cannot parse 'p@ss:w0rd', 'p%40ss%3Aw0rd' or 'an&other' in " + url
    masked = redact_text(message, url)
    for leak in ("p@ss:w0rd", "p%40ss%3Aw0rd", "an&other", "an%26other"):
        assert leak not in masked
    assert secrets_of("sqlite:///x.db") == []
    assert redact_text("plain", None) == "plain"
