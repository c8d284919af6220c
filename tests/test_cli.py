"""The ``asyncauth`` command: --help of every command, check on drift, purge progress.

The commands run as a real process (``python -m asyncauth``) where the exit status matters,
as a deploy pipeline would see it; otherwise through ``main`` in process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import asyncauth
from asyncauth.cli import build_parser, main
from tests._backends import Backend

UTC = timezone.utc
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "custom_models"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("ASYNCAUTH_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "asyncauth", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """The command run in process (fast); ``run`` is the real process, for exit statuses."""

    def call(*args: str) -> Ran:
        code = main(list(args))
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return call


def commands() -> list[str]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(sub.choices)


def test_every_command_has_help_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    names = commands()
    assert {"bootstrap", "check", "sql", "purge"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as exit_:
            main([name, "--help"])
        assert exit_.value.code == 0
        text = capsys.readouterr().out
        assert f"example: asyncauth {name}" in text, f"{name} --help has no example:\n{text}"
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    assert all(name in top for name in names) and "example: asyncauth" in top


def test_check_exits_non_zero_on_drift(tmp_path: Path, cli: Callable[..., Ran]) -> None:
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    fresh = cli("check", url)
    assert fresh.returncode == 1 and "never bootstrapped" in fresh.stdout
    boot = cli("bootstrap", url)
    assert boot.returncode == 0 and "applied migrations 1, 2" in boot.stdout
    assert cli("bootstrap", url).stdout.strip().endswith("is up to date")
    ok = cli("check", url)
    assert ok.returncode == 0 and "schema ok" in ok.stdout

    import sqlite3

    with sqlite3.connect(tmp_path / "auth.db") as db:
        db.execute("DROP INDEX sessions_expires")
    # As a deploy pipeline sees it: a real process and its exit status.
    drifted = run("check", url)
    assert drifted.returncode == 1
    assert "missing index sessions(expires)" in drifted.stdout
    as_json = cli("check", "--json", url)
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["ok"] is False and report["differences"] == ["missing index sessions(expires)"]
    # bootstrap does not re-create it (migration 2 is recorded): drift is for a human to fix.
    assert cli("bootstrap", url).returncode == 0 and cli("check", url).returncode == 1


@pytest.mark.anyio
async def test_check_on_a_drifted_database(backend: Backend, fresh_db_url: str) -> None:
    if backend.name.startswith("mongodb"):
        pytest.skip("the drift here is SQL DDL; MongoDB's check is tested in tests/test_mongo.py")
    # MySQL and SQL Server name the table of the index they drop; the others refuse it.
    plain = backend.name.removeprefix("odbc-") in ("sqlite", "postgres")
    on_table = "" if plain else " ON sessions"
    async with backend.raw(fresh_db_url) as raw:
        await raw.execute(f"DROP INDEX sessions_user_id{on_table}")
    result = run("check", fresh_db_url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "missing index sessions(user_id)" in result.stdout


def test_custom_folder_on_bootstrap_check_and_sql(tmp_path: Path, cli: Callable[..., Ran]) -> None:
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    assert "1, 2, 1001" in cli("bootstrap", "--sql-folder", str(EXAMPLE), url).stdout
    assert cli("check", "--sql-folder", str(EXAMPLE), url).returncode == 0
    ddl = cli("sql", "sqlite", "--sql-folder", str(EXAMPLE)).stdout
    assert ddl.index("0002_asyncauth.sql") < ddl.index("1001_users_phone.sql")
    bad = cli("check", "--sql-folder", str(tmp_path / "nowhere"), url)
    assert bad.returncode == 2 and "not a custom SQL folder" in bad.stderr


@pytest.mark.anyio
async def test_purge_shows_progress(tmp_path: Path, anyio_backend: str) -> None:
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    async with asyncauth.connect(url, bootstrap=True) as auth:
        user = await auth.create_user()
        past = datetime.now(UTC) - timedelta(hours=1)
        for _ in range(25):
            await auth.create_session(user.id, past)
        await auth.create_session(user.id, datetime.now(UTC) + timedelta(days=1))
    result = run("purge", "--batch-size", "10", url)
    assert result.returncode == 0, result.stderr
    assert "purged 25 expired session(s) and 0 verification token(s)" in result.stdout
    # Not a terminal: one line per batch (10, 20, 25 sessions; then the tokens' empty batch).
    lines = result.stderr.splitlines()
    assert lines[:3] == [
        "purge: sessions: 10 deleted (batch 1)",
        "purge: sessions: 20 deleted (batch 2)",
        "purge: sessions: 25 deleted (batch 3)",
    ]
    assert lines[3] == "purge: verification tokens: 0 deleted (batch 4)"
    assert run("purge", "--quiet", url).stderr == ""


def test_errors_exit_2_without_a_traceback() -> None:
    result = run("check", "nosuch://x")
    assert result.returncode == 2
    assert result.stderr.startswith("asyncauth: ConfigurationError:")
