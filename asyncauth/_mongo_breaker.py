"""The circuit breaker for the time every server of a MongoDB deployment is down.

PyMongo keeps a call waiting for a server (or retries it) until the call's whole timeout, where
a SQL pool fails at once on a refused connection; during an outage every call would hang for
``timeout``. docs/mongodb-design.md tells how the breaker came to be and what it was measured
against.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from ._errors import BackendError

__all__ = ["HEARD_FOR", "KNOCK_EVERY", "UNREACHABLE_WAIT", "Breaker", "unreachable"]

log = logging.getLogger("asyncauth")

# How long a call that the breaker lets through waits for a server. PyMongo checks a server
# again at most every 0.5 s while a call waits for one, so a call made as the server comes
# back still gets it.
UNREACHABLE_WAIT: Final = 0.5
# While the deployment is down, how often the breaker tries a TCP connection to its servers,
# and for how long a server that refused one and then accepted one lets every call through.
KNOCK_EVERY: Final = 0.05
HEARD_FOR: Final = 1.0

# What ``Breaker.admit`` lets a call do (it raises otherwise).
PROBE: Final = 1  # go to PyMongo as the one probe; call ``probed()`` after
THROUGH: Final = 2  # go to PyMongo (a server came back a moment ago)


def _servers(client: Any) -> Any:
    """PyMongo's last word on each server the client knows of."""
    try:
        return client.topology_description.server_descriptions().values()
    except AttributeError:  # not opened, or a client of another shape: no shortcut
        return ()


def unreachable(client: Any) -> bool:
    """Whether every server the client knows of failed its last check: it is down.

    A deployment not checked yet (startup) and one with any member up (a replica set electing
    a primary) are not down: their calls get the whole timeout.
    """
    try:
        servers = client.topology_description.server_descriptions().values()
    except AttributeError:  # not opened, or a client of another shape: no shortcut
        return False
    # Every call asks: ``error`` first, None on a healthy server, ends the look at once.
    return bool(servers) and all(
        s.error is not None and not s.is_server_type_known for s in servers
    )


def _addresses(client: Any) -> list[tuple[str, int | None]]:
    """The (host, port) of every server the client knows of."""
    try:
        return list(client.topology_description.server_descriptions())
    except AttributeError:
        return []


def _down_reason(client: Any) -> str:
    """Why the deployment is down, as PyMongo's last checks say (they name the address and
    the socket error, never credentials)."""
    reasons = [str(s.error) for s in _servers(client) if s.error is not None]
    return "; ".join(reasons) or "no server answered its last check"


class Breaker:
    """While :func:`unreachable`, calls fail at once with BackendError, except:

    - one probe at a time goes to PyMongo (with ``UNREACHABLE_WAIT``): a waiting call makes
      PyMongo's monitor check the servers every 0.5 s instead of every
      ``heartbeatFrequencyMS``, so PyMongo sees a server come back;
    - a server whose port refused a TCP connection and then accepts one lets every call
      through for ``HEARD_FOR`` s, covering the up to 0.5 s before PyMongo's monitor notices.
      Only a refusal followed by an accept counts (a server shutting down, a hung one or a
      proxy in front of a dead one accepts too).

    It only reads PyMongo's topology, so a client handed in keeps its settings; it closes as
    soon as the topology knows a server again.
    """

    __slots__ = ("_heard", "_knocking", "_next_knock", "_probing", "_refused")

    def __init__(self) -> None:
        self._probing = False  # a probe is inside PyMongo
        self._knocking = False  # a TCP connection is being tried
        self._next_knock = float("-inf")
        self._refused = False  # the last knock was refused
        self._heard = float("-inf")  # when a knock was accepted after a refusal

    async def admit(self, client: Any) -> int:
        """``PROBE`` or ``THROUGH`` (go to PyMongo with ``UNREACHABLE_WAIT``), else raise."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._heard < HEARD_FOR:
            return THROUGH
        if not self._probing:
            self._probing = True
            return PROBE
        if not self._knocking and loop.time() >= self._next_knock:
            self._knocking = True
            try:
                listening = await _listening(_addresses(client), UNREACHABLE_WAIT)
            finally:
                self._knocking = False
                self._next_knock = loop.time() + KNOCK_EVERY
            came_back, self._refused = listening and self._refused, not listening
            if came_back:
                log.debug("mongodb: a server accepts connections again; letting calls through")
                self._heard = loop.time()
                return THROUGH
        raise BackendError(f"MongoDB unreachable: {_down_reason(client)}")

    def probed(self) -> None:
        """The probe came back (answered or failed): the next call may probe."""
        self._probing = False


async def _listening(addresses: list[tuple[str, int | None]], wait: float) -> bool:
    """Whether any of these servers accepts a TCP (or Unix socket) connection within ``wait``."""
    for host, port in addresses:
        try:
            if port is None:  # PyMongo's address of a Unix domain socket
                opening = asyncio.open_unix_connection(host)
            else:
                opening = asyncio.open_connection(host, port)
            _, writer = await asyncio.wait_for(opening, wait)
        except (OSError, asyncio.TimeoutError):
            continue
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
        return True
    return False
