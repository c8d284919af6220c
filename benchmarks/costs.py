"""The one-off costs the full run records beside the session read: bootstrap and import."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import asyncauth

#: The driver packages ``import asyncauth`` must not load.
DRIVERS = ("asyncpg", "aiosqlite", "aiomysql", "pymongo", "motor", "aioodbc", "pyodbc")


async def bootstrap_cost(url: str, repeats: int) -> dict[str, Any]:
    """Milliseconds of ``bootstrap()`` on an up-to-date database.

    ``first`` is the first call on a newly opened adapter (it also reads the bundled migration
    files, as a process starting up does); ``again`` a second call on the same adapter.
    Opening the connection is not counted: that is the application's start-up, not bootstrap.
    """
    first: list[float] = []
    again: list[float] = []
    for _ in range(repeats):
        async with asyncauth.connect(url, pool_size=1) as auth:
            t0 = time.perf_counter()
            applied = await asyncauth.bootstrap(auth)
            t1 = time.perf_counter()
            await asyncauth.bootstrap(auth)
            t2 = time.perf_counter()
            if applied:
                raise RuntimeError(f"bootstrap applied {applied} on a database meant to be current")
            first.append((t1 - t0) * 1000)
            again.append((t2 - t1) * 1000)
    return {"first_ms": first, "again_ms": again}


_IMPORT_PROBE = (
    "import sys, time, json\n"
    "t = time.perf_counter()\n"
    "import asyncauth\n"
    "ms = (time.perf_counter() - t) * 1000\n"
    "print(json.dumps({'ms': ms, 'drivers': sorted(m for m in sys.modules "
    "if m.split('.')[0] in %r)}))\n"
)


def import_cost(repeats: int, python: str | None = None) -> dict[str, Any]:
    """Milliseconds of ``import asyncauth`` in fresh interpreters, and the drivers it loaded."""
    times: list[float] = []
    drivers: set[str] = set()
    for _ in range(repeats):
        out = subprocess.run(
            [python or sys.executable, "-c", _IMPORT_PROBE % (DRIVERS,)],
            check=True,
            capture_output=True,
            text=True,
        )
        data = json.loads(out.stdout)
        times.append(float(data["ms"]))
        drivers.update(data["drivers"])
    return {"ms": times, "drivers_imported": sorted(drivers)}
