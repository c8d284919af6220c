"""A separate process that the MongoDB fault test kills in the middle of a bootstrap.

``python -m tests.reliability._mongo_child bootstrap URL MARKER COLLECTION:FIELD`` runs
``bootstrap`` on the MongoDB database of ``URL`` through a PyMongo client with a command
listener. When the client is about to send the ``createIndexes`` of an index on ``FIELD`` of
``COLLECTION``, the listener writes ``MARKER`` (atomically: the test polls for it) and blocks
forever (the event loop with it): the indexes created before are there, the rest of the
bootstrap is not, and the test SIGKILLs the process there.
"""

from __future__ import annotations

import asyncio
import sys
import time

from pymongo import AsyncMongoClient, monitoring

from asyncauth import MongoAdapter
from tests._handshake import write_atomically


class _Park(monitoring.CommandListener):
    def __init__(self, marker: str, collection: str, field: str) -> None:
        self.marker, self.collection, self.field = marker, collection, field

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        command = event.command
        if event.command_name != "createIndexes" or command.get("createIndexes") != self.collection:
            return
        if any(self.field in index.get("key", {}) for index in command.get("indexes", ())):
            write_atomically(self.marker, f"createIndexes {self.collection}({self.field})")
            while True:  # parked before the index is created, until SIGKILL
                time.sleep(1)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def main(mode: str, url: str, marker: str, pattern: str) -> None:
    if mode != "bootstrap":
        raise SystemExit(f"unknown mode {mode!r}")
    collection, field = pattern.split(":")
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        url, event_listeners=[_Park(marker, collection, field)], timeoutMS=30_000
    )
    try:
        await MongoAdapter(client).bootstrap()
    finally:
        await client.close()
    # Reaching this line means the index was never created: the parent reports it.
    sys.stdout.write("finished without being parked\n")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
