"""The adapter contract: one Protocol that every backend implements, SQL or MongoDB."""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

from ._models import Account, Authenticator, PurgeResult, Session, User, VerificationToken
from ._schema import SchemaReport

__all__ = ["Adapter", "SessionRecord", "V3Storage"]


@dataclass(frozen=True, slots=True, repr=False)
class SessionRecord:
    """A session row as NextAuth v3 sees it, with its row id and access token (internal)."""

    id: str
    session_token: str
    user_id: str
    expires: datetime
    access_token: str

    def __repr__(self) -> str:
        return f"SessionRecord(id={self.id!r}, user_id={self.user_id!r}, expires={self.expires!r})"


@runtime_checkable
class Adapter(Protocol):
    """Storage for users, accounts, sessions, verification tokens and authenticators.

    Getters return ``None`` for what does not exist, including ids of a shape the backend
    cannot hold. Writers raise :class:`~asyncauth.DuplicateError` when a unique key is taken,
    :class:`~asyncauth.NotFoundError` when the row to update is missing, and
    :class:`~asyncauth.ValidationError` before any query for input that cannot be stored.
    Database failures raise :class:`~asyncauth.BackendError`.
    """

    async def open(self) -> None:
        """Connect (create the pool or client) if not connected yet; idempotent."""

    async def aclose(self) -> None:
        """Close what the adapter created; a pool or client handed in stays open."""

    async def __aenter__(self) -> Adapter: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def __await__(self) -> Generator[Any, None, Adapter]: ...

    async def create_user(
        self,
        *,
        email: str | None = None,
        name: str | None = None,
        image: str | None = None,
        email_verified: datetime | None = None,
        **extra: Any,
    ) -> User:
        """Store a new user. A taken email raises DuplicateError.

        ``extra`` holds a custom model's fields (docs/custom-models.md); a field that no
        loaded query declares (any field, on a backend without custom models) raises
        ValidationError naming it.
        """

    async def get_user(self, user_id: str) -> User | None:
        """The user with this id, or None."""

    async def get_user_by_email(self, email: str | None) -> User | None:
        """The user with this exact email, or None (None/empty email: no query)."""

    async def get_user_by_account(self, provider: str, provider_account_id: str) -> User | None:
        """The user linked to this provider account, in one round trip, or None."""

    async def update_user(self, user_id: str, **fields: Any) -> User:
        """Change only the given fields, atomically. Unknown user: NotFoundError."""

    async def delete_user(self, user_id: str) -> User | None:
        """Delete the user with its accounts, sessions and authenticators, all or nothing."""

    async def link_account(self, account: Account) -> Account:
        """Store an account. A linked (provider, provider_account_id) raises DuplicateError.

        A user that does not exist (or is deleted concurrently) raises NotFoundError; no
        race with ``delete_user`` leaves an account behind that points to no user.
        """

    async def unlink_account(self, provider: str, provider_account_id: str) -> Account | None:
        """Delete and return the account, or None."""

    async def get_account(self, provider_account_id: str, provider: str) -> Account | None:
        """The account for this pair, or None."""

    async def create_session(
        self, user_id: str, expires: datetime, session_token: str | None = None
    ) -> Session:
        """Store a session; a missing token is made (32 random bytes, 64 hex characters).

        A user that does not exist (or is deleted concurrently) raises NotFoundError, as
        in ``link_account``.
        """

    async def get_session_and_user(self, session_token: str) -> tuple[Session, User] | None:
        """The hot path: the unexpired session and its user in one statement, or None."""

    async def update_session(
        self,
        session_token: str,
        *,
        expires: datetime,
        if_expires_before: datetime | None = None,
    ) -> Session | None:
        """Move a session's expiry; None if there is no such session.

        With ``if_expires_before``, the write happens only when the stored expiry is earlier
        than it, in one conditional, atomic write (``UPDATE ... WHERE session_token = ? AND
        expires < ?``; ``find_one_and_update`` with that filter): of concurrent callers only
        the first writes. The Session is returned when *this* call wrote it, else None (no
        such session, or its expiry was not earlier: another caller slid it already).
        """

    async def delete_session(self, session_token: str) -> Session | None:
        """Delete and return the session; a missing one gives None."""

    async def create_verification_token(
        self, identifier: str, token: str, expires: datetime
    ) -> VerificationToken:
        """Store a one-time token (``token`` arrives hashed)."""

    async def use_verification_token(self, identifier: str, token: str) -> VerificationToken | None:
        """Return and delete the token atomically: of concurrent callers exactly one gets it.

        Both fields must match; an expired token is still returned (the caller decides).
        """

    async def create_authenticator(self, authenticator: Authenticator) -> Authenticator:
        """Store a WebAuthn authenticator; a taken credential_id raises DuplicateError.

        A user that does not exist (or is deleted concurrently) raises NotFoundError, as
        in ``link_account``.
        """

    async def get_authenticator(self, credential_id: str) -> Authenticator | None:
        """The authenticator with this credential id, or None."""

    async def list_authenticators_by_user_id(self, user_id: str) -> list[Authenticator]:
        """The user's authenticators; an unknown user gives []."""

    async def update_authenticator_counter(self, credential_id: str, counter: int) -> Authenticator:
        """Set the signature counter. Unknown credential: NotFoundError."""

    async def purge_expired(
        self, *, batch_size: int = 1000, progress: Callable[[str, int], object] | None = None
    ) -> PurgeResult:
        """Delete expired sessions and verification tokens in batches of ``batch_size``.

        Each batch is its own short statement, so no lock is held for long. ``progress``, when
        given, is called after every batch with the kind (``"sessions"`` or
        ``"verification_tokens"``) and how many of that kind are gone so far.
        """

    async def bootstrap(self) -> list[int]:
        """Bring the schema up to date; the migration versions applied (or adopted) now.

        Idempotent and safe from many processes at once; never drops or narrows anything.
        """

    async def check(self) -> SchemaReport:
        """Compare the live schema with the expected one (``.ok``, ``.differences``); changes
        nothing."""


@runtime_checkable
class V3Storage(Adapter, Protocol):
    """What :class:`~asyncauth.nextauth_v3.NextAuthV3` needs beyond the public contract.

    NextAuth v3 reads a session row whole (expired ones too) and keeps an account's token
    expiry to the millisecond; the modern contract has no use for either, so these are not
    part of :class:`Adapter`, and a third-party backend implements them only to serve v3.
    """

    async def _get_session_record(self, session_token: str) -> SessionRecord | None:
        """The whole session row, expired or not (NextAuth v3 deletes expired ones)."""

    async def _link_account_at(self, account: Account, expires: datetime | None) -> Account:
        """link_account, with ``access_token_expires`` kept to the millisecond (v3 stores a
        timestamp where the modern Account carries whole seconds in ``expires_at``)."""

    async def _get_verification_token(
        self, identifier: str, token: str
    ) -> VerificationToken | None:
        """Read a verification token without using it."""
