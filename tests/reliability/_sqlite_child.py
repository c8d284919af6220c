"""A separate process that the SQLite fault tests kill in the middle of a transaction.

``python -m tests.reliability._sqlite_child MODE DB_PATH MARKER PATTERN [USER_ID]`` opens an
adapter on ``DB_PATH`` and runs ``bootstrap`` (MODE ``bootstrap``) or ``delete_user(USER_ID)``
(MODE ``delete_user``). When the connection starts a statement containing ``PATTERN``, the
trace callback writes ``MARKER`` (atomically: the test polls for it) and blocks forever: the
process is then inside the transaction, with earlier statements done and uncommitted, and
the test SIGKILLs it there.
"""

from __future__ import annotations

import asyncio
import sys
import time

import asyncauth
from tests._handshake import write_atomically


async def main(mode: str, path: str, marker: str, pattern: str, user_id: str = "") -> None:
    # One connection, so the traced connection is the one that runs the operation.
    auth = await asyncauth.connect(f"sqlite:///{path}", pool_size=1, timeout=30)

    def trace(statement: str) -> None:
        if pattern in statement:
            write_atomically(marker, statement)
            while True:  # parked inside the transaction until SIGKILL
                time.sleep(1)

    conn = await auth.driver.pool.acquire()  # the pool's only connection
    await conn.set_trace_callback(trace)
    auth.driver.pool.release(conn)
    if mode == "bootstrap":
        await auth.bootstrap()
    else:
        await auth.delete_user(user_id)
    # Reaching this line means the pattern never ran: the parent reports it.
    sys.stdout.write("finished without being parked\n")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
