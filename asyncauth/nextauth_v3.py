"""The NextAuth v3 adapter surface over any asyncauth adapter, with v3's exact semantics.

NextAuth v3 (the seed system) kept its session policy in the adapter: sessions last
``max_age`` seconds, slide forward at most once per ``update_age``, and expired sessions and
verification requests are deleted when read. Verification tokens are stored as
``sha256_hex(token + secret)``; accounts are keyed by ``sha256_hex("provider:account")``. A row
written here is read by a NextAuth v3 app on the same database, and the other way round.

Written once over the :class:`~asyncauth.Adapter` protocol, so it works on every backend.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from . import _validate as v
from ._base import compound_id, new_token, now, sha256_hex
from ._errors import ValidationError
from ._models import Account, User
from ._protocol import Adapter, V3Storage

__all__ = ["NextAuthV3", "V3Account", "V3Session", "V3VerificationRequest"]

UTC = timezone.utc
DAY = 86_400


@dataclass(frozen=True, slots=True, repr=False)
class V3Session:
    """A v3 session: its row id, user, expiry and both of v3's tokens."""

    id: str
    user_id: str
    expires: datetime
    session_token: str
    access_token: str

    def __repr__(self) -> str:
        return f"V3Session(id={self.id!r}, user_id={self.user_id!r}, expires={self.expires!r})"


@dataclass(frozen=True, slots=True, repr=False)
class V3Account:
    """A v3 account, with the columns of v3's ``accounts`` table."""

    compound_id: str
    user_id: str
    provider_type: str
    provider_id: str
    provider_account_id: str
    refresh_token: str | None
    access_token: str | None
    access_token_expires: datetime | None

    def __repr__(self) -> str:
        return (
            f"V3Account(user_id={self.user_id!r}, provider_id={self.provider_id!r}, "
            f"provider_account_id={self.provider_account_id!r})"
        )


@dataclass(frozen=True, slots=True, repr=False)
class V3VerificationRequest:
    """A v3 verification request; ``token`` is the stored hash, never the emailed token."""

    identifier: str
    token: str
    expires: datetime

    def __repr__(self) -> str:
        return f"V3VerificationRequest(identifier={self.identifier!r}, expires={self.expires!r})"


SendVerification = Callable[..., Awaitable[Any]]


class NextAuthV3:
    """NextAuth v3's adapter methods, in snake_case, over an asyncauth adapter.

    ``max_age`` and ``update_age`` are in seconds, as in v3's ``session`` options.
    """

    #: The adapter's name as v3's adapters reported it in ``displayName`` (its TypeORM
    #: adapter said "TYPEORM_LEGACY"); v3's shared adapter tests ask every adapter for one.
    display_name: str = "ASYNCAUTH"

    def __init__(
        self,
        adapter: Adapter,
        *,
        secret: str,
        max_age: int = 30 * DAY,
        update_age: int = DAY,
    ) -> None:
        if not isinstance(secret, str) or not secret:
            raise ValidationError("secret", "must be a non-empty str")
        for name, value in (("max_age", max_age), ("update_age", update_age)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValidationError(name, "must be a non-negative int (seconds)")
        # Typed as the public Adapter, which is what connect() returns; v3 also needs the reads
        # of V3Storage, which every bundled adapter has (a third-party one must add them).
        self.adapter = cast(V3Storage, adapter)
        self._secret = secret
        self.max_age = max_age
        self.update_age = update_age

    def __repr__(self) -> str:
        return f"NextAuthV3(max_age={self.max_age}, update_age={self.update_age})"

    def _hash_token(self, token: str) -> str:
        if not isinstance(token, str) or not token:
            raise ValidationError("token", "must be a non-empty str")
        return sha256_hex(token + self._secret)

    # -- users ----------------------------------------------------------------------------

    async def create_user(self, profile: Mapping[str, Any]) -> User:
        """Create a user from a profile; a truthy ``email_verified`` stores *now*, as v3 did."""
        verified = profile.get("email_verified")
        return await self.adapter.create_user(
            email=profile.get("email"),
            name=profile.get("name"),
            image=profile.get("image"),
            email_verified=now() if verified else None,
        )

    async def get_user(self, user_id: str) -> User | None:
        """The user, or None."""
        return await self.adapter.get_user(user_id)

    async def get_user_by_email(self, email: str | None) -> User | None:
        """The user with this email, or None."""
        return await self.adapter.get_user_by_email(email)

    async def get_user_by_provider_account_id(
        self, provider_id: str, provider_account_id: str
    ) -> User | None:
        """The user linked to this provider account, or None."""
        return await self.adapter.get_user_by_account(provider_id, provider_account_id)

    async def update_user(self, user: User) -> User:
        """Write every field of ``user`` (v3 passed the whole user back)."""
        return await self.adapter.update_user(
            user.id,
            name=user.name,
            email=user.email,
            image=user.image,
            email_verified=user.email_verified,
        )

    async def delete_user(self, user_id: str) -> User | None:
        """Delete the user and what hangs off it (v3 left this unimplemented)."""
        return await self.adapter.delete_user(user_id)

    # -- accounts -----------------------------------------------------------------------

    async def link_account(
        self,
        user_id: str,
        provider_id: str,
        provider_type: str,
        provider_account_id: str,
        refresh_token: str | None,
        access_token: str | None,
        access_token_expires: datetime | int | None,
    ) -> V3Account:
        """Link an account with v3's seven positional arguments.

        ``access_token_expires`` is an aware datetime (kept to the millisecond, as v3 stored
        it), seconds since the epoch, or None.
        """
        if isinstance(access_token_expires, datetime):
            expires = access_token_expires
        elif access_token_expires is None:
            expires = None
        elif isinstance(access_token_expires, int) and not isinstance(access_token_expires, bool):
            expires = datetime.fromtimestamp(access_token_expires, UTC)
        else:
            raise ValidationError("access_token_expires", "must be a datetime, int or None")
        account = Account(
            user_id=user_id,
            type=provider_type,
            provider=provider_id,
            provider_account_id=provider_account_id,
            refresh_token=refresh_token,
            access_token=access_token,
            expires_at=None if expires is None else int(expires.timestamp()),
        )
        stored = await self.adapter._link_account_at(account, expires)
        return self._v3_account(stored, v.optional_moment(expires, "access_token_expires"))

    @staticmethod
    def _v3_account(a: Account, expires: datetime | None = None) -> V3Account:
        return V3Account(
            compound_id=compound_id(a.provider, a.provider_account_id),
            user_id=a.user_id,
            provider_type=a.type,
            provider_id=a.provider,
            provider_account_id=a.provider_account_id,
            refresh_token=a.refresh_token,
            access_token=a.access_token,
            access_token_expires=expires
            if expires is not None or a.expires_at is None
            else datetime.fromtimestamp(a.expires_at, UTC),
        )

    async def unlink_account(
        self, user_id: str, provider_id: str, provider_account_id: str
    ) -> V3Account | None:
        """Remove the account if it belongs to ``user_id`` (v3 left this unimplemented)."""
        account = await self.adapter.get_account(provider_account_id, provider_id)
        if account is None or account.user_id != user_id:
            return None
        removed = await self.adapter.unlink_account(provider_id, provider_account_id)
        return None if removed is None else self._v3_account(removed)

    # -- sessions -----------------------------------------------------------------------

    async def create_session(self, user: User) -> V3Session:
        """A new session for ``user``, expiring ``max_age`` seconds from now."""
        expires = now() + timedelta(seconds=self.max_age)
        session = await self.adapter.create_session(user.id, expires, new_token())
        record = await self.adapter._get_session_record(session.session_token)
        assert record is not None, "the session was just written"
        return self._v3_session(record)

    @staticmethod
    def _v3_session(record: Any) -> V3Session:
        return V3Session(
            id=record.id,
            user_id=record.user_id,
            expires=record.expires,
            session_token=record.session_token,
            access_token=record.access_token,
        )

    async def get_session(self, session_token: str) -> V3Session | None:
        """The session; an expired one is deleted and None returned, as v3 did."""
        record = await self.adapter._get_session_record(session_token)
        if record is None:
            return None
        if record.expires < now():
            await self.adapter.delete_session(session_token)
            return None
        return self._v3_session(record)

    async def update_session(self, session: V3Session, force: bool = False) -> V3Session | None:
        """Slide the expiry to now + max_age, at most once per ``update_age``.

        Writes only when now > expires - max_age + update_age (or when forced); otherwise
        returns None and touches nothing. Unforced, the write is also conditional on the
        *stored* expiry still being due, in one atomic statement: of concurrent callers with
        one due session exactly one writes and gets the slid session, the others get None.
        """
        current = now()
        due = session.expires - timedelta(seconds=self.max_age) + timedelta(seconds=self.update_age)
        if not force and current <= due:
            return None
        expires = current + timedelta(seconds=self.max_age)
        if force:
            updated = await self.adapter.update_session(session.session_token, expires=expires)
        else:
            # The rule above, on the stored row: due while expires < now + max_age - update_age.
            bound = current + timedelta(seconds=self.max_age - self.update_age)
            updated = await self.adapter.update_session(
                session.session_token, expires=expires, if_expires_before=bound
            )
        if updated is None:
            return None
        return V3Session(
            id=session.id,
            user_id=session.user_id,
            expires=updated.expires,
            session_token=session.session_token,
            access_token=session.access_token,
        )

    async def delete_session(self, session_token: str) -> None:
        """Delete the session (a missing one is not an error)."""
        await self.adapter.delete_session(session_token)

    # -- verification requests -----------------------------------------------------------

    async def create_verification_request(
        self,
        identifier: str,
        url: str,
        token: str,
        *,
        send: SendVerification,
        max_age: int,
    ) -> V3VerificationRequest:
        """Store sha256_hex(token + secret), then ``await send(identifier=, url=, token=)``."""
        if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age <= 0:
            raise ValidationError("max_age", "must be a positive int (seconds)")
        expires = now() + timedelta(seconds=max_age)
        stored = await self.adapter.create_verification_token(
            identifier, self._hash_token(token), expires
        )
        await send(identifier=identifier, url=url, token=token)
        return V3VerificationRequest(stored.identifier, stored.token, stored.expires)

    async def get_verification_request(
        self, identifier: str, token: str
    ) -> V3VerificationRequest | None:
        """The request for this raw token, consumed: of concurrent callers exactly one gets it.

        A deliberate difference from v3, which read the request here and deleted it later in
        ``delete_verification_request``: between the two, every concurrent caller with the
        link read it too and signed in (measured: 14-19 of 20). Here the read is
        ``use_verification_token``, which returns and deletes the row in one atomic
        statement, so one magic link signs in once; the later ``delete_verification_request``
        is a no-op. An expired request is deleted as well, and None returned, as v3 did.
        """
        found = await self.adapter.use_verification_token(identifier, self._hash_token(token))
        if found is None or found.expires < now():
            return None
        return V3VerificationRequest(found.identifier, found.token, found.expires)

    async def delete_verification_request(self, identifier: str, token: str) -> None:
        """Delete the request for this raw token (a no-op after ``get_verification_request``,
        which consumed it already)."""
        await self.adapter.use_verification_token(identifier, self._hash_token(token))
