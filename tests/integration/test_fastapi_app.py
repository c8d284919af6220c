"""The example FastAPI app (examples/fastapi_app.py), end to end through httpx's ASGI transport.

Every test runs on each SQL backend of ``tests._backends`` (SQLite, PostgreSQL) through the
``backend``/``db_url`` fixtures, and checks what was stored by reading the database directly.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.types import ASGIApp

import asyncauth
from asyncauth.nextauth_v3 import NextAuthV3
from examples.fastapi_app import create_app
from tests._backends import Backend

pytestmark = pytest.mark.anyio
UTC = timezone.utc
DAY = 86_400
SECRET = "test-secret"
COOKIE = "next-auth.session-token"
SECURE_COOKIE = "__Secure-next-auth.session-token"


@dataclass
class Site:
    app: ASGIApp
    client: httpx.AsyncClient
    links: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture
async def site(db_url: str, anyio_backend: str) -> AsyncIterator[Site]:
    links: list[tuple[str, str]] = []

    async def send(email: str, url: str) -> None:
        links.append((email, url))

    app = create_app(db_url, secret=SECRET, send_link=send, max_age=30 * DAY, update_age=DAY)
    # ASGITransport does not run the lifespan: enter it as the server would.
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield Site(app, c, links)


def email() -> str:
    return f"{uuid.uuid4().hex}@example.com"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cookie(name: str, value: str) -> dict[str, str]:
    """A Cookie header set by hand; it takes precedence over the client's jar."""
    return {"Cookie": f"{name}={value}"}


def set_cookie(response: httpx.Response, name: str) -> str | None:
    for value in response.headers.get_list("set-cookie"):
        if value.startswith(f"{name}="):
            return value
    return None


def cookie_expiry(header: str) -> datetime:
    match = re.search(r"expires=([^;]+)", header, re.IGNORECASE)
    assert match is not None, header
    return parsedate_to_datetime(match.group(1))


async def test_signup_protected_route_and_signout(
    site: Site, backend: Backend, db_url: str
) -> None:
    c = site.client
    assert (await c.get("/me")).status_code == 401
    address = email()
    r = await c.post("/signup", json={"email": address, "name": "Ada"})
    assert r.status_code == 201, r.text
    token = c.cookies[COOKIE]
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    header = set_cookie(r, COOKIE)
    assert header is not None and "httponly" in header.lower() and "samesite=lax" in header.lower()

    me = await c.get("/me")
    assert me.status_code == 200
    assert me.json()["user"]["email"] == address and me.json()["user"]["name"] == "Ada"
    async with backend.raw(db_url) as raw:
        row = await raw.one("sessions", session_token=token)
        assert row is not None and row["user_id"] == me.json()["user"]["id"]

    assert (await c.post("/signup", json={"email": address})).status_code == 409

    out = await c.post("/signout")
    assert out.status_code == 200
    assert COOKIE not in c.cookies
    async with backend.raw(db_url) as raw:
        assert await raw.count("sessions", session_token=token) == 0
    # The old token, replayed by hand, no longer opens anything.
    assert (await c.get("/me", headers=cookie(COOKIE, token))).status_code == 401


async def test_oauth_link_then_sign_in_with_it(site: Site, backend: Backend, db_url: str) -> None:
    c = site.client
    address = email()
    signed_up = (await c.post("/signup", json={"email": address})).json()["user"]
    github_id = uuid.uuid4().hex

    # Signed in: the provider account is linked to the current user.
    r = await c.post(
        "/oauth/github/callback",
        json={"provider_account_id": github_id, "access_token": "gho_x", "scope": "read:user"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["user"]["id"] == signed_up["id"]
    async with backend.raw(db_url) as raw:
        account = await raw.one("accounts", provider_id="github", provider_account_id=github_id)
    assert account is not None
    assert account["user_id"] == signed_up["id"]
    assert account["compound_id"] == sha256_hex(f"github:{github_id}")
    assert account["provider_type"] == "oauth" and account["access_token"] == "gho_x"

    # Signed out, the same provider account signs the same user in.
    await c.post("/signout")
    assert (await c.get("/me")).status_code == 401
    again = await c.post("/oauth/github/callback", json={"provider_account_id": github_id})
    assert again.json()["user"]["id"] == signed_up["id"]
    mine = await c.get(
        "/me/accounts", params={"provider": "github", "provider_account_id": github_id}
    )
    assert mine.status_code == 200 and mine.json() == {"provider": "github", "scope": "read:user"}

    # A stranger's provider account carrying a registered email is not linked by email alone.
    c.cookies.clear()
    taken = await c.post(
        "/oauth/github/callback",
        json={"provider_account_id": uuid.uuid4().hex, "email": address},
    )
    assert taken.status_code == 409
    fresh = await c.post(
        "/oauth/gitlab/callback", json={"provider_account_id": "42", "email": email()}
    )
    assert fresh.status_code == 200 and fresh.json()["user"]["id"] != signed_up["id"]


async def test_magic_link_signs_in_once(site: Site, backend: Backend, db_url: str) -> None:
    c = site.client
    address = email()
    assert (await c.post("/magic-link", json={"email": address})).status_code == 202
    [(sent_to, link)] = site.links
    assert sent_to == address
    query = parse_qs(urlsplit(link).query)
    raw_token = query["token"][0]
    async with backend.raw(db_url) as raw:
        row = await raw.one("verification_requests", identifier=address)
    # Stored as NextAuth stores it: sha256(token + secret), never the emailed token.
    assert row is not None and row["token"] == sha256_hex(raw_token + SECRET)

    wrong = await c.get("/magic-link/callback", params={"email": address, "token": "0" * 64})
    assert wrong.status_code == 401
    first = await c.get(urlsplit(link).path, params={"email": address, "token": raw_token})
    assert first.status_code == 200, first.text
    assert first.json()["user"]["email_verified"] is not None
    assert (await c.get("/me")).json()["user"]["email"] == address

    c.cookies.clear()
    second = await c.get(urlsplit(link).path, params={"email": address, "token": raw_token})
    assert second.status_code == 401
    assert (await c.get("/me")).status_code == 401
    async with backend.raw(db_url) as raw:
        assert await raw.count("verification_requests", identifier=address) == 0

    # An expired link is refused, and used up all the same.
    late = email()
    async with asyncauth.connect(db_url) as auth:
        past = datetime.now(UTC) - timedelta(minutes=1)
        await auth.create_verification_token(late, sha256_hex("stale" + SECRET), past)
    expired = await c.get(urlsplit(link).path, params={"email": late, "token": "stale"})
    assert expired.status_code == 401
    async with backend.raw(db_url) as raw:
        assert await raw.count("verification_requests", identifier=late) == 0


async def test_unknown_and_expired_sessions_are_401(
    site: Site, backend: Backend, db_url: str
) -> None:
    c = site.client
    assert (await c.get("/me", headers=cookie(COOKIE, uuid.uuid4().hex))).status_code == 401
    assert (await c.get("/me", headers=cookie(COOKIE, ""))).status_code == 401
    await c.post("/signup", json={"email": email()})
    token = c.cookies[COOKIE]
    async with backend.raw(db_url) as raw:
        past = datetime.now(UTC) - timedelta(seconds=1)
        assert await raw.update("sessions", {"session_token": token}, expires=past) == 1
    assert (await c.get("/me")).status_code == 401


async def test_session_slides_once_per_update_age(
    site: Site, backend: Backend, db_url: str
) -> None:
    c = site.client
    async with asyncauth.connect(db_url) as auth:
        user = await auth.create_user(email=email())
        # Made two days ago with max_age 30 days: past update_age (1 day), so due to slide.
        old = datetime.now(UTC) + timedelta(days=28)
        due = await auth.create_session(user.id, old)
        # Made an hour ago: inside update_age, so never written.
        recent = await auth.create_session(
            user.id, datetime.now(UTC) + timedelta(days=30, hours=-1)
        )

    before = datetime.now(UTC)
    r = await c.get("/me", headers=cookie(COOKIE, due.session_token))
    assert r.status_code == 200
    header = set_cookie(r, COOKIE)
    assert header is not None, "a slid session sends its cookie back with the new expiry"
    slid_to = cookie_expiry(header)
    assert before + timedelta(days=30) - timedelta(seconds=2) <= slid_to
    assert slid_to <= datetime.now(UTC) + timedelta(days=30)
    async with backend.raw(db_url) as raw:
        row = await raw.one("sessions", session_token=due.session_token)
        assert row is not None and abs(row["expires"] - slid_to) < timedelta(seconds=1)
        stamp = row["updated_at"]

    # Right after, the same session is inside update_age again: no write, no cookie.
    again = await c.get("/me", headers=cookie(COOKIE, due.session_token))
    assert again.status_code == 200 and set_cookie(again, COOKIE) is None
    untouched = await c.get("/me", headers=cookie(COOKIE, recent.session_token))
    assert untouched.status_code == 200 and set_cookie(untouched, COOKIE) is None
    async with backend.raw(db_url) as raw:
        row = await raw.one("sessions", session_token=due.session_token)
        assert row is not None and row["updated_at"] == stamp
        row = await raw.one("sessions", session_token=recent.session_token)
        assert row is not None and row["expires"] == recent.expires


async def test_nextauth_login_is_accepted_and_https_uses_the_secure_cookie(
    site: Site, db_url: str
) -> None:
    async with asyncauth.connect(db_url) as auth:
        v3 = NextAuthV3(auth, secret=SECRET)
        user = await auth.create_user(email=email())
        # The row a NextAuth app writes at sign-in (64-hex session and access tokens).
        session = await v3.create_session(user)
    # The same app, now reached over https.
    transport = httpx.ASGITransport(app=site.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as https:
        ok = await https.get("/me", headers=cookie(SECURE_COOKIE, session.session_token))
        assert ok.status_code == 200 and ok.json()["user"]["id"] == user.id
        # Over HTTPS NextAuth only uses the __Secure- name; the plain one is not read.
        plain = await https.get("/me", headers=cookie(COOKIE, session.session_token))
        assert plain.status_code == 401
    over_http = await site.client.get("/me", headers=cookie(COOKIE, session.session_token))
    assert over_http.status_code == 200
