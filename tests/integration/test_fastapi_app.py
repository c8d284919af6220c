"""The example FastAPI app (examples/fastapi_app.py), end to end through httpx's ASGI transport.

Every test runs on each backend of ``tests._backends`` through the ``backend``/``db_url``
fixtures, and checks what was stored by reading the database directly. OAuth providers are
``FakeProvider``s; the attacks of issue 11 (an identity posted by the client, login CSRF, a
pre-registered address) are each played by a test.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from starlette.types import ASGIApp

import asyncauth
from asyncauth.nextauth_v3 import NextAuthV3
from examples.fastapi_app import OAuthError, OAuthIdentity, create_app
from tests._backends import Backend

pytestmark = pytest.mark.anyio
UTC = timezone.utc
DAY = 86_400
SECRET = "test-secret"
COOKIE = "next-auth.session-token"
SECURE_COOKIE = "__Secure-next-auth.session-token"


class FakeProvider:
    """An OAuth provider's authorization server, in process.

    A code is issued only when a person signs in at the provider (:meth:`sign_in`), for that
    person's identity and the app's redirect URI, and is redeemed once by the app's server.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.codes: dict[str, tuple[OAuthIdentity, str]] = {}
        self.exchanged: list[str] = []

    def authorization_url(self, *, state: str, redirect_uri: str) -> str:
        query = urlencode({"state": state, "redirect_uri": redirect_uri, "client_id": "app"})
        return f"https://{self.name}.example/authorize?{query}"

    def sign_in(self, identity: OAuthIdentity, redirect_uri: str) -> str:
        code = uuid.uuid4().hex
        self.codes[code] = (identity, redirect_uri)
        return code

    async def exchange(self, code: str, *, redirect_uri: str) -> OAuthIdentity:
        self.exchanged.append(code)
        issued = self.codes.pop(code, None)
        if issued is None or issued[1] != redirect_uri:
            raise OAuthError("invalid_grant")
        return issued[0]


@dataclass
class Site:
    app: ASGIApp
    client: httpx.AsyncClient
    providers: dict[str, FakeProvider]
    links: list[tuple[str, str]] = field(default_factory=list)

    def client_like(self) -> httpx.AsyncClient:
        """Another browser on the same site, with its own cookie jar."""
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    def link_for(self, address: str) -> str:
        """The path and query of the last link mailed to ``address``."""
        url = [url for to, url in self.links if to == address][-1]
        parts = urlsplit(url)
        return f"{parts.path}?{parts.query}"


@pytest.fixture
async def site(db_url: str, anyio_backend: str) -> AsyncIterator[Site]:
    links: list[tuple[str, str]] = []

    async def send(email: str, url: str) -> None:
        links.append((email, url))

    providers = {name: FakeProvider(name) for name in ("github", "gitlab")}
    app = create_app(
        db_url,
        secret=SECRET,
        send_link=send,
        max_age=30 * DAY,
        update_age=DAY,
        providers=providers,
    )
    # ASGITransport does not run the lifespan: enter it as the server would.
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield Site(app, c, providers, links)


async def start_oauth(c: httpx.AsyncClient, provider: str) -> tuple[str, str]:
    """Start a provider sign-in in this browser: the state and redirect URI sent to it."""
    start = await c.get(f"/oauth/{provider}/signin")
    assert start.status_code == 302, start.text
    query = parse_qs(urlsplit(start.headers["location"]).query)
    return query["state"][0], query["redirect_uri"][0]


async def oauth(site: Site, c: httpx.AsyncClient, provider: str, **who: Any) -> httpx.Response:
    """The whole provider sign-in of the person ``who`` describes, in browser ``c``."""
    state, redirect_uri = await start_oauth(c, provider)
    code = site.providers[provider].sign_in(OAuthIdentity(**who), redirect_uri)
    return await c.get(urlsplit(redirect_uri).path, params={"code": code, "state": state})


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
    assert r.status_code == 202, r.text
    # Signing up signs nobody in: the link mailed to the address does.
    assert COOKIE not in c.cookies and (await c.get("/me")).status_code == 401
    r = await c.get(site.link_for(address))
    assert r.status_code == 200, r.text
    token = c.cookies[COOKIE]
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    header = set_cookie(r, COOKIE)
    assert header is not None and "httponly" in header.lower() and "samesite=lax" in header.lower()

    me = await c.get("/me")
    assert me.status_code == 200
    assert me.json()["user"]["email"] == address and me.json()["user"]["name"] == "Ada"
    assert me.json()["user"]["email_verified"] is not None
    async with backend.raw(db_url) as raw:
        row = await raw.one("sessions", session_token=token)
        assert row is not None and row["user_id"] == me.json()["user"]["id"]

    # A registered email gets the same answer (and its owner a link), not a 409 that tells
    # anyone who has an account.
    async with site.client_like() as other:
        again = await other.post("/signup", json={"email": address})
        assert again.status_code == 202 and COOKIE not in other.cookies
    assert len([to for to, _ in site.links if to == address]) == 2

    out = await c.post("/signout")
    assert out.status_code == 200
    assert COOKIE not in c.cookies
    async with backend.raw(db_url) as raw:
        assert await raw.count("sessions", session_token=token) == 0
    # The old token, replayed by hand, no longer opens anything.
    assert (await c.get("/me", headers=cookie(COOKIE, token))).status_code == 401


async def test_signup_of_someone_elses_email_gives_no_session(
    site: Site, backend: Backend, db_url: str
) -> None:
    # The pre-account hijack: an attacker registers the victim's address first, then waits
    # for the victim to verify it by magic link. The attacker must hold nothing afterwards.
    victim = email()
    async with site.client_like() as attacker:
        await attacker.post("/signup", json={"email": victim, "name": "Mallory"})
        assert COOKIE not in attacker.cookies
        c = site.client
        assert (await c.post("/magic-link", json={"email": victim})).status_code == 202
        opened = await c.get(site.link_for(victim))
        assert opened.status_code == 200, opened.text
        owner = opened.json()["user"]
        assert owner["email"] == victim and owner["email_verified"] is not None
        assert (await c.get("/me")).json()["user"]["id"] == owner["id"]
        assert (await attacker.get("/me")).status_code == 401
    async with backend.raw(db_url) as raw:
        assert await raw.count("sessions", user_id=owner["id"]) == 1


async def test_oauth_link_then_sign_in_with_it(site: Site, backend: Backend, db_url: str) -> None:
    c = site.client
    address = email()
    await c.post("/signup", json={"email": address})
    signed_up = (await c.get(site.link_for(address))).json()["user"]
    github_id = uuid.uuid4().hex

    # Signed in: the provider account is linked to the current user.
    r = await oauth(
        site, c, "github", provider_account_id=github_id, access_token="gho_x", scope="read:user"
    )
    assert r.status_code == 200, r.text
    assert r.json()["user"]["id"] == signed_up["id"]
    # The state cookie is spent with the sign-in.
    assert "oauth-state" not in c.cookies
    async with backend.raw(db_url) as raw:
        account = await raw.one("accounts", provider_id="github", provider_account_id=github_id)
    assert account is not None
    assert account["user_id"] == signed_up["id"]
    assert account["compound_id"] == sha256_hex(f"github:{github_id}")
    assert account["provider_type"] == "oauth" and account["access_token"] == "gho_x"

    # Signed out, the same provider account signs the same user in.
    await c.post("/signout")
    assert (await c.get("/me")).status_code == 401
    again = await oauth(site, c, "github", provider_account_id=github_id)
    assert again.json()["user"]["id"] == signed_up["id"]
    mine = await c.get(
        "/me/accounts", params={"provider": "github", "provider_account_id": github_id}
    )
    assert mine.status_code == 200 and mine.json() == {"provider": "github", "scope": "read:user"}

    # A new provider account with an email the provider vouches for makes a verified user.
    c.cookies.clear()
    fresh_address = email()
    fresh = await oauth(
        site, c, "gitlab", provider_account_id="42", email=fresh_address, email_verified=True
    )
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["user"]["id"] != signed_up["id"]
    assert fresh.json()["user"]["email"] == fresh_address
    assert fresh.json()["user"]["email_verified"] is not None
    assert (await c.get("/oauth/bitbucket/signin")).status_code == 404


async def test_oauth_callback_takes_no_identity_from_the_client(site: Site) -> None:
    # The victim has a linked GitHub account; the attacker knows its id (it is public).
    c = site.client
    victim_github = uuid.uuid4().hex
    victim = (
        await oauth(site, c, "github", provider_account_id=victim_github, email=email())
    ).json()["user"]
    async with site.client_like() as attacker:
        claims = {"provider_account_id": victim_github, "email": victim["email"]}
        posted = await attacker.post("/oauth/github/callback", json=claims)
        assert posted.status_code != 200
        queried = await attacker.get("/oauth/github/callback", params=claims)
        assert queried.status_code != 200
        # A state of the attacker's own and a made-up code: the provider refuses the code.
        state, redirect_uri = await start_oauth(attacker, "github")
        forged = await attacker.get(
            urlsplit(redirect_uri).path, params={"code": victim_github, "state": state, **claims}
        )
        assert forged.status_code == 401
        assert COOKIE not in attacker.cookies
        assert (await attacker.get("/me")).status_code == 401
        # Signing in at the provider as themselves signs the attacker in as themselves.
        own = await oauth(site, attacker, "github", provider_account_id=uuid.uuid4().hex)
        assert own.status_code == 200 and own.json()["user"]["id"] != victim["id"]


async def test_oauth_callback_needs_the_state_of_this_browser(site: Site) -> None:
    # Login CSRF: the attacker signs in at the provider, keeps the callback URL, and makes the
    # victim's browser open it, hoping to sign the victim in to (or link) the attacker's account.
    provider = site.providers["github"]
    async with site.client_like() as attacker:
        state, redirect_uri = await start_oauth(attacker, "github")
    code = provider.sign_in(OAuthIdentity(provider_account_id=uuid.uuid4().hex), redirect_uri)
    path = urlsplit(redirect_uri).path
    victim = site.client
    no_flow = await victim.get(path, params={"code": code, "state": state})
    assert no_flow.status_code == 400, no_flow.text
    # The victim's own flow in progress does not make the attacker's state acceptable.
    await start_oauth(victim, "github")
    other_flow = await victim.get(path, params={"code": code, "state": state})
    assert other_flow.status_code == 400
    unicode_state = await victim.get(path, params={"code": code, "state": "é" * 43})
    assert unicode_state.status_code == 400
    assert COOKIE not in victim.cookies
    # Refused before the code ever reached the provider.
    assert code not in provider.exchanged


async def test_oauth_never_links_by_email(site: Site, backend: Backend, db_url: str) -> None:
    c = site.client
    # An address someone registered but nobody verified, and one its owner verified.
    unverified = email()
    await c.post("/signup", json={"email": unverified})
    verified = email()
    await c.post("/magic-link", json={"email": verified})
    await c.get(site.link_for(verified))
    c.cookies.clear()
    for address in (unverified, verified):
        account_id = uuid.uuid4().hex
        r = await oauth(
            site, c, "github", provider_account_id=account_id, email=address, email_verified=True
        )
        assert r.status_code == 409, r.text
        assert COOKIE not in c.cookies
        async with backend.raw(db_url) as raw:
            linked = await raw.count(
                "accounts", provider_id="github", provider_account_id=account_id
            )
        assert linked == 0

    # An email the provider does not vouch for is not given to the new user, so the real
    # owner, signing in by magic link later, gets an account of their own.
    claimed = email()
    squatter_id = uuid.uuid4().hex
    squatter = await oauth(site, c, "gitlab", provider_account_id=squatter_id, email=claimed)
    assert squatter.status_code == 200, squatter.text
    assert squatter.json()["user"]["email"] is None
    c.cookies.clear()
    await c.post("/magic-link", json={"email": claimed})
    owner = (await c.get(site.link_for(claimed))).json()["user"]
    assert owner["email"] == claimed and owner["id"] != squatter.json()["user"]["id"]


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
    address = email()
    await c.post("/signup", json={"email": address})
    await c.get(site.link_for(address))
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
