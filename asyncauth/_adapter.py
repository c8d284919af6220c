"""One adapter class for every SQL dialect.

A dialect is a folder of named queries plus a thin driver; this class only validates input,
binds the named parameters and turns rows into models. Rows come back as mappings keyed by
the column names the queries select, so every dialect's SQL selects the same names.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import _validate as v
from ._base import USER_FIELDS, BaseAdapter, compound_id, new_token, now
from ._bootstrap import bootstrap_sql, check_sql
from ._driver import Dialect, Row, SqlDriver
from ._errors import ConfigurationError, DuplicateError, NotFoundError, ValidationError
from ._layout import Layout, load_layout
from ._layout_bootstrap import bootstrap_layout, check_layout
from ._models import Account, Authenticator, PurgeResult, Session, User, VerificationToken
from ._protocol import SessionRecord
from ._schema import SchemaReport
from ._sql import Migration, load_layout_queries, load_queries

__all__ = ["SqlAdapter"]

UTC = timezone.utc

# What the bundled user queries bind and select; anything beyond is a custom model's.
_CREATE_USER_PARAMS = frozenset({"id", "name", "email", "email_verified", "image", "now"})
_UPDATE_USER_PARAMS = frozenset(
    {"id", "now", "name", "email", "image", "email_verified"}
    | {"set_name", "set_email", "set_image", "set_email_verified"}
)
# "expires" is the session's, selected by the hot path beside the user's columns.
_KNOWN_COLUMNS = frozenset({"id", "name", "email", "email_verified", "image", "expires"})


class SqlAdapter(BaseAdapter):
    """The adapter contract over any :class:`~asyncauth._driver.SqlDriver`.

    Build it with :func:`asyncauth.connect`, or around a pool you own with the backend's
    adapter class (e.g. ``asyncauth.PostgresAdapter(pool)``).
    """

    def __init__(
        self,
        driver: SqlDriver[Any],
        *,
        hash_session_tokens: bool = False,
        owns_driver: bool = True,
        sql_folders: Sequence[str | Path] = (),
        layout: str | None = None,
    ) -> None:
        self.driver = driver
        self.dialect: Dialect = driver.dialect
        self.layout: Layout = load_layout(layout)
        # The driver's dialect names the folder of SQL: its queries and its migrations, with
        # the user's own folders (custom models) laid over them. Another layout is a folder of
        # the same named queries under sql/layouts/ (docs/layouts.md).
        folders = [Path(f) for f in sql_folders]
        if self.layout.is_default:
            self.queries = load_queries(self.dialect.name, self.dialect.paramstyle, folders)
        else:
            if folders:
                raise ConfigurationError(
                    "sql_folders extends the nextauth-v3 layout only, "
                    f"not the {self.layout.name} layout"
                )
            self.queries = load_layout_queries(
                self.layout.name,
                self.layout.folder(self.dialect.name),
                self.dialect.name,
                self.dialect.paramstyle,
                authenticators=self.layout.authenticators,
            )
        self.extra_migrations = tuple(f / "migrations" / self.dialect.name for f in folders)
        self.hash_session_tokens = hash_session_tokens
        self._owns_driver = owns_driver
        self._migrations: list[Migration] | None = None
        q = self.queries
        # Resolved once: a missing query fails here, at construction, not on a request.
        self._q_hot = q["get_session_and_user"]
        self._time_in = self.dialect.time_in
        self._time_out = self.dialect.time_out
        if not self.layout.is_default:
            # Times are stored as the layout's JS adapter stores them on this dialect.
            codec = self.layout.time_codec(self.dialect.name)
            self._time_in = codec.time_in or self._time_in
            self._time_out = codec.time_out or self._time_out
        self._text_ids = self.layout.user_id != "serial"
        # Custom models: the extra user fields the (overridden) queries bind, and whether rows
        # can carry extra columns at all. Decided here, once, so that without custom SQL the
        # hot path's row->model step is the plain one.
        self.extra_create_fields = q["create_user"].params - _CREATE_USER_PARAMS
        self.extra_update_fields = frozenset(
            p for p in q["update_user"].params - _UPDATE_USER_PARAMS if not p.startswith("set_")
        )
        self._custom_rows = any(query.custom for query in q.values())
        self._to_user: Callable[[Row], User] = (
            self._user_with_extra if self._custom_rows else self._user
        )
        self._now_ms = -1
        self._now_value: Any = None

    def __repr__(self) -> str:
        return f"<SqlAdapter dialect={self.dialect.name} layout={self.layout.name}>"

    async def _open(self) -> None:
        opener = getattr(self.driver, "open", None)
        if opener is not None:
            await opener()

    async def aclose(self) -> None:
        """Close the driver's pool if this adapter made it."""
        if self._owns_driver:
            await self.driver.aclose()
        await super().aclose()

    async def bootstrap(self) -> list[int]:
        """Apply what is missing of the bundled (and custom) migrations, under a lock.

        Another layout's schema is created only in an empty database (docs/layouts.md).
        """
        if not self.layout.is_default:
            return await bootstrap_layout(self)
        return await bootstrap_sql(self)

    async def check(self) -> SchemaReport:
        """Compare the live schema with the expected one; changes nothing."""
        if not self.layout.is_default:
            return await check_layout(self)
        return await check_sql(self)

    # -- row <-> model ----------------------------------------------------------------------

    def _t(self, value: datetime | None, field: str) -> Any:
        """A caller's datetime as the driver binds it; refused if the column cannot hold it."""
        if value is None:
            return None
        span = self.dialect.time_range
        if span is not None and not span[0] <= value <= span[1]:
            raise ValidationError(
                field,
                f"{self.dialect.name} stores instants from {span[0]:%Y-%m-%d %H:%M:%S} to "
                f"{span[1]:%Y-%m-%d %H:%M:%S} UTC only",
            )
        return self._time_in(value)

    def _opt_time(self, value: Any) -> datetime | None:
        return None if value is None else self._time_out(value)

    def _user(self, row: Row) -> User:
        return User(
            id=str(row["id"]),
            name=row["name"],
            email=row["email"],
            email_verified=self._opt_time(row["email_verified"]),
            image=row["image"],
        )

    def _user_with_extra(self, row: Row) -> User:
        extra = {k: row[k] for k in row.keys() if k not in _KNOWN_COLUMNS}
        return User(
            id=str(row["id"]),
            name=row["name"],
            email=row["email"],
            email_verified=self._opt_time(row["email_verified"]),
            image=row["image"],
            extra=extra or None,
        )

    def _extra_fields(self, fields: Mapping[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
        """Check the custom-model fields of a create/update; known fields are not in here."""
        out: dict[str, Any] = {}
        for name, value in fields.items():
            if name not in allowed:
                known = sorted(USER_FIELDS | allowed)
                raise ValidationError(name, f"is not a user field (known: {known})")
            if isinstance(value, str):
                out[name] = v.text(value, name, limit=v.LONG, required=False)
            elif isinstance(value, datetime):
                out[name] = self._t(v.moment(value, name), name)
            elif value is None or isinstance(value, int | float | bool):
                out[name] = value
            else:
                raise ValidationError(
                    name, f"must be a str, int, float, bool, datetime or None, not {type(value)}"
                )
        return out

    def _account(self, row: Row) -> Account:
        expires = row["access_token_expires"]
        return Account(
            user_id=str(row["user_id"]),
            type=row["provider_type"],
            provider=row["provider_id"],
            provider_account_id=row["provider_account_id"],
            refresh_token=row["refresh_token"],
            access_token=row["access_token"],
            expires_at=None if expires is None else int(self._time_out(expires).timestamp()),
            token_type=row["token_type"],
            scope=row["scope"],
            id_token=row["id_token"],
            session_state=row["session_state"],
        )

    def _authenticator(self, row: Row) -> Authenticator:
        return Authenticator(
            credential_id=row["credential_id"],
            user_id=str(row["user_id"]),
            provider_account_id=row["provider_account_id"],
            credential_public_key=row["credential_public_key"],
            counter=int(row["counter"]),
            credential_device_type=row["credential_device_type"],
            credential_backed_up=self.dialect.bool_out(row["credential_backed_up"]),
            transports=row["transports"],
        )

    def _token(self, row: Row) -> VerificationToken:
        return VerificationToken(
            identifier=row["identifier"], token=row["token"], expires=self._time_out(row["expires"])
        )

    def _user_key(self, user_id: object, field: str = "user_id") -> Any:
        text = v.key(user_id, field)
        if self._text_ids:
            # Text ids made by the writer (a UUID, a cuid): any non-empty one may exist.
            return text if 0 < len(text) <= 255 else None
        return self.dialect.id_in(text)

    def _required_user_key(self, user_id: object) -> Any:
        key = self._user_key(user_id)
        if key is None:
            raise ValidationError("user_id", f"{user_id!r} is not a user id of this backend")
        return key

    async def _one(self, name: str, args: Mapping[str, Any]) -> Row | None:
        return await self.driver.fetch_one(self.queries[name], args)

    # -- users --------------------------------------------------------------------------------

    async def create_user(
        self,
        *,
        email: str | None = None,
        name: str | None = None,
        image: str | None = None,
        email_verified: datetime | None = None,
        **extra: Any,
    ) -> User:
        """Create a user; ``extra`` takes a custom model's fields (see docs/custom-models.md)."""
        f = self._check_user_fields(
            {"email": email, "name": name, "image": image, "email_verified": email_verified}
        )
        stamp = self._time_in(now())
        args = {
            "name": f["name"],
            "email": f["email"],
            "email_verified": self._t(f["email_verified"], "email_verified"),
            "image": f["image"],
            "now": stamp,
            # Where the layout's JS adapter makes the id (cuid, UUID), asyncauth makes one too.
            "id": self.layout.new_id(),
        }
        if self.extra_create_fields:
            given = self._extra_fields(extra, self.extra_create_fields)
            # A field left out is stored as NULL: the query binds every one it declares.
            args.update({name: given.get(name) for name in self.extra_create_fields})
        elif extra:
            self._extra_fields(extra, frozenset())  # raises, naming the field
        row = await self._one("create_user", args)
        if row is None:
            # Only a layout whose schema has no UNIQUE on email says so this way (its SQL
            # checks under a lock); the default layout's constraint raises DuplicateError.
            raise DuplicateError("unique key taken: users.email")
        values = (str(row["id"]), f["name"], f["email"], f["email_verified"], f["image"])
        if not self._custom_rows:
            return User(*values)
        # A custom create_user may return its columns (RETURNING id, phone): those win.
        stored = {k: row[k] for k in row.keys() if k not in _KNOWN_COLUMNS}
        given_back = {k: args[k] for k in self.extra_create_fields}
        return User(*values, extra={**given_back, **stored} or None)

    async def get_user(self, user_id: str) -> User | None:
        key = self._user_key(user_id, "user_id")
        if key is None:
            return None
        row = await self._one("get_user", {"id": key})
        return None if row is None else self._to_user(row)

    async def get_user_by_email(self, email: str | None) -> User | None:
        if email is None or email == "":
            return None
        checked = self._lookup_text(email, "email")
        if checked is None:
            return None
        row = await self._one("get_user_by_email", {"email": checked})
        return None if row is None else self._to_user(row)

    async def get_user_by_account(self, provider: str, provider_account_id: str) -> User | None:
        p = self._lookup_text(provider, "provider")
        pa = self._lookup_text(provider_account_id, "provider_account_id")
        if p is None or pa is None:
            return None
        row = await self._one(
            "get_user_by_account",
            {"compound_id": compound_id(p, pa), "provider_id": p, "provider_account_id": pa},
        )
        return None if row is None else self._to_user(row)

    async def update_user(self, user_id: str, **fields: Any) -> User:
        """Partial update; a custom model's fields are accepted when its query declares them."""
        key = self._user_key(user_id)
        extra = {k: fields[k] for k in fields if k not in USER_FIELDS}
        f = self._check_user_fields({k: fields[k] for k in fields if k in USER_FIELDS})
        given = self._extra_fields(extra, self.extra_update_fields)
        if key is None:
            raise NotFoundError(f"no user {user_id!r}")
        args: dict[str, Any] = {"id": key, "now": self._time_in(now())}
        # One statement with a flag per column: a partial update without building SQL.
        for name in ("name", "email", "image"):
            args[f"set_{name}"] = name in f
            args[name] = f.get(name)
        args["set_email_verified"] = "email_verified" in f
        args["email_verified"] = self._t(f.get("email_verified"), "email_verified")
        for name in self.extra_update_fields:
            args[f"set_{name}"] = name in given
            args[name] = given.get(name)
        row = await self._one("update_user", args)
        if row is None:
            if "email" in f and await self._one("get_user", {"id": key}) is not None:
                raise DuplicateError("unique key taken: users.email")
            raise NotFoundError(f"no user {user_id!r}")
        return self._to_user(row)

    async def delete_user(self, user_id: str) -> User | None:
        key = self._user_key(user_id)
        if key is None:
            return None
        row = await self._one("delete_user", {"user_id": key})
        return None if row is None else self._to_user(row)

    # -- accounts -----------------------------------------------------------------------------

    async def link_account(self, account: Account) -> Account:
        a = self._check_account(account)
        expires = None if a.expires_at is None else datetime.fromtimestamp(a.expires_at, UTC)
        await self._insert_account(a, expires, "expires_at")
        return a

    async def _link_account_at(self, account: Account, expires: datetime | None) -> Account:
        a = self._check_account(account)
        field = "access_token_expires"
        await self._insert_account(a, v.optional_moment(expires, field), field)
        return a

    async def _insert_account(self, a: Account, expires: datetime | None, field: str) -> None:
        stored = self._t(expires, field)
        user_key = self._required_user_key(a.user_id)
        inserted = await self.driver.execute(
            self.queries["link_account"],
            {
                "compound_id": compound_id(a.provider, a.provider_account_id),
                "user_id": user_key,
                "provider_type": a.type,
                "provider_id": a.provider,
                "provider_account_id": a.provider_account_id,
                "refresh_token": a.refresh_token,
                "access_token": a.access_token,
                "access_token_expires": stored,
                "token_type": a.token_type,
                "scope": a.scope,
                "id_token": a.id_token,
                "session_state": a.session_state,
                "now": self._time_in(now()),
            },
        )
        if not inserted:
            # A layout without a UNIQUE (provider, providerAccountId) refuses a taken pair by
            # inserting nothing; the default layout's constraint raises first.
            if await self.get_account(a.provider_account_id, a.provider) is not None:
                raise DuplicateError("unique key taken: accounts (provider, provider_account_id)")
            raise NotFoundError(f"no user {a.user_id!r}")

    def _account_args(self, provider: str, provider_account_id: str) -> dict[str, Any] | None:
        p = self._lookup_text(provider, "provider")
        pa = self._lookup_text(provider_account_id, "provider_account_id")
        if p is None or pa is None:
            return None
        return {"compound_id": compound_id(p, pa), "provider_id": p, "provider_account_id": pa}

    async def unlink_account(self, provider: str, provider_account_id: str) -> Account | None:
        args = self._account_args(provider, provider_account_id)
        if args is None:
            return None
        row = await self._one("unlink_account", args)
        return None if row is None else self._account(row)

    async def get_account(self, provider_account_id: str, provider: str) -> Account | None:
        args = self._account_args(provider, provider_account_id)
        if args is None:
            return None
        row = await self._one("get_account", args)
        return None if row is None else self._account(row)

    # -- sessions -----------------------------------------------------------------------------

    async def create_session(
        self, user_id: str, expires: datetime, session_token: str | None = None
    ) -> Session:
        key = self._required_user_key(user_id)
        when = v.moment(expires, "expires")
        stored = self._t(when, "expires")
        token = (
            new_token()
            if session_token is None
            else v.required_text(session_token, "session_token")
        )
        # The insert selects the user row, so for a missing (or concurrently deleted) user it
        # inserts nothing rather than a session that points to no user.
        inserted = await self.driver.execute(
            self.queries["create_session"],
            {
                "user_id": key,
                "expires": stored,
                "session_token": self._session_key(token),
                # NextAuth v3's sessions carry a second, unique token; v3 apps read it.
                "access_token": new_token(),
                "now": self._time_in(now()),
            },
        )
        if not inserted:
            if await self._get_session_record(token) is not None:
                raise DuplicateError("unique key taken: sessions.session_token")
            raise NotFoundError(f"no user {user_id!r}")
        return Session(token, str(key), when)

    async def get_session_and_user(self, session_token: str) -> tuple[Session, User] | None:
        token = self._lookup_text(session_token, "session_token")
        if token is None:
            return None
        row = await self.driver.fetch_one(
            self._q_hot, {"session_token": self._session_key(token), "now": self._hot_now()}
        )
        if row is None:
            return None
        user = self._to_user(row)
        return Session(token, user.id, self._time_out(row["expires"])), user

    def _hot_now(self) -> Any:
        # "now" in the dialect's form, made once per millisecond (the precision every backend
        # keeps): under load many reads share it, and building and formatting a datetime for
        # each was a quarter of the adapter's own time in a session read (benchmarks/).
        ms = time.time_ns() // 1_000_000
        if ms != self._now_ms:
            moment = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000)
            self._now_value = self._time_in(moment)
            self._now_ms = ms
        return self._now_value

    async def update_session(
        self,
        session_token: str,
        *,
        expires: datetime,
        if_expires_before: datetime | None = None,
    ) -> Session | None:
        when = v.moment(expires, "expires")
        stored = self._t(when, "expires")
        args: dict[str, Any] = {"expires": stored}
        name = "update_session"
        if if_expires_before is not None:
            # One conditional UPDATE: the database decides who is first, so of concurrent
            # slides of one session exactly one writes (and learns so from the row it gets).
            bound = v.moment(if_expires_before, "if_expires_before")
            args["if_expires_before"] = self._t(bound, "if_expires_before")
            name = "update_session_if_expires_before"
        token = self._lookup_text(session_token, "session_token")
        if token is None:
            return None
        args["session_token"] = self._session_key(token)
        args["now"] = self._time_in(now())
        row = await self._one(name, args)
        if row is None:
            return None
        return Session(token, str(row["user_id"]), self._time_out(row["expires"]))

    async def delete_session(self, session_token: str) -> Session | None:
        token = self._lookup_text(session_token, "session_token")
        if token is None:
            return None
        row = await self._one("delete_session", {"session_token": self._session_key(token)})
        if row is None:
            return None
        return Session(token, str(row["user_id"]), self._time_out(row["expires"]))

    async def _get_session_record(self, session_token: str) -> SessionRecord | None:
        token = self._lookup_text(session_token, "session_token")
        if token is None:
            return None
        row = await self._one("get_session_record", {"session_token": self._session_key(token)})
        if row is None:
            return None
        return SessionRecord(
            id=str(row["id"]),
            session_token=token,
            user_id=str(row["user_id"]),
            expires=self._time_out(row["expires"]),
            access_token=row["access_token"],
        )

    # -- verification tokens --------------------------------------------------------------------

    async def create_verification_token(
        self, identifier: str, token: str, expires: datetime
    ) -> VerificationToken:
        ident = v.required_text(identifier, "identifier")
        tok = v.required_text(token, "token")
        when = v.moment(expires, "expires")
        stored = self._t(when, "expires")
        inserted = await self.driver.execute(
            self.queries["create_verification_token"],
            {
                "identifier": ident,
                "token": tok,
                "expires": stored,
                "now": self._time_in(now()),
            },
        )
        if not inserted:
            # A layout whose schema keys tokens by (identifier, token) only refuses a taken
            # token by inserting nothing; the default layout's UNIQUE(token) raises first.
            raise DuplicateError("unique key taken: verification token")
        return VerificationToken(ident, tok, when)

    async def _token_row(self, name: str, identifier: str, token: str) -> Row | None:
        ident = self._lookup_text(identifier, "identifier")
        tok = self._lookup_text(token, "token")
        if ident is None or tok is None:
            return None
        return await self._one(name, {"identifier": ident, "token": tok})

    async def use_verification_token(self, identifier: str, token: str) -> VerificationToken | None:
        row = await self._token_row("use_verification_token", identifier, token)
        return None if row is None else self._token(row)

    async def _get_verification_token(
        self, identifier: str, token: str
    ) -> VerificationToken | None:
        row = await self._token_row("get_verification_token", identifier, token)
        return None if row is None else self._token(row)

    # -- authenticators -------------------------------------------------------------------------

    def _needs_authenticators(self) -> None:
        if not self.layout.authenticators:
            raise ConfigurationError(
                f"the {self.layout.name} layout has no authenticator table (WebAuthn needs a "
                "layout that has one, docs/layouts.md)"
            )

    async def create_authenticator(self, authenticator: Authenticator) -> Authenticator:
        self._needs_authenticators()
        a = self._check_authenticator(authenticator)
        inserted = await self.driver.execute(
            self.queries["create_authenticator"],
            {
                "credential_id": a.credential_id,
                "user_id": self._required_user_key(a.user_id),
                "provider_account_id": a.provider_account_id,
                "credential_public_key": a.credential_public_key,
                "counter": a.counter,
                "credential_device_type": a.credential_device_type,
                "credential_backed_up": a.credential_backed_up,
                "transports": a.transports,
                "now": self._time_in(now()),
            },
        )
        if not inserted:
            raise NotFoundError(f"no user {a.user_id!r}")
        return a

    async def get_authenticator(self, credential_id: str) -> Authenticator | None:
        self._needs_authenticators()
        cid = self._lookup_text(credential_id, "credential_id")
        if cid is None:
            return None
        row = await self._one("get_authenticator", {"credential_id": cid})
        return None if row is None else self._authenticator(row)

    async def list_authenticators_by_user_id(self, user_id: str) -> list[Authenticator]:
        self._needs_authenticators()
        key = self._user_key(user_id)
        if key is None:
            return []
        rows = await self.driver.fetch_all(
            self.queries["list_authenticators_by_user_id"], {"user_id": key}
        )
        return [self._authenticator(r) for r in rows]

    async def update_authenticator_counter(self, credential_id: str, counter: int) -> Authenticator:
        self._needs_authenticators()
        cid = v.required_text(credential_id, "credential_id")
        value = v.integer(counter, "counter")
        assert value is not None
        if not 0 <= value <= 2**32 - 1:
            raise ValidationError("counter", "must fit WebAuthn's unsigned 32 bits")
        row = await self._one(
            "update_authenticator_counter",
            {"credential_id": cid, "counter": value, "now": self._time_in(now())},
        )
        if row is None:
            raise NotFoundError(f"no authenticator with credential id {cid[:8]!r}…")
        return self._authenticator(row)

    # -- maintenance -----------------------------------------------------------------------------

    async def purge_expired(
        self, *, batch_size: int = 1000, progress: Callable[[str, int], object] | None = None
    ) -> PurgeResult:
        """Delete expired sessions and verification tokens in batches of ``batch_size``.

        ``progress``, when given, is called after every batch with the kind of row
        (``"sessions"`` or ``"verification_tokens"``) and how many of them are gone so far.
        """
        size = v.integer(batch_size, "batch_size")
        assert size is not None
        if size < 1:
            raise ValidationError("batch_size", "must be at least 1")
        counts = []
        for name, kind in (
            ("purge_sessions", "sessions"),
            ("purge_verification_tokens", "verification_tokens"),
        ):
            query = self.queries[name]
            total = 0
            while True:
                # A fresh 'now' per batch; each batch is its own short autocommit statement.
                done = await self.driver.execute(
                    query, {"now": self._time_in(now()), "batch_size": size}
                )
                total += done
                if progress is not None:
                    progress(kind, total)
                if done < size:
                    break
            counts.append(total)
        return PurgeResult(sessions=counts[0], verification_tokens=counts[1])
