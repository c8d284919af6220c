"""The Starlette integration's behaviours a mutation run found unguarded (mutation-report.md,
gaps 2, 8, 9 and the minor STAR-006/059), on every backend: the slid cookie's attributes, a
custom cookie name, the lifespan bootstrapping by default, sign-out's cookie.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import asyncauth
from asyncauth.integrations.starlette import (
    COOKIE_NAME,
    SECURE_COOKIE_NAME,
    NextAuthSessions,
    SessionCookieMiddleware,
    lifespan,
)
from tests._backends import Backend

pytestmark = pytest.mark.anyio
UTC = timezone.utc
MAX_AGE = 86_400
UPDATE_AGE = 3_600


def build(url: str, sessions: NextAuthSessions, **lifespan_options: object) -> Starlette:
    async def me(request: Request) -> JSONResponse:
        auth = await sessions(request)
        return JSONResponse({"id": auth.user.id})

    async def public(request: Request) -> JSONResponse:
        return JSONResponse({"signed_in": await sessions.optional(request) is not None})

    async def signout(request: Request) -> JSONResponse:
        response = JSONResponse({"ok": True})
        sessions.clear_cookie(request, response)
        return response

    return Starlette(
        routes=[Route("/me", me), Route("/public", public), Route("/signout", signout)],
        middleware=[Middleware(SessionCookieMiddleware)],
        lifespan=lifespan(url, **lifespan_options),  # type: ignore[arg-type]
    )


async def get(
    app: Starlette, path: str, cookies: dict[str, str], *, base_url: str = "http://t"
) -> httpx.Response:
    header = "; ".join(f"{name}={value}" for name, value in cookies.items())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            return await client.get(path, headers={"Cookie": header} if header else {})


@pytest.fixture
async def due_token(db_url: str, anyio_backend: str) -> AsyncIterator[str]:
    """A session due to slide: it expires in 1 h, and max_age - update_age is 23 h."""
    async with asyncauth.connect(db_url) as auth:
        user = await auth.create_user()
        session = await auth.create_session(user.id, datetime.now(UTC) + timedelta(hours=1))
        yield session.session_token


def attributes(header: str) -> tuple[str, dict[str, str]]:
    """A Set-Cookie header's ``name=value`` and its attributes (lower-cased names)."""
    first, *rest = (part.strip() for part in header.split(";"))
    attrs: dict[str, str] = {}
    for part in rest:
        key, _, value = part.partition("=")
        attrs[key.lower()] = value
    return first, attrs


@pytest.mark.parametrize(
    ("base_url", "name", "secure"),
    [("http://t", COOKIE_NAME, False), ("https://t", SECURE_COOKIE_NAME, True)],
)
async def test_the_slid_cookie_keeps_nextauths_attributes(
    db_url: str, due_token: str, base_url: str, name: str, secure: bool
) -> None:
    sessions = NextAuthSessions(max_age=MAX_AGE, update_age=UPDATE_AGE)
    started = datetime.now(UTC)
    r = await get(build(db_url, sessions), "/me", {name: due_token}, base_url=base_url)
    assert r.status_code == 200, r.text
    headers = r.headers.get_list("set-cookie")
    assert len(headers) == 1, headers
    pair, attrs = attributes(headers[0])
    assert pair == f"{name}={due_token}"
    assert "httponly" in attrs  # never readable by the page's JavaScript
    assert attrs.get("samesite", "").lower() == "lax"
    assert attrs.get("path") == "/"
    assert ("secure" in attrs) is secure
    expires = datetime.strptime(attrs["expires"], "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    # The slid expiry: now + max_age (to the second, as the header says it).
    assert started + timedelta(seconds=MAX_AGE - 2) <= expires
    assert expires <= datetime.now(UTC) + timedelta(seconds=MAX_AGE + 1)


async def test_a_custom_cookie_name_is_read_and_resent(db_url: str, due_token: str) -> None:
    sessions = NextAuthSessions(max_age=MAX_AGE, update_age=UPDATE_AGE, cookie_name="x")
    app = build(db_url, sessions)
    # The default name is not looked at when another is configured.
    assert (await get(app, "/public", {COOKIE_NAME: due_token})).json() == {"signed_in": False}
    r = await get(app, "/me", {"x": due_token})
    assert r.status_code == 200, r.text
    headers = r.headers.get_list("set-cookie")
    assert len(headers) == 1 and attributes(headers[0])[0] == f"x={due_token}", headers
    # Over HTTPS too: a configured name is used as it is, never prefixed.
    r = await get(app, "/me", {"x": due_token}, base_url="https://t")
    assert r.status_code == 200, r.text


async def test_sign_out_expires_the_cookie_with_the_same_attributes(db_url: str) -> None:
    sessions = NextAuthSessions()
    r = await get(build(db_url, sessions), "/signout", {}, base_url="https://t")
    headers = r.headers.get_list("set-cookie")
    assert len(headers) == 1, headers
    pair, attrs = attributes(headers[0])
    assert pair.split("=")[0] == SECURE_COOKIE_NAME
    assert "httponly" in attrs and "secure" in attrs and attrs.get("path") == "/"
    assert attrs.get("max-age") == "0"


async def test_lifespan_bootstraps_an_empty_database_by_default(
    backend: Backend, db_url: str
) -> None:
    del db_url  # only so that an unreachable server is reported once per session
    sessions = NextAuthSessions(slide=False)
    async with backend.provision() as url:
        app = build(url, sessions)
        # An unknown token is looked up in the sessions table, which must exist by then.
        r = await get(app, "/public", {COOKIE_NAME: "no-such-token"})
        assert r.status_code == 200 and r.json() == {"signed_in": False}
        report = await asyncauth.check(url)
        assert report.ok, report.differences
        assert not hasattr(app.state, "auth")  # the adapter is gone after shutdown
