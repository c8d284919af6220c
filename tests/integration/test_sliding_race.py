"""Many concurrent requests carrying one due session cookie slide it once, on every backend:
one ``update_session`` write and one ``Set-Cookie`` among all the responses."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import asyncauth
from asyncauth import Session
from asyncauth.integrations.starlette import (
    COOKIE_NAME,
    NextAuthSessions,
    SessionCookieMiddleware,
    lifespan,
)
from tests._raw import Raw

pytestmark = pytest.mark.anyio
UTC = timezone.utc
DAY = 86_400
REQUESTS = 100


class CountingAdapter:
    """The app's adapter, counting the session writes it reports (a Session back)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0
        self.writes: list[Session] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def update_session(self, session_token: str, **kwargs: Any) -> Session | None:
        self.calls += 1
        result: Session | None = await self.inner.update_session(session_token, **kwargs)
        if result is not None:
            self.writes.append(result)
        return result


async def test_concurrent_requests_slide_a_due_session_once(db_url: str, raw: Raw) -> None:
    sessions = NextAuthSessions(max_age=30 * DAY, update_age=DAY)

    async def me(request: Request) -> JSONResponse:
        auth = await sessions(request)
        return JSONResponse({"id": auth.user.id, "expires": auth.session.expires.isoformat()})

    app = Starlette(
        routes=[Route("/me", me)],
        middleware=[Middleware(SessionCookieMiddleware)],
        lifespan=lifespan(db_url, pool_size=10),
    )
    async with asyncauth.connect(db_url) as auth:
        user = await auth.create_user()
        # Signed in two days ago: due to slide.
        due = datetime.now(UTC) + timedelta(days=28)
        session = await auth.create_session(user.id, due)

    responses: list[httpx.Response] = []
    async with app.router.lifespan_context(app):
        counting = CountingAdapter(app.state.auth)
        app.state.auth = counting
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            headers = {"Cookie": f"{COOKIE_NAME}={session.session_token}"}

            async def get() -> None:
                responses.append(await client.get("/me", headers=headers))

            async with anyio.create_task_group() as group:
                for _ in range(REQUESTS):
                    group.start_soon(get)

    assert len(responses) == REQUESTS
    assert all(r.status_code == 200 and r.json()["id"] == user.id for r in responses)
    cookies = [r.headers["set-cookie"] for r in responses if "set-cookie" in r.headers]
    assert len(counting.writes) == 1, f"{len(counting.writes)} of {counting.calls} slides wrote"
    assert len(cookies) == 1, f"{len(cookies)} responses sent the cookie back"
    (written,) = counting.writes
    stored = await raw.one("sessions", session_token=session.session_token)
    assert stored is not None and stored["expires"] == written.expires
    assert written.expires > due + timedelta(days=1)
