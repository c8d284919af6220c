"""The MongoDB backend: the adapter contract over PyMongo's async API.

Documents use the NextAuth v3 MongoDB layout (docs/schema.md): collections ``users``,
``accounts``, ``sessions``, ``verificationRequests`` (plus ``authenticators``), camelCase
fields, ObjectId ``_id`` and ``userId``, BSON dates. Ids are rendered as 24-hex strings at the
boundary; a string that is not an ObjectId is an id that cannot exist, so getters answer
``None``. A field whose value is ``None`` is left out of the document, as NextAuth v3 does;
for ``users.email`` this is required, since its sparse unique index would otherwise admit
only one user without an email.

The client is PyMongo's ``AsyncMongoClient``. A motor ``AsyncIOMotorClient`` handed in works
too (motor reached its end of life in May 2026, so it is never a dependency): the two APIs
differ only in which calls return awaitables (``start_session``, ``start_transaction``,
``aggregate``), which :func:`_settle` absorbs.

"Migrations" are index sets (there is no DDL): each is created idempotently and recorded in
``asyncauth_migrations`` under ``_id = version`` with a checksum of its specification, so many
processes can bootstrap at once (``createIndexes`` is idempotent, and the unique ``_id`` lets
exactly one of them record each version).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar, cast
from urllib.parse import unquote, urlsplit

import bson.errors
from bson import ObjectId
from bson.codec_options import CodecOptions
from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument
from pymongo import errors as pe
from pymongo import timeout as operation_timeout

from . import _validate as v
from ._base import BaseAdapter, compound_id, new_token, now
from ._bootstrap import warn_unknown
from ._connect import Options
from ._errors import (
    AsyncAuthError,
    BackendError,
    ConfigurationError,
    DuplicateError,
    NotFoundError,
    SchemaError,
    ValidationError,
)
from ._models import Account, Authenticator, PurgeResult, Session, User, VerificationToken
from ._protocol import SessionRecord
from ._redact import redact_text
from ._schema import SchemaReport

__all__ = ["DEFAULT_DATABASE", "MIGRATIONS", "MongoAdapter", "from_url", "map_error"]

UTC: Final = timezone.utc
#: the database used when neither the URL path nor ``database=`` names one
DEFAULT_DATABASE: Final = "asyncauth"
MIGRATIONS_COLLECTION: Final = "asyncauth_migrations"
# Every read decodes BSON dates as aware UTC, whatever the client handed in was built with.
_CODEC: Final[CodecOptions[dict[str, Any]]] = CodecOptions(tz_aware=True, tzinfo=UTC)

log = logging.getLogger("asyncauth")
# How long a call that the breaker lets through (``_Breaker``) waits for a server while every
# server of the deployment failed its last check (``MongoAdapter._unreachable``). PyMongo
# checks a server again at most every 0.5 s while a call waits for one, so a call made as the
# server comes back still gets it.
UNREACHABLE_WAIT: Final = 0.5
# While the deployment is down, how often the breaker tries a TCP connection to its servers,
# and for how long a server that refused one and then accepted one lets every call through to
# PyMongo again (``_Breaker``).
KNOCK_EVERY: Final = 0.05
HEARD_FOR: Final = 1.0

Doc = dict[str, Any]
# (collection, key fields, options): options only ``unique`` and ``sparse``.
IndexSpec = tuple[str, tuple[str, ...], dict[str, bool]]

#: version -> (name, index specs); the MongoDB counterpart of the SQL migration files
MIGRATIONS: Final[dict[int, tuple[str, tuple[IndexSpec, ...]]]] = {
    1: (
        "nextauth_v3",
        (
            ("users", ("email",), {"unique": True, "sparse": True}),
            ("accounts", ("compoundId",), {"unique": True}),
            ("accounts", ("userId",), {}),
            ("accounts", ("providerId",), {}),
            ("accounts", ("providerAccountId",), {}),
            ("sessions", ("sessionToken",), {"unique": True}),
            ("sessions", ("accessToken",), {"unique": True}),
            ("verificationRequests", ("token",), {"unique": True}),
        ),
    ),
    2: (
        "asyncauth",
        (
            ("authenticators", ("credentialId",), {"unique": True}),
            ("authenticators", ("userId",), {}),
            # delete_user and the hot path's neighbours look sessions up by user; purge and
            # the TTL monitor scan by expiry.
            ("sessions", ("userId",), {}),
            ("sessions", ("expires",), {}),
            ("verificationRequests", ("expires",), {}),
        ),
    ),
}
# The indexes that ``ttl_indexes=True`` turns into TTL indexes (expireAfterSeconds 0: a
# document goes once its own ``expires`` has passed).
TTL_INDEXES: Final = (("sessions", "expires"), ("verificationRequests", "expires"))
TTL_RECORD: Final = "ttl"

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _checksum(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _spec_checksum(specs: tuple[IndexSpec, ...]) -> str:
    return _checksum([[c, list(k), o] for c, k, o in specs])


# The fields of PyMongo's command log records that hold documents, and what of a server's
# failure may stay (PyMongo's own list for server-side errors).
_DOCUMENT_FIELDS: Final = ("command", "reply", "failure")
_FAILURE_KEPT: Final = ("code", "codeName", "errorLabels")


class _WithholdDocuments(logging.Filter):
    """PyMongo logs every command at DEBUG on ``pymongo.command`` with its documents: the
    inserted session with its token, the filter of a session read, the reply holding an
    account's OAuth tokens, a duplicate key's value. Those are secrets here: keep what
    happened (command, database, duration, ids, a server error's code), withhold the
    documents. PyMongo's record carries its fields in a private ``LogMessage``; if that
    shape ever changes, the whole message is withheld rather than risk a token.

    Installed once, on import, for the whole process: it also withholds the documents of
    the application's own commands, since a record does not say which client's adapter
    sent it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        fields = getattr(record.msg, "_kwargs", None)
        if not isinstance(fields, dict):
            if not isinstance(record.msg, str) or record.args:
                record.msg, record.args = "PyMongo command event (withheld by asyncauth)", ()
            return True
        shown: dict[str, Any] = {}
        for key, value in fields.items():
            if key == "failure" and isinstance(value, Mapping):
                shown[key] = {k: value[k] for k in _FAILURE_KEPT if k in value}
            elif key == "command" and isinstance(value, Mapping) and value:
                name, target = next(iter(value.items()))
                shown[key] = {name: target if isinstance(target, str) else "…", "…": "withheld"}
            elif key in _DOCUMENT_FIELDS:
                shown[key] = "withheld by asyncauth"
            elif value is None or key in ("isServerSideError", "speculative_authenticate"):
                continue
            elif hasattr(value, "total_seconds"):  # durationMS, a timedelta until formatted
                shown[key] = value.total_seconds() * 1000
            else:
                shown[key] = value if isinstance(value, str | int | float | bool) else str(value)
        record.msg, record.args = json.dumps(shown, default=str), ()
        return True


def _install_filter() -> None:
    logger = logging.getLogger("pymongo.command")
    if not any(isinstance(f, _WithholdDocuments) for f in logger.filters):
        logger.addFilter(_WithholdDocuments())


_install_filter()


def _translate(exc: BaseException) -> AsyncAuthError:
    """:func:`map_error`, logged at DEBUG (asyncauth's message, never the driver's text)."""
    error = map_error(exc)
    log.debug("mongodb %s: %s", type(error).__name__, error)
    return error


def map_error(exc: BaseException) -> AsyncAuthError:
    """The asyncauth error for a PyMongo/BSON exception (the caller chains it)."""
    if isinstance(exc, pe.OperationFailure) and _is_duplicate(exc):
        return DuplicateError(f"unique key taken: {_withhold_key_values(exc)}")
    if isinstance(exc, pe.ConfigurationError):
        return ConfigurationError(str(exc))
    if isinstance(exc, pe.WaitQueueTimeoutError):
        # The adapter's gate keeps its own calls within the pool; this is a client shared
        # with the application, whose other work holds every connection.
        return BackendError(f"no MongoDB connection free within the timeout: {exc}")
    return BackendError(f"MongoDB: {exc}")


def _is_duplicate(exc: pe.OperationFailure) -> bool:
    if exc.code in (11000, 11001):
        return True
    if isinstance(exc, pe.BulkWriteError):
        return any(e.get("code") in (11000, 11001) for e in exc.details.get("writeErrors", ()))
    return False


def _withhold_key_values(exc: pe.OperationFailure) -> str:
    """Strip the duplicated value from the driver's exception; name the key's fields.

    The server's message and details quote the value (``dup key: { sessionToken: "..." }``),
    and the chained exception prints in every logged traceback: a session or verification
    token must not end up in logs.
    """
    details: Mapping[str, Any] = exc.details or {}
    errors = details.get("writeErrors") or [details]
    pattern = next((e.get("keyPattern") for e in errors if e.get("keyPattern")), None) or {}
    fields = ", ".join(pattern) or "unknown"
    note = f"E11000 duplicate key on ({fields}); the value is withheld by asyncauth"
    exc.args = (note,)
    exc._message = note
    exc._OperationFailure__details = {"code": exc.code, "keyPattern": dict(pattern)}  # type: ignore[attr-defined]
    return f"({fields})"


# What a wait at the gate ends with.
_PLACE: Final = 1  # a place was handed over
_TIMED_OUT: Final = 0  # none within the timeout
_DOWN: Final = 2  # the deployment went down meanwhile: no place, go and fail fast
_PROBE: Final = 3  # down, and this call is the breaker's probe (no place either)


class _FairGate:
    """At most ``size`` operations of one adapter at once, let in first come, first served.

    PyMongo's pool lets a caller that arrives while a connection is free take it, even when
    others have been waiting for seconds: the waiter it woke finds the place gone and waits
    again, at the back of the queue. Under more callers than connections, a task that has
    just finished an operation starts its next one without yielding and takes back the
    connection it returned, so some waiters starve. Measured with the reliability load (256
    tasks, a pool of 10, on SecantusDB): half the checkouts waited 0 s, the slowest 16 s,
    while no command took more than 0.3 s; under a busier machine some passed the 30 s
    timeout. This gate, in front of the pool, hands each freed place to the longest waiter,
    and keeps no more operations in flight than the pool has connections, so PyMongo's own
    wait does not happen (unless the application shares the client).
    """

    __slots__ = ("_free", "_waiters")

    # How often a waiter looks whether the deployment went down (see ``acquire``).
    CHECK_EVERY: Final = 0.1

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: deque[asyncio.Future[int]] = deque()

    def try_acquire(self) -> bool:
        """Take a place if one is free and nobody waits (the hot path: no timer, no future)."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def acquire(self, timeout: float, down: Callable[[], bool] = lambda: False) -> int:
        """Wait in line for a place: ``_PLACE``, ``_TIMED_OUT`` after ``timeout`` seconds, or
        ``_DOWN`` as soon as ``down()`` says so (the places may be held for the whole
        timeout by calls stuck on a server that went away; a waiter then fails fast)."""
        loop = asyncio.get_running_loop()
        place: asyncio.Future[int] = loop.create_future()
        self._waiters.append(place)
        deadline = loop.time() + timeout
        timer: list[asyncio.TimerHandle] = []

        def check() -> None:
            if place.done():
                return
            if down():
                place.set_result(_DOWN)
            elif loop.time() >= deadline:
                place.set_result(_TIMED_OUT)
            else:
                timer[:] = [loop.call_at(min(deadline, loop.time() + self.CHECK_EVERY), check)]

        timer.append(loop.call_at(min(deadline, loop.time() + self.CHECK_EVERY), check))
        try:
            return await place
        except BaseException:
            # Cancelled after a place was handed over, before this task resumed: pass it on.
            if place.done() and not place.cancelled() and place.result() == _PLACE:
                self.release()
            raise
        finally:
            timer[0].cancel()
            if not place.done() or place.result() != _PLACE:
                try:
                    self._waiters.remove(place)
                except ValueError:
                    pass

    def release(self) -> None:
        """Give the place to the longest waiter still waiting, else free it."""
        while self._waiters:
            place = self._waiters.popleft()
            if not place.done():
                place.set_result(_PLACE)  # handed over directly: nobody can barge in between
                return
        self._free += 1


class _Breaker:
    """A circuit breaker for the time every server of the deployment is down.

    PyMongo lets a call wait for a server (or retries it) until the call's whole timeout, in
    case the server comes back. During an outage every call would then hang for ``timeout``,
    where a SQL pool fails at once on a refused connection. So while PyMongo's topology says
    that every server failed its last check (``MongoAdapter._unreachable``: after an operation
    failed on a network error, or a monitor check did), calls fail at once with
    ``BackendError``, except:

    - one probe at a time goes through to PyMongo (with ``UNREACHABLE_WAIT``): a call waiting
      for a server makes PyMongo's monitor check the servers every 0.5 s instead of every
      ``heartbeatFrequencyMS`` (10 s by default), so PyMongo sees the server come back;
    - a server whose port refused a TCP connection and then accepts one (tried at most every
      ``KNOCK_EVERY`` s) lets every call through for ``HEARD_FOR`` s. PyMongo's monitor wakes
      only on a 0.5 s grid (its periodic executor sleeps in steps of
      ``minHeartbeatFrequencyMS`` before it looks whether a check was requested), so it
      notices a restarted server up to 0.5 s late; calls let through in that gap wait in
      PyMongo for the check and succeed, instead of being refused by a breaker that does not
      know yet. Only a refusal followed by an accept counts: a server shutting down accepts
      for a moment after its connections failed, and a hung server or a proxy in front of a
      dead one accepts all along; those get the probe only.

    The breaker closes as soon as PyMongo's topology knows a server again. It only reads the
    topology, so a client handed in by the application keeps its settings.
    """

    __slots__ = ("_heard", "_knocking", "_next_knock", "_probing", "_refused")

    def __init__(self) -> None:
        self._probing = False  # a probe is inside PyMongo
        self._knocking = False  # a TCP connection is being tried
        self._next_knock = float("-inf")
        self._refused = False  # the last knock was refused
        self._heard = float("-inf")  # when a knock was accepted after a refusal

    async def admit(self, adapter: MongoAdapter) -> int:
        """``_PROBE`` or ``_DOWN`` (let through, with ``UNREACHABLE_WAIT``), else raise."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._heard < HEARD_FOR:
            return _DOWN
        if not self._probing:
            self._probing = True
            return _PROBE
        if not self._knocking and loop.time() >= self._next_knock:
            self._knocking = True
            try:
                listening = await _listening(adapter._addresses(), UNREACHABLE_WAIT)
            finally:
                self._knocking = False
                self._next_knock = loop.time() + KNOCK_EVERY
            came_back, self._refused = listening and self._refused, not listening
            if came_back:
                log.debug("mongodb: a server accepts connections again; letting calls through")
                self._heard = loop.time()
                return _DOWN
        raise BackendError(f"MongoDB unreachable: {adapter._down_reason()}")

    def probed(self) -> None:
        """The probe came back (answered or failed): the next call may probe."""
        self._probing = False


async def _listening(addresses: list[tuple[str, int | None]], wait: float) -> bool:
    """Whether any of these servers accepts a TCP (or Unix socket) connection within ``wait``."""
    for host, port in addresses:
        try:
            if port is None:  # PyMongo's address of a Unix domain socket
                opening = asyncio.open_unix_connection(host)
            else:
                opening = asyncio.open_connection(host, port)
            _, writer = await asyncio.wait_for(opening, wait)
        except (OSError, asyncio.TimeoutError):
            continue
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
        return True
    return False


def _translated(fn: Callable[_P, Awaitable[_R]]) -> Callable[_P, Coroutine[Any, Any, _R]]:
    """Run an adapter method through the adapter's breaker and gate, and turn driver
    exceptions into asyncauth's, in one place (``raise ... from``)."""

    @functools.wraps(fn)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        adapter = cast("MongoAdapter", args[0])
        gate = adapter._gate
        got = _PLACE
        if adapter._unreachable():
            got = await adapter._breaker.admit(adapter)
        elif not gate.try_acquire():
            got = await gate.acquire(adapter._timeout, adapter._unreachable)
            if got == _DOWN:
                got = await adapter._breaker.admit(adapter)
        if got == _TIMED_OUT:
            raise BackendError(f"no MongoDB connection free within {adapter._timeout} s")
        try:
            if got != _PLACE:
                # Down: a call let through waits UNREACHABLE_WAIT, not the whole timeout, and
                # takes no place at the gate: a call that finds no server holds no connection,
                # and the places may all be held by calls that were in flight when it went
                # down (PyMongo retries those until their timeout, in case it comes back).
                with operation_timeout(min(adapter._timeout, UNREACHABLE_WAIT)):
                    return await fn(*args, **kwargs)
            return await fn(*args, **kwargs)
        except (pe.PyMongoError, bson.errors.BSONError) as exc:
            raise _translate(exc) from exc
        finally:
            if got == _PLACE:
                gate.release()
            elif got == _PROBE:
                adapter._breaker.probed()

    return wrapper


async def _settle(value: Any) -> Any:
    """PyMongo's async API returns a coroutine where motor returns the object itself."""
    if inspect.isawaitable(value):
        return await value
    return value


def _oid(value: object) -> ObjectId | None:
    """The ObjectId for an id string, or None when it cannot be one."""
    if isinstance(value, str) and len(value) == 24:
        try:
            return ObjectId(value)
        except (bson.errors.InvalidId, TypeError):
            return None
    return None


def _aware(value: datetime) -> datetime:
    # Decoded with _CODEC this is already aware UTC; a naive value (a caller's own codec)
    # is UTC by BSON's definition.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC) if value.tzinfo is not UTC else value


def _opt_aware(value: Any) -> datetime | None:
    return None if value is None else _aware(value)


def _present(doc: Doc) -> Doc:
    """Leave out None fields, as NextAuth v3 does (a null email would defeat the sparse index)."""
    return {k: val for k, val in doc.items() if val is not None}


# The stages after the $match are the same for every read: built once, not per call.
_JOIN_USER: Final[tuple[Doc, ...]] = (
    {"$limit": 1},
    {"$lookup": {"from": "users", "localField": "userId", "foreignField": "_id", "as": "user"}},
    {"$project": {"_id": 0, "expires": 1, "user": 1}},
)


def session_and_user_pipeline(session_key: str, at: datetime) -> list[Doc]:
    """The session read's aggregation: the live session stored under ``session_key``, with
    its user joined in (``user``: a list of zero or one document).

    A function of its own so that the benchmark's floor (asyncauth/_bench.py) runs exactly
    this pipeline through bare PyMongo.
    """
    return [{"$match": {"sessionToken": session_key, "expires": {"$gt": at}}}, *_JOIN_USER]


def _user(doc: Mapping[str, Any]) -> User:
    return User(
        id=str(doc["_id"]),
        name=doc.get("name"),
        email=doc.get("email"),
        email_verified=_opt_aware(doc.get("emailVerified")),
        image=doc.get("image"),
    )


def _account(doc: Mapping[str, Any]) -> Account:
    expires = doc.get("accessTokenExpires")
    return Account(
        user_id=str(doc["userId"]),
        type=doc["providerType"],
        provider=doc["providerId"],
        provider_account_id=doc["providerAccountId"],
        refresh_token=doc.get("refreshToken"),
        access_token=doc.get("accessToken"),
        expires_at=None if expires is None else int(_aware(expires).timestamp()),
        token_type=doc.get("tokenType"),
        scope=doc.get("scope"),
        id_token=doc.get("idToken"),
        session_state=doc.get("sessionState"),
    )


def _authenticator(doc: Mapping[str, Any]) -> Authenticator:
    return Authenticator(
        credential_id=doc["credentialId"],
        user_id=str(doc["userId"]),
        provider_account_id=doc["providerAccountId"],
        credential_public_key=doc["credentialPublicKey"],
        counter=int(doc["counter"]),
        credential_device_type=doc["credentialDeviceType"],
        credential_backed_up=bool(doc["credentialBackedUp"]),
        transports=doc.get("transports"),
    )


def _token(doc: Mapping[str, Any]) -> VerificationToken:
    return VerificationToken(
        identifier=doc["identifier"], token=doc["token"], expires=_aware(doc["expires"])
    )


class MongoAdapter(BaseAdapter):
    """MongoDB through PyMongo's ``AsyncMongoClient`` (or a motor client handed in).

    ``MongoAdapter(client)`` wraps a client the application owns (``aclose()`` leaves it
    open); ``MongoAdapter(url="mongodb://...")`` makes and owns one. The database is
    ``database``, else the one in the URL path, else the client's default database, else
    ``"asyncauth"``.

    ``ttl_indexes=True`` makes ``bootstrap`` turn the ``expires`` indexes of sessions and
    verification tokens into TTL indexes, so MongoDB deletes expired documents itself (reads
    still filter on ``expires``: the TTL monitor runs about once a minute).
    ``transactions`` (default: detected) says whether ``delete_user`` runs in a
    multi-document transaction; without one it deletes the dependents before the user.
    """

    def __init__(
        self,
        client: Any = None,
        *,
        url: str | None = None,
        database: str | None = None,
        pool_size: int | None = None,
        timeout: float = 10.0,
        hash_session_tokens: bool = False,
        ttl_indexes: bool = False,
        transactions: bool | None = None,
    ) -> None:
        if (client is None) == (url is None):
            raise ConfigurationError("give MongoAdapter either a client or a url")
        self._client: Any = client
        self._url = url
        self._owns_client = client is None
        self._database_name = database or (url and _database_from_url(url)) or None
        self._pool_size = pool_size
        self._timeout = timeout
        self.hash_session_tokens = hash_session_tokens
        self.ttl_indexes = ttl_indexes
        self._transactions = transactions
        self._db: Any = None
        self._gate = _FairGate(pool_size or _client_pool_size(client))
        self._breaker = _Breaker()

    def __repr__(self) -> str:
        return f"<MongoAdapter database={self._database_name!r}>"

    @property
    def database_name(self) -> str | None:
        """The database in use (known once opened)."""
        return self._database_name

    async def _open(self) -> None:
        if self._client is None:
            assert self._url is not None
            try:
                self._client = AsyncMongoClient(
                    self._url,
                    appname="asyncauth",
                    maxPoolSize=self._pool_size or 100,
                    timeoutMS=int(self._timeout * 1000),
                    tz_aware=True,
                    tzinfo=UTC,
                )
            except (pe.PyMongoError, ValueError, TypeError) as exc:
                # A malformed URL (bad port, unknown option): the driver's message can quote
                # the URL, password included.
                raise ConfigurationError(
                    f"invalid MongoDB URL: {_without_password(str(exc), self._url)}"
                ) from None
        name = self._database_name
        if name is None:
            try:
                name = self._client.get_default_database().name
            except (pe.ConfigurationError, TypeError):
                name = DEFAULT_DATABASE
        self._database_name = name
        self._db = self._client.get_database(name, codec_options=_CODEC)
        db = self._db
        self._users = db["users"]
        self._accounts = db["accounts"]
        self._sessions = db["sessions"]
        self._tokens = db["verificationRequests"]
        self._authenticators = db["authenticators"]
        self._migrations = db[MIGRATIONS_COLLECTION]

    def _unreachable(self) -> bool:
        """Whether every server the client knows of failed its last check: it is down.

        PyMongo then waits for a server for the whole timeout (under ``timeoutMS`` it ignores
        ``serverSelectionTimeoutMS``), where a SQL pool fails at once on a refused
        connection: during an outage every call would hang for ``timeout``. A deployment not
        checked yet (startup) and one with any member up (a replica set electing a primary)
        get the whole timeout.
        """
        try:
            servers = self._client.topology_description.server_descriptions().values()
        except AttributeError:  # not opened, or a client of another shape: no shortcut
            return False
        return bool(servers) and all(
            s.error is not None and not s.is_server_type_known for s in servers
        )

    def _addresses(self) -> list[tuple[str, int | None]]:
        """The (host, port) of every server the client knows of."""
        try:
            return list(self._client.topology_description.server_descriptions())
        except AttributeError:
            return []

    def _down_reason(self) -> str:
        """Why the deployment is down, as PyMongo's last check of its servers says (PyMongo's
        check errors name the address and the socket error, never credentials)."""
        try:
            servers = self._client.topology_description.server_descriptions().values()
        except AttributeError:
            servers = []
        reasons = [str(s.error) for s in servers if s.error is not None]
        return "; ".join(reasons) or "no server answered its last check"

    async def aclose(self) -> None:
        """Close the client if this adapter made it."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await _settle(client.close())
        await super().aclose()

    # -- transactions -------------------------------------------------------------------------

    async def _supports_transactions(self) -> bool:
        if self._transactions is None:
            # Transactions need a replica set or a mongos; a standalone mongod has neither.
            hello = await self._db.command("hello")
            self._transactions = bool(hello.get("setName")) or hello.get("msg") == "isdbgrid"
        return self._transactions

    async def _in_transaction(self, work: Callable[[Any], Awaitable[_R]]) -> _R:
        # No automatic retry (unlike with_transaction): delete_user is all or nothing, and a
        # failed attempt surfaces as BackendError for the caller to retry if it wants.
        session = await _settle(self._client.start_session())
        async with session:
            await _settle(session.start_transaction())
            try:
                result = await work(session)
            except BaseException:
                if session.in_transaction:
                    try:
                        await session.abort_transaction()
                    except pe.PyMongoError:
                        pass  # the server drops an abandoned transaction on its own
                raise
            await session.commit_transaction()
            return result

    # -- users --------------------------------------------------------------------------------

    @_translated
    async def create_user(
        self,
        *,
        email: str | None = None,
        name: str | None = None,
        image: str | None = None,
        email_verified: datetime | None = None,
        **extra: Any,
    ) -> User:
        """Create a user. Custom model fields are SQL-only: any ``extra`` is refused."""
        f = self._check_user_fields(
            {
                "email": email,
                "name": name,
                "image": image,
                "email_verified": email_verified,
                **extra,
            }
        )
        stamp = now()
        doc = _present(
            {
                "name": f["name"],
                "email": f["email"],
                "emailVerified": f["email_verified"],
                "image": f["image"],
                "createdAt": stamp,
                "updatedAt": stamp,
            }
        )
        result = await self._users.insert_one(doc)
        return User(str(result.inserted_id), f["name"], f["email"], f["email_verified"], f["image"])

    @_translated
    async def get_user(self, user_id: str) -> User | None:
        oid = _oid(v.key(user_id, "user_id"))
        if oid is None:
            return None
        doc = await self._users.find_one({"_id": oid})
        return None if doc is None else _user(doc)

    @_translated
    async def get_user_by_email(self, email: str | None) -> User | None:
        if email is None or email == "":
            return None
        checked = self._lookup_text(email, "email")
        if checked is None:
            return None
        doc = await self._users.find_one({"email": checked})
        return None if doc is None else _user(doc)

    @_translated
    async def get_user_by_account(self, provider: str, provider_account_id: str) -> User | None:
        match = self._account_filter(provider, provider_account_id)
        if match is None:
            return None
        # One round trip, as the contract asks: the account and its user in one aggregation.
        # Every value sits in an equality $match, where a leading "$" is plain text.
        cursor = await _settle(
            self._accounts.aggregate(
                [
                    {"$match": match},
                    {"$limit": 1},
                    {
                        "$lookup": {
                            "from": "users",
                            "localField": "userId",
                            "foreignField": "_id",
                            "as": "user",
                        }
                    },
                    {"$project": {"user": 1}},
                ]
            )
        )
        found = await cursor.to_list(1)
        users = found[0].get("user") if found else None
        return _user(users[0]) if users else None

    @_translated
    async def update_user(self, user_id: str, **fields: Any) -> User:
        oid = _oid(v.key(user_id, "user_id"))
        f = self._check_user_fields(fields)
        if oid is None:
            raise NotFoundError(f"no user {user_id!r}")
        names = {"name": "name", "email": "email", "image": "image"}
        names["email_verified"] = "emailVerified"
        to_set: Doc = {"updatedAt": now()}
        to_unset: Doc = {}
        for field, value in f.items():
            if value is None:
                to_unset[names[field]] = ""
            else:
                to_set[names[field]] = value
        update: Doc = {"$set": to_set}
        if to_unset:
            update["$unset"] = to_unset
        doc = await self._users.find_one_and_update(
            {"_id": oid}, update, return_document=ReturnDocument.AFTER
        )
        if doc is None:
            raise NotFoundError(f"no user {user_id!r}")
        return _user(doc)

    async def _delete_dependents(self, oid: ObjectId, session: Any) -> None:
        for collection in (self._sessions, self._accounts, self._authenticators):
            await collection.delete_many({"userId": oid}, session=session)

    @_translated
    async def delete_user(self, user_id: str) -> User | None:
        oid = _oid(v.key(user_id, "user_id"))
        if oid is None:
            return None
        if await self._supports_transactions():

            async def work(session: Any) -> Doc | None:
                await self._delete_dependents(oid, session)
                doc: Doc | None = await self._users.find_one_and_delete(
                    {"_id": oid}, session=session
                )
                return doc

            doc = await self._in_transaction(work)
        else:
            # No transactions (a standalone server): the dependents go first, the user last,
            # so a failure midway leaves a user with fewer sessions, never a session or an
            # account that points to no user.
            await self._delete_dependents(oid, None)
            doc = await self._users.find_one_and_delete({"_id": oid})
        # A second sweep, after the user is gone, takes what a concurrent link_account,
        # create_session or create_authenticator wrote meanwhile (a transaction's snapshot
        # does not see it either). Such a write checks for the user after its insert
        # (``_insert_for_user``): one it made after this sweep began finds no user and
        # removes itself, so between the two no row outlives its user.
        await self._delete_dependents(oid, None)
        return None if doc is None else _user(doc)

    async def _insert_for_user(self, collection: Any, oid: ObjectId, doc: Doc) -> None:
        """Insert a document that belongs to user ``oid``; NotFoundError if there is none.

        MongoDB has no foreign keys, and the NextAuth v3 layout no transactions to rely on:
        the user is looked up after the insert, and a document written for a missing (or
        concurrently deleted) user is deleted again. See ``delete_user`` for the other half.
        """
        result = await collection.insert_one(doc)
        if await self._users.find_one({"_id": oid}, projection={"_id": 1}) is None:
            await collection.delete_one({"_id": result.inserted_id})
            raise NotFoundError(f"no user {str(oid)!r}")

    # -- accounts -----------------------------------------------------------------------------

    def _account_filter(self, provider: object, provider_account_id: object) -> Doc | None:
        p = self._lookup_text(provider, "provider")
        pa = self._lookup_text(provider_account_id, "provider_account_id")
        if p is None or pa is None:
            return None
        # compoundId is the unique key NextAuth v3 reads by; the pair guards its meaning.
        return {"compoundId": compound_id(p, pa), "providerId": p, "providerAccountId": pa}

    @_translated
    async def link_account(self, account: Account) -> Account:
        a = self._check_account(account)
        expires = None if a.expires_at is None else datetime.fromtimestamp(a.expires_at, UTC)
        await self._insert_account(a, expires)
        return a

    @_translated
    async def _link_account_at(self, account: Account, expires: datetime | None) -> Account:
        a = self._check_account(account)
        await self._insert_account(a, v.optional_moment(expires, "access_token_expires"))
        return a

    async def _insert_account(self, a: Account, expires: datetime | None) -> None:
        oid = self._required_oid(a.user_id)
        stamp = now()
        await self._insert_for_user(
            self._accounts,
            oid,
            _present(
                {
                    "compoundId": compound_id(a.provider, a.provider_account_id),
                    "userId": oid,
                    "providerType": a.type,
                    "providerId": a.provider,
                    "providerAccountId": a.provider_account_id,
                    "refreshToken": a.refresh_token,
                    "accessToken": a.access_token,
                    "accessTokenExpires": expires,
                    "tokenType": a.token_type,
                    "scope": a.scope,
                    "idToken": a.id_token,
                    "sessionState": a.session_state,
                    "createdAt": stamp,
                    "updatedAt": stamp,
                }
            ),
        )

    @_translated
    async def unlink_account(self, provider: str, provider_account_id: str) -> Account | None:
        match = self._account_filter(provider, provider_account_id)
        if match is None:
            return None
        doc = await self._accounts.find_one_and_delete(match)
        return None if doc is None else _account(doc)

    @_translated
    async def get_account(self, provider_account_id: str, provider: str) -> Account | None:
        match = self._account_filter(provider, provider_account_id)
        if match is None:
            return None
        doc = await self._accounts.find_one(match)
        return None if doc is None else _account(doc)

    @staticmethod
    def _required_oid(user_id: object) -> ObjectId:
        oid = _oid(v.key(user_id, "user_id"))
        if oid is None:
            raise ValidationError("user_id", f"{user_id!r} is not a user id of this backend")
        return oid

    # -- sessions -----------------------------------------------------------------------------

    @_translated
    async def create_session(
        self, user_id: str, expires: datetime, session_token: str | None = None
    ) -> Session:
        oid = self._required_oid(user_id)
        when = v.moment(expires, "expires")
        token = (
            new_token()
            if session_token is None
            else v.required_text(session_token, "session_token")
        )
        stamp = now()
        await self._insert_for_user(
            self._sessions,
            oid,
            {
                "userId": oid,
                "expires": when,
                "sessionToken": self._session_key(token),
                # NextAuth v3's sessions carry a second, unique token; v3 apps read it.
                "accessToken": new_token(),
                "createdAt": stamp,
                "updatedAt": stamp,
            },
        )
        return Session(token, str(oid), when)

    @_translated
    async def get_session_and_user(self, session_token: str) -> tuple[Session, User] | None:
        token = self._lookup_text(session_token, "session_token")
        if token is None:
            return None
        # One round trip: the session and its user in one $match/$lookup aggregation.
        # Measured side by side against two find_one calls (benchmarks/mongo_hot_path.py,
        # benchmarks/results/mongo_hot_path.json), the aggregation was faster on SecantusDB
        # (0.8x the latency, 1.45x the throughput with 20 concurrent readers): the
        # per-command cost of the server outweighs the pipeline's. Both reads use the
        # unique sessionToken index and the _id index. An expired session is filtered here,
        # not left to the TTL monitor, which runs only once a minute. Values sit in an
        # equality $match only, where a leading "$" is plain text, not a field path.
        cursor = await _settle(
            self._sessions.aggregate(session_and_user_pipeline(self._session_key(token), now()))
        )
        found = await cursor.to_list(1)
        if not found or not found[0]["user"]:
            return None  # no such session, or one left behind by a user deleted elsewhere
        session = found[0]
        user = _user(session["user"][0])
        return Session(token, user.id, _aware(session["expires"])), user

    @_translated
    async def update_session(
        self,
        session_token: str,
        *,
        expires: datetime,
        if_expires_before: datetime | None = None,
    ) -> Session | None:
        when = v.moment(expires, "expires")
        bound = v.optional_moment(if_expires_before, "if_expires_before")
        token = self._lookup_text(session_token, "session_token")
        if token is None:
            return None
        match: Doc = {"sessionToken": self._session_key(token)}
        if bound is not None:
            # One findAndModify with the condition in its filter: the server matches and
            # writes the document atomically, so of concurrent slides exactly one matches.
            match["expires"] = {"$lt": bound}
        doc = await self._sessions.find_one_and_update(
            match,
            {"$set": {"expires": when, "updatedAt": now()}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        return Session(token, str(doc["userId"]), _aware(doc["expires"]))

    @_translated
    async def delete_session(self, session_token: str) -> Session | None:
        token = self._lookup_text(session_token, "session_token")
        if token is None:
            return None
        doc = await self._sessions.find_one_and_delete({"sessionToken": self._session_key(token)})
        if doc is None:
            return None
        return Session(token, str(doc["userId"]), _aware(doc["expires"]))

    @_translated
    async def _get_session_record(self, session_token: str) -> SessionRecord | None:
        token = self._lookup_text(session_token, "session_token")
        if token is None:
            return None
        doc = await self._sessions.find_one({"sessionToken": self._session_key(token)})
        if doc is None:
            return None
        return SessionRecord(
            id=str(doc["_id"]),
            session_token=token,
            user_id=str(doc["userId"]),
            expires=_aware(doc["expires"]),
            access_token=doc.get("accessToken") or "",
        )

    # -- verification tokens --------------------------------------------------------------------

    @_translated
    async def create_verification_token(
        self, identifier: str, token: str, expires: datetime
    ) -> VerificationToken:
        ident = v.required_text(identifier, "identifier")
        tok = v.required_text(token, "token")
        when = v.moment(expires, "expires")
        stamp = now()
        await self._tokens.insert_one(
            {
                "identifier": ident,
                "token": tok,
                "expires": when,
                "createdAt": stamp,
                "updatedAt": stamp,
            }
        )
        return VerificationToken(ident, tok, when)

    def _token_filter(self, identifier: object, token: object) -> Doc | None:
        ident = self._lookup_text(identifier, "identifier")
        tok = self._lookup_text(token, "token")
        if ident is None or tok is None:
            return None
        return {"identifier": ident, "token": tok}

    @_translated
    async def use_verification_token(self, identifier: str, token: str) -> VerificationToken | None:
        match = self._token_filter(identifier, token)
        if match is None:
            return None
        # One findAndModify: the server removes the document and returns it atomically, so of
        # any number of concurrent callers exactly one gets it.
        doc = await self._tokens.find_one_and_delete(match)
        return None if doc is None else _token(doc)

    @_translated
    async def _get_verification_token(
        self, identifier: str, token: str
    ) -> VerificationToken | None:
        match = self._token_filter(identifier, token)
        if match is None:
            return None
        doc = await self._tokens.find_one(match)
        return None if doc is None else _token(doc)

    # -- authenticators -------------------------------------------------------------------------

    @_translated
    async def create_authenticator(self, authenticator: Authenticator) -> Authenticator:
        a = self._check_authenticator(authenticator)
        stamp = now()
        oid = self._required_oid(a.user_id)
        await self._insert_for_user(
            self._authenticators,
            oid,
            _present(
                {
                    "credentialId": a.credential_id,
                    "userId": oid,
                    "providerAccountId": a.provider_account_id,
                    "credentialPublicKey": a.credential_public_key,
                    "counter": a.counter,
                    "credentialDeviceType": a.credential_device_type,
                    "credentialBackedUp": a.credential_backed_up,
                    "transports": a.transports,
                    "createdAt": stamp,
                    "updatedAt": stamp,
                }
            ),
        )
        return a

    @_translated
    async def get_authenticator(self, credential_id: str) -> Authenticator | None:
        cid = self._lookup_text(credential_id, "credential_id")
        if cid is None:
            return None
        doc = await self._authenticators.find_one({"credentialId": cid})
        return None if doc is None else _authenticator(doc)

    @_translated
    async def list_authenticators_by_user_id(self, user_id: str) -> list[Authenticator]:
        oid = _oid(v.key(user_id, "user_id"))
        if oid is None:
            return []
        return [_authenticator(d) async for d in self._authenticators.find({"userId": oid})]

    @_translated
    async def update_authenticator_counter(self, credential_id: str, counter: int) -> Authenticator:
        cid = v.required_text(credential_id, "credential_id")
        value = v.integer(counter, "counter")
        assert value is not None
        if not 0 <= value <= 2**32 - 1:
            raise ValidationError("counter", "must fit WebAuthn's unsigned 32 bits")
        doc = await self._authenticators.find_one_and_update(
            {"credentialId": cid},
            {"$set": {"counter": value, "updatedAt": now()}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise NotFoundError(f"no authenticator with credential id {cid[:8]!r}…")
        return _authenticator(doc)

    # -- maintenance -----------------------------------------------------------------------------

    @_translated
    async def purge_expired(
        self, *, batch_size: int = 1000, progress: Callable[[str, int], object] | None = None
    ) -> PurgeResult:
        """Delete expired sessions and verification tokens in batches of ``batch_size``.

        ``progress``, when given, is called after every batch with the kind of document
        (``"sessions"`` or ``"verification_tokens"``) and how many of them are gone so far.
        """
        size = v.integer(batch_size, "batch_size")
        assert size is not None
        if size < 1:
            raise ValidationError("batch_size", "must be at least 1")
        counts = []
        for kind, collection in (
            ("sessions", self._sessions),
            ("verification_tokens", self._tokens),
        ):
            total = 0
            while True:
                # MongoDB's delete has no limit, so each batch is "these ids" (found through
                # the expires index), each its own short write; expires is checked again in
                # the delete in case a session was extended in between.
                stamp = now()
                ids = [
                    d["_id"]
                    async for d in collection.find(
                        {"expires": {"$lt": stamp}}, projection={"_id": 1}, limit=size
                    )
                ]
                if ids:
                    result = await collection.delete_many(
                        {"_id": {"$in": ids}, "expires": {"$lt": stamp}}
                    )
                    total += result.deleted_count
                if progress is not None:
                    progress(kind, total)
                if len(ids) < size:
                    break
            counts.append(total)
        return PurgeResult(sessions=counts[0], verification_tokens=counts[1])

    # -- bootstrap and check -----------------------------------------------------------------

    def _wanted(self) -> dict[int | str, str]:
        wanted: dict[int | str, str] = {
            version: _spec_checksum(specs) for version, (_, specs) in MIGRATIONS.items()
        }
        if self.ttl_indexes:
            wanted[TTL_RECORD] = _checksum([list(t) for t in TTL_INDEXES])
        return wanted

    @_translated
    async def bootstrap(self) -> list[int]:
        """Create what is missing of the bundled index sets; the versions recorded now.

        On a current database this is one query. It never drops or changes an index that
        holds a different definition: that is a SchemaError naming it (see ``check``).
        """
        await self.open()
        wanted = self._wanted()
        applied = {d["_id"]: d.get("checksum") async for d in self._migrations.find({})}
        for key, checksum in wanted.items():
            have = applied.get(key)
            if have is not None and have != checksum:
                raise SchemaError(
                    f"migration {key} was applied with checksum {str(have)[:12]}…, but the "
                    f"bundled index set now has {checksum[:12]}…: refusing to guess"
                )
        warn_unknown(_unknown_records(applied), "mongodb")
        if all(key in applied for key in wanted):
            log.debug("bootstrap: mongodb index sets are current")
            return []
        done: list[int] = []
        for version, (name, specs) in MIGRATIONS.items():
            if version in applied:
                continue
            log.debug("bootstrap: creating mongodb index set %d (%s)", version, name)
            await self._create_indexes(specs)
            if await self._record(version, name, wanted[version]):
                done.append(version)
            else:
                log.debug("bootstrap: index set %d was recorded by another process", version)
        if self.ttl_indexes and TTL_RECORD not in applied:
            log.debug("bootstrap: turning the expires indexes into TTL indexes")
            await self._make_ttl()
            await self._record(TTL_RECORD, "ttl_indexes", wanted[TTL_RECORD])
        return done

    async def _record(self, key: int | str, name: str, checksum: str) -> bool:
        """Record a migration; False when another process recorded it first."""
        try:
            await self._migrations.insert_one(
                # The SQL table's columns too (version, name, checksum, appliedAt).
                {"_id": key, "version": key, "name": name, "checksum": checksum, "appliedAt": now()}
            )
        except pe.DuplicateKeyError:
            return False
        return True

    async def _live_indexes(self, collection: str) -> list[Doc]:
        info: dict[str, Doc] = await self._db[collection].index_information()
        return list(info.values())

    async def _create_indexes(self, specs: tuple[IndexSpec, ...]) -> None:
        by_collection: dict[str, list[IndexSpec]] = {}
        for spec in specs:
            by_collection.setdefault(spec[0], []).append(spec)
        for collection, wanted in by_collection.items():
            live = await self._live_indexes(collection)
            for _, keys, options in wanted:
                found = _find_index(live, keys)
                if found is not None:
                    problem = _index_problem(collection, keys, options, found)
                    if problem:
                        raise SchemaError(f"{problem}; asyncauth never drops an index")
                    continue  # there already, perhaps under another name (TypeORM's)
                try:
                    await self._db[collection].create_index(
                        [(k, ASCENDING) for k in keys], **options
                    )
                except pe.OperationFailure as exc:
                    if exc.code in (11000, 11001):
                        raise SchemaError(
                            f"cannot create the unique index {collection}({', '.join(keys)}): "
                            f"existing documents repeat a value ({exc})"
                        ) from exc
                    # 85/86: another process created it a moment ago under its name.
                    if exc.code not in (85, 86):
                        raise

    async def _make_ttl(self) -> None:
        for collection, field in TTL_INDEXES:
            live = await self._live_indexes(collection)
            found = _find_index(live, (field,))
            if found is not None and found.get("expireAfterSeconds") is not None:
                continue
            # collMod turns the existing expires index into a TTL index in place: no drop.
            await self._db.command(
                "collMod",
                collection,
                index={"keyPattern": {field: 1}, "expireAfterSeconds": 0},
            )

    @_translated
    async def check(self) -> SchemaReport:
        """Compare the live indexes and migration records with the expected ones."""
        await self.open()
        report = SchemaReport()
        names = set(await self._db.list_collection_names())
        specs = [s for _, (_, group) in sorted(MIGRATIONS.items()) for s in group]
        live: dict[str, list[Doc]] = {}
        for collection in sorted({s[0] for s in specs}):
            if collection not in names:
                report.differences.append(f"missing collection {collection}")
                continue
            live[collection] = await self._live_indexes(collection)
        for collection, keys, options in specs:
            if collection not in live:
                continue
            found = _find_index(live[collection], keys)
            if found is None:
                kind = "unique index" if options.get("unique") else "index"
                report.differences.append(f"missing {kind} {collection}({', '.join(keys)})")
                continue
            problem = _index_problem(collection, keys, options, found)
            if problem:
                report.differences.append(problem)
        if self.ttl_indexes:
            for collection, field in TTL_INDEXES:
                found = _find_index(live.get(collection, []), (field,))
                if found is not None and found.get("expireAfterSeconds") is None:
                    report.differences.append(f"index {collection}({field}) is not a TTL index")
        wanted = self._wanted()
        if MIGRATIONS_COLLECTION in names:
            applied = {d["_id"]: d.get("checksum") async for d in self._migrations.find({})}
            report.applied = sorted(k for k in applied if isinstance(k, int))
            report.unknown = _unknown_records(applied)
            for key, checksum in wanted.items():
                have = applied.get(key)
                if have is None:
                    if isinstance(key, int):
                        report.pending.append(key)
                    report.differences.append(f"migration {key} not applied")
                elif have != checksum:
                    report.differences.append(f"migration {key} applied with another checksum")
        else:
            report.pending = sorted(MIGRATIONS)
            report.differences.append(f"no {MIGRATIONS_COLLECTION} collection (never bootstrapped)")
        return report


def _unknown_records(applied: Mapping[Any, Any]) -> list[int | str]:
    """Recorded index sets this version does not know: a newer asyncauth wrote them."""
    known: set[Any] = {*MIGRATIONS, TTL_RECORD}
    return sorted((k for k in applied if k not in known), key=str)


def _find_index(live: list[Doc], keys: tuple[str, ...]) -> Doc | None:
    """The live index on exactly these keys (ascending or descending), if any."""
    for info in live:
        fields = tuple(k for k, _ in info.get("key", ()))
        if fields == keys:
            return info
    return None


def _index_problem(
    collection: str, keys: tuple[str, ...], options: Mapping[str, bool], found: Mapping[str, Any]
) -> str | None:
    unique, sparse = bool(found.get("unique")), bool(found.get("sparse"))
    want_unique, want_sparse = options.get("unique", False), options.get("sparse", False)
    # A unique index serves every lookup a plain one does; sparse only matters for a unique
    # index on an optional field (users.email).
    if want_unique and (not unique or sparse != want_sparse):
        have = ("unique" if unique else "not unique") + (", sparse" if sparse else "")
        want = "unique" + (", sparse" if want_sparse else ", not sparse")
        return f"different index {collection}({', '.join(keys)}): {have}, expected {want}"
    return None


def _client_pool_size(client: Any) -> int:
    """The connections a client handed in may open (PyMongo's and motor's default: 100)."""
    try:
        size = int(client.options.pool_options.max_pool_size)
    except (AttributeError, TypeError, ValueError):
        return 100
    # maxPoolSize=0 means no limit: then the gate only keeps the order.
    return size if size > 0 else 2**31


def _without_password(text: str, url: str) -> str:
    return redact_text(text, url)


def _database_from_url(url: str) -> str | None:
    path = unquote(urlsplit(url).path).lstrip("/")
    return path or None


def from_url(url: str, options: Options) -> MongoAdapter:
    """Build the adapter for a ``mongodb://`` or ``mongodb+srv://`` URL.

    The database is the URL's path (``mongodb://host/app`` uses ``app``), ``asyncauth`` when
    the path is empty. Backend options: ``database``, ``ttl_indexes``, ``transactions``.
    """
    if options.sql_folders:
        raise ConfigurationError("sql_folders applies to the SQL backends, not MongoDB")
    ttl = options.take("ttl_indexes", False)
    transactions = options.take("transactions", None)
    database = options.take("database", None)
    if not isinstance(ttl, bool):
        raise ConfigurationError("ttl_indexes must be a bool")
    if transactions is not None and not isinstance(transactions, bool):
        raise ConfigurationError("transactions must be a bool or None (detect)")
    if database is not None and (not isinstance(database, str) or not database):
        raise ConfigurationError("database must be a non-empty str")
    return MongoAdapter(
        url=url,
        database=database or _database_from_url(url) or DEFAULT_DATABASE,
        pool_size=options.pool_size,
        timeout=options.timeout,
        hash_session_tokens=options.hash_session_tokens,
        ttl_indexes=ttl,
        transactions=transactions,
    )


if TYPE_CHECKING:
    # mypy proves here that the MongoDB adapter satisfies the public protocol.
    from ._protocol import Adapter

    _conforms: type[Adapter] = MongoAdapter
