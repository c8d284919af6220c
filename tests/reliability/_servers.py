"""Throwaway database servers for the fault tests: started here, on a free port, then stopped.

A fault test restarts or kills its server, so it never touches the machine's shared servers:
each server below lives in a temporary directory, listens on 127.0.0.1 on a port the kernel
picked, and is removed when the test ends. Servers refuse to run as root (``initdb``,
``mariadbd``), so as root they run as the service's own user through ``runuser``.

A server that cannot be started skips the test locally and fails it in CI (``CI=true``),
through :func:`tests._backends.unavailable`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests._backends import BACKENDS, SECANTUS_LAUNCHER, unavailable


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's pick).

    Only "right now": another process may bind it before our server does (other test runs
    share this machine). A server that must be told its port beforehand is therefore started
    by :func:`_on_a_free_port`, which tries another port when it lost that race.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


#: How a server's log says that the port it was given was taken meanwhile.
_PORT_TAKEN = ("Address already in use", "could not bind", "Do you already have another")
#: Ports tried before giving up (each lost race is rare: the next port is another pick).
PORT_ATTEMPTS = 4


def _on_a_free_port(start: Callable[[int], None], log: Callable[[], str]) -> None:
    """``start(port)`` on a free port, trying another one if that port was taken between
    :func:`free_port` and the server's bind (what ``log()`` then says); other errors raise."""
    for attempt in range(PORT_ATTEMPTS):
        seen = len(log())
        try:
            start(free_port())
            return
        except (subprocess.SubprocessError, OSError):
            lost_race = any(taken in log()[seen:] for taken in _PORT_TAKEN)
            if not lost_race or attempt == PORT_ATTEMPTS - 1:
                raise


def _as_user(user: str) -> list[str]:
    """The command prefix that runs a server as ``user`` when we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(user)
    except KeyError:
        unavailable(f"cannot start a throwaway server: no system user {user!r} to run it as")
    runuser = shutil.which("runuser")
    if runuser is None:
        unavailable("cannot start a throwaway server as root without runuser")
    return [runuser, "-u", user, "--"]


def _own(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        for root, dirs, files in os.walk(path):
            os.chown(root, entry.pw_uid, entry.pw_gid)
            for name in dirs + files:
                os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def _wait_for_port(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


@dataclass
class ThrowawayPostgres:
    """A PostgreSQL cluster of its own (``initdb`` + ``pg_ctl``), trust auth, no fsync."""

    directory: Path
    port: int
    bin: Path
    prefix: list[str] = field(default_factory=list)
    starts: int = 0
    stops: int = 0

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def database_url(self) -> str:
        """The URL of an empty database on this server (the cluster's own ``postgres``)."""
        return self.url("postgres")

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.prefix, str(self.bin / "pg_ctl"), "-D", str(self.directory / "data"), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=300"
        )
        self._pg_ctl("-w", "-t", "60", "-l", str(self.directory / "log"), "-o", options, "start")
        self.starts += 1

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends every session and shuts down cleanly; ``immediate`` is a crash."""
        self._pg_ctl("-w", "-t", "60", "-m", mode, "stop")
        self.stops += 1

    def log(self) -> str:
        return _log_of(self.directory)[-2000:]


def _log_of(directory: Path) -> str:
    """The whole log of the server in ``directory`` (``""`` before it wrote one)."""
    try:
        return (directory / "log").read_text(errors="replace")
    except OSError:
        return ""


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A running throwaway PostgreSQL; stopped and deleted on exit."""
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = shutil.which("initdb") or (found[-1] if found else None)
    if initdb is None:
        unavailable("cannot start a throwaway PostgreSQL: initdb not found")
    prefix = _as_user("postgres")
    directory = Path(tempfile.mkdtemp(prefix="asyncauth-pg-"))
    _own(directory, "postgres")
    server = ThrowawayPostgres(directory, 0, Path(initdb).parent, prefix)

    def start(port: int) -> None:
        server.port = port
        server.start()

    try:
        try:
            subprocess.run(
                [*prefix, initdb, "-D", str(directory / "data"), "-A", "trust", "-U", "postgres"]
                + ["-E", "UTF8", "--no-sync", "--no-instructions"],
                check=True,
                capture_output=True,
                timeout=120,
            )
            _on_a_free_port(start, lambda: _log_of(directory))
        except (subprocess.SubprocessError, OSError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            unavailable(
                f"cannot start a throwaway PostgreSQL: {exc!r} {detail.decode(errors='replace')}"
                f" {server.log()}"
            )
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            server.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class ThrowawayMariaDB:
    """A MariaDB server of its own (``mariadb-install-db`` + ``mariadbd``)."""

    directory: Path
    port: int
    command: Callable[[int], list[str]]
    """The server's command line for a port."""
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    stops: int = 0

    @property
    def admin_url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/mysql"

    def url(self, database: str) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{database}"

    def database_url(self) -> str:
        """The URL of a new empty database on this server."""
        client = shutil.which("mariadb") or shutil.which("mysql") or "mysql"
        subprocess.run(
            [client, "-h127.0.0.1", f"-P{self.port}", "-uroot"]
            + ["-e", "CREATE DATABASE IF NOT EXISTS asyncauth_faults"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return self.url("asyncauth_faults")

    def start(self) -> None:
        seen = len(_log_of(self.directory))
        with open(self.directory / "log", "ab") as log:  # the child keeps its own handle
            process = self.process = subprocess.Popen(
                self.command(self.port), stdout=log, stderr=log
            )
        # Ready is what mariadbd says once it accepts connections, from this start on, while it
        # still runs: an open port alone may be another process's (which took the port first,
        # so that this mariadbd exits) or a server still recovering its files.
        deadline = time.monotonic() + 60
        while "ready for connections" not in _log_of(self.directory)[seen:]:
            if process.poll() is not None:
                raise OSError(f"mariadbd exited with {process.returncode}: {self.log()}")
            if time.monotonic() > deadline:
                raise OSError(f"mariadbd was not ready on port {self.port} within 60 s")
            time.sleep(0.05)
        self.starts += 1

    def stop(self, mode: str = "fast") -> None:
        """``fast`` is SIGTERM (clean shutdown); ``immediate`` is SIGKILL (a crash)."""
        process, self.process = self.process, None
        if process is None:
            return
        if mode == "immediate":
            process.kill()
        else:
            process.terminate()
        process.wait(timeout=60)
        if _wait_for_port(self.port, 0.2):
            raise OSError(f"something still listens on port {self.port} after the stop")
        self.stops += 1

    def log(self) -> str:
        return _log_of(self.directory)[-2000:]


@contextlib.contextmanager
def throwaway_mariadb() -> Iterator[ThrowawayMariaDB]:
    """A running throwaway MariaDB whose root has no password over TCP; removed on exit."""
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    daemon = shutil.which("mariadbd") or shutil.which("mysqld")
    for candidate in ("/usr/sbin/mariadbd", "/usr/sbin/mysqld"):
        if daemon is None and os.path.exists(candidate):
            daemon = candidate
    if install is None or daemon is None:
        unavailable("cannot start a throwaway MariaDB: mariadb-install-db/mariadbd not found")
    # mariadbd drops to --user itself: run through runuser, the server would be runuser's
    # child, and a signal sent to the process we started would never reach it.
    user = ["--user=mysql"] if os.geteuid() == 0 else []
    if user:
        _as_user("mysql")  # the system user must exist
    directory = Path(tempfile.mkdtemp(prefix="asyncauth-maria-"))
    (directory / "data").mkdir()
    _own(directory, "mysql")

    def command(port: int) -> list[str]:
        return [
            daemon,
            "--no-defaults",  # must come first
            *user,
            f"--datadir={directory / 'data'}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--socket={directory / 'sock'}",
            f"--pid-file={directory / 'pid'}",
            "--skip-grant-tables",
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-buffer-pool-size=32M",
            "--max-connections=300",
        ]

    server = ThrowawayMariaDB(directory, 0, command)

    def start(port: int) -> None:
        server.port = port
        server.start()

    try:
        try:
            subprocess.run(
                [install, "--no-defaults", *user, f"--datadir={directory / 'data'}"]
                + ["--auth-root-authentication-method=normal", "--skip-test-db"],
                check=True,
                capture_output=True,
                timeout=180,
            )
            _on_a_free_port(start, lambda: _log_of(directory))
        except (subprocess.SubprocessError, OSError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            unavailable(
                f"cannot start a throwaway MariaDB: {exc!r} {detail.decode(errors='replace')}"
                f" {server.log()}"
            )
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            server.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class ThrowawaySecantus:
    """A SecantusDB (MongoDB wire protocol) of its own, on a fixed port and data directory.

    SecantusDB is GPL, so it runs in a separate process (``scripts/secantusdb_server.py``),
    never imported here. ``stop("fast")`` is SIGTERM, on which the launcher closes the
    server and its storage cleanly; ``stop("immediate")`` is SIGKILL, a crash that leaves
    WiredTiger to recover its files at the next start. A restart binds the same port, so
    a client keeps the address it was given.
    """

    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    stops: int = 0

    @property
    def admin_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/admin"

    def url(self, database: str) -> str:
        return f"mongodb://127.0.0.1:{self.port}/{database}"

    def database_url(self) -> str:
        """The URL of an empty database on this server (MongoDB makes it on first write)."""
        return self.url("asyncauth_faults")

    def start(self) -> None:
        """Start on ``port``; the first start (``port`` 0) takes the port the kernel gives
        the launcher's own bind, so no other process can take it in between."""
        with open(self.directory / "log", "ab") as log:  # the child keeps its own handle
            # stdin stays open: the launcher stops when it closes, so it cannot outlive us.
            self.process = subprocess.Popen(
                [sys.executable, str(SECANTUS_LAUNCHER), str(self.directory / "data")]
                + ["--port", str(self.port)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        line = self.process.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("mongodb://"):
            raise OSError(f"SecantusDB did not start on port {self.port}: {self.log()}")
        self.port = urlsplit(line).port or self.port
        self.starts += 1

    def stop(self, mode: str = "fast") -> None:
        """``fast`` is SIGTERM (clean shutdown); ``immediate`` is SIGKILL (a crash)."""
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGKILL if mode == "immediate" else signal.SIGTERM)
        process.wait(timeout=60)
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()
        if _wait_for_port(self.port, 0.2):
            raise OSError(f"something still listens on port {self.port} after the stop")
        self.stops += 1

    def log(self) -> str:
        return _log_of(self.directory)[-2000:]


@contextlib.contextmanager
def throwaway_secantus() -> Iterator[ThrowawaySecantus]:
    """A running throwaway SecantusDB with its own data directory; removed on exit."""
    try:
        import secantus  # noqa: F401  (only to say what is missing; it runs in the child)
    except ImportError:
        unavailable("cannot start a throwaway SecantusDB: pip install -r requirements-test.txt")
    directory = Path(tempfile.mkdtemp(prefix="asyncauth-secantus-faults-"))
    server = ThrowawaySecantus(directory, 0)  # the launcher binds the kernel's pick
    try:
        try:
            server.start()
        except (subprocess.SubprocessError, OSError) as exc:
            unavailable(f"cannot start a throwaway SecantusDB: {exc!r}")
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            server.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


def _odbc(dialect: str) -> Callable[[str], str]:
    def wrap(native: str) -> str:
        # Imported late: the ODBC helpers of tests._backends come with the ODBC backends.
        from tests import _backends

        url: str = _backends.odbc_url(dialect, native)  # type: ignore[attr-defined]
        return url

    return wrap


def _same(native: str) -> str:
    return native


#: backend name -> (how to start a throwaway server of it, its URL for a native URL there).
#: The embedded SQLite has no server; SQL Server cannot run on this machine. MongoDB's is a
#: SecantusDB (mongod is not installed here); ``mongodb-real`` names a server we may not stop.
THROWAWAY: dict[str, tuple[Callable[[], AbstractContextManager[Any]], Callable[[str], str]]] = {
    "postgres": (throwaway_postgres, _same),
    "mysql": (throwaway_mariadb, _same),
    "odbc-postgres": (throwaway_postgres, _odbc("postgres")),
    "odbc-mysql": (throwaway_mariadb, _odbc("mysql")),
    "mongodb": (throwaway_secantus, _same),
}


#: the URL scheme of each throwaway server's own driver
NATIVE_SCHEME = {
    throwaway_postgres: "postgresql",
    throwaway_mariadb: "mysql",
    throwaway_secantus: "mongodb",
}


def server_backends() -> list[Any]:
    """pytest params for every backend with a server (SQLite is embedded: it has none)."""
    import pytest

    return [
        pytest.param(b, id=b.name, marks=getattr(pytest.mark, b.marker))
        for b in BACKENDS
        if b.name != "sqlite"
    ]
