"""asyncauth.integrations.starlette in a plain Starlette app (no FastAPI), and its guards."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import Message
from starlette.websockets import WebSocket

import asyncauth
from asyncauth.integrations.starlette import (
    COOKIE_NAME,
    NextAuthSessions,
    SessionCookieMiddleware,
    lifespan,
)

pytestmark = pytest.mark.anyio
UTC = timezone.utc


def build(url: str, sessions: NextAuthSessions, *, middleware: bool = True) -> Starlette:
    async def me(request: Request) -> JSONResponse:
        auth = await sessions(request)
        # Resolved once per request: a second call reuses the first answer.
        assert await sessions.optional(request) is auth
        return JSONResponse({"id": auth.user.id, "expires": auth.session.expires.isoformat()})

    async def public(request: Request) -> JSONResponse:
        found = await sessions.optional(request)
        return JSONResponse({"signed_in": found is not None})

    return Starlette(
        routes=[Route("/me", me), Route("/public", public)],
        middleware=[Middleware(SessionCookieMiddleware)] if middleware else [],
        lifespan=lifespan(url, state_key="store"),
    )


@pytest.fixture
async def session_token(db_url: str, anyio_backend: str) -> AsyncIterator[str]:
    async with asyncauth.connect(db_url) as auth:
        user = await auth.create_user()
        session = await auth.create_session(user.id, datetime.now(UTC) + timedelta(days=1))
        yield session.session_token


async def call(app: Starlette, path: str, token: str | None) -> httpx.Response:
    headers = {} if token is None else {"Cookie": f"{COOKIE_NAME}={token}"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(path, headers=headers)


async def test_plain_starlette_app(db_url: str, session_token: str) -> None:
    sessions = NextAuthSessions(max_age=86400, update_age=3600, state_key="store")
    app = build(db_url, sessions)
    assert (await call(app, "/me", None)).status_code == 401
    assert (await call(app, "/public", None)).json() == {"signed_in": False}
    # max_age 1 day, session expiring in 1 day: just made, inside update_age, not slid.
    r = await call(app, "/me", session_token)
    assert r.status_code == 200 and "set-cookie" not in r.headers
    assert (await call(app, "/public", session_token)).json() == {"signed_in": True}


async def test_missing_middleware_is_reported_on_first_use(db_url: str, session_token: str) -> None:
    sessions = NextAuthSessions(state_key="store")
    with pytest.raises(RuntimeError, match="SessionCookieMiddleware"):
        await call(build(db_url, sessions, middleware=False), "/me", session_token)
    quiet = NextAuthSessions(state_key="store", slide=False)
    r = await call(build(db_url, quiet, middleware=False), "/me", session_token)
    assert r.status_code == 200


async def test_missing_lifespan_is_reported(db_url: str, session_token: str) -> None:
    sessions = NextAuthSessions()  # looks for app.state.auth; the app stores "store"
    with pytest.raises(RuntimeError, match=r"app\.state\.auth"):
        await call(build(db_url, sessions), "/me", session_token)


def test_bad_ages_are_refused() -> None:
    with pytest.raises(ValueError, match="update_age"):
        NextAuthSessions(update_age=-1)


def test_import_asyncauth_does_not_import_starlette() -> None:
    code = "import sys, asyncauth; sys.exit('starlette' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


async def websocket_json(app: Starlette, cookie: str | None) -> list[Message]:
    """One WebSocket session over bare ASGI (httpx has no WebSocket transport)."""
    headers = [] if cookie is None else [(b"cookie", cookie.encode())]
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("t", 80),
        "client": ("c", 1),
        "subprotocols": [],
    }
    inbox: list[Message] = [{"type": "websocket.connect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        if inbox:
            return inbox.pop(0)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_websocket_reads_the_session_without_sliding(db_url: str, session_token: str) -> None:
    # Default ages (30 days, update 1 day) and a session with 1 day left: due to slide, but a
    # WebSocket handshake has no response to carry the cookie, so it is only read.
    sessions = NextAuthSessions(state_key="store")

    async def ws(websocket: WebSocket) -> None:
        found = await sessions.optional(websocket)
        await websocket.accept()
        await websocket.send_json({"id": None if found is None else found.user.id})
        await websocket.close()

    app = Starlette(
        routes=[WebSocketRoute("/ws", ws)],
        middleware=[Middleware(SessionCookieMiddleware)],
        lifespan=lifespan(db_url, state_key="store"),
    )
    async with app.router.lifespan_context(app):
        signed_in = await websocket_json(app, f"{COOKIE_NAME}={session_token}")
        anonymous = await websocket_json(app, None)
    kinds = [m["type"] for m in signed_in]
    assert kinds == ["websocket.accept", "websocket.send", "websocket.close"]
    assert json.loads(signed_in[1]["text"])["id"] is not None
    assert json.loads(anonymous[1]["text"]) == {"id": None}
    async with asyncauth.connect(db_url) as auth:
        pair = await auth.get_session_and_user(session_token)
    assert pair is not None and pair[0].expires < datetime.now(UTC) + timedelta(days=2)


async def test_two_instances_on_one_route_each_resolve_their_own_cookie(
    db_url: str, session_token: str
) -> None:
    # A user cookie and an admin cookie (its own name, its own adapter) on one route: the
    # admin check must not reuse the user's session resolved earlier in the same request.
    users = NextAuthSessions(state_key="store", slide=False)
    admins = NextAuthSessions(state_key="admin", cookie_name="admin.session-token", slide=False)

    async def admin_page(request: Request) -> JSONResponse:
        user = await users.optional(request)
        admin = await admins(request)  # 401 unless the admin cookie holds a live session
        return JSONResponse({"user": user and user.user.id, "admin": admin.user.id})

    @asynccontextmanager
    async def both(app: Starlette) -> AsyncIterator[None]:
        async with (
            lifespan(db_url, state_key="store")(app),
            lifespan(db_url, state_key="admin")(app),
        ):
            yield

    app = Starlette(routes=[Route("/admin", admin_page)], lifespan=both)
    async with asyncauth.connect(db_url) as auth:
        boss = await auth.create_user()
        boss_session = await auth.create_session(boss.id, datetime.now(UTC) + timedelta(days=1))
        pair = await auth.get_session_and_user(session_token)
    assert pair is not None
    user_id = pair[1].id
    user_cookie = f"{COOKIE_NAME}={session_token}"
    admin_cookie = f"admin.session-token={boss_session.session_token}"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            as_user = await client.get("/admin", headers={"Cookie": user_cookie})
            as_both = await client.get(
                "/admin", headers={"Cookie": f"{user_cookie}; {admin_cookie}"}
            )
            as_admin = await client.get("/admin", headers={"Cookie": admin_cookie})
    assert as_user.status_code == 401, as_user.text
    assert as_both.json() == {"user": user_id, "admin": boss.id}
    assert as_admin.json() == {"user": None, "admin": boss.id}
