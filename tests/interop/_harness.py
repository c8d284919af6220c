"""Python side of the Node interop harness (tests/interop/node/adapter.mjs).

``run_harness(request)`` runs one request through the real Auth.js adapter it names and gives
back the decoded JSON answer. ``require_harness(adapter)`` skips the test when the harness is
not installed (``bash scripts/interop-install``), or fails it when ``CI=true``.

Request and answer formats are described at the top of adapter.mjs. Dates travel tagged
(``{"$date": "2030-01-02T03:04:05.678Z"}``): use :func:`js_date` to send one and
:func:`py_date` to read one back.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio

from tests._backends import unavailable

NODE_DIR = Path(__file__).resolve().parent / "node"
HARNESS = NODE_DIR / "adapter.mjs"
DDL_DIR = Path(__file__).resolve().parent / "ddl"
INSTALL = "bash scripts/interop-install"
# Written by scripts/interop-install once everything (Prisma clients included) is in place.
INSTALL_STAMP = NODE_DIR / "node_modules" / ".interop-install-stamp"

# Every adapter/dialect pair the harness runs.
COMBINATIONS: tuple[tuple[str, str], ...] = (
    ("prisma", "postgres"),
    ("prisma", "sqlite"),
    ("prisma", "mysql"),
    ("drizzle", "postgres"),
    ("drizzle", "mysql"),
    ("drizzle", "sqlite"),
    ("kysely", "postgres"),
    ("kysely", "mysql"),
    ("kysely", "sqlite"),
    ("pg", "postgres"),
    ("mongodb", "mongodb"),
)


def require_harness() -> str:
    """The ``node`` executable, once the harness is installed; otherwise skip (fail in CI)."""
    node = shutil.which("node")
    if node is None:
        unavailable("Node.js is not installed: the interop tests drive the real Auth.js adapters")
    if not INSTALL_STAMP.is_file():
        unavailable(
            "the Node interop harness is not installed (no tests/interop/node/node_modules "
            f"with its Prisma clients): run `{INSTALL}`"
        )
    return node


def js_date(moment: datetime) -> dict[str, str]:
    """A timezone-aware datetime as the harness's tagged JS Date (milliseconds kept)."""
    if moment.tzinfo is None:
        raise ValueError("js_date needs an aware datetime")
    utc = moment.astimezone(timezone.utc)
    return {"$date": utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"}


def py_date(tagged: Any) -> datetime:
    """A tagged JS Date from the harness as an aware UTC datetime (fails on anything else)."""
    assert isinstance(tagged, dict) and set(tagged) == {"$date"}, f"not a JS Date: {tagged!r}"
    return datetime.fromisoformat(tagged["$date"].replace("Z", "+00:00"))


@dataclass(frozen=True)
class HarnessAnswer:
    status: int
    """0: every call ran; 1: a call threw; 2: bad request or missing install; 3: deadline."""
    ok: bool
    results: list[Any]
    error: dict[str, Any] | None
    stderr: str


async def run_harness(
    request: dict[str, Any], *, deadline_seconds: float = 90.0, env: dict[str, str] | None = None
) -> HarnessAnswer:
    """Run one request through adapter.mjs and decode its single line of JSON.

    The process runs with ``TZ=UTC`` unless ``env`` says otherwise: kysely on MySQL stores the
    wall clock of the Node process's zone (mysql2's default), so a test that compares stored
    values must pin it.
    """
    node = require_harness()
    environment = {**os.environ, "TZ": "UTC", **(env or {})}
    # The harness has its own deadline (reported as JSON); this one only guards against a
    # Node process that cannot even start it.
    deadline_ms = int(deadline_seconds * 1000)
    payload = json.dumps({"timeoutMs": deadline_ms, **request})
    with anyio.fail_after(deadline_seconds + 15):
        done = await anyio.run_process(
            [node, str(HARNESS)],
            input=payload.encode(),
            cwd=NODE_DIR,
            env=environment,
            check=False,
        )
    stdout = done.stdout.decode(errors="replace").strip()
    stderr = done.stderr.decode(errors="replace")
    try:
        answer = json.loads(stdout.splitlines()[-1]) if stdout else None
    except json.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        raise AssertionError(
            f"the harness printed no JSON answer (exit {done.returncode}).\n"
            f"stdout: {stdout[-2000:]}\nstderr: {stderr[-4000:]}"
        )
    return HarnessAnswer(
        status=done.returncode,
        ok=bool(answer.get("ok")),
        results=list(answer.get("results") or []),
        error=answer.get("error"),
        stderr=stderr,
    )
