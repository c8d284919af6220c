"""A FastAPI service that stores its auth state with asyncauth, NextAuth-compatible.

It signs people up, links OAuth accounts, signs in by magic link, and protects routes with
NextAuth's database-session cookie, so a Next.js app on the same domain and this API share
logins.

Two rules keep one person from signing in as another, and are the parts worth copying:

- an OAuth identity comes only from the app's own server-side exchange of the authorization
  code with the provider (``OAuthProvider.exchange``), never from what the browser sends, and
  the callback only accepts a ``state`` that matches the cookie set when this browser started
  the flow (no login CSRF);
- nobody is signed in as an email address before its owner opens a link sent to it: sign-up
  only sends that link, and an OAuth account is never linked to an existing user by email.

The HTTP side of a real provider (the token request with the client secret, the user-info
request) belongs to an OAuth library behind the ``OAuthProvider`` protocol; the tests plug in
a fake provider.

Run it with ``uvicorn examples.fastapi_app:app`` (``ASYNCAUTH_URL`` picks the database; by
default a SQLite file ``example.db``). Its tests are ``tests/integration/test_fastapi_app.py``.
"""

# No "from __future__ import annotations": FastAPI reads these annotations at runtime, and
# SignedIn below is local to create_app.
import hashlib
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Protocol
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from asyncauth import Account, Adapter, DuplicateError, User
from asyncauth.integrations.starlette import (
    Authenticated,
    NextAuthSessions,
    SessionCookieMiddleware,
    adapter_of,
    lifespan,
)

UTC = timezone.utc
DAY = 86_400
# The OAuth state cookie: set when a browser starts a provider sign-in, read at the callback.
STATE_COOKIE = "oauth-state"
STATE_MAX_AGE = 600
SendLink = Callable[[str, str], Awaitable[None]]


class SignUp(BaseModel):
    email: str
    name: str | None = None


@dataclass(frozen=True)
class OAuthIdentity:
    """Who the provider says signed in: built only from the provider's own answers."""

    provider_account_id: str
    email: str | None = None
    # True only when the provider vouches that this person owns ``email`` (OpenID Connect's
    # email_verified claim, GitHub's verified primary email); otherwise the email is ignored.
    email_verified: bool = False
    name: str | None = None
    access_token: str | None = None
    expires_at: int | None = None
    scope: str | None = None


class OAuthError(Exception):
    """Raised by ``OAuthProvider.exchange`` when the provider refuses the code."""


class OAuthProvider(Protocol):
    """One OAuth 2 provider, as the app's server talks to it."""

    def authorization_url(self, *, state: str, redirect_uri: str) -> str:
        """Where to send the browser to sign in at the provider."""
        ...

    async def exchange(self, code: str, *, redirect_uri: str) -> OAuthIdentity:
        """Redeem ``code`` at the provider's token endpoint (with the client secret), then
        read the signed-in account from the provider; raise OAuthError if it refuses."""
        ...


class MagicLinkRequest(BaseModel):
    email: str


def user_json(user: User) -> dict[str, Any]:
    verified = user.email_verified
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "email_verified": None if verified is None else verified.isoformat(),
    }


async def print_link(email: str, url: str) -> None:
    print(f"magic link for {email}: {url}")


def create_app(
    url: str | None = None,
    *,
    secret: str | None = None,
    max_age: int = 30 * DAY,
    update_age: int = DAY,
    send_link: SendLink = print_link,
    providers: Mapping[str, OAuthProvider] | None = None,
    sql_folders: list[Path] | None = None,
) -> FastAPI:
    """The app, on ``url`` (asyncauth's URL forms); sessions with NextAuth's ages (seconds).

    ``providers`` maps a provider name (``"github"``) to its client; ``send_link(email, url)``
    delivers magic links.
    """
    providers = dict(providers or {})
    # NextAuth hashes verification tokens with its secret: share it to accept its links.
    secret = secret or os.environ.get("NEXTAUTH_SECRET") or secrets.token_hex(32)
    sessions = NextAuthSessions(max_age=max_age, update_age=update_age)
    # A route that takes a SignedIn answers 401 to a request without a live session.
    SignedIn = Annotated[Authenticated, Depends(sessions)]
    app = FastAPI(lifespan=lifespan(url, sql_folders=sql_folders or []))
    app.add_middleware(SessionCookieMiddleware)

    async def sign_in(request: Request, response: Response, user: User) -> dict[str, Any]:
        expires = datetime.now(UTC) + timedelta(seconds=max_age)
        session = await adapter_of(request).create_session(user.id, expires)
        response.set_cookie(
            sessions.cookie_for(request),
            session.session_token,
            expires=expires,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return {"user": user_json(user), "expires": expires.isoformat()}

    async def send_magic_link(request: Request, email: str) -> None:
        token = secrets.token_hex(32)
        expires = datetime.now(UTC) + timedelta(hours=24)
        # Stored hashed, as NextAuth does: a leaked table cannot be replayed.
        await adapter_of(request).create_verification_token(email, _hash(token, secret), expires)
        link = str(request.url_for("magic_link_callback"))
        await send_link(email, f"{link}?{urlencode({'email': email, 'token': token})}")

    @app.post("/signup", status_code=202)
    async def signup(body: SignUp, request: Request) -> dict[str, str]:
        """Register an email and send its owner a sign-in link; nobody is signed in here.

        Signing the caller in before the email is verified would let anyone pre-register
        someone else's address and keep that session once the owner verifies it.
        """
        try:
            await adapter_of(request).create_user(email=body.email, name=body.name)
        except DuplicateError:
            # Same answer for a registered email: the link goes to its owner, and the caller
            # learns nothing about who has an account.
            pass
        await send_magic_link(request, body.email)
        return {"status": "sent"}

    def provider_client(provider: str) -> OAuthProvider:
        client = providers.get(provider)
        if client is None:
            raise HTTPException(404, "unknown OAuth provider")
        return client

    @app.get("/oauth/{provider}/signin")
    async def oauth_signin(provider: str, request: Request) -> RedirectResponse:
        """Send the browser to the provider, remembering a fresh ``state`` in a cookie."""
        client = provider_client(provider)
        state = secrets.token_urlsafe(32)
        redirect_uri = str(request.url_for("oauth_callback", provider=provider))
        response = RedirectResponse(
            client.authorization_url(state=state, redirect_uri=redirect_uri), status_code=302
        )
        # SameSite=Lax still reaches the callback (a top-level GET from the provider); the
        # path keeps it to this provider's callback, so two flows in two tabs do not collide.
        response.set_cookie(
            STATE_COOKIE,
            state,
            max_age=STATE_MAX_AGE,
            path=urlsplit(redirect_uri).path,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response

    @app.get("/oauth/{provider}/callback", name="oauth_callback")
    async def oauth_callback(
        provider: str, code: str, state: str, request: Request, response: Response
    ) -> dict[str, Any]:
        """Sign in with a provider account: known account, else link to the signed-in user.

        The identity is never read from the request: the code is exchanged with the provider
        from this server, so a caller can only ever sign in as the account they signed in to
        at the provider.
        """
        client = provider_client(provider)
        # Login CSRF: without this check, an attacker's own code, opened in a victim's
        # browser, would sign the victim in to the attacker's account (or link it to theirs).
        expected = request.cookies.get(STATE_COOKIE, "")
        if not expected or not secrets.compare_digest(expected.encode(), state.encode()):
            raise HTTPException(400, "this sign-in was not started from this browser")
        redirect_uri = str(request.url_for("oauth_callback", provider=provider))
        try:
            identity = await client.exchange(code, redirect_uri=redirect_uri)
        except OAuthError:
            raise HTTPException(401, "the provider refused this sign-in") from None
        response.delete_cookie(STATE_COOKIE, path=urlsplit(redirect_uri).path)

        auth = adapter_of(request)
        user = await auth.get_user_by_account(provider, identity.provider_account_id)
        if user is None:
            current = await sessions.optional(request)
            if current is not None:
                user = current.user
            else:
                user = await new_oauth_user(auth, identity)
            try:
                await auth.link_account(
                    Account(
                        user_id=user.id,
                        type="oauth",
                        provider=provider,
                        provider_account_id=identity.provider_account_id,
                        access_token=identity.access_token,
                        expires_at=identity.expires_at,
                        scope=identity.scope,
                    )
                )
            except DuplicateError:  # linked by a concurrent callback
                raise HTTPException(409, "this account was just linked; sign in again") from None
        return await sign_in(request, response, user)

    async def new_oauth_user(auth: Adapter, identity: OAuthIdentity) -> User:
        # An email the provider does not vouch for is not stored: whoever owns it could
        # otherwise open this account later by magic link, or find it already taken.
        email = identity.email if identity.email_verified else None
        # NextAuth's rule (OAuthAccountNotLinked): never link to an existing user by email,
        # verified or not; its owner signs in first, then links the provider account.
        if email is not None and await auth.get_user_by_email(email) is not None:
            raise HTTPException(409, "sign in first, then link this account")
        try:
            return await auth.create_user(
                email=email,
                name=identity.name,
                email_verified=None if email is None else datetime.now(UTC),
            )
        except DuplicateError:  # the same email registered meanwhile
            raise HTTPException(409, "sign in first, then link this account") from None

    @app.post("/magic-link", status_code=202)
    async def magic_link(body: MagicLinkRequest, request: Request) -> dict[str, str]:
        await send_magic_link(request, body.email)
        return {"status": "sent"}

    @app.get("/magic-link/callback", name="magic_link_callback")
    async def magic_link_callback(
        email: str, token: str, request: Request, response: Response
    ) -> dict[str, Any]:
        auth = adapter_of(request)
        used = await auth.use_verification_token(email, _hash(token, secret))
        if used is None or used.expires < datetime.now(UTC):
            raise HTTPException(401, "this link is invalid, used or expired")
        user = await auth.get_user_by_email(email)
        if user is None:
            user = await auth.create_user(email=email, email_verified=datetime.now(UTC))
        elif user.email_verified is None:
            # Registered by /signup, which signs nobody in, and never linked (OAuth does not
            # link by email): verifying it now leaves no one else a way into it.
            user = await auth.update_user(user.id, email_verified=datetime.now(UTC))
        return await sign_in(request, response, user)

    @app.get("/me")
    async def me(auth: SignedIn) -> dict[str, Any]:
        return {"user": user_json(auth.user), "expires": auth.session.expires.isoformat()}

    @app.get("/me/accounts")
    async def my_accounts(
        request: Request, provider: str, provider_account_id: str, auth: SignedIn
    ) -> dict[str, Any]:
        account = await adapter_of(request).get_account(provider_account_id, provider)
        if account is None or account.user_id != auth.user.id:
            raise HTTPException(404, "no such account of yours")
        return {"provider": account.provider, "scope": account.scope}

    @app.post("/signout")
    async def signout(request: Request, response: Response, auth: SignedIn) -> dict[str, str]:
        await adapter_of(request).delete_session(auth.session.session_token)
        sessions.clear_cookie(request, response)
        return {"status": "signed out"}

    return app


def _hash(token: str, secret: str) -> str:
    return hashlib.sha256((token + secret).encode("utf-8")).hexdigest()


app = create_app(os.environ.get("ASYNCAUTH_URL", "sqlite:///example.db"))
