"""The session read's own pool handling: it waits for a connection at most ``timeout``.

The read takes connections through a fast path of its own in each driver (no context
managers, a deadline armed only when it has to wait), so its timeout is checked here, on
every backend, with the pool's only connection held elsewhere.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

import asyncauth
from asyncauth import BackendError
from tests._backends import Backend
from tests.conformance._support import pool_held

pytestmark = pytest.mark.anyio


async def test_a_session_read_waits_for_a_connection_at_most_the_timeout(
    backend: Backend, db_url: str
) -> None:
    async with asyncauth.connect(db_url, pool_size=1, timeout=0.3) as auth:
        user = await auth.create_user(email=f"hot-{uuid.uuid4().hex}@example.com")
        expires = datetime.now(timezone.utc) + timedelta(days=1)
        session = await auth.create_session(user.id, expires)
        async with pool_held(auth, backend, db_url, 1):  # the only connection, held
            start = time.monotonic()
            with pytest.raises(BackendError):
                await auth.get_session_and_user(session.session_token)
            waited = time.monotonic() - start
        assert 0.25 <= waited < 3.0
        # The pool is whole again: the read gets the connection back.
        found = await auth.get_session_and_user(session.session_token)
        assert found is not None and found[1].id == user.id
