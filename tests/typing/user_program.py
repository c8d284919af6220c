"""A user's program, type-checked with ``mypy --strict`` against the installed wheel.

scripts/wheel-check runs mypy on this file from outside the checkout, so asyncauth's types
come from the wheel's ``py.typed``, as a user's type checker sees them: a mistake in the
public annotations (an ``Any`` leaking out, a missing marker file) fails the test command.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import Depends, FastAPI

import asyncauth
from asyncauth import Account, Adapter, Session, User
from asyncauth.integrations.starlette import (
    Authenticated,
    NextAuthSessions,
    SessionCookieMiddleware,
    lifespan,
)
from asyncauth.nextauth_v3 import NextAuthV3, V3Session


async def readme_example() -> tuple[Session, User]:
    async with asyncauth.connect(bootstrap=True) as auth:
        user: User = await auth.create_user(email="ada@example.com", name="Ada")
        await auth.link_account(Account(user.id, "oauth", "github", "1234"))
        expires = datetime.now(timezone.utc) + timedelta(days=30)
        session: Session = await auth.create_session(user.id, expires)
        found = await auth.get_session_and_user(session.session_token)
        assert found is not None
        same: User | None = await auth.get_user_by_account("github", "1234")
        assert same == user
        return found


async def custom_model(auth: Adapter) -> str | None:
    user = await auth.create_user(email="bob@example.com", phone="+44 20 7946 0000")
    phone = (user.extra or {}).get("phone")
    return phone if isinstance(phone, str) else None


async def v3_surface(auth: Adapter) -> V3Session | None:
    v3 = NextAuthV3(auth, secret="a long random secret")
    user = await v3.create_user({"email": "carol@example.com"})
    session: V3Session = await v3.create_session(user)
    return await v3.get_session(session.session_token)


async def operations(url: str) -> bool:
    applied: list[int] = await asyncauth.bootstrap(url)
    report: asyncauth.SchemaReport = await asyncauth.check(url)
    auth = await asyncauth.connect(url)
    try:
        again: list[int] = await auth.bootstrap()
        drift: asyncauth.SchemaReport = await auth.check()
        seen: list[tuple[str, int]] = []
        purged: asyncauth.PurgeResult = await auth.purge_expired(
            batch_size=500, progress=lambda kind, count: seen.append((kind, count))
        )
    finally:
        await auth.aclose()
    return report.ok and drift.ok and not again and purged.sessions >= 0 and applied is not None


sessions = NextAuthSessions(max_age=30 * 86400, update_age=86400)
app = FastAPI(lifespan=lifespan("sqlite:///:memory:"))
app.add_middleware(SessionCookieMiddleware)


@app.get("/me")
async def me(auth: Annotated[Authenticated, Depends(sessions)]) -> dict[str, str | None]:
    return {"id": auth.user.id, "email": auth.user.email}
