"""A small fair connection pool: the one every SQL driver's own pool is made of.

aiomysql's and aioodbc's pools wake waiters through an ``asyncio.Condition``: a connection
given back goes to the free list, and the caller that gave it back can take it again before
the woken waiter runs. Under a read load that keeps every connection busy, the same few
tasks then keep the pool to themselves and everyone else waits until their timeout (the
reliability suite's mixed load saw 242 callers starve that way over ODBC, and MySQL stall
in one run of two). Here a connection coming back goes straight to the first caller in line,
and a free connection is only ever idle when nobody waits. asyncpg's pool is fair enough but
wraps each connection in a proxy and releases it through a task of its own; lending bare
connections from here made PostgreSQL's session read cheaper than the bare driver's pool.

Deadlines cost no cancel scope and no timer per wait. Every caller waits the same
``timeout`` and the line is first come, first served, so the deadlines come in order too: one
loop timer, armed for the oldest waiter, expires whoever is overdue and re-arms itself for the
next. Under 256 callers on a pool of 10 a timer per wait (or anyio's ``fail_after``) kept a
heap of hundreds of timers busy and was a noticeable share of a session read.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

import anyio

from ._errors import BackendError

__all__ = ["BorrowedPool", "FairPool", "own_or_borrowed"]

C = TypeVar("C")


class _Slot:
    """Handed to a waiter instead of a connection: a place in the pool, open your own."""


_SLOT = _Slot()


class FairPool(Generic[C]):
    """At most ``size`` connections, lent first come, first served.

    ``connect`` opens a connection, ``alive`` says whether an idle or returned one can be
    lent again (a closed socket, an unfinished transaction: no), and ``discard`` closes one
    that cannot; it must not raise. Connections are opened when needed, never more than
    ``size`` at once, and a broken one frees its place for the next caller, which then opens a
    new connection itself: that is how the pool heals after the server restarts.
    """

    def __init__(
        self,
        name: str,
        connect: Callable[[], Awaitable[C]],
        *,
        size: int,
        timeout: float,
        alive: Callable[[C], bool] | None = None,
        discard: Callable[[C], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.name = name
        self.size = max(1, size)
        self.timeout = timeout
        self._connect = connect
        self._alive = alive
        self._discard = discard
        self._idle: list[C] = []
        # Connections open or being opened (lent, idle, or a slot handed to a waiter).
        self._count = 0
        # (deadline, future) in arrival order, so deadlines ascend.
        self._waiters: deque[tuple[float, asyncio.Future[C | _Slot | None]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self.closed = False

    @property
    def opened(self) -> int:
        """Connections open now, lent or idle (or being opened)."""
        return self._count

    @property
    def idle(self) -> int:
        """Connections open and free."""
        return len(self._idle)

    @property
    def waiting(self) -> int:
        """Callers waiting for a connection."""
        return len(self._waiters)

    async def fill(self, count: int) -> None:
        """Open connections until ``count`` are open (at start: proves the database is there)."""
        while self._count < min(count, self.size):
            self._count += 1
            try:
                conn = await self._open()
            except BaseException:
                self._count -= 1
                raise
            self._idle.append(conn)

    async def acquire(self) -> C:
        """A connection for the caller alone; :class:`BackendError` after ``timeout`` s."""
        while self._idle:
            conn = self._idle.pop()  # the most recently used: its socket is warm
            if self._alive is None or self._alive(conn):
                return conn
            self._drop(conn)
            self._count -= 1
        if self.closed:
            raise BackendError(f"the {self.name} adapter is closed")
        if self._count < self.size:
            self._count += 1
            return await self._open_or_pass_on()
        handed = await self._wait()
        if isinstance(handed, _Slot):
            return await self._open_or_pass_on()
        return handed

    async def _wait(self) -> C | _Slot:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[C | _Slot | None] = loop.create_future()
        deadline = loop.time() + self.timeout
        self._waiters.append((deadline, waiter))
        if self._timer is None:
            self._timer = loop.call_at(deadline, self._expire_overdue)
        try:
            handed = await waiter
        except asyncio.CancelledError:
            # Handed something and cancelled in the same turn: pass it on, or it is lost.
            if waiter.done() and not waiter.cancelled():
                got = waiter.result()
                if isinstance(got, _Slot):
                    self._give_slot()
                elif got is not None:
                    self.release(got)
            raise
        if handed is None:
            if self.closed:
                raise BackendError(f"the {self.name} adapter is closed")
            raise BackendError(
                f"no {self.name} connection free within {self.timeout} s (pool of {self.size})"
            )
        return handed

    def _expire_overdue(self) -> None:
        # The one timer: fail every waiter past its deadline, then sleep until the next one's.
        self._timer = None
        waiters = self._waiters
        loop = asyncio.get_running_loop()
        now = loop.time()
        while waiters:
            deadline, waiter = waiters[0]
            if waiter.done():
                waiters.popleft()  # served, cancelled or failed already
            elif deadline <= now:
                waiters.popleft()
                waiter.set_result(None)  # nothing handed over: the deadline passed
            else:
                self._timer = loop.call_at(deadline, self._expire_overdue)
                return

    async def _open_or_pass_on(self) -> C:
        # The caller owns one counted place: open a connection in it, or give it back.
        try:
            return await self._open()
        except BaseException:
            self._give_slot()
            raise

    async def _open(self) -> C:
        with anyio.fail_after(self.timeout):
            return await self._connect()

    def release(self, conn: C) -> None:
        """Give ``conn`` back: to the first caller in line, else to the idle list."""
        if self.closed or (self._alive is not None and not self._alive(conn)):
            self._drop(conn)
            self._give_slot()
            return
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()[1]
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def _give_slot(self) -> None:
        # A counted place fell free without a connection in it: the first caller in line
        # opens one there; with nobody waiting, the place is simply given up.
        if not self.closed:
            while self._waiters:
                waiter = self._waiters.popleft()[1]
                if not waiter.done():
                    waiter.set_result(_SLOT)
                    return
        self._count -= 1

    def _drop(self, conn: C) -> None:
        if self._discard is None:
            return
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(self._discard(conn))
        self._closing.add(task)  # a reference, or the task may be collected mid-way
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Refuse new callers, wake those waiting (they get "closed"), close idle connections.

        Connections lent at the time are closed as they come back.
        """
        self.closed = True
        for _, waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        idle, self._idle = self._idle, []
        self._count -= len(idle)
        for conn in idle:
            if self._discard is not None:
                await self._discard(conn)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


class BorrowedPool(Generic[C]):
    """A pool the application made and owns, behind the same calls as :class:`FairPool`.

    Its own rules (fairness, health checks) apply; asyncauth only bounds the wait with
    ``timeout`` and never closes it: :meth:`aclose` just stops lending. A connection that
    ``alive`` refuses (one still inside a transaction, say) is closed with ``discard`` before
    it goes back, so that the application's pool does not lend it again as it is: not every
    pool checks (aioodbc's does not).
    """

    def __init__(
        self,
        name: str,
        acquire: Callable[[], Awaitable[C]],
        release: Callable[[C], Awaitable[Any] | None],
        *,
        timeout: float,
        alive: Callable[[C], bool] | None = None,
        discard: Callable[[C], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.name = name
        self.timeout = timeout
        self._acquire = acquire
        self._release = release
        self._alive = alive
        self._discard = discard
        self._releasing: set[asyncio.Future[Any]] = set()
        self.closed = False

    async def acquire(self) -> C:
        """A connection of the application's pool; :class:`BackendError` after ``timeout``."""
        if self.closed:
            raise BackendError(f"the {self.name} adapter is closed")
        try:
            with anyio.fail_after(self.timeout):
                return await self._acquire()
        except TimeoutError:
            raise BackendError(f"no {self.name} connection free within {self.timeout} s") from None

    def release(self, conn: C) -> None:
        """Give ``conn`` back; a pool whose release is a coroutine gets it in a task of its
        own, so that it happens even when the caller is being cancelled. A connection that
        ``alive`` refuses is closed first (in that task), then given back."""
        pending: Awaitable[Any] | None
        if self._alive is not None and self._discard is not None and not self._alive(conn):
            pending = self._discard_then_release(conn, self._discard)
        else:
            pending = self._release(conn)
        if inspect.isawaitable(pending):
            task = asyncio.ensure_future(pending)
            self._releasing.add(task)
            task.add_done_callback(self._releasing.discard)

    async def _discard_then_release(
        self, conn: C, discard: Callable[[C], Coroutine[Any, Any, None]]
    ) -> None:
        try:
            await discard(conn)
        finally:
            pending = self._release(conn)  # the pool forgets it; it is closed now
            if inspect.isawaitable(pending):
                await pending

    async def aclose(self) -> None:
        """Stop lending; wait for releases under way. The pool itself stays open."""
        self.closed = True
        if self._releasing:
            await asyncio.gather(*self._releasing, return_exceptions=True)


def own_or_borrowed(
    name: str,
    borrowed: Any,
    connect: Callable[[], Awaitable[C]],
    *,
    size: int,
    timeout: float,
    alive: Callable[[C], bool] | None = None,
    discard: Callable[[C], Coroutine[Any, Any, None]] | None = None,
    release: Callable[[C], Awaitable[Any] | None] | None = None,
) -> FairPool[C] | BorrowedPool[C]:
    """A driver's pool: its own fair one, or the application's ``borrowed`` pool (anything
    with ``acquire()`` and ``release(conn)``) as it is, behind the same calls.

    Either way a connection that ``alive`` refuses is closed with ``discard`` instead of
    being lent again, unless a ``release`` of the driver's own does that check itself.
    """
    if borrowed is None:
        return FairPool(name, connect, size=size, timeout=timeout, alive=alive, discard=discard)
    if release is not None:
        return BorrowedPool(name, borrowed.acquire, release, timeout=timeout)
    return BorrowedPool(
        name, borrowed.acquire, borrowed.release, timeout=timeout, alive=alive, discard=discard
    )
