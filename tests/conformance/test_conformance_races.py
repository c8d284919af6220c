"""Races the contract settles in the database, on every backend: a conditional session slide
that exactly one of many concurrent callers wins, and writes for a user that a concurrent
``delete_user`` removes, which must never leave a row pointing to no user.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import asyncauth
from asyncauth import Adapter, DuplicateError, NotFoundError, Session
from asyncauth.nextauth_v3 import NextAuthV3, V3Session, V3VerificationRequest
from tests._backends import Backend
from tests._raw import Raw
from tests.conformance._support import (
    account_for,
    authenticator_for,
    in_future,
    make_user,
    ms,
    stored,
    unique,
)

pytestmark = [pytest.mark.anyio, pytest.mark.conformance]


# -- the conditional slide ------------------------------------------------------------------


async def test_a_conditional_session_update_is_won_exactly_once(db_url: str, raw: Raw) -> None:
    # A pool wide enough that the callers really race on the server, not in a queue.
    async with asyncauth.connect(db_url, pool_size=10) as auth:
        user = await make_user(auth)
        old = ms(in_future(days=1))
        session = await auth.create_session(user.id, old)
        bound = old + timedelta(milliseconds=1)
        results: dict[int, Session | None] = {}

        async def slide(i: int) -> None:
            # Each caller writes its own expiry, so the stored one tells whose write landed.
            new = old + timedelta(days=30, milliseconds=i)
            results[i] = await auth.update_session(
                session.session_token, expires=new, if_expires_before=bound
            )

        async with anyio.create_task_group() as group:
            for i in range(50):
                group.start_soon(slide, i)

    winners = {i: s for i, s in results.items() if s is not None}
    assert len(results) == 50
    assert len(winners) == 1, f"{len(winners)} of 50 conditional updates wrote"
    ((i, won),) = winners.items()
    assert won == Session(session.session_token, user.id, old + timedelta(days=30, milliseconds=i))
    # No loser wrote after the winner: the stored expiry is the winner's.
    key = {"session_token": session.session_token}
    assert await stored(raw, "sessions", "expires", **key) == won.expires


async def test_a_conditional_session_update_that_is_not_due_writes_nothing(
    adapter: Adapter, raw: Raw
) -> None:
    user = await make_user(adapter)
    expires = ms(in_future(days=10))
    session = await adapter.create_session(user.id, expires)
    token = session.session_token
    later = ms(in_future(days=30))

    # Stored expiry equal to the bound is not earlier than it: nothing is written.
    assert await adapter.update_session(token, expires=later, if_expires_before=expires) is None
    assert await stored(raw, "sessions", "expires", session_token=token) == expires
    assert (
        await adapter.update_session(
            "no-such-token", expires=later, if_expires_before=in_future(days=40)
        )
        is None
    )
    # Earlier than the bound: written, and the slid session is returned.
    bound = expires + timedelta(milliseconds=1)
    slid = await adapter.update_session(token, expires=later, if_expires_before=bound)
    assert slid == Session(token, user.id, later)
    assert await stored(raw, "sessions", "expires", session_token=token) == later
    # Without the keyword, update_session still writes unconditionally.
    again = ms(in_future(days=31))
    assert await adapter.update_session(token, expires=again) == Session(token, user.id, again)


# -- writes for a missing user --------------------------------------------------------------


async def test_writes_for_a_missing_user_raise_not_found(adapter: Adapter, raw: Raw) -> None:
    user = await make_user(adapter)
    assert await adapter.delete_user(user.id) is not None
    account = account_for(user.id)
    authenticator = authenticator_for(user.id)

    with pytest.raises(NotFoundError):
        await adapter.link_account(account)
    with pytest.raises(NotFoundError):
        await adapter.create_session(user.id, in_future(days=1), "tok-" + user.id + "-gone")
    with pytest.raises(NotFoundError):
        await adapter.create_authenticator(authenticator)

    assert await raw.count("accounts", user_id=user.id) == 0
    assert await raw.count("sessions", user_id=user.id) == 0
    assert await raw.count("authenticators", user_id=user.id) == 0
    # Nothing was left behind to block the provider account for a live user.
    other = await make_user(adapter)
    linked = account_for(
        other.id, provider=account.provider, provider_account_id=account.provider_account_id
    )
    assert await adapter.link_account(linked) == linked


ROUNDS = 200


async def test_writes_racing_delete_user_leave_no_orphans(
    fresh_db_url: str, fresh_raw: Raw
) -> None:
    """Each round races link_account, create_session and create_authenticator against
    delete_user of the same user: each write either lands before the delete (and goes with
    the user) or raises NotFoundError; none survives its user."""
    await _race_writes_against_delete_user(fresh_db_url, fresh_raw)


async def test_writes_racing_delete_user_leave_no_orphans_without_mongodb_transactions(
    backend: Backend,
) -> None:
    """The same on MongoDB's other delete_user path, the one for servers without
    transactions (a standalone mongod)."""
    if backend.marker != "mongodb":
        pytest.skip("MongoDB's fallback without transactions")
    async with backend.provision() as url:
        await asyncauth.bootstrap(url)
        async with backend.raw(url) as raw:
            await _race_writes_against_delete_user(url, raw, transactions=False)


async def _race_writes_against_delete_user(url: str, raw: Raw, **options: Any) -> None:
    outcomes = {"written": 0, "refused": 0}
    async with asyncauth.connect(url, pool_size=8, **options) as auth:

        async def write(call: Awaitable[object], lag: int) -> None:
            # A round's writes start at staggered points of its delete_user (each checkpoint
            # lets other tasks run), so they land before, during and after it.
            for _ in range(lag):
                await anyio.lowlevel.checkpoint()
            try:
                await call
            except NotFoundError:
                outcomes["refused"] += 1
            else:
                outcomes["written"] += 1

        async def round_(n: int) -> None:
            user = await make_user(auth)
            lag = n * 7 % 40
            async with anyio.create_task_group() as group:
                group.start_soon(auth.delete_user, user.id)
                group.start_soon(write, auth.link_account(account_for(user.id)), lag)
                group.start_soon(write, auth.create_session(user.id, in_future(days=1)), lag)
                group.start_soon(write, auth.create_authenticator(authenticator_for(user.id)), lag)

        # Ten rounds at a time: enough overlap to race, bounded so the test stays fast.
        for start in range(0, ROUNDS, 10):
            async with anyio.create_task_group() as group:
                for n in range(start, start + 10):
                    group.start_soon(round_, n)

    # Every user is gone, so whatever is left in these tables is an orphan.
    assert await raw.count("users") == 0
    left = {t: await raw.count(t) for t in ("accounts", "sessions", "authenticators")}
    assert left == {"accounts": 0, "sessions": 0, "authenticators": 0}
    assert outcomes["written"] + outcomes["refused"] == 3 * ROUNDS


async def test_a_duplicate_for_a_live_user_is_still_a_duplicate(adapter: Adapter) -> None:
    user = await make_user(adapter)
    account = account_for(user.id)
    await adapter.link_account(account)
    with pytest.raises(DuplicateError):
        await adapter.link_account(account)
    authenticator = authenticator_for(user.id)
    await adapter.create_authenticator(authenticator)
    with pytest.raises(DuplicateError):
        await adapter.create_authenticator(authenticator)


# -- NextAuth v3 --------------------------------------------------------------------------

V3_SECRET = "races-secret"


async def _noop_send(**message: object) -> None:
    del message


async def test_v3_a_magic_link_is_got_by_exactly_one_of_20_callers(db_url: str, raw: Raw) -> None:
    identifier, token = f"{unique('races-')}@example.com", unique("raw-token-")
    results: list[V3VerificationRequest | None] = []
    async with asyncauth.connect(db_url, pool_size=10) as auth:
        v3 = NextAuthV3(auth, secret=V3_SECRET)
        created = await v3.create_verification_request(
            identifier, "https://app.example.com/x", token, send=_noop_send, max_age=600
        )

        async def get() -> None:
            results.append(await v3.get_verification_request(identifier, token))

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(get)

        winners = [r for r in results if r is not None]
        assert len(results) == 20
        assert len(winners) == 1, f"{len(winners)} of 20 callers got the request"
        assert (winners[0].identifier, winners[0].token) == (created.identifier, created.token)
        assert await raw.count("verification_requests", token=created.token) == 0
        # v3's flow deletes it afterwards: a no-op now, and still nothing to get.
        await v3.delete_verification_request(identifier, token)
        assert await v3.get_verification_request(identifier, token) is None


async def test_v3_a_due_session_is_slid_by_exactly_one_of_many_callers(
    db_url: str, raw: Raw
) -> None:
    max_age, update_age = 30 * 86400, 86400
    async with asyncauth.connect(db_url, pool_size=10) as auth:
        v3 = NextAuthV3(auth, secret=V3_SECRET, max_age=max_age, update_age=update_age)
        user = await make_user(auth)
        session = await v3.create_session(user)
        # Signed in two days ago: due to slide.
        token = session.session_token
        due = ms(in_future(days=28))
        assert await raw.update("sessions", {"session_token": token}, expires=due) == 1
        read = await v3.get_session(token)
        assert read is not None and read.expires == due
        results: list[V3Session | None] = []

        async def slide() -> None:
            results.append(await v3.update_session(read))

        async with anyio.create_task_group() as group:
            for _ in range(30):
                group.start_soon(slide)

    winners = [r for r in results if r is not None]
    assert len(results) == 30
    assert len(winners) == 1, f"{len(winners)} of 30 callers wrote the session"
    assert await stored(raw, "sessions", "expires", session_token=token) == winners[0].expires
