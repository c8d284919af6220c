"""The records asyncauth stores, as frozen dataclasses.

Ids are ``str`` on every backend; datetimes are timezone-aware UTC, kept to the millisecond.
A ``repr`` never shows a token or key in full: these objects end up in logs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

__all__ = [
    "Account",
    "Authenticator",
    "PurgeResult",
    "Session",
    "User",
    "VerificationToken",
]

_T = TypeVar("_T")


def _mask(value: object) -> str:
    if not isinstance(value, str):
        return repr(value)
    # Four characters identify a token in a log line without making it replayable.
    return repr(value[:4] + "…") if len(value) > 4 else repr("…")


def _redacting(*secret: str) -> Callable[[type[_T]], type[_T]]:
    """Give a dataclass a repr that masks the named fields."""

    def decorate(cls: type[_T]) -> type[_T]:
        names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]

        def __repr__(self: Any) -> str:
            parts = []
            for name in names:
                value = getattr(self, name)
                shown = _mask(value) if name in secret and value is not None else repr(value)
                parts.append(f"{name}={shown}")
            return f"{type(self).__name__}({', '.join(parts)})"

        cls.__repr__ = __repr__  # type: ignore[method-assign]
        return cls

    return decorate


@dataclass(frozen=True, slots=True)
class User:
    """A person who can sign in.

    ``extra`` holds the columns a custom model adds (``{"phone": "+44..."}``), as the driver
    returns them, when the loaded queries select any; otherwise it is ``None``. It takes part
    in ``==`` but not in ``hash()`` (a dict is unhashable; equal users still hash equal).
    """

    id: str
    name: str | None = None
    email: str | None = None
    email_verified: datetime | None = None
    image: str | None = None
    extra: Mapping[str, Any] | None = field(default=None, hash=False)


@_redacting("refresh_token", "access_token", "id_token", "session_state")
@dataclass(frozen=True, slots=True, repr=False)
class Account:
    """A user's link to an OAuth/OIDC provider (or email / webauthn)."""

    user_id: str
    type: str
    provider: str
    provider_account_id: str
    refresh_token: str | None = None
    access_token: str | None = None
    expires_at: int | None = None
    token_type: str | None = None
    scope: str | None = None
    id_token: str | None = None
    session_state: str | None = None


@_redacting("session_token")
@dataclass(frozen=True, slots=True, repr=False)
class Session:
    """A database session: whoever presents ``session_token`` before ``expires`` is the user."""

    session_token: str
    user_id: str
    expires: datetime


@_redacting("token")
@dataclass(frozen=True, slots=True, repr=False)
class VerificationToken:
    """A one-time (magic link) token; ``token`` is already hashed by the caller."""

    identifier: str
    token: str
    expires: datetime


@_redacting("credential_public_key")
@dataclass(frozen=True, slots=True, repr=False)
class Authenticator:
    """A WebAuthn credential registered by a user."""

    credential_id: str
    user_id: str
    provider_account_id: str
    credential_public_key: str
    counter: int
    credential_device_type: str
    credential_backed_up: bool
    transports: str | None = None


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """How many expired rows ``purge_expired`` deleted."""

    sessions: int
    verification_tokens: int
