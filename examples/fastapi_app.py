"""A FastAPI service that stores its auth state with asyncauth, NextAuth-compatible.

It signs people up, links OAuth accounts, signs in by magic link, and protects routes with
NextAuth's database-session cookie, so a Next.js app on the same domain and this API share
logins. The OAuth provider exchange itself (redirects, code for token) is the provider
library's job and is out of scope: ``/oauth/{provider}/callback`` receives its result.

Run it with ``uvicorn examples.fastapi_app:app`` (``ASYNCAUTH_URL`` picks the database; by
default a SQLite file ``example.db``). Its tests are ``tests/integration/test_fastapi_app.py``.
"""

# No "from __future__ import annotations": FastAPI reads these annotations at runtime, and
# SignedIn below is local to create_app.
import hashlib
import os
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from pydantic import BaseModel

from asyncauth import Account, DuplicateError, User
from asyncauth.integrations.starlette import (
    Authenticated,
    NextAuthSessions,
    SessionCookieMiddleware,
    adapter_of,
    lifespan,
)

UTC = timezone.utc
DAY = 86_400
SendLink = Callable[[str, str], Awaitable[None]]


class SignUp(BaseModel):
    email: str
    name: str | None = None


class OAuthResult(BaseModel):
    """What an OAuth library hands over after the code exchange."""

    provider_account_id: str
    email: str | None = None
    name: str | None = None
    access_token: str | None = None
    expires_at: int | None = None
    scope: str | None = None


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
    sql_folders: list[Path] | None = None,
) -> FastAPI:
    """The app, on ``url`` (asyncauth's URL forms); sessions with NextAuth's ages (seconds)."""
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

    @app.post("/signup", status_code=201)
    async def signup(body: SignUp, request: Request, response: Response) -> dict[str, Any]:
        try:
            user = await adapter_of(request).create_user(email=body.email, name=body.name)
        except DuplicateError:
            raise HTTPException(409, "email already registered") from None
        return await sign_in(request, response, user)

    @app.post("/oauth/{provider}/callback")
    async def oauth_callback(
        provider: str, body: OAuthResult, request: Request, response: Response
    ) -> dict[str, Any]:
        """Sign in with a provider account: known account, else link to the signed-in user."""
        auth = adapter_of(request)
        user = await auth.get_user_by_account(provider, body.provider_account_id)
        if user is None:
            current = await sessions.optional(request)
            if current is not None:
                user = current.user
            elif body.email and await auth.get_user_by_email(body.email) is not None:
                # NextAuth's rule: never link by email alone (OAuthAccountNotLinked).
                raise HTTPException(409, "sign in first, then link this account")
            else:
                user = await auth.create_user(email=body.email, name=body.name)
            await auth.link_account(
                Account(
                    user_id=user.id,
                    type="oauth",
                    provider=provider,
                    provider_account_id=body.provider_account_id,
                    access_token=body.access_token,
                    expires_at=body.expires_at,
                    scope=body.scope,
                )
            )
        return await sign_in(request, response, user)

    @app.post("/magic-link", status_code=202)
    async def magic_link(body: MagicLinkRequest, request: Request) -> dict[str, str]:
        token = secrets.token_hex(32)
        expires = datetime.now(UTC) + timedelta(hours=24)
        # Stored hashed, as NextAuth does: a leaked table cannot be replayed.
        await adapter_of(request).create_verification_token(
            body.email, _hash(token, secret), expires
        )
        link = str(request.url_for("magic_link_callback"))
        await send_link(body.email, f"{link}?{urlencode({'email': body.email, 'token': token})}")
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
