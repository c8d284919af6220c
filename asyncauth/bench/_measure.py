"""How the bench measures: the workload, alternating rounds, and the statistics and table.

Contenders run side by side in one process and take turns (A B A B ..., the order rotated
every round), so the slow drift of a shared, noisy machine falls on all of them alike, and
each ratio is taken within a round.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from .._errors import ConfigurationError
from .._progress import Progress
from ._backend import SESSIONS_PER_USER, Contender, Lookup, lookup_tokens


@dataclass(frozen=True)
class Workload:
    """What one run measures; the full harness reads these from ``benchmarks/workloads.json``."""

    sessions: int = 10_000
    """Rows in the sessions table for the latency and concurrency figures."""
    rounds: int = 5
    """Alternating rounds: every contender runs once per round, order rotated."""
    sequential_calls: int = 200
    """Calls per contender per round for the sequential p50/p99."""
    concurrency: tuple[int, ...] = (1, 16, 64, 256)
    duration: float = 0.25
    """Seconds per contender per round at each concurrency level."""
    warmup_calls: int = 50
    pool_size: int = 10
    lookup_sample: int = 10_000
    """Distinct tokens looked up, in random order (a random sample of the seeded sessions)."""

    def __post_init__(self) -> None:
        if self.sessions < SESSIONS_PER_USER or self.sessions % SESSIONS_PER_USER:
            raise ConfigurationError(f"sessions must be a multiple of {SESSIONS_PER_USER}")
        if self.rounds < 1 or self.sequential_calls < 1 or self.pool_size < 1:
            raise ConfigurationError("rounds, sequential_calls and pool_size must be positive")
        # Written so that nan fails too: it would otherwise reach int() in the timing loop.
        if not 0 <= self.duration <= 3600:
            raise ConfigurationError("duration must be between 0 and 3600 seconds")


def _pct(ordered: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of sorted values, interpolated."""
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def latency_summary(ns: Sequence[int]) -> dict[str, float]:
    """p50/p99/mean in microseconds of per-call times in nanoseconds."""
    ordered = sorted(ns)
    return {
        "p50_us": _pct(ordered, 0.50) / 1000,
        "p99_us": _pct(ordered, 0.99) / 1000,
        "mean_us": sum(ordered) / len(ordered) / 1000 if ordered else float("nan"),
    }


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, quartiles and extremes of per-round values."""
    ordered = sorted(values)
    return {
        "median": _pct(ordered, 0.5),
        "q1": _pct(ordered, 0.25),
        "q3": _pct(ordered, 0.75),
        "min": ordered[0] if ordered else float("nan"),
        "max": ordered[-1] if ordered else float("nan"),
    }


async def sequential(lookup: Lookup, tokens: Sequence[str], calls: int, offset: int) -> list[int]:
    """Per-call nanoseconds of ``calls`` lookups, one at a time."""
    clock = time.perf_counter_ns
    n = len(tokens)
    out = []
    for k in range(offset, offset + calls):
        token = tokens[k % n]
        t0 = clock()
        await lookup(token)
        out.append(clock() - t0)
    return out


async def concurrent(
    lookup: Lookup, tokens: Sequence[str], concurrency: int, duration: float, offset: int
) -> tuple[float, list[int]]:
    """Throughput (calls/s) and per-call ns with ``concurrency`` callers for ``duration`` s."""
    clock = time.perf_counter_ns
    n = len(tokens)
    latencies: list[int] = []
    counter = [offset]
    start = clock()
    deadline = start + int(duration * 1e9)

    async def caller() -> None:
        while True:
            k = counter[0]
            counter[0] = k + 1
            t0 = clock()
            await lookup(tokens[k % n])
            t1 = clock()
            latencies.append(t1 - t0)
            if t1 >= deadline:
                return

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    elapsed = (clock() - start) / 1e9
    return len(latencies) / elapsed, latencies


async def warm_up(name: str, lookup: Lookup, tokens: Sequence[str], calls: int, width: int) -> None:
    """Fill the pool and the statement caches, and check that lookups find their sessions."""
    if await lookup(tokens[0]) is None:
        raise RuntimeError(f"{name}: a seeded session was not found; the benchmark is broken")
    await concurrent(lookup, tokens, width, 0.0, 1)
    for k in range(calls):
        await lookup(tokens[k % len(tokens)])


def rotated(names: Sequence[str], r: int) -> list[str]:
    """Round ``r``'s running order: each contender goes first in turn."""
    k = r % len(names)
    return [*names[k:], *names[:k]]


def plan_steps(workload: Workload, contenders: int) -> int:
    """Progress units of :func:`measure`."""
    return workload.rounds * contenders * (1 + len(workload.concurrency))


async def measure(
    url: str,
    contenders: Mapping[str, Contender],
    workload: Workload,
    progress: Progress,
) -> dict[str, Any]:
    """Sequential latency and throughput at each concurrency, contenders alternating.

    Returns per-round figures: ``sequential[name]`` is a list of latency summaries, and
    ``concurrency[c][name]`` a list of ``{"ops_s", "p50_us", "p99_us", "mean_us"}``.
    """
    names = list(contenders)
    tokens = lookup_tokens(workload.sessions, workload.lookup_sample)
    seq: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    conc: dict[str, dict[str, list[dict[str, float]]]] = {
        str(c): {n: [] for n in names} for c in workload.concurrency
    }
    async with _open_all(url, contenders, workload.pool_size) as lookups:
        for name in names:
            progress.show(f"warm-up {name}")
            await warm_up(
                name, lookups[name], tokens, workload.warmup_calls, 2 * workload.pool_size
            )
        offset = 0
        for r in range(workload.rounds):
            for name in rotated(names, r):
                progress.show(f"sequential {name} ({r + 1}/{workload.rounds})")
                ns = await sequential(lookups[name], tokens, workload.sequential_calls, offset)
                seq[name].append(latency_summary(ns))
                progress.step()
            offset += workload.sequential_calls
        for c in workload.concurrency:
            for r in range(workload.rounds):
                for name in rotated(names, r):
                    progress.show(f"c={c} {name} ({r + 1}/{workload.rounds})")
                    ops, ns = await concurrent(lookups[name], tokens, c, workload.duration, offset)
                    conc[str(c)][name].append({"ops_s": ops, **latency_summary(ns)})
                    offset += len(ns)
                    progress.step()
    return {"sequential": seq, "concurrency": conc}


@asynccontextmanager
async def _open_all(
    url: str, contenders: Mapping[str, Contender], pool_size: int
) -> AsyncIterator[dict[str, Lookup]]:
    async with AsyncExitStack() as stack:
        yield {
            name: await stack.enter_async_context(factory(url, pool_size))
            for name, factory in contenders.items()
        }


# -- summary -------------------------------------------------------------------------------------


def ratios(rounds_a: Sequence[float], rounds_b: Sequence[float]) -> dict[str, float]:
    """Spread of a/b taken round by round (the two ran back to back in each round)."""
    return spread([a / b for a, b in zip(rounds_a, rounds_b, strict=True) if b])


def summarise(raw: Mapping[str, Any], subject: str, base: str) -> dict[str, Any]:
    """Medians per contender and ``subject``/``base`` ratios for :func:`measure`'s output."""
    out: dict[str, Any] = {"sequential": {}, "concurrency": {}}
    seq = raw["sequential"]
    for name, rounds in seq.items():
        out["sequential"][name] = {
            key: spread([r[key] for r in rounds])["median"] for key in ("p50_us", "p99_us")
        }
    if subject in seq and base in seq:
        out["sequential"]["ratio_p50"] = ratios(
            [r["p50_us"] for r in seq[subject]], [r["p50_us"] for r in seq[base]]
        )
    for c, per in raw["concurrency"].items():
        row: dict[str, Any] = {}
        for name, rounds in per.items():
            row[name] = {
                key: spread([r[key] for r in rounds])["median"]
                for key in ("ops_s", "p50_us", "p99_us")
            }
        if subject in per and base in per:
            row["ratio_ops"] = ratios(
                [r["ops_s"] for r in per[subject]], [r["ops_s"] for r in per[base]]
            )
            row["ratio_p50"] = ratios(
                [r["p50_us"] for r in per[subject]], [r["p50_us"] for r in per[base]]
            )
        out["concurrency"][c] = row
    return out


def _ratio_text(r: Mapping[str, float]) -> str:
    return f"{r['median']:.2f}x ({r['min']:.2f}–{r['max']:.2f})"


def markdown_table(
    backend: str, summary: Mapping[str, Any], names: Sequence[str], subject: str, base: str
) -> str:
    """One backend's figures: p50 latency and throughput per contender, and the ratios."""
    head = ["measure", *names, f"{subject} / {base} (median, min–max)"]
    lines = [
        f"| {backend} | " + " | ".join(head) + " |",
        "|" + "---|" * (len(head) + 1),
    ]
    seq = summary["sequential"]
    cells = [f"{seq[n]['p50_us']:.0f} µs / {seq[n]['p99_us']:.0f} µs" for n in names]
    ratio = seq.get("ratio_p50")
    lines.append(
        "| | sequential p50 / p99 | "
        + " | ".join(cells)
        + f" | {_ratio_text(ratio) if ratio else ''} latency |"
    )
    for c, row in summary["concurrency"].items():
        cells = [f"{row[n]['ops_s']:,.0f}/s (p50 {row[n]['p50_us']:.0f} µs)" for n in names]
        extra = ""
        if "ratio_ops" in row:
            extra = (
                f"{_ratio_text(row['ratio_ops'])} throughput, {_ratio_text(row['ratio_p50'])} p50"
            )
        lines.append(f"| | concurrency {c} | " + " | ".join(cells) + f" | {extra} |")
    return "\n".join(lines)
