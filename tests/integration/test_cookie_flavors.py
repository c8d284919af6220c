"""NextAuthSessions reads NextAuth v4's or Auth.js v5's session cookie, as the app chooses."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import asyncauth
from asyncauth.integrations.starlette import NextAuthSessions, lifespan

pytestmark = pytest.mark.anyio


def _request(scheme: str, cookies: dict[str, str]) -> Request:
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return Request(
        {
            "type": "http",
            "scheme": scheme,
            "server": ("t", 443 if scheme == "https" else 80),
            "path": "/",
            "headers": [(b"cookie", cookie.encode())] if cookie else [],
        }
    )


@pytest.mark.parametrize(
    ("flavor", "scheme", "cookies", "expected"),
    [
        ("next-auth", "http", {}, "next-auth.session-token"),  # the default, as before
        ("next-auth", "https", {}, "__Secure-next-auth.session-token"),
        ("authjs", "http", {}, "authjs.session-token"),
        ("authjs", "https", {}, "__Secure-authjs.session-token"),
        ("both", "http", {}, "authjs.session-token"),
        ("both", "http", {"next-auth.session-token": "a"}, "next-auth.session-token"),
        (
            "both",
            "https",
            {"__Secure-next-auth.session-token": "a", "__Secure-authjs.session-token": "b"},
            "__Secure-authjs.session-token",
        ),
    ],
)
def test_cookie_name_per_flavor(
    flavor: str, scheme: str, cookies: dict[str, str], expected: str
) -> None:
    assert NextAuthSessions(flavor=flavor).cookie_for(_request(scheme, cookies)) == expected
    if flavor == "next-auth":
        assert NextAuthSessions().cookie_for(_request(scheme, cookies)) == expected


def test_an_unknown_flavor_is_refused() -> None:
    with pytest.raises(ValueError, match="flavor must be one of"):
        NextAuthSessions(flavor="v6")


@pytest.mark.sqlite
async def test_an_authjs_cookie_signs_in_only_where_the_app_accepts_it(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    async with asyncauth.connect(url, bootstrap=True) as auth:
        user = await auth.create_user(email="v5@example.com")
        session = await auth.create_session(
            user.id, datetime.now(timezone.utc) + timedelta(days=20)
        )

    async def status(flavor: str) -> int:
        sessions = NextAuthSessions(flavor=flavor, slide=False)

        async def me(request: Request) -> JSONResponse:
            found = await sessions(request)
            return JSONResponse({"id": found.user.id})

        app = Starlette(routes=[Route("/me", me)], lifespan=lifespan(url))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                cookie = {"Cookie": f"authjs.session-token={session.session_token}"}
                return (await client.get("/me", headers=cookie)).status_code

    assert await status("next-auth") == 401
    assert await status("authjs") == 200
    assert await status("both") == 200
