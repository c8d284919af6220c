"""Fixtures shared by the whole test suite: the async runner and the backends.

``backend`` is parametrized over ``tests._backends.BACKENDS``; any test that asks for it (or
for ``db_url``, ``adapter``, ``raw``, ``fresh_db_url``) runs once per backend and carries that
backend's marker. One database per backend serves the whole session, bootstrapped once; tests
keep out of each other's way by building their own rows with unique values, never by order.
"""

from __future__ import annotations

import gc
import inspect
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest

import asyncauth
from asyncauth import Adapter
from asyncauth._layout import load_layout
from tests._backends import BACKENDS, Backend
from tests._raw import Raw


def _not_for_layout(item: pytest.Item, backend: Backend) -> bool:
    """A conformance test that checks what only the default layout has (docs/layouts.md).

    The NextAuth v3 API and schema (``nextauth_v3``, migrations, adoption, created_at), and
    WebAuthn on a layout without an authenticator table.
    """
    if backend.layout is None:
        return False
    name = getattr(item, "originalname", item.name)
    if any(word in name for word in ("v3", "migration", "created_at")) or name in _V3_SCHEMA:
        return True
    function = getattr(item, "function", None)
    source = inspect.getsource(function) if function is not None else ""
    webauthn = "authenticator" in source.lower() or "authenticator" in item.name
    return webauthn and not load_layout(backend.layout).authenticators


# Tests reading columns only the default layout has: created_at / updated_at,
# sessions.access_token, accounts.compound_id.
_V3_SCHEMA = {
    "test_create_user_stores_exactly_the_given_fields",
    "test_create_session_and_get_session_and_user",
    "test_link_account_stores_every_field",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Backends that exist to show one thing (e.g. mongodb-motor: a motor client handed in
    # works) run the conformance suite only, not the slower reliability and load suites.
    narrow = {b.name for b in BACKENDS if b.conformance_only}
    if not narrow:
        return
    keep, drop = [], []
    for item in items:
        ids = getattr(getattr(item, "callspec", None), "params", {}).get("backend")
        name = getattr(ids, "name", None)
        if name in narrow and "/conformance/" not in item.nodeid.replace("\\", "/"):
            drop.append(item)
        elif isinstance(ids, Backend) and _not_for_layout(item, ids):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_configure(config: pytest.Config) -> None:
    for backend in BACKENDS:
        config.addinivalue_line("markers", f"{backend.marker}: {backend.description}")
    config.addinivalue_line(
        "markers", "conformance: the shared behaviour suite of docs/conformance.md"
    )


@pytest.fixture(autouse=True)
def _collect_pymongo_refused_sockets(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a MongoDB test, collect the sockets PyMongo's monitor leaves unclosed.

    PyMongo 4.20's async monitor drops the socket of a refused connection (a server stopped
    or restarted by the test) without closing it. Its ResourceWarning then surfaces whenever
    the garbage collector happens to run, failing some later, unrelated test (filterwarnings
    is "error"). Collecting here, with that warning ignored, keeps it with the MongoDB test.
    """
    yield
    if request.node.get_closest_marker("mongodb") is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    # The database drivers (asyncpg, aiosqlite, aiomysql, ...) only run on asyncio.
    return "asyncio"


@pytest.fixture(
    scope="session",
    params=[pytest.param(b, id=b.name, marks=getattr(pytest.mark, b.marker)) for b in BACKENDS],
)
def backend(request: pytest.FixtureRequest) -> Backend:
    param: Backend = request.param
    return param


@asynccontextmanager
async def _bootstrapped(backend: Backend) -> AsyncIterator[str]:
    async with backend.provision() as url:
        await asyncauth.bootstrap(url)
        yield url


@pytest.fixture(scope="session")
async def db_url(backend: Backend, anyio_backend: str) -> AsyncIterator[str]:
    """The backend's session database, bootstrapped; shared, so only add uniquely-keyed rows."""
    async with _bootstrapped(backend) as url:
        yield url


@pytest.fixture
async def fresh_db_url(backend: Backend, db_url: str, anyio_backend: str) -> AsyncIterator[str]:
    """A bootstrapped database of this test's own, for counts over whole tables or triggers.

    It depends on ``db_url`` only so that an unreachable server is found (and skipped or
    failed) once per session, not once per test.
    """
    del db_url
    async with _bootstrapped(backend) as url:
        yield url


@pytest.fixture
async def adapter(db_url: str, anyio_backend: str) -> AsyncIterator[Adapter]:
    """A connected adapter on the session database, closed after the test."""
    async with asyncauth.connect(db_url) as auth:
        yield auth


@pytest.fixture
async def raw(backend: Backend, db_url: str, anyio_backend: str) -> AsyncIterator[Raw]:
    """Direct access to the session database, bypassing asyncauth."""
    async with backend.raw(db_url) as helper:
        yield helper


@pytest.fixture
async def fresh_raw(backend: Backend, fresh_db_url: str, anyio_backend: str) -> AsyncIterator[Raw]:
    """Direct access to ``fresh_db_url``."""
    async with backend.raw(fresh_db_url) as helper:
        yield helper
