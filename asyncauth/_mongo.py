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

Around the adapter, each concern in a module of its own (docs/mongodb-design.md tells why
each exists): ``_mongo_gate`` (first come, first served in front of PyMongo's pool),
``_mongo_breaker`` (fail fast while every server is down), ``_mongo_logs`` (no documents in
PyMongo's command log) and ``_mongo_indexes`` (the index sets that bootstrap and check).
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import datetime, timezone
from typing import Any, Final, ParamSpec, TypeVar, cast
from urllib.parse import unquote, urlsplit

import bson.errors
from bson import ObjectId
from bson.codec_options import CodecOptions
from pymongo import AsyncMongoClient, ReturnDocument
from pymongo import errors as pe
from pymongo import timeout as operation_timeout

from . import _mongo_indexes as indexes
from . import _mongo_logs
from . import _validate as v
from ._base import BaseAdapter, compound_id, new_token, now
from ._connect import Options
from ._errors import (
    AsyncAuthError,
    BackendError,
    ConfigurationError,
    DuplicateError,
    NotFoundError,
    ValidationError,
)
from ._models import Account, Authenticator, PurgeResult, Session, User, VerificationToken
from ._mongo_breaker import PROBE, UNREACHABLE_WAIT, Breaker, unreachable
from ._mongo_gate import Gate
from ._mongo_indexes import MIGRATIONS
from ._protocol import Adapter, SessionRecord
from ._redact import redact_text
from ._schema import SchemaReport

__all__ = ["DEFAULT_DATABASE", "MIGRATIONS", "MongoAdapter", "from_url", "map_error"]

UTC: Final = timezone.utc
#: the database used when neither the URL path nor ``database=`` names one
DEFAULT_DATABASE: Final = "asyncauth"
# Every read decodes BSON dates as aware UTC, whatever the client handed in was built with.
_CODEC: Final[CodecOptions[dict[str, Any]]] = CodecOptions(tz_aware=True, tzinfo=UTC)

log = logging.getLogger("asyncauth")

Doc = dict[str, Any]

_P = ParamSpec("_P")
_R = TypeVar("_R")

_mongo_logs.install()


def _translate(exc: BaseException) -> AsyncAuthError:
    """:func:`map_error`, logged at DEBUG (asyncauth's message, never the driver's text)."""
    error = map_error(exc)
    log.debug("mongodb %s: %s", type(error).__name__, error)
    return error


def map_error(exc: BaseException) -> AsyncAuthError:
    """The asyncauth error for a PyMongo/BSON exception (the caller chains it, except a
    DuplicateError: the driver's exception quotes the duplicated value)."""
    if isinstance(exc, pe.OperationFailure) and _is_duplicate(exc):
        key = _duplicate_key(exc)
        return DuplicateError(f"unique key taken: {key or 'not named by the server'}", key=key)
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


# The server names the collection in its message: "... collection: app.sessions index: ...".
_COLLECTION: Final = re.compile(r"collection: [^.\s]+\.(\S+) index: ")
_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def _duplicate_key(exc: pe.OperationFailure) -> str | None:
    """The unique key a write broke, as ``table.column`` in the contract's names, like the SQL
    backends (``sessions.sessionToken`` is ``sessions.session_token``): from the error's key
    pattern, never its value, which the server quotes beside it."""
    details: Mapping[str, Any] = exc.details or {}
    errors = [e for e in details.get("writeErrors") or [details] if isinstance(e, Mapping)]
    failed = next((e for e in errors if e.get("keyPattern")), None)
    if failed is None:
        return None
    fields = ",".join(_snake(field) for field in failed["keyPattern"])
    found = _COLLECTION.search(str(failed.get("errmsg", "")))
    return f"{_snake(found.group(1))}.{fields}" if found else fields


_PLACE: Final = 0  # a place at the gate; the breaker's PROBE and THROUGH take none


def _translated(fn: Callable[_P, Awaitable[_R]]) -> Callable[_P, Coroutine[Any, Any, _R]]:
    """Run an adapter method through the adapter's breaker and gate, and turn driver
    exceptions into asyncauth's, in one place."""

    @functools.wraps(fn)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        adapter = cast("MongoAdapter", args[0])
        admitted = _PLACE
        if unreachable(adapter._client) or await adapter._gate.enter() is None:
            admitted = await adapter._breaker.admit(adapter._client)
        try:
            if admitted == _PLACE:
                return await fn(*args, **kwargs)
            # Down: a call let through waits UNREACHABLE_WAIT, not the whole timeout, and
            # takes no place at the gate: a call that finds no server holds no connection,
            # and the places may all be held by calls that were in flight when it went
            # down (PyMongo retries those until their timeout, in case it comes back).
            with operation_timeout(min(adapter._timeout, UNREACHABLE_WAIT)):
                return await fn(*args, **kwargs)
        except (pe.PyMongoError, bson.errors.BSONError) as exc:
            error = _translate(exc)
            if isinstance(error, DuplicateError):
                # The driver's exception quotes the value (a token): not chained, so no
                # logged traceback shows it; it stays, unedited, as the hidden context.
                raise error from None
            raise error from exc
        finally:
            if admitted == _PLACE:
                adapter._gate.leave()
            elif admitted == PROBE:
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


class MongoAdapter(BaseAdapter, Adapter):
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
        # The deployment is down: a waiter at the gate leaves the line for the breaker.
        self._gate = Gate(
            pool_size or _client_pool_size(client), timeout, lambda: unreachable(self._client)
        )
        self._breaker = Breaker()

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
        # One round trip: the session and its user in one $match/$lookup aggregation, faster
        # than two find_one calls (docs/mongodb.md, "The session read"). An expired session
        # is filtered here, not left to the TTL monitor, which runs once a minute. Values sit
        # in an equality $match only, where a leading "$" is plain text, not a field path.
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

    @_translated
    async def bootstrap(self) -> list[int]:
        """Create what is missing of the bundled index sets; the versions recorded now.

        On a current database this is one query. It never drops or changes an index that
        holds a different definition: that is a SchemaError naming it (see ``check``).
        """
        await self.open()
        return await indexes.bootstrap(self._db, ttl_indexes=self.ttl_indexes)

    @_translated
    async def check(self) -> SchemaReport:
        """Compare the live indexes and migration records with the expected ones."""
        await self.open()
        return await indexes.check(self._db, ttl_indexes=self.ttl_indexes)


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
