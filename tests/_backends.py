"""The backends the conformance suite runs against.

Each entry says how to make a fresh, empty database for the backend (yielding its URL and
dropping it afterwards) and how to open the direct-access helper of ``tests._raw`` on it.
Adding a backend is one provisioning context manager and one line in ``BACKENDS``.

A server that cannot be reached skips its tests locally, but fails them when ``CI=true``:
in CI an unreachable server is a broken set-up, not a reason to pass.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import select
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

import pytest

from asyncauth._connect import register_scheme
from tests._raw import MongoRaw, MssqlRaw, MySQLRaw, PostgresRaw, Raw, SqliteRaw

# The test-only scheme that runs the suite through a motor client (tests/_motor.py).
register_scheme("mongodb+motor", "tests._motor", "mongodb")

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
MYSQL_ADMIN_URL = "mysql://root@127.0.0.1:3306/mysql"
MSSQL_SKIP = (
    "SQL Server: ASYNCAUTH_MSSQL_URL is not set, so the suite does not run against SQL Server "
    "(none can be installed on this machine; its T-SQL is only syntax-checked)"
)


@dataclass(frozen=True)
class Backend:
    name: str
    """The pytest id of the backend's tests."""
    marker: str
    """The marker every test of the backend carries (``-m postgres``)."""
    description: str
    provision: Callable[[], AbstractAsyncContextManager[str]]
    """A brand-new empty database: yields its URL, removes it on exit."""
    open_raw: Callable[[str], Awaitable[Raw]]
    """The direct-access helper for a database URL (close it with ``aclose``)."""
    conformance_only: bool = False
    """Run only tests/conformance on it (a variant that shows one thing, e.g. motor)."""
    layout: str | None = None
    """The table layout its URL selects (docs/layouts.md); None for the default."""

    @asynccontextmanager
    async def raw(self, url: str) -> AsyncIterator[Raw]:
        helper = await self.open_raw(url)
        try:
            yield helper
        finally:
            await helper.aclose()


def unavailable(message: str) -> NoReturn:
    """Skip the test, or fail it in CI where every configured server must be up."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: an unreachable backend is a failure)", pytrace=False)
    pytest.skip(message)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@asynccontextmanager
async def sqlite_database() -> AsyncIterator[str]:
    directory = Path(tempfile.mkdtemp(prefix="asyncauth-test-"))
    try:
        yield f"sqlite:///{directory / 'x.db'}"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    try:
        import asyncpg
    except ImportError:
        unavailable("asyncpg is not installed (pip install asyncauth[postgres])")

    admin_url = os.environ.get("ASYNCAUTH_PG_ADMIN_URL", PG_ADMIN_URL)

    async def admin() -> asyncpg.Connection:
        try:
            return await asyncpg.connect(admin_url, timeout=5)
        except (
            OSError,
            asyncio.TimeoutError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
        ) as exc:
            problem = exc
        # Outside the except block, so the report is one line, not a chained traceback.
        unavailable(f"PostgreSQL is unreachable at {_redact(admin_url)}: {problem!r}")

    name = f"asyncauth_test_{uuid.uuid4().hex}"
    connection = await admin()
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        connection = await admin()
        try:
            # FORCE: a test that failed may have left a pool open on it.
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


@asynccontextmanager
async def mysql_database() -> AsyncIterator[str]:
    try:
        import aiomysql
        import pymysql
    except ImportError:
        unavailable("aiomysql is not installed (pip install asyncauth[mysql])")
    from asyncauth._mysql import connect_kwargs

    admin_url = os.environ.get("ASYNCAUTH_MYSQL_ADMIN_URL", MYSQL_ADMIN_URL)

    async def admin_run(statement: str) -> None:
        try:
            connection = await aiomysql.connect(**connect_kwargs(admin_url), connect_timeout=5)
        except (OSError, asyncio.TimeoutError, pymysql.err.MySQLError) as exc:
            problem = exc
        else:
            problem = None
        if problem is not None:
            # Outside the except block, so the report is one line, not a chained traceback.
            unavailable(f"MySQL/MariaDB is unreachable at {_redact(admin_url)}: {problem!r}")
        try:
            async with connection.cursor() as cursor:
                await cursor.execute(statement)
        finally:
            connection.close()

    name = f"asyncauth_test_{uuid.uuid4().hex}"
    await admin_run(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        await admin_run(f"DROP DATABASE IF EXISTS `{name}`")


# The ODBC drivers Debian installs (scripts/test installs them); overridable for other systems.
ODBC_DRIVERS = {
    "postgres": os.environ.get("ASYNCAUTH_ODBC_PG_DRIVER", "PostgreSQL Unicode"),
    "mysql": os.environ.get("ASYNCAUTH_ODBC_MYSQL_DRIVER", "MariaDB Unicode"),
}


def odbc_url(dialect: str, native_url: str) -> str:
    """The ``odbc://`` URL reaching ``native_url``'s database through the dialect's ODBC driver."""
    parts = urlsplit(native_url)
    attrs = {
        "DRIVER": "{" + ODBC_DRIVERS[dialect] + "}",
        "SERVER": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or (5432 if dialect == "postgres" else 3306)),
        "DATABASE": parts.path.lstrip("/"),
        "UID": unquote(parts.username or ""),
    }
    if parts.password:
        attrs["PWD"] = "{" + unquote(parts.password).replace("}", "}}") + "}"
    connection = ";".join(f"{k}={v}" for k, v in attrs.items()) + ";"
    return f"odbc://?dialect={dialect}&odbc_connect={quote(connection, safe='')}"


def native_url(url: str) -> str:
    """The native URL of the database an ``odbc://`` URL of :func:`odbc_url` reaches."""
    params = dict(parse_qsl(urlsplit(url).query))
    dialect = params["dialect"]
    attrs = dict(part.split("=", 1) for part in params["odbc_connect"].split(";") if "=" in part)
    scheme = "postgresql" if dialect == "postgres" else "mysql"
    user = quote(attrs.get("UID", ""), safe="")
    password = attrs.get("PWD", "")
    if password:
        user += ":" + quote(password[1:-1].replace("}}", "}"), safe="")
    return f"{scheme}://{user}@{attrs['SERVER']}:{attrs['PORT']}/{attrs['DATABASE']}"


def _require_odbc_driver(dialect: str) -> None:
    try:
        import aioodbc  # noqa: F401
        import pyodbc
    except ImportError:
        unavailable("aioodbc is not installed (pip install asyncauth[mssql])")
    if ODBC_DRIVERS[dialect] not in pyodbc.drivers():
        unavailable(
            f"the ODBC driver {ODBC_DRIVERS[dialect]!r} is not installed "
            f"(have {pyodbc.drivers()}; scripts/test installs odbc-postgresql and odbc-mariadb)"
        )


@asynccontextmanager
async def odbc_postgres_database() -> AsyncIterator[str]:
    _require_odbc_driver("postgres")
    async with postgres_database() as url:
        yield odbc_url("postgres", url)


@asynccontextmanager
async def odbc_mysql_database() -> AsyncIterator[str]:
    _require_odbc_driver("mysql")
    async with mysql_database() as url:
        yield odbc_url("mysql", url)


@asynccontextmanager
async def mssql_database() -> AsyncIterator[str]:
    # No SQL Server can run on this project's machines, so this backend is opt-in everywhere,
    # CI included: it runs when ASYNCAUTH_MSSQL_URL names a server (and a login that may
    # create databases), e.g. mssql://sa:pw@host:1433/master?TrustServerCertificate=yes
    server_url = os.environ.get("ASYNCAUTH_MSSQL_URL")
    if not server_url:
        pytest.skip(MSSQL_SKIP)
    import aioodbc
    import pyodbc

    from asyncauth._odbc import mssql_connection_string

    async def admin_run(statement: str) -> None:
        dsn = mssql_connection_string(server_url)
        problem: BaseException | None = None
        try:
            connection = await aioodbc.connect(dsn=dsn, autocommit=True)
        except pyodbc.Error as exc:
            problem = exc
        if problem is not None:
            # Outside the except block, so the report is one line, not a chained traceback.
            unavailable(f"SQL Server is unreachable at {_redact(server_url)}: {problem!r}")
        try:
            async with connection.cursor() as cursor:
                await cursor.execute(statement)
        finally:
            await connection.close()

    name = f"asyncauth_test_{uuid.uuid4().hex}"
    await admin_run(f"CREATE DATABASE [{name}]")
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        await admin_run(
            f"IF DB_ID(N'{name}') IS NOT NULL BEGIN "
            f"ALTER DATABASE [{name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; "
            f"DROP DATABASE [{name}] END"
        )


async def _open_native_postgres(url: str) -> Raw:
    return await PostgresRaw.open(native_url(url))


async def _open_native_mysql(url: str) -> Raw:
    return await MySQLRaw.open(native_url(url))


# -- MongoDB ------------------------------------------------------------------------------

SECANTUS_LAUNCHER = Path(__file__).resolve().parent.parent / "scripts" / "secantusdb_server.py"


class SecantusServer:
    """A throwaway SecantusDB in a separate process, on a free port, with a temp data dir.

    SecantusDB is GPL, so this process never imports it: it runs
    ``scripts/secantusdb_server.py``, which binds a port the kernel picks and prints its URL.
    The launcher also stops when its stdin closes, so it cannot outlive a crashed test run.
    """

    def __init__(self, *, ttl_sweep_seconds: float | None = None) -> None:
        self.ttl_sweep_seconds = ttl_sweep_seconds
        self.url: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._directory: Path | None = None
        self._log: Path | None = None

    def start(self, timeout: float = 30.0) -> str:
        """Start the server; its ``mongodb://host:port/`` URL (idempotent)."""
        if self.url is not None:
            return self.url
        self._directory = Path(tempfile.mkdtemp(prefix="asyncauth-secantus-"))
        self._log = self._directory / "server.log"
        command = [sys.executable, str(SECANTUS_LAUNCHER), str(self._directory / "data")]
        if self.ttl_sweep_seconds is not None:
            command += ["--ttl-sweep-seconds", str(self.ttl_sweep_seconds)]
        with open(self._log, "wb") as log:
            self._process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log
            )
        assert self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], timeout)
        line = self._process.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("mongodb://"):
            problem = self._log.read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"SecantusDB did not start: {problem or 'no output'}")
        self.url = line
        return line

    def stop(self) -> None:
        """Stop the server (closing its stdin asks it to) and remove its data."""
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None
        self.url = None


_SECANTUS = SecantusServer()
atexit.register(_SECANTUS.stop)


def secantus_url() -> str:
    """The session's SecantusDB (started on first use, stopped when the test run ends)."""
    try:
        return _SECANTUS.start()
    except (OSError, RuntimeError) as exc:
        problem = exc
    unavailable(f"could not start SecantusDB (pip install -r requirements-test.txt): {problem}")


@asynccontextmanager
async def mongo_database_on(server_url: str, scheme: str = "mongodb") -> AsyncIterator[str]:
    """A uniquely named database on a MongoDB server, dropped afterwards."""
    from pymongo import AsyncMongoClient
    from pymongo.errors import AutoReconnect, PyMongoError

    name = f"asyncauth_test_{uuid.uuid4().hex}"
    parts = urlsplit(server_url)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        url, serverSelectionTimeoutMS=5000
    )
    try:
        try:
            await client.admin.command("ping")
        except PyMongoError as exc:
            problem = exc
        else:
            problem = None
        if problem is not None:
            unavailable(f"MongoDB is unreachable at {_redact(server_url)}: {problem!r}")
        yield url.replace("mongodb", scheme, 1)
        try:
            await client.drop_database(name)
        except AutoReconnect:
            # A session-scoped database is dropped long after this client last spoke, and
            # the server may have closed its idle connection meanwhile (seen at the end of
            # full runs): the failed call reset the pool, so once more on a new connection.
            await client.drop_database(name)
    finally:
        await client.close()


@asynccontextmanager
async def secantus_database() -> AsyncIterator[str]:
    async with mongo_database_on(secantus_url()) as url:
        yield url


@asynccontextmanager
async def secantus_motor_database() -> AsyncIterator[str]:
    async with mongo_database_on(secantus_url(), scheme="mongodb+motor") as url:
        yield url


@asynccontextmanager
async def real_mongo_database() -> AsyncIterator[str]:
    async with mongo_database_on(os.environ["ASYNCAUTH_MONGODB_URL"]) as url:
        yield url


_MONGO_BACKENDS: tuple[Backend, ...] = (
    Backend(
        "mongodb",
        "mongodb",
        "runs against a MongoDB-wire server",
        secantus_database,
        MongoRaw.open,
    ),
    Backend(
        "mongodb-motor",
        "mongodb",
        "runs against a MongoDB-wire server",
        secantus_motor_database,
        MongoRaw.open,
        conformance_only=True,
    ),
) + (
    # A real mongod (or Atlas) only when the environment names one.
    (
        Backend(
            "mongodb-real",
            "mongodb",
            "runs against a MongoDB-wire server",
            real_mongo_database,
            MongoRaw.open,
        ),
    )
    if os.environ.get("ASYNCAUTH_MONGODB_URL")
    else ()
)


@asynccontextmanager
async def postgres_pg_layout_database() -> AsyncIterator[str]:
    """An empty PostgreSQL database whose URL selects the ``pg`` layout (docs/layouts.md)."""
    async with postgres_database() as url:
        yield url + "?layout=pg"


async def _open_pg_layout(url: str) -> Raw:
    from tests._layout_raw import LayoutRaw

    return LayoutRaw(await PostgresRaw.open(url.split("?")[0]), "pg")


#: The layouts the conformance suite also runs over (one backend each, conformance only).
_LAYOUT_BACKENDS: tuple[Backend, ...] = (
    Backend(
        "postgres-layout-pg",
        "postgres",
        "runs against the PostgreSQL server (asyncpg)",
        postgres_pg_layout_database,
        _open_pg_layout,
        conformance_only=True,
        layout="pg",
    ),
)

BACKENDS: tuple[Backend, ...] = (
    (
        Backend(
            "sqlite", "sqlite", "runs against SQLite (aiosqlite)", sqlite_database, SqliteRaw.open
        ),
        Backend(
            "postgres",
            "postgres",
            "runs against the PostgreSQL server (asyncpg)",
            postgres_database,
            PostgresRaw.open,
        ),
        Backend(
            "mysql",
            "mysql",
            "runs against the MariaDB/MySQL server (aiomysql)",
            mysql_database,
            MySQLRaw.open,
        ),
        Backend(
            "odbc-postgres",
            "odbc",
            "runs over aioodbc against a real server through its ODBC driver",
            odbc_postgres_database,
            _open_native_postgres,
        ),
        Backend(
            "odbc-mysql",
            "odbc",
            "runs over aioodbc against a real server through its ODBC driver",
            odbc_mysql_database,
            _open_native_mysql,
        ),
        # SQL Server only where ASYNCAUTH_MSSQL_URL names one (none can run on this project's
        # machines); tests/test_mssql_sql.py says so in one skipped test otherwise, rather than
        # every case of the suite skipping on its own line.
        *(
            [
                Backend(
                    "mssql",
                    "mssql",
                    "runs against a real SQL Server (ASYNCAUTH_MSSQL_URL)",
                    mssql_database,
                    MssqlRaw.open,
                )
            ]
            if os.environ.get("ASYNCAUTH_MSSQL_URL")
            else []
        ),
    )
    + _LAYOUT_BACKENDS
    + _MONGO_BACKENDS
)
