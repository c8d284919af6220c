"""asyncauth in a Starlette or FastAPI app: lifespan, NextAuth session cookie, 401s.

A Python API served on the same domain as a Next.js app that uses NextAuth with database
sessions can accept that app's logins: the browser sends NextAuth's session cookie
(``next-auth.session-token``, or ``__Secure-next-auth.session-token`` over HTTPS), and this
module resolves it with one ``get_session_and_user`` and slides the session's expiry with
NextAuth's own rule, so both apps keep one session alive together::

    from typing import Annotated
    from fastapi import Depends, FastAPI
    from asyncauth.integrations.starlette import (
        Authenticated, NextAuthSessions, SessionCookieMiddleware, lifespan,
    )

    sessions = NextAuthSessions(max_age=30 * 86400, update_age=86400)
    app = FastAPI(lifespan=lifespan("postgresql://app@db/app"))
    app.add_middleware(SessionCookieMiddleware)

    @app.get("/me")
    async def me(auth: Annotated[Authenticated, Depends(sessions)]) -> dict[str, str | None]:
        return {"id": auth.user.id, "email": auth.user.email}

In a plain Starlette endpoint, ``auth = await sessions(request)`` does the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, MutableSequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._base import now
from .._connect import connect
from .._models import Session, User

__all__ = [
    "COOKIE_NAME",
    "FLAVORS",
    "SECURE_COOKIE_NAME",
    "Authenticated",
    "NextAuthSessions",
    "SessionCookieMiddleware",
    "adapter_of",
    "lifespan",
]

UTC = timezone.utc
DAY = 86_400
COOKIE_NAME = "next-auth.session-token"
SECURE_COOKIE_NAME = "__Secure-next-auth.session-token"
#: the session cookie of each Auth.js generation: NextAuth v4 (and v3) call it
#: ``next-auth.session-token``, Auth.js v5 ``authjs.session-token``; ``both`` reads either
#: (an app part-way through the upgrade), preferring v5's, and writes v5's for a new cookie
FLAVORS: dict[str, tuple[str, ...]] = {
    "next-auth": (COOKIE_NAME,),
    "authjs": ("authjs.session-token",),
    "both": ("authjs.session-token", COOKIE_NAME),
}
# Where SessionCookieMiddleware leaves the list of Set-Cookie headers to add to the response.
_SCOPE_KEY = "asyncauth.set_cookie"
# Where each NextAuthSessions instance caches its answer for the request, keyed by instance:
# two instances (a user cookie and an admin cookie, or two databases) never share an answer.
_RESOLVED_KEY = "asyncauth.resolved"
_UNSET = object()


def lifespan(
    url: str | None = None,
    *,
    bootstrap: bool = True,
    state_key: str = "auth",
    **options: Any,
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A Starlette/FastAPI ``lifespan``: connect (and bootstrap) at startup, close at shutdown.

    The adapter is stored as ``app.state.<state_key>`` (``app.state.auth``); ``options`` are
    those of :func:`asyncauth.connect` (``pool_size``, ``sql_folders``, ...). Bootstrapping
    from every replica at once is safe: one applies the migrations, the others wait.
    """

    @asynccontextmanager
    async def run(app: Any) -> AsyncIterator[None]:
        async with connect(url, bootstrap=bootstrap, **options) as adapter:
            setattr(app.state, state_key, adapter)
            try:
                yield
            finally:
                delattr(app.state, state_key)

    return run


def adapter_of(conn: HTTPConnection, state_key: str = "auth") -> Any:
    """The adapter the lifespan stored on the app; a clear error when there is none."""
    adapter = getattr(conn.app.state, state_key, None)
    if adapter is None:
        raise RuntimeError(
            f"no asyncauth adapter on app.state.{state_key}: pass lifespan=asyncauth."
            "integrations.starlette.lifespan(url) to the app (or set it yourself)"
        )
    return adapter


@dataclass(frozen=True, slots=True)
class Authenticated:
    """The signed-in request: its database session and its user."""

    session: Session
    user: User


class NextAuthSessions:
    """Resolves NextAuth's session cookie; an instance is a FastAPI dependency.

    ``await sessions(request)`` returns :class:`Authenticated` or raises ``HTTPException(401)``
    for a missing, unknown or expired session; :meth:`optional` returns ``None`` instead.
    ``max_age`` and ``update_age`` (seconds) must be those of the NextAuth app: a session is
    written only when ``expires - max_age + update_age`` has passed, then slides to
    ``now + max_age``, so each session costs at most one write per ``update_age``. The slid
    cookie expiry is sent back by :class:`SessionCookieMiddleware`, which the app must install
    unless ``slide=False``. ``flavor`` picks the cookie name: ``"next-auth"`` (v3/v4, the
    default), ``"authjs"`` (Auth.js v5) or ``"both"``; ``cookie_name`` overrides it.
    """

    def __init__(
        self,
        *,
        max_age: int = 30 * DAY,
        update_age: int = DAY,
        cookie_name: str | None = None,
        cookie_domain: str | None = None,
        slide: bool = True,
        state_key: str = "auth",
        flavor: str = "next-auth",
    ) -> None:
        for name, value in (("max_age", max_age), ("update_age", update_age)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int (seconds)")
        self.max_age = max_age
        self.update_age = update_age
        if flavor not in FLAVORS:
            raise ValueError(f"flavor must be one of {sorted(FLAVORS)}, not {flavor!r}")
        self.flavor = flavor
        self._cookie_names = FLAVORS[flavor]
        self.cookie_name = cookie_name
        self.cookie_domain = cookie_domain
        self.slide = slide
        self.state_key = state_key
        # NextAuth's rule, rearranged: due when expires < now + (max_age - update_age).
        self._due_within = timedelta(seconds=max_age - update_age)

    def __repr__(self) -> str:
        return f"NextAuthSessions(max_age={self.max_age}, update_age={self.update_age})"

    def cookie_for(self, conn: HTTPConnection) -> str:
        """The cookie NextAuth uses for this request: ``__Secure-`` prefixed over HTTPS.

        With ``flavor="both"`` it is the first of Auth.js v5's and NextAuth v4's names that the
        request carries (v5's when it carries neither).
        """
        if self.cookie_name is not None:
            return self.cookie_name
        prefix = "__Secure-" if conn.url.scheme in ("https", "wss") else ""
        names = [prefix + name for name in self._cookie_names]
        if len(names) > 1:
            for name in names:
                if conn.cookies.get(name):
                    return name
        return names[0]

    async def __call__(self, request: HTTPConnection) -> Authenticated:
        found = await self.optional(request)
        if found is None:
            raise HTTPException(status_code=401, detail="not signed in")
        return found

    async def optional(self, request: HTTPConnection) -> Authenticated | None:
        """The signed-in session and user, or ``None``; resolved once per request.

        The answer is cached on the request for this instance only: another instance (another
        cookie name, adapter or ages) resolves its own cookie.
        """
        resolved: dict[NextAuthSessions, Authenticated | None]
        resolved = request.scope.setdefault(_RESOLVED_KEY, {})
        cached = resolved.get(self, _UNSET)
        if cached is not _UNSET:
            assert cached is None or isinstance(cached, Authenticated)
            return cached
        found = await self._resolve(request)
        resolved[self] = found
        return found

    async def _resolve(self, request: HTTPConnection) -> Authenticated | None:
        # A WebSocket handshake has no response to carry a refreshed cookie: read only.
        slide = self.slide and request.scope["type"] == "http"
        if slide and _SCOPE_KEY not in request.scope:
            # Found on the first request, not a day later when the first session is due.
            raise RuntimeError(
                "NextAuthSessions slides the session cookie through SessionCookieMiddleware: "
                "add it to the app (app.add_middleware(SessionCookieMiddleware)), or pass "
                "slide=False"
            )
        name = self.cookie_for(request)
        token = request.cookies.get(name)
        if not token:
            return None
        adapter = adapter_of(request, self.state_key)
        pair = await adapter.get_session_and_user(token)
        if pair is None:
            return None
        session, user = pair
        if slide:
            current = now()
            if session.expires < current + self._due_within:
                session = await self._slide(request, adapter, session, name, current)
        return Authenticated(session, user)

    async def _slide(
        self, request: HTTPConnection, adapter: Any, session: Session, name: str, at: datetime
    ) -> Session:
        """Slide a due session: the slid one if this request wrote it, else the one read.

        The write is conditional on the stored expiry still being due, so of many concurrent
        requests carrying one due cookie exactly one writes and sends the cookie back; the
        others find it slid already and answer with the session they read, sending nothing.
        """
        pending: MutableSequence[bytes] = request.scope[_SCOPE_KEY]
        updated: Session | None = await adapter.update_session(
            session.session_token,
            expires=at + timedelta(seconds=self.max_age),
            if_expires_before=at + self._due_within,
        )
        if updated is None:
            return session
        pending.append(self._set_cookie(name, session.session_token, updated.expires))
        return updated

    def _set_cookie(self, name: str, token: str, expires: datetime) -> bytes:
        # NextAuth's session cookie attributes: HttpOnly, SameSite=Lax, Path=/, Secure with
        # the __Secure- prefix (browsers require it), expiring with the session.
        carrier = Response()
        carrier.set_cookie(
            name,
            token,
            expires=expires,
            path="/",
            domain=self.cookie_domain,
            secure=name.startswith("__Secure-"),
            httponly=True,
            samesite="lax",
        )
        return carrier.headers["set-cookie"].encode("latin-1")

    def clear_cookie(self, request: HTTPConnection, response: Response) -> None:
        """Expire the session cookie on ``response`` (sign-out)."""
        name = self.cookie_for(request)
        response.delete_cookie(
            name,
            path="/",
            domain=self.cookie_domain,
            secure=name.startswith("__Secure-"),
            httponly=True,
            samesite="lax",
        )


class SessionCookieMiddleware:
    """Adds the refreshed session cookie to the response when a request slid its session.

    Pure ASGI (no buffering of bodies): it only appends ``Set-Cookie`` headers to the
    response start message. Cheap for requests that never touch a session.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        pending: list[bytes] = []
        scope[_SCOPE_KEY] = pending

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and pending:
                headers = list(message.get("headers", []))
                headers.extend((b"set-cookie", value) for value in pending)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)
