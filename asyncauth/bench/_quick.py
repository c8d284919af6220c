"""``asyncauth bench [URL]``: seed a scratch table, measure asyncauth against the floor."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from .._errors import AsyncAuthError, BackendError, ConfigurationError
from .._progress import Progress
from ._backend import BenchBackend, Contender, asyncauth_contender, backend_for
from ._measure import Workload, markdown_table, measure, plan_steps, summarise


@dataclass
class QuickResult:
    """What ``asyncauth bench`` measured."""

    backend: str
    server: str
    workload: Workload
    raw: dict[str, Any]
    summary: dict[str, Any]
    seed_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        """The Markdown table of the run."""
        title = (
            f"asyncauth bench: {self.server}, {self.workload.sessions:,} sessions, "
            f"pool {self.workload.pool_size}, {self.workload.rounds} alternating rounds"
        )
        return (
            title
            + "\n\n"
            + markdown_table(
                self.backend, self.summary, ["floor", "asyncauth"], "asyncauth", "floor"
            )
        )


async def run_quick(
    url: str | None = None, *, workload: Workload | None = None, progress: bool = True
) -> QuickResult:
    """Seed a scratch table, then measure asyncauth against the bare driver on it.

    ``url`` None is a temporary SQLite file. A driver's failure (a server that cannot be
    reached, a refused login, a missing extra) is raised as :class:`BackendError` naming it.
    """
    wl = workload or Workload()
    backend = backend_for(url)
    try:
        return await _run(backend, url, wl, progress)
    except AsyncAuthError:
        raise
    except ImportError as exc:
        raise ConfigurationError(
            f"the {backend.name} benchmark needs the driver {exc.name or exc}: "
            "pip install 'asyncauth[all]'"
        ) from exc
    except Exception as exc:
        # The bench talks to the drivers directly (scratch areas, seeding, the floor), so
        # their errors reach here untranslated. The message may quote the URL: the CLI
        # redacts it before printing.
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise BackendError(
            f"the {backend.name} benchmark could not run: {type(exc).__name__}: {detail}"
        ) from exc


async def _run(backend: BenchBackend, url: str | None, wl: Workload, progress: bool) -> QuickResult:
    from .. import bootstrap

    contenders: dict[str, Contender] = {"floor": backend.floor, "asyncauth": asyncauth_contender}
    bar = Progress(plan_steps(wl, len(contenders)) + 2, enabled=progress)
    try:
        async with backend.scratch(url) as scratch:
            bar.show("bootstrap + seed")
            await bootstrap(scratch)
            t0 = time.perf_counter()
            await backend.seed(scratch, 0, wl.sessions)
            seeded = time.perf_counter() - t0
            bar.step("seeded", 2)
            server = await backend.describe(scratch)
            raw = await measure(scratch, contenders, wl, bar)
    finally:
        bar.close()
    summary = summarise(raw, "asyncauth", "floor")
    return QuickResult(backend.name, server, wl, raw, summary, seeded)


async def command(
    url: str | None = None,
    *,
    sessions: int = 10_000,
    rounds: int = 5,
    duration: float = 0.25,
    progress: bool = True,
    stream: TextIO | None = None,
) -> int:
    """``asyncauth bench [URL]``: run the quick benchmark and print its table."""
    workload = Workload(sessions=sessions, rounds=rounds, duration=duration)
    result = await run_quick(url, workload=workload, progress=progress)
    out = stream if stream is not None else sys.stdout
    out.write(result.table() + "\n")
    out.write(
        "\nfloor = the same statement (on MongoDB: the same aggregation) through the bare "
        "driver on a pool of the same size. "
        "The full benchmark (SQLAlchemy ORM, table sizes, saved results) is in benchmarks/.\n"
    )
    return 0
