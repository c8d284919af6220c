"""The session-read benchmark: asyncauth against the bare driver and the SQLAlchemy ORM.

    python -m benchmarks.run                       # the full run, every backend reachable
    python -m benchmarks.run --workload smoke      # seconds long, what CI runs
    python -m benchmarks.run --backend postgres --out /tmp/bench
    python -m benchmarks.run --backend mongodb --secantusdb    # a throwaway SecantusDB

Workloads are data (``workloads.json``). Server URLs come from the environment
(``ASYNCAUTH_BENCH_POSTGRES_URL``, ``..._MYSQL_URL``, ``..._MONGODB_URL``) with local defaults;
every run works in scratch areas (a temporary SQLite file, a PostgreSQL schema, a MongoDB
database, ...) that it removes. ``--secantusdb`` runs MongoDB against a SecantusDB that the run
starts as a separate process (``scripts/secantusdb_server.py``) and stops afterwards.
Results: ``session-read.json`` (every figure, machine, versions, date), ``.md`` (the table) and
``.png`` (the chart) in ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import AsyncExitStack, ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import asyncauth
from asyncauth import bench as engine
from asyncauth.bench import Contender, Lookup, Progress, Workload
from benchmarks.costs import bootstrap_cost, import_cost

HERE = Path(__file__).resolve().parent
WORKLOADS = HERE / "workloads.json"
RESULTS = HERE / "results"
#: The floor_timeout contender's driver deadline, in seconds (asyncauth's default timeout).
FLOOR_TIMEOUT = 10.0

#: backend -> (environment variable, default URL; None = a temporary SQLite file)
SERVERS: dict[str, tuple[str, str | None]] = {
    "sqlite": ("", None),
    "postgres": ("ASYNCAUTH_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    "mysql": ("ASYNCAUTH_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/mysql"),
    "mongodb": ("ASYNCAUTH_BENCH_MONGODB_URL", "mongodb://127.0.0.1:27017/"),
}


def load_workload(name: str) -> dict[str, Any]:
    """A named workload of ``workloads.json``."""
    data = json.loads(WORKLOADS.read_text(encoding="utf-8"))
    if name not in data:
        raise SystemExit(f"no workload {name!r} in {WORKLOADS} (have: {', '.join(data)})")
    spec: dict[str, Any] = data[name]
    spec["name"] = name
    workload_from(spec["main"])  # fail early on a typo
    for backend in spec["backends"]:
        if spec["main"]["sessions"] not in sizes_for(spec, backend):
            raise SystemExit(
                f"the main table size must be one of {backend}'s sizes (its table is reused)"
            )
    return spec


def workload_from(data: Mapping[str, Any]) -> Workload:
    """A workload from JSON data (unknown keys are an error, lists become tuples)."""
    known = {f.name for f in dataclasses.fields(Workload)}
    unknown = set(data) - known
    if unknown:
        raise SystemExit(f"unknown workload keys: {sorted(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return Workload(**values)


def sizes_for(spec: Mapping[str, Any], backend: str) -> list[int]:
    """The table sizes of the sweep on ``backend``: its own list where one is given."""
    own = spec.get("backend_sizes", {}).get(backend)
    return list(own["sizes"]) if own else list(spec["sizes"])


def server_url(backend: str) -> str | None:
    """The URL the backend runs against (environment first)."""
    variable, default = SERVERS[backend]
    return os.environ.get(variable, default) if variable else default


def contenders_for(backend: engine.BenchBackend, names: list[str]) -> dict[str, Contender]:
    """The contenders of a workload that exist for this backend (no ORM on MongoDB)."""
    out: dict[str, Contender] = {}
    for name in names:
        if name == "floor":
            out[name] = backend.floor
        elif name == "asyncauth":
            out[name] = engine.asyncauth_contender
        elif name == "floor_timeout":
            # Only where the driver has a deadline of its own to show (PostgreSQL, MongoDB).
            if backend.driver_timeout:
                out[name] = functools.partial(backend.floor, timeout=FLOOR_TIMEOUT)
        elif name == "sqlalchemy_orm":
            if backend.name != "mongodb":
                from benchmarks.orm import orm_contender

                out[name] = orm_contender
        else:
            raise SystemExit(f"unknown contender {name!r}")
    return out


async def size_sweep(
    areas: Mapping[int, str],
    contenders: Mapping[str, Contender],
    spec: Mapping[str, Any],
    progress: Progress,
) -> dict[str, dict[str, list[dict[str, float]]]]:
    """Sequential latency on each table size, every (size, contender) pair alternating."""
    keys = [(size, name) for size in areas for name in contenders]
    tokens = {size: engine.lookup_tokens(size, spec["main"]["lookup_sample"]) for size in areas}
    out: dict[str, dict[str, list[dict[str, float]]]] = {
        str(size): {name: [] for name in contenders} for size in areas
    }
    async with AsyncExitStack() as stack:
        lookups: dict[tuple[int, str], Lookup] = {}
        for size, name in keys:
            # One call in flight at a time: two connections are enough, and keep the
            # server's connection count low while every table is open at once.
            lookups[size, name] = await stack.enter_async_context(contenders[name](areas[size], 2))
            progress.show(f"warm-up {name} @{size:,}")
            await engine.warm_up(name, lookups[size, name], tokens[size], spec["size_calls"], 2)
        for r in range(spec["size_rounds"]):
            for size, name in engine.rotated(keys, r):
                progress.show(f"size {size:,} {name} ({r + 1}/{spec['size_rounds']})")
                ns = await engine.sequential(
                    lookups[size, name], tokens[size], spec["size_calls"], r * spec["size_calls"]
                )
                out[str(size)][name].append(engine.latency_summary(ns))
                progress.step()
    return out


def sizes_summary(sweep: Mapping[str, Mapping[str, list[dict[str, float]]]]) -> dict[str, Any]:
    """Median p50/p99 per size and contender."""
    return {
        size: {
            name: {
                key: engine.spread([r[key] for r in rounds])["median"]
                for key in ("p50_us", "p99_us")
            }
            for name, rounds in per.items()
        }
        for size, per in sweep.items()
    }


def plan(spec: Mapping[str, Any], sizes: list[int], contenders: int) -> int:
    """Progress units of one backend."""
    wl = workload_from(spec["main"])
    sweep = spec["size_rounds"] * contenders * len(sizes)
    return len(sizes) + sweep + engine.plan_steps(wl, contenders) + 1


async def run_backend(name: str, url: str | None, spec: Mapping[str, Any], quiet: bool) -> dict:
    """Every figure of one backend."""
    backend = engine.backend_for(url)
    contenders = contenders_for(backend, list(spec["contenders"]))
    workload = workload_from(spec["main"])
    sizes = sizes_for(spec, name)
    progress = Progress(plan(spec, sizes, len(contenders)), enabled=not quiet)
    seed_seconds: dict[str, float] = {}
    measured = False
    cleanup_error = None
    try:
        async with AsyncExitStack() as stack:
            areas: dict[int, str] = {}
            for size in sizes:
                progress.show(f"{name}: seed {size:,} sessions")
                area = await stack.enter_async_context(backend.scratch(url))
                await asyncauth.bootstrap(area)
                t0 = time.perf_counter()
                await backend.seed(area, 0, size)
                seed_seconds[str(size)] = time.perf_counter() - t0
                areas[size] = area
                progress.step()
            server = await backend.describe(areas[workload.sessions])
            sweep = await size_sweep(areas, contenders, spec, progress)
            main = await engine.measure(areas[workload.sessions], contenders, workload, progress)
            progress.show(f"{name}: bootstrap")
            boot = await bootstrap_cost(areas[workload.sessions], spec["bootstrap_repeats"])
            progress.step()
            measured = True
    except Exception as exc:
        if not measured:
            raise
        # Every figure is in: a scratch area that cannot be removed (a server that went away
        # while its database was dropped) is reported, not allowed to lose the whole run.
        cleanup_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        print(f"{name}: scratch areas not removed: {cleanup_error}", file=sys.stderr)
    finally:
        progress.close()
    own_sizes = spec.get("backend_sizes", {}).get(name)
    return {
        "status": "ran",
        "server": server,
        "contenders": list(contenders),
        # Why this backend's table sizes differ from the workload's, when they do.
        **({"sizes_note": own_sizes["why"]} if own_sizes else {}),
        "seed_seconds": seed_seconds,
        "main": main,
        "summary": engine.summarise(main, "asyncauth", "floor"),
        "sizes": sweep,
        "sizes_summary": sizes_summary(sweep),
        "bootstrap": boot,
        **({"cleanup_error": cleanup_error} if cleanup_error else {}),
    }


async def unavailable(name: str, url: str | None) -> str | None:
    """Why a backend cannot run here (None when it can)."""
    try:
        backend = engine.backend_for(url)
    except asyncauth.ConfigurationError:
        return f"no {name} backend in this asyncauth build (no benchmark entry)"
    try:
        asyncauth.connect(url)
    except asyncauth.ConfigurationError as exc:
        return f"asyncauth cannot open {name}: {exc}"
    try:
        async with backend.scratch(url) as area:
            await backend.describe(area)
    except Exception as exc:  # an unreachable server is reported, whatever the driver raised
        return f"{name} unreachable: {type(exc).__name__}: {exc}"
    return None


async def run(
    workload: str = "full",
    backends: list[str] | None = None,
    *,
    urls: Mapping[str, str | None] | None = None,
    quiet: bool = False,
    require: bool = False,
) -> dict[str, Any]:
    """Run a workload on the chosen backends; the whole result document.

    ``urls`` overrides the server URLs; ``require`` turns an unavailable backend into an
    error instead of a "not run" entry.
    """
    spec = load_workload(workload)
    names = backends or list(spec["backends"])
    result: dict[str, Any] = {
        "benchmark": "session-read",
        "workload": workload,
        "spec": spec,
        **environment(),
        "source": source(),
        # The machine is shared: its load average says how quiet the run was.
        "load_average": {"start": list(os.getloadavg())},
        "backends": {},
    }
    for name in names:
        url = (urls or {}).get(name, server_url(name)) if name in SERVERS else None
        if name not in SERVERS:
            raise SystemExit(f"unknown backend {name!r} (known: {', '.join(SERVERS)})")
        reason = await unavailable(name, url)
        if reason is not None:
            if require:
                raise RuntimeError(reason)
            result["backends"][name] = {"status": "not run", "reason": reason}
            if not quiet:
                print(f"{name}: not run ({reason})", file=sys.stderr)
            continue
        try:
            result["backends"][name] = await run_backend(name, url, spec, quiet)
        except Exception as exc:
            if require:
                raise
            # One backend failing mid-run must not cost the figures of the others.
            reason = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            result["backends"][name] = {"status": "not run", "reason": reason}
            print(f"{name}: {reason}", file=sys.stderr)
            continue
        result["backends"][name]["load_average_after"] = list(os.getloadavg())
    result["import"] = import_cost(spec["import_repeats"])
    result["load_average"]["end"] = list(os.getloadavg())
    from benchmarks.report import bar_checks

    result["bar"] = bar_checks(result)
    return result


def environment() -> dict[str, Any]:
    """The machine and the versions a result was measured with."""
    from importlib import metadata

    versions: dict[str, str] = {"python": platform.python_version()}
    for dist in ("asyncauth", "asyncpg", "aiosqlite", "aiomysql", "pymongo", "sqlalchemy"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": _cpu_name(),
            "cores": os.cpu_count(),
            "python_implementation": platform.python_implementation(),
        },
        "versions": versions,
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def source() -> dict[str, Any]:
    """The commit the run measured (and whether the tree had changes), when run from git."""

    def git(*args: str) -> str:
        out = subprocess.run(
            ["git", *args], cwd=HERE, capture_output=True, text=True, check=False, timeout=10
        )
        return out.stdout.strip() if out.returncode == 0 else ""

    return {
        "commit": git("rev-parse", "HEAD"),
        "describe": git("log", "-1", "--format=%h %s"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def save(result: Mapping[str, Any], out: Path, *, chart: bool = True) -> list[Path]:
    """Write the JSON, the Markdown table and (optionally) the chart; the paths written."""
    from benchmarks.report import markdown, write_chart

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "session-read.json", out / "session-read.md"]
    paths[0].write_text(json.dumps(result, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    paths[1].write_text(markdown(result), encoding="utf-8")
    if chart:
        paths.append(out / "session-read.png")
        write_chart(result, paths[2])
    return paths


@contextmanager
def secantusdb() -> Iterator[str]:
    """A throwaway SecantusDB in a separate process (GPL: never imported here); its URL.

    The launcher prints its URL once it accepts connections, and stops when its stdin closes.
    """
    launcher = HERE.parent / "scripts" / "secantusdb_server.py"
    with tempfile.TemporaryDirectory(prefix="asyncauth-bench-secantus-") as directory:
        process = subprocess.Popen(
            [sys.executable, str(launcher), str(Path(directory) / "data")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert process.stdin is not None and process.stdout is not None
        try:
            line = process.stdout.readline().decode().strip()
            if not line.startswith("mongodb://"):
                raise SystemExit("SecantusDB did not start (pip install -r requirements-test.txt)")
            yield line
        finally:
            process.stdin.close()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.terminate()
                process.wait()
            process.stdout.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--workload", default="full", help="a name in workloads.json")
    parser.add_argument(
        "--backend", action="append", choices=sorted(SERVERS), help="repeat for several"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where results are written")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--secantusdb",
        action="store_true",
        help="run MongoDB against a throwaway SecantusDB started for the run (a separate process)",
    )
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        urls = {"mongodb": stack.enter_context(secantusdb())} if args.secantusdb else None
        result = asyncio.run(run(args.workload, args.backend, urls=urls, quiet=args.quiet))
    for path in save(result, args.out):
        print(f"wrote {path}")
    from benchmarks.report import markdown

    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
