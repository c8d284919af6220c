"""The gate in front of PyMongo's pool: one adapter's calls let in first come, first served.

PyMongo's pool lets a newcomer take a connection that a waiter was woken for, so under more
callers than connections some wait until their timeout (docs/mongodb-design.md has the
figures). The line here is :class:`~asyncauth._pool.FairPool`, the one the SQL drivers use,
lending permits instead of connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

from ._pool import FairPool

__all__ = ["Gate"]


class _Permit:
    """One place at the gate: one operation in flight, one PyMongo connection."""

    __slots__ = ()


_PERMIT: Final = _Permit()


async def _permit() -> _Permit:
    return _PERMIT


class Gate:
    """At most ``size`` operations at once, the rest in line until ``timeout``.

    A waiter also leaves the line once ``down()`` says the deployment is down: the places may
    then be held for the whole timeout by calls stuck on a server that went away, and the
    breaker, not the line, decides what happens next.
    """

    __slots__ = ("_down", "_permits")

    #: how often a waiter looks whether the deployment went down
    CHECK_EVERY: Final = 0.1

    def __init__(self, size: int, timeout: float, down: Callable[[], bool]) -> None:
        self._permits: FairPool[_Permit] = FairPool("MongoDB", _permit, size=size, timeout=timeout)
        self._down = down

    def enter(self) -> Awaitable[object]:
        """Await it for a place: a permit, or None when the deployment went down while
        waiting. :class:`~asyncauth.BackendError` when no place came free within ``timeout``.
        """
        permits = self._permits
        if permits.idle or permits.opened < permits.size:
            # One is free: the pool's own call, awaited by the caller (the hot path: no
            # coroutine of ours around it, no task, no timer).
            return permits.acquire()
        return self._wait()

    async def _wait(self) -> _Permit | None:
        permits = self._permits
        waiting = asyncio.ensure_future(permits.acquire())
        try:
            while True:
                done, _ = await asyncio.wait((waiting,), timeout=self.CHECK_EVERY)
                if done:
                    return waiting.result()  # or raises the pool's timeout
                if self._down():
                    # A place handed over in this very turn goes on to the next in line
                    # (FairPool passes it on when the cancelled wait resumes).
                    waiting.cancel()
                    return None
        except BaseException:
            if not waiting.cancel() and not waiting.cancelled() and waiting.exception() is None:
                permits.release(waiting.result())  # cancelled just after getting a place
            raise

    def leave(self) -> None:
        """Give the place back: to the first in line, else free."""
        self._permits.release(_PERMIT)
