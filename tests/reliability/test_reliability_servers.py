"""The throwaway servers of ``_servers.py`` start where they say they listen.

A port picked free can be taken by another process before the server binds it (other test
runs share the machine). The server must then start on another port, not be reported
started because something (not it) answers on the port it was given.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from tests.reliability import _servers


def _query(server: Any, native_scheme: str) -> str:
    """One statement through the server's own client, over TCP, on the port it reports."""
    if native_scheme == "postgresql":
        client = [shutil.which("psql") or "psql", "-h", "127.0.0.1", "-p", str(server.port)]
        command = [*client, "-U", "postgres", "-At", "-c", "SELECT 'pong'", "postgres"]
    else:
        command = [
            shutil.which("mariadb") or "mysql",
            "-h127.0.0.1",
            f"-P{server.port}",
            "-uroot",
            "-N",
            "-e",
        ]
        command.append("SELECT 'pong'")
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    return done.stdout.strip() or done.stderr.strip()


@pytest.mark.parametrize(
    ("start", "marker"),
    [
        pytest.param(_servers.throwaway_postgres, "postgres", marks=pytest.mark.postgres),
        pytest.param(_servers.throwaway_mariadb, "mysql", marks=pytest.mark.mysql),
    ],
    ids=["postgres", "mysql"],
)
def test_a_server_whose_port_was_taken_starts_on_another(
    start: Callable[[], AbstractContextManager[Any]],
    marker: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    del marker  # only selects the test with -m
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        # Another process's listener on the port the server is about to be given.
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        picks: Iterator[int] = iter([taken])
        real = _servers.free_port
        monkeypatch.setattr(_servers, "free_port", lambda: next(picks, None) or real())
        with start() as server:
            assert server.port != taken
            answer = _query(server, _servers.NATIVE_SCHEME[start])
            assert answer == "pong", answer
