"""What every adapter shares, whatever it stores in: lifecycle and input checks.

Input is checked here, once, so that every backend refuses the same values the same way.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Generator
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, Final

from . import _validate as v
from ._errors import ValidationError
from ._models import Account, Authenticator
from ._protocol import Adapter
from ._schema import SchemaReport

__all__ = ["BaseAdapter", "USER_FIELDS", "compound_id", "sha256_hex"]

UTC = timezone.utc
USER_FIELDS: Final = frozenset({"name", "email", "image", "email_verified"})
ACCOUNT_TYPES: Final = frozenset({"oauth", "oidc", "email", "webauthn"})


def sha256_hex(text: str) -> str:
    """Hex SHA-256 of UTF-8 text, as NextAuth computes its hashes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compound_id(provider: str, provider_account_id: str) -> str:
    """NextAuth v3's account key: sha256_hex("provider:provider_account_id")."""
    return sha256_hex(f"{provider}:{provider_account_id}")


def new_token() -> str:
    """32 random bytes as 64 hex characters, the shape NextAuth gives its tokens."""
    return secrets.token_hex(32)


class BaseAdapter(Adapter):
    """Lifecycle (await / async with / aclose) and the input checks of the contract.

    It subclasses the :class:`~asyncauth.Adapter` Protocol explicitly: every adapter is
    checked against it where it is defined, and ``help()`` on an adapter's method shows the
    contract's docstring.
    """

    hash_session_tokens: bool = False
    _opened: bool = False
    _bootstrap_on_open: bool = False
    #: seconds a bootstrap waits for another process's (connect's ``lock_timeout``)
    _lock_timeout: float = 600.0

    async def open(self) -> None:
        """Connect if not yet connected (idempotent); bootstrap if connect() asked to."""
        if self._opened:
            return
        await self._open()
        self._opened = True
        if self._bootstrap_on_open:
            try:
                await self.bootstrap()
            except BaseException:
                await self.aclose()
                raise

    async def bootstrap(self) -> list[int]:
        """Bring the schema up to date; the migration versions applied (or adopted) now."""
        raise NotImplementedError

    async def check(self) -> SchemaReport:
        """Compare the live schema with the expected one; changes nothing."""
        raise NotImplementedError

    async def _open(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release what the adapter made."""
        self._opened = False

    def __await__(self) -> Generator[Any, None, Any]:
        return self._await_open().__await__()

    async def _await_open(self) -> Any:
        await self.open()
        return self

    async def __aenter__(self) -> Any:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- input ----------------------------------------------------------------------------

    def _session_key(self, session_token: str) -> str:
        """What the sessions table holds for a token: itself, or its digest when hashing."""
        return sha256_hex(session_token) if self.hash_session_tokens else session_token

    @staticmethod
    def _lookup_text(value: object, field: str) -> str | None:
        """A lookup key: a str, else ValidationError; None when it could never be stored."""
        if not isinstance(value, str):
            raise ValidationError(field, f"must be a str, not {type(value).__name__}")
        try:
            return v.required_text(value, field)
        except ValidationError:
            return None

    @staticmethod
    def _check_user_fields(fields: dict[str, Any]) -> dict[str, Any]:
        unknown = set(fields) - USER_FIELDS
        if unknown:
            raise ValidationError(
                sorted(unknown)[0], f"is not a user field (known: {sorted(USER_FIELDS)})"
            )
        out: dict[str, Any] = {}
        if "email" in fields:
            out["email"] = v.text(fields["email"], "email", required=False)
            if out["email"] == "":
                raise ValidationError("email", "must not be empty (use None)")
        if "name" in fields:
            out["name"] = v.text(fields["name"], "name", required=False)
        if "image" in fields:
            out["image"] = v.text(fields["image"], "image", required=False)
        if "email_verified" in fields:
            out["email_verified"] = v.optional_moment(fields["email_verified"], "email_verified")
        return out

    @staticmethod
    def _check_account(account: Account) -> Account:
        if not isinstance(account, Account):
            raise ValidationError("account", f"must be an Account, not {type(account).__name__}")
        kind = v.required_text(account.type, "type")
        if kind not in ACCOUNT_TYPES:
            raise ValidationError("type", f"must be one of {sorted(ACCOUNT_TYPES)}")
        expires_at = v.integer(account.expires_at, "expires_at", required=False)
        if expires_at is not None and not 0 <= expires_at <= 253402300799:
            raise ValidationError("expires_at", "must be seconds since 1970 before year 10000")
        return Account(
            user_id=v.key(account.user_id, "user_id"),
            type=kind,
            provider=v.required_text(account.provider, "provider"),
            provider_account_id=v.required_text(account.provider_account_id, "provider_account_id"),
            refresh_token=v.text(
                account.refresh_token, "refresh_token", limit=v.LONG, required=False
            ),
            access_token=v.text(account.access_token, "access_token", limit=v.LONG, required=False),
            expires_at=expires_at,
            token_type=v.text(account.token_type, "token_type", required=False),
            scope=v.text(account.scope, "scope", limit=v.LONG, required=False),
            id_token=v.text(account.id_token, "id_token", limit=v.LONG, required=False),
            session_state=v.text(account.session_state, "session_state", required=False),
        )

    @staticmethod
    def _check_authenticator(auth: Authenticator) -> Authenticator:
        if not isinstance(auth, Authenticator):
            raise ValidationError(
                "authenticator", f"must be an Authenticator, not {type(auth).__name__}"
            )
        counter = v.integer(auth.counter, "counter")
        assert counter is not None
        if not 0 <= counter <= 2**32 - 1:
            raise ValidationError("counter", "must fit WebAuthn's unsigned 32 bits")
        return Authenticator(
            credential_id=v.required_text(auth.credential_id, "credential_id"),
            user_id=v.key(auth.user_id, "user_id"),
            provider_account_id=v.required_text(auth.provider_account_id, "provider_account_id"),
            credential_public_key=v.required_text(
                auth.credential_public_key, "credential_public_key", limit=v.LONG
            ),
            counter=counter,
            credential_device_type=v.required_text(
                auth.credential_device_type, "credential_device_type"
            ),
            credential_backed_up=v.boolean(auth.credential_backed_up, "credential_backed_up"),
            transports=v.text(auth.transports, "transports", required=False),
        )


def now() -> datetime:
    """The current instant, UTC, to the millisecond (what every backend keeps)."""
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond - t.microsecond % 1000)
