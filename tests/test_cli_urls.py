"""The CLI on URLs that carry credentials: nothing secret is printed, multi-host URLs work.

Each command runs as a real process (``python -m asyncauth``), as a deploy pipeline sees it:
its stdout, stderr and exit status.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from tests._backends import SecantusServer, odbc_url, postgres_database

ROOT = Path(__file__).resolve().parents[1]
SECRET = "Zq7-s3cret"  # what must never be printed, in any spelling
SPELLINGS = (SECRET, quote(SECRET, safe=""), "s3cret")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("ASYNCAUTH_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "asyncauth", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=False,
    )


def assert_no_secret(result: subprocess.CompletedProcess[str]) -> None:
    shown = result.stdout + result.stderr
    for spelling in SPELLINGS:
        assert spelling not in shown, shown
    assert "Traceback" not in result.stderr, result.stderr


def with_password(url: str, password: str = SECRET) -> str:
    parts = urlsplit(url)
    user = parts.username or "postgres"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


@pytest.mark.postgres
@pytest.mark.anyio
async def test_postgres_urls_with_credentials_are_masked(anyio_backend: str) -> None:
    # The local server trusts every connection, so any password is accepted: the commands
    # succeed and print the URL they worked on.
    async with postgres_database() as url:
        query_password = f"{url}?password={SECRET}"
        userinfo_password = with_password(url)
        odbc = odbc_url("postgres", with_password(url, "{" + SECRET + ";x}"))
        for target in (query_password, userinfo_password, odbc):
            for command in ("bootstrap", "check"):
                result = run(command, target)
                assert result.returncode == 0, result.stdout + result.stderr
                assert_no_secret(result)
                assert "***" in result.stdout
        # An error that quotes the URL (a port that is not a number) is masked too.
        bad_port = with_password(url).replace(":5432/", ":54x32/")
        failed = run("check", bad_port + f"&sslpassword={SECRET}".replace("&", "?", 1))
        assert failed.returncode == 2, failed.stdout + failed.stderr
        assert_no_secret(failed)


@pytest.mark.mongodb
def test_mongodb_multi_host_url_with_credentials() -> None:
    # A server of its own: creating a user must not change what the other tests' shared
    # server lets in.
    from pymongo import MongoClient

    server = SecantusServer()
    try:
        base = server.start()
        with MongoClient(base) as client:
            client.admin.command("createUser", "app", pwd=SECRET, roles=["root"])
        host = urlsplit(base).netloc
        url = f"mongodb://app:{quote(SECRET)}@{host},{host}/cli_multi?authSource=admin"
        boot = run("bootstrap", url)
        assert boot.returncode == 0, boot.stdout + boot.stderr
        assert "applied migrations 1, 2" in boot.stdout
        assert f"mongodb://app:***@{host},{host}/cli_multi" in boot.stdout
        assert_no_secret(boot)
        check = run("check", url)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "schema ok" in check.stdout
        assert_no_secret(check)
    finally:
        server.stop()
