"""Throwaway clusters for the cluster tests: built here on free loopback ports, then removed.

Each context manager below builds one kind of cluster in a temporary directory, yields a
description of it (URLs, ports, and methods that inject faults), and on exit kills every
process it started and removes every file, also when the build or the test failed:

* :func:`pgbouncer`: a PostgreSQL server behind PgBouncer in transaction mode;
* :func:`pg_replica`: a PostgreSQL primary and a hot standby streaming from it;
* :func:`patroni`: etcd, two PostgreSQL nodes managed by Patroni, HAProxy in front;
* :func:`galera`: a MariaDB Galera cluster of three nodes.

The machine's own servers (5432, 3306) are never touched: every port is one the kernel
handed out as free. The single servers come from ``tests/reliability/_servers.py``. Servers
that refuse root (PostgreSQL, PgBouncer) and everything around them run as the ``postgres``
user when we are root; ``mariadbd`` drops to ``mysql`` itself.

What the builds need comes from Debian (``bash scripts/cluster-deps`` as root). A missing
program or a cluster that does not come up skips the test locally and fails it in CI
(``CI=true``), through :func:`tests._backends.unavailable`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path
from typing import Any, TypeVar

from tests._backends import unavailable
from tests.reliability._servers import (
    PORT_ATTEMPTS,
    ThrowawayMariaDB,
    ThrowawayPostgres,
    _as_user,
    _log_of,
    _on_a_free_port,
    _own,
    throwaway_postgres,
)

T = TypeVar("T")

#: How long any one wait of a build may take on a loaded 2-core machine before it is a failure.
READY_SECONDS = 60.0
#: Every wait on a cluster's state polls at this interval (never a fixed sleep as a handshake).
POLL = 0.1
_DEPS = "run `bash scripts/cluster-deps` as root"
#: What a server's log says when the port it was given was taken by someone else meanwhile
#: (PostgreSQL, MariaDB, PgBouncer, HAProxy, Patroni's REST API, etcd, Galera's gcomm).
_PORT_TAKEN = ("address already in use", "could not bind", "cannot bind", "do you already have")


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports nobody listens on right now.

    A cluster must know all its ports before its first process starts (each node's config
    names the others), so they are picked together, while all are held, to be distinct. Another
    process may still take one before our server binds it: :func:`_build` then builds again.
    """
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _program(name: str, *candidates: str) -> str:
    """The path of a program, or skip/fail the test saying how to install it."""
    found = shutil.which(name)
    for candidate in candidates:
        for path in sorted(glob(candidate), reverse=True):
            found = found or path
    if found is None:
        unavailable(f"cannot build the cluster: {name} not found ({_DEPS})")
    return found


def _pg_bin() -> Path:
    """The directory of initdb, pg_ctl, pg_basebackup and psql (the newest installed)."""
    found = sorted(glob("/usr/lib/postgresql/*/bin/psql"))  # Debian keeps them off PATH
    return Path(found[-1] if found else _program("psql")).parent


def _run_as(user: str, home: Path) -> dict[str, Any]:
    """``subprocess`` arguments that run a child as ``user`` when we are root.

    The child runs as that user itself (no ``runuser`` in between), so a signal sent to the
    process we started reaches the server.
    """
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        unavailable(f"cannot build the cluster: no system user {user!r} to run it as")
    env = {**os.environ, "HOME": str(home), "USER": user, "LOGNAME": user}
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": [], "env": env}


def _wait(what: str, done: Callable[[], bool], seconds: float = READY_SECONDS) -> None:
    """Poll ``done()`` until it holds; ``OSError`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise OSError(f"{what}: not within {seconds:.0f} s")
        time.sleep(POLL)


@dataclass
class Daemon:
    """One foreground process of a cluster, with its own directory and log (``log`` there).

    It runs in a session of its own, so :meth:`kill` reaches the children it started too
    (except those that start their own session, like Patroni's postmaster).
    """

    name: str
    argv: list[str]
    directory: Path
    user: str | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self, ready: Callable[[], bool], seconds: float = READY_SECONDS) -> None:
        """Start it and poll ``ready()`` while it runs; ``OSError`` (with its log) if it
        exits first or is not ready within ``seconds``."""
        options = _run_as(self.user, self.directory) if self.user else {}
        with open(self.directory / "log", "ab") as log:  # the child keeps its own handle
            process = self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.directory,
                start_new_session=True,
                **options,
            )
        deadline = time.monotonic() + seconds
        while not ready():
            if process.poll() is not None:
                raise OSError(f"{self.name} exited with {process.returncode}: {self.log()}")
            if time.monotonic() > deadline:
                raise OSError(f"{self.name} was not ready within {seconds:.0f} s: {self.log()}")
            time.sleep(POLL)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to its whole process group and reap it (SIGKILL: a crash)."""
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=60)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return _log_of(self.directory)[-3000:]


def _make_dir(root: Path, name: str, user: str | None) -> Path:
    path = root / name
    path.mkdir()
    if user:
        _own(path, user)
    return path


def _kill_strays(root: Path) -> None:
    """SIGKILL what is left running from ``root`` once its cluster was torn down.

    A server's helpers need not die with it: a Galera donor's state-transfer script, for one,
    waits on forever for a joiner that was killed in the middle of the transfer. Every such
    process names the cluster's own directory (unique, from mkdtemp) on its command line.
    """
    needle = str(root).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue  # gone meanwhile, or not ours to read


def _port_race(root: Path) -> bool:
    """Whether some log of a failed build says one of its ports was taken meanwhile."""
    for log in root.rglob("log"):
        text = log.read_text(errors="replace").lower()
        if any(taken in text for taken in _PORT_TAKEN):
            return True
    return False


@contextlib.contextmanager
def _build(
    what: str, user: str | None, build: Callable[[contextlib.ExitStack, Path], T]
) -> Iterator[T]:
    """Run ``build(stack, root)`` in a fresh temporary ``root`` and yield what it returns.

    ``build`` registers the teardown of each thing it starts on ``stack`` as soon as it has
    started it, so a failed build is torn down as far as it got. A build that lost a port race
    is retried on new ports; any other failure skips the test (fails it in CI).
    """
    for attempt in range(PORT_ATTEMPTS):
        stack = contextlib.ExitStack()
        root = Path(tempfile.mkdtemp(prefix=f"asyncauth-{what}-"))
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        stack.callback(_kill_strays, root)  # runs after every teardown ``build`` registered
        if user:
            _own(root, user)
        try:
            cluster = build(stack, root)
        except (subprocess.SubprocessError, OSError) as exc:
            race = _port_race(root)
            stack.close()
            if race and attempt < PORT_ATTEMPTS - 1:
                continue
            detail = (getattr(exc, "stderr", b"") or b"").decode(errors="replace")
            unavailable(f"cannot build {what}: {exc} {detail}")
        except BaseException:
            stack.close()
            raise
        break
    with stack:
        yield cluster


def psql(port: int, sql: str, database: str = "postgres") -> str:
    """Run ``sql`` through psql on 127.0.0.1:``port`` as postgres; its output, unaligned."""
    done = subprocess.run(
        [str(_pg_bin() / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
        + ["-d", database, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=True,
        timeout=30,
        env={**os.environ, "PGCONNECT_TIMEOUT": "5"},
    )
    return done.stdout.decode().strip()


def _answers(port: int, sql: str = "SELECT 1") -> bool:
    try:
        psql(port, sql)
    except (subprocess.SubprocessError, OSError):
        return False
    return True


def _pg_url(port: int | str, database: str) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"


def _create_database(port: int, database: str) -> None:
    if psql(port, f"SELECT 1 FROM pg_database WHERE datname = '{database}'") != "1":
        psql(port, f'CREATE DATABASE "{database}"')


# --- PgBouncer ------------------------------------------------------------------------------


@dataclass
class PgBouncerCluster:
    """A PostgreSQL server and a PgBouncer in front of it, in transaction pooling mode."""

    server: ThrowawayPostgres
    bouncer: Daemon
    port: int
    pool_size: int

    def url(self, database: str = "postgres") -> str:
        """Through PgBouncer (every database of the server, by the same name)."""
        return _pg_url(self.port, database)

    def direct_url(self, database: str = "postgres") -> str:
        """Straight to the PostgreSQL server, past PgBouncer."""
        return self.server.url(database)

    def create_database(self, database: str) -> None:
        _create_database(self.server.port, database)


@contextlib.contextmanager
def pgbouncer(pool_size: int = 2) -> Iterator[PgBouncerCluster]:
    """A throwaway PostgreSQL behind PgBouncer (transaction mode, ``pool_size`` server
    connections per database and user, so that client connections really share them)."""
    binary = _program("pgbouncer", "/usr/sbin/pgbouncer")
    user = "postgres"  # PgBouncer refuses to run as root

    def build(stack: contextlib.ExitStack, root: Path) -> PgBouncerCluster:
        server = stack.enter_context(throwaway_postgres())
        directory = _make_dir(root, "pgbouncer", user)
        bouncer = Daemon("pgbouncer", [binary, str(directory / "pgbouncer.ini")], directory, user)
        (directory / "userlist.txt").write_text('"postgres" ""\n')

        def start(port: int) -> None:
            # auth_type=trust still wants the user in auth_file; an empty unix_socket_dir
            # keeps PgBouncer off the shared socket directory; an empty server_reset_query
            # is what transaction mode uses anyway.
            (directory / "pgbouncer.ini").write_text(
                f"[databases]\n* = host=127.0.0.1 port={server.port}\n\n[pgbouncer]\n"
                f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
                f"auth_type = trust\nauth_file = {directory / 'userlist.txt'}\n"
                f"admin_users = postgres\npool_mode = transaction\n"
                f"default_pool_size = {pool_size}\nmin_pool_size = 0\nreserve_pool_size = 0\n"
                "max_client_conn = 500\nserver_reset_query =\n"
                "ignore_startup_parameters = extra_float_digits\n"
            )
            _own(directory, user)
            bouncer.start(lambda: _answers(port))
            cluster.port = port

        cluster = PgBouncerCluster(server, bouncer, 0, pool_size)
        stack.callback(bouncer.kill)
        _on_a_free_port(start, lambda: _log_of(directory))
        return cluster

    with _build("pgbouncer", user, build) as cluster:
        yield cluster


# --- streaming replication ------------------------------------------------------------------


@dataclass
class ReplicaCluster:
    """A PostgreSQL primary and a hot standby streaming from it (asynchronously)."""

    primary: ThrowawayPostgres
    standby: ThrowawayPostgres

    def primary_url(self, database: str = "postgres") -> str:
        return self.primary.url(database)

    def standby_url(self, database: str = "postgres") -> str:
        return self.standby.url(database)

    def multi_host_url(self, database: str = "postgres", attrs: str = "read-write") -> str:
        """Both servers in one URL (standby first), for libpq/asyncpg's host list."""
        hosts = f"127.0.0.1:{self.standby.port},127.0.0.1:{self.primary.port}"
        return f"postgresql://postgres@{hosts}/{database}?target_session_attrs={attrs}"

    def create_database(self, database: str) -> None:
        """Create it on the primary and wait until the standby has it too."""
        _create_database(self.primary.port, database)
        self.wait_replayed()

    def set_apply_delay(self, milliseconds: int) -> None:
        """Make the standby apply each commit ``milliseconds`` after it was made (0: at once).

        ALTER SYSTEM on the standby, then a reload; waits until the standby reports it.
        """
        psql(
            self.standby.port,
            f"ALTER SYSTEM SET recovery_min_apply_delay = '{int(milliseconds)}ms'",
        )
        psql(self.standby.port, "SELECT pg_reload_conf()")
        _wait(
            "the standby taking the new apply delay",
            lambda: (
                psql(
                    self.standby.port,
                    "SELECT setting FROM pg_settings WHERE name = 'recovery_min_apply_delay'",
                )
                == str(int(milliseconds))
            ),  # in ms, its unit (SHOW would say 1s)
        )

    def wait_replayed(self, seconds: float = READY_SECONDS) -> None:
        """Wait until the standby has replayed everything the primary wrote until now."""
        lsn = psql(self.primary.port, "SELECT pg_current_wal_lsn()")
        _wait(
            "the standby replaying the primary's WAL",
            lambda: (
                psql(self.standby.port, f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn")
                == "t"
            ),
            seconds,
        )

    def stop_standby(self, mode: str = "fast") -> None:
        """``fast``: a clean shutdown; ``immediate``: a crash."""
        self.standby.stop(mode)

    def start_standby(self) -> None:
        """Start the standby again on its port and wait until it streams from the primary."""
        self.standby.start()
        _wait("the standby streaming again", self._streaming)

    def _streaming(self) -> bool:
        return _answers(
            self.primary.port,
            "SELECT 1/count(*) FROM pg_stat_replication WHERE state = 'streaming'",
        )


@contextlib.contextmanager
def pg_replica(apply_delay_ms: int = 0) -> Iterator[ReplicaCluster]:
    """A throwaway primary (PostgreSQL's defaults already allow streaming replication and
    trust replication connections from 127.0.0.1) and a hot standby made by pg_basebackup."""
    user = "postgres"

    def build(stack: contextlib.ExitStack, root: Path) -> ReplicaCluster:
        primary = stack.enter_context(throwaway_postgres())
        directory = _make_dir(root, "standby", user)
        subprocess.run(
            [str(_pg_bin() / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port)]
            + ["-U", "postgres", "-D", str(directory / "data"), "-R", "-X", "stream"]
            + ["-c", "fast", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
            **_run_as(user, directory),
        )
        standby = ThrowawayPostgres(directory, 0, primary.bin, primary.prefix)

        def start(port: int) -> None:
            standby.port = port
            standby.start()

        def stop() -> None:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                standby.stop("immediate")

        stack.callback(stop)
        _on_a_free_port(start, lambda: _log_of(directory))
        cluster = ReplicaCluster(primary, standby)
        _wait("the standby streaming from the primary", cluster._streaming)
        if apply_delay_ms:
            cluster.set_apply_delay(apply_delay_ms)
        return cluster

    with _build("pg-replica", user, build) as cluster:
        yield cluster


# --- Patroni --------------------------------------------------------------------------------


def _http(url: str, body: dict[str, Any] | None = None, timeout: float = 10) -> tuple[int, str]:
    """GET (or POST ``body`` as JSON) ``url``; the status and the text (0 if unreachable)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode(errors="replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


@dataclass
class PatroniNode:
    name: str
    pg_port: int
    rest_port: int
    daemon: Daemon
    server: ThrowawayPostgres
    """Its PostgreSQL, for pg_ctl on its data directory (Patroni starts and stops it)."""

    def role(self) -> str:
        """``primary``, ``replica``, or ``""`` while Patroni does not answer as either."""
        for role in ("primary", "replica"):
            if _http(f"http://127.0.0.1:{self.rest_port}/{role}", timeout=2)[0] == 200:
                return role
        return ""

    def postmaster_pid(self) -> int | None:
        try:
            text = (self.server.directory / "data" / "postmaster.pid").read_text()
            return int(text.split()[0])
        except (OSError, ValueError, IndexError):
            return None


@dataclass
class PatroniCluster:
    """etcd, two PostgreSQL nodes under Patroni, and HAProxy sending clients to the leader."""

    etcd: Daemon
    nodes: dict[str, PatroniNode]
    haproxy: Daemon
    haproxy_port: int
    """Routes to whichever node Patroni's REST API says is the primary (``GET /primary``)."""
    killed: list[str] = field(default_factory=list)

    def url(self, database: str = "postgres") -> str:
        """Through HAProxy, to the current leader."""
        return _pg_url(self.haproxy_port, database)

    def multi_host_url(self, database: str = "postgres") -> str:
        """Every node in one URL; the driver picks the one that takes writes."""
        hosts = ",".join(f"127.0.0.1:{n.pg_port}" for n in self.nodes.values())
        return f"postgresql://postgres@{hosts}/{database}?target_session_attrs=read-write"

    def node_url(self, name: str, database: str = "postgres") -> str:
        return _pg_url(self.nodes[name].pg_port, database)

    def leader(self) -> str:
        """The name of the node that answers as primary (``""`` if none does right now)."""
        for name, node in self.nodes.items():
            if node.daemon.running and node.role() == "primary":
                return name
        return ""

    def haproxy_target(self) -> str:
        """The name of the node a new connection through HAProxy lands on (``""`` if none)."""
        try:
            port = int(psql(self.haproxy_port, "SELECT inet_server_port()"))
        except (subprocess.SubprocessError, OSError, ValueError):
            return ""
        return next((n for n, node in self.nodes.items() if node.pg_port == port), "")

    def haproxy_states(self) -> dict[str, str]:
        """What HAProxy thinks of each node (``UP``, ``DOWN``, ``UP 1/2``...), from its stats
        socket. Only this says where *every* new connection goes: a node HAProxy has not
        checked yet counts as up, so one connection landing on the leader proves nothing."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect(str(self.haproxy.directory / "stats.sock"))
                sock.sendall(b"show stat\n")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError:
            return {}
        lines = b"".join(chunks).decode(errors="replace").splitlines()
        if not lines or not lines[0].startswith("# "):
            return {}
        header = lines[0][2:].split(",")
        name, status = header.index("svname"), header.index("status")
        rows = [line.split(",") for line in lines[1:] if line]
        return {row[name]: row[status] for row in rows if row[name] in self.nodes}

    def create_database(self, database: str) -> None:
        """Create it through HAProxy (on the leader); replicas get it by replication."""
        _create_database(self.haproxy_port, database)

    def wait_settled(self, leader: str | None = None, seconds: float = READY_SECONDS) -> str:
        """Wait until one node (``leader`` if given) is primary, every other running node a
        streaming replica, and HAProxy routes to the primary; returns the leader's name."""
        found = ""

        def settled() -> bool:
            nonlocal found
            found = self.leader()
            if not found or (leader is not None and found != leader):
                return False
            others = [n for n in self.nodes.values() if n.name != found and n.daemon.running]
            if any(n.role() != "replica" for n in others):
                return False
            states = self.haproxy_states()
            wanted = {n: "UP" if n == found else "DOWN" for n in self.nodes}
            return states == wanted and self.haproxy_target() == found

        _wait(f"the Patroni cluster settling (leader {leader or 'any'})", settled, seconds)
        return found

    def switchover(self, candidate: str | None = None) -> str:
        """A planned switchover through Patroni's REST API; returns the new leader once
        HAProxy routes to it."""
        leader = self.leader()
        if candidate is None:
            candidate = next(n for n in self.nodes if n != leader)
        rest = self.nodes[leader].rest_port
        status, text = _http(
            f"http://127.0.0.1:{rest}/switchover",
            {"leader": leader, "candidate": candidate},
            timeout=READY_SECONDS,
        )
        if status != 200:
            raise OSError(f"switchover {leader} -> {candidate} refused: {status} {text}")
        return self.wait_settled(candidate)

    def kill_leader(self) -> str:
        """SIGKILL the leader's Patroni and its postmaster (a crashed machine); returns its
        name. The other node takes over once the leader key expires (``ttl``, ~10 s)."""
        name = self.leader()
        if not name:
            raise OSError("no leader to kill")
        node = self.nodes[name]
        pid = node.postmaster_pid()
        node.daemon.kill()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.killed.append(name)
        return name

    def start_node(self, name: str) -> None:
        """Start a killed node's Patroni again; it rejoins as a replica (pg_rewind)."""
        node = self.nodes[name]
        node.daemon.start(lambda: node.role() == "replica")


def _has_role(node: PatroniNode, role: str) -> bool:
    return node.role() == role


_PATRONI_TTL = 10  # seconds a leader key lives without renewal: the failover time after a crash


def _patroni_yaml(
    scope: str, name: str, directory: Path, etcd_port: int, pg_port: int, rest_port: int
) -> str:
    """One node's Patroni configuration (JSON is YAML, so it is written with json)."""
    hba = [
        "local all all trust",
        "host all all 127.0.0.1/32 trust",
        "host replication all 127.0.0.1/32 trust",
    ]
    parameters = {
        "unix_socket_directories": str(directory),
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "on",  # pg_rewind needs it (or data checksums)
        "wal_log_hints": "on",
        "max_connections": 200,
    }
    config = {
        "scope": scope,
        "namespace": "/asyncauth-test/",
        "name": name,
        "log": {"level": "INFO"},
        "restapi": {
            "listen": f"127.0.0.1:{rest_port}",
            "connect_address": f"127.0.0.1:{rest_port}",
        },
        "etcd3": {"hosts": f"127.0.0.1:{etcd_port}"},
        "bootstrap": {
            # loop_wait + 2 * retry_timeout must stay within ttl (Patroni's rule).
            "dcs": {
                "ttl": _PATRONI_TTL,
                "loop_wait": 2,
                "retry_timeout": 4,
                "maximum_lag_on_failover": 16 * 1024 * 1024,
                "postgresql": {"use_pg_rewind": True, "parameters": parameters},
            },
            "initdb": [{"encoding": "UTF8"}, {"auth": "trust"}, "no-sync"],
        },
        "postgresql": {
            "listen": f"127.0.0.1:{pg_port}",
            "connect_address": f"127.0.0.1:{pg_port}",
            "data_dir": str(directory / "data"),
            "bin_dir": str(_pg_bin()),
            "pgpass": str(directory / "pgpass"),
            "authentication": {
                "superuser": {"username": "postgres"},
                "replication": {"username": "postgres"},
                "rewind": {"username": "postgres"},
            },
            "parameters": parameters,
            "pg_hba": hba,
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False},
    }
    return json.dumps(config, indent=1)


def _haproxy_cfg(directory: Path, port: int, nodes: list[tuple[str, int, int]]) -> str:
    """HAProxy in TCP mode on ``port``, to the node whose Patroni answers 200 on /primary; a
    node marked down has its connections cut, so no client stays on a demoted primary."""
    servers = "".join(
        f"  server {name} 127.0.0.1:{pg} check port {rest}\n" for name, pg, rest in nodes
    )
    return (
        f"global\n  maxconn 200\n  stats socket {directory / 'stats.sock'} mode 600\n\n"
        "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30m\n"
        "  timeout server 30m\n  timeout check 2s\n\n"
        f"listen primary\n  bind 127.0.0.1:{port}\n  option httpchk GET /primary\n"
        "  http-check expect status 200\n"
        "  default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions\n"
        f"{servers}"
    )


@contextlib.contextmanager
def patroni(names: tuple[str, ...] = ("pa", "pb")) -> Iterator[PatroniCluster]:
    """A one-member etcd, one Patroni-managed PostgreSQL per name (the first bootstraps and
    leads, the others clone it), and HAProxy in front; settled before it is yielded."""
    etcd_bin = _program("etcd", "/usr/bin/etcd")
    patroni_bin = _program("patroni", "/usr/bin/patroni")
    haproxy_bin = _program("haproxy", "/usr/sbin/haproxy")
    bin_dir = _pg_bin()
    user = "postgres"  # PostgreSQL refuses root; the whole cluster runs as one user

    def build(stack: contextlib.ExitStack, root: Path) -> PatroniCluster:
        etcd_client, etcd_peer, haproxy_port, *node_ports = free_ports(3 + 2 * len(names))
        directory = _make_dir(root, "etcd", user)
        peer = f"http://127.0.0.1:{etcd_peer}"
        client = f"http://127.0.0.1:{etcd_client}"
        etcd = Daemon(
            "etcd",
            [etcd_bin, "--name", "e1", "--data-dir", str(directory / "data")]
            + ["--listen-client-urls", client, "--advertise-client-urls", client]
            + ["--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer]
            + ["--initial-cluster", f"e1={peer}", "--initial-cluster-token", root.name]
            + ["--log-level", "warn"],
            directory,
            user,
        )
        stack.callback(etcd.kill)
        etcd.start(lambda: _http(f"{client}/health", timeout=2)[0] == 200)

        nodes: dict[str, PatroniNode] = {}
        for i, name in enumerate(names):
            pg_port, rest_port = node_ports[2 * i], node_ports[2 * i + 1]
            directory = _make_dir(root, name, user)
            (directory / "patroni.yml").write_text(
                _patroni_yaml(root.name, name, directory, etcd_client, pg_port, rest_port)
            )
            _own(directory, user)
            daemon = Daemon(name, [patroni_bin, str(directory / "patroni.yml")], directory, user)
            server = ThrowawayPostgres(directory, pg_port, bin_dir, _as_user(user))
            nodes[name] = node = PatroniNode(name, pg_port, rest_port, daemon, server)
            stack.callback(_stop_patroni_node, node)
            role = "replica" if i else "primary"  # the first node bootstraps and leads
            node.daemon.start(functools.partial(_has_role, node, role))

        directory = _make_dir(root, "haproxy", user)
        (directory / "haproxy.cfg").write_text(
            _haproxy_cfg(
                directory, haproxy_port, [(n.name, n.pg_port, n.rest_port) for n in nodes.values()]
            )
        )
        haproxy = Daemon(
            "haproxy", [haproxy_bin, "-db", "-f", str(directory / "haproxy.cfg")], directory, user
        )
        stack.callback(haproxy.kill)
        cluster = PatroniCluster(etcd, nodes, haproxy, haproxy_port)
        haproxy.start(lambda: bool(cluster.haproxy_states()))
        cluster.wait_settled(names[0])
        return cluster

    with _build("patroni", user, build) as cluster:
        yield cluster


def _stop_patroni_node(node: PatroniNode) -> None:
    """Kill Patroni first (so it restarts nothing), then its PostgreSQL: an immediate stop
    through pg_ctl if it still runs (it then frees its shared memory itself)."""
    node.daemon.kill()
    pid = node.postmaster_pid()
    if pid is None:
        return
    try:
        node.server.stop("immediate")
    except (subprocess.SubprocessError, OSError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait(f"postmaster {pid} exiting", lambda: not Path(f"/proc/{pid}").exists())
    _remove_shared_memory(node)


def _remove_shared_memory(node: PatroniNode) -> None:
    """Remove the SysV segment a SIGKILLed postmaster left (the next start there would have
    removed it; the data directory is about to go, so nobody else will)."""
    try:
        lines = (node.server.directory / "data" / "postmaster.pid").read_text().splitlines()
        shmid = int(lines[6].split()[1])
    except (OSError, ValueError, IndexError):
        return  # a clean stop removed the file, and the segment with it
    pid = node.postmaster_pid()
    if pid is not None and Path(f"/proc/{pid}").exists():
        return  # a postmaster we could not stop still uses it
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run(["ipcrm", "-m", str(shmid)], capture_output=True, timeout=10)


# --- Galera ---------------------------------------------------------------------------------


def mariadb(port: int, sql: str) -> str:
    """Run ``sql`` through the mariadb client on 127.0.0.1:``port`` as root; tab-separated."""
    client = _program("mariadb", "/usr/bin/mysql")
    done = subprocess.run(
        [client, "-h127.0.0.1", f"-P{port}", "-uroot", "-N", "-B", "--connect-timeout=5"]
        + ["-e", sql],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return done.stdout.decode().strip()


def _has(port: int, database: str) -> bool:
    return mariadb(port, f"SHOW DATABASES LIKE '{database}'") == database


def _status(port: int, name: str) -> str:
    try:
        out = mariadb(port, f"SHOW GLOBAL STATUS LIKE '{name}'")
    except (subprocess.SubprocessError, OSError):
        return ""
    return out.split("\t")[-1] if out else ""


@dataclass
class GaleraCluster:
    """A MariaDB Galera cluster: every node takes reads and writes, replicated synchronously
    (certified at commit; applied on the other nodes shortly after)."""

    nodes: list[ThrowawayMariaDB]

    def urls(self, database: str = "mysql") -> list[str]:
        return [node.url(database) for node in self.nodes]

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    def sql(self, node: int, statement: str) -> str:
        """Run ``statement`` on node ``node`` (0-based) with the mariadb client."""
        return mariadb(self.nodes[node].port, statement)

    def create_database(self, database: str) -> None:
        """Create it through node 0 and wait until every node has it (DDL is replicated)."""
        self.sql(0, f"CREATE DATABASE IF NOT EXISTS `{database}`")
        for port in self.ports:
            _wait(f"database {database} on port {port}", functools.partial(_has, port, database))

    def wait_synced(self, seconds: float = READY_SECONDS) -> None:
        """Wait until every running node is Synced in a cluster of all running nodes."""
        running = [n for n in self.nodes if n.process is not None]

        def synced() -> bool:
            return all(
                _status(n.port, "wsrep_local_state_comment") == "Synced"
                and _status(n.port, "wsrep_cluster_size") == str(len(running))
                for n in running
            )

        _wait("the Galera nodes being Synced", synced, seconds)


@contextlib.contextmanager
def galera(nodes: int = 3) -> Iterator[GaleraCluster]:
    """``nodes`` MariaDB servers in one Galera cluster (rsync state transfer); the first is
    bootstrapped with --wsrep-new-cluster, the others join it. Root has no password over TCP
    (grant tables skipped, as for the reliability suite's single server)."""
    provider = _program("libgalera_smm.so", "/usr/lib/galera/libgalera_smm.so")
    _program("rsync", "/usr/bin/rsync")
    install = _program("mariadb-install-db", "/usr/bin/mysql_install_db")
    daemon = _program("mariadbd", "/usr/sbin/mariadbd", "/usr/sbin/mysqld")
    user = "mysql"
    as_user = [f"--user={user}"] if os.geteuid() == 0 else []  # mariadbd drops to it itself

    def build(stack: contextlib.ExitStack, root: Path) -> GaleraCluster:
        # per node: SQL port, group communication, incremental and full state transfer
        ports = free_ports(4 * nodes)
        gcomm = ",".join(f"127.0.0.1:{ports[4 * i + 1]}" for i in range(nodes))
        servers: list[ThrowawayMariaDB] = []
        for i in range(nodes):
            directory = _make_dir(root, f"node{i + 1}", user)
            (directory / "data").mkdir()
            _own(directory, user)
            sql_port, group, ist, sst = ports[4 * i : 4 * i + 4]
            server = ThrowawayMariaDB(
                directory,
                sql_port,
                _galera_command(
                    daemon, as_user, directory, provider, root.name, gcomm, group, ist, sst
                ),
            )
            servers.append(server)

            def stop(server: ThrowawayMariaDB = server) -> None:
                with contextlib.suppress(subprocess.SubprocessError, OSError):
                    server.stop("immediate")

            stack.callback(stop)
        subprocess.run(
            [install, "--no-defaults", *as_user, f"--datadir={servers[0].directory / 'data'}"]
            + ["--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True,
            capture_output=True,
            timeout=180,
        )
        cluster = GaleraCluster(servers)
        for server in servers:  # one at a time: each joiner takes a full copy (SST) from a donor
            server.start()
            cluster.wait_synced()
        return cluster

    with _build("galera", user, build) as cluster:
        yield cluster


def _galera_command(
    daemon: str,
    as_user: list[str],
    directory: Path,
    provider: str,
    name: str,
    gcomm: str,
    group: int,
    ist: int,
    sst: int,
) -> Callable[[int], list[str]]:
    """The command line of one Galera node, for ThrowawayMariaDB (which passes the port)."""
    first = directory.name == "node1"

    def command(port: int) -> list[str]:
        # Only the first start of the first node makes a new cluster; a restarted node joins.
        new_cluster = first and not (directory / "data" / "grastate.dat").exists()
        return [
            daemon,
            "--no-defaults",  # must come first
            *as_user,
            f"--datadir={directory / 'data'}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--socket={directory / 'sock'}",
            f"--pid-file={directory / 'pid'}",
            "--skip-grant-tables",
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-buffer-pool-size=32M",
            "--max-connections=200",
            "--binlog-format=ROW",
            "--innodb-autoinc-lock-mode=2",  # Galera needs interleaved auto-increment locks
            "--wsrep-on=ON",
            f"--wsrep-provider={provider}",
            f"--wsrep-cluster-name={name}",
            f"--wsrep-cluster-address=gcomm://{gcomm}",
            f"--wsrep-node-address=127.0.0.1:{group}",
            f"--wsrep-node-incoming-address=127.0.0.1:{port}",
            "--wsrep-provider-options="
            f"gmcast.listen_addr=tcp://127.0.0.1:{group};ist.recv_addr=127.0.0.1:{ist};"
            "gcache.size=32M",
            "--wsrep-sst-method=rsync",
            f"--wsrep-sst-receive-address=127.0.0.1:{sst}",
            *(["--wsrep-new-cluster"] if new_cluster else []),
        ]

    return command
