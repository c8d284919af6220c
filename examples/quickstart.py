"""The README's example, runnable: a user, an OAuth account, a session, read back at once.

Usage: python examples/quickstart.py [URL]   (default: a SQLite file, quickstart.db)
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone

import anyio

import asyncauth
from asyncauth import Account


async def main(url: str) -> None:
    async with asyncauth.connect(url, bootstrap=True) as auth:
        user = await auth.get_user_by_email("ada@example.com") or await auth.create_user(
            email="ada@example.com", name="Ada Lovelace"
        )
        if await auth.get_account("1234", "github") is None:
            await auth.link_account(Account(user.id, "oauth", "github", "1234"))
        expires = datetime.now(timezone.utc) + timedelta(days=30)
        session = await auth.create_session(user.id, expires)
        found = await auth.get_session_and_user(session.session_token)
        assert found is not None and found[1] == user
        print(f"user {user.id} <{user.email}> signed in; session expires {found[0].expires:%c}")
        print(f"linked via github: {await auth.get_user_by_account('github', '1234') == user}")
        purged = await auth.purge_expired()
        print(f"purged {purged.sessions} expired sessions")


if __name__ == "__main__":
    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else "sqlite:///quickstart.db")
