"""From a result document to the bar's verdicts, the Markdown table and the chart.

python -m benchmarks.report benchmarks/results/session-read.json   # redraw .md and .png
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from asyncauth import bench as engine

SQL_BACKENDS = ("sqlite", "postgres", "mysql")
NO_ORM = "The SQLAlchemy ORM contender is SQL-only: MongoDB has no ORM counterpart in the run."
COLOURS = {
    "floor": "#4c72b0",
    "floor_timeout": "#8172b2",
    "asyncauth": "#55a868",
    "sqlalchemy_orm": "#c44e52",
}
MARKERS = {"sqlite": "o", "postgres": "s", "mysql": "^", "mongodb": "D"}
LINES = {"sqlite": "-", "postgres": "--", "mysql": ":", "mongodb": "-."}


def _ran(result: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {k: v for k, v in result["backends"].items() if v.get("status") == "ran"}


def _check(claim: str, backend: str, r: Mapping[str, float], limit: float, upper: bool) -> dict:
    value = r["median"]
    ok = value <= limit if upper else value >= limit
    return {
        "claim": claim,
        "backend": backend,
        "value": value,
        "spread": {"min": r["min"], "max": r["max"], "q1": r["q1"], "q3": r["q3"]},
        "limit": limit,
        "ok": ok,
    }


def bar_checks(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each figure of the bar, its measured value (median over rounds, with spread), ok or not."""
    checks: list[dict[str, Any]] = []
    for name, data in _ran(result).items():
        main = data["main"]
        # The floor bar holds for every backend that has a floor, MongoDB included.
        if {"asyncauth", "floor"} <= set(data["contenders"]):
            seq = main["sequential"]
            checks.append(
                _check(
                    "sequential p50 latency vs floor <= 1.15x",
                    name,
                    engine.ratios(
                        [r["p50_us"] for r in seq["asyncauth"]], [r["p50_us"] for r in seq["floor"]]
                    ),
                    1.15,
                    upper=True,
                )
            )
            for c, per in main["concurrency"].items():
                a, f = per["asyncauth"], per["floor"]
                checks.append(
                    _check(
                        f"throughput vs floor at concurrency {c} >= 0.9x",
                        name,
                        engine.ratios([r["ops_s"] for r in a], [r["ops_s"] for r in f]),
                        0.9,
                        upper=False,
                    )
                )
                checks.append(
                    _check(
                        f"p50 latency vs floor at concurrency {c} <= 1.15x",
                        name,
                        engine.ratios([r["p50_us"] for r in a], [r["p50_us"] for r in f]),
                        1.15,
                        upper=True,
                    )
                )
        if name == "postgres" and "sqlalchemy_orm" in data["contenders"]:
            for c, per in main["concurrency"].items():
                checks.append(
                    _check(
                        f"throughput vs SQLAlchemy ORM at concurrency {c} >= 5x",
                        name,
                        engine.ratios(
                            [r["ops_s"] for r in per["asyncauth"]],
                            [r["ops_s"] for r in per["sqlalchemy_orm"]],
                        ),
                        5.0,
                        upper=False,
                    )
                )
        sizes = sorted(data["sizes"], key=int)
        if len(sizes) >= 2:
            small, big = data["sizes"][sizes[0]], data["sizes"][sizes[-1]]
            checks.append(
                _check(
                    f"p50 latency at {int(sizes[-1]):,} sessions vs {int(sizes[0]):,} <= 1.3x",
                    name,
                    engine.ratios(
                        [r["p50_us"] for r in big["asyncauth"]],
                        [r["p50_us"] for r in small["asyncauth"]],
                    ),
                    1.3,
                    upper=True,
                )
            )
        if name == "postgres":
            checks.append(
                _check(
                    "bootstrap on an up-to-date database < 5 ms",
                    name,
                    engine.spread(data["bootstrap"]["first_ms"]),
                    5.0,
                    upper=True,
                )
            )
    if "import" in result:
        imp = result["import"]
        check = _check("import asyncauth < 50 ms", "-", engine.spread(imp["ms"]), 50.0, upper=True)
        check["drivers_imported"] = imp["drivers_imported"]
        check["ok"] = check["ok"] and not imp["drivers_imported"]
        checks.append(check)
    return checks


def _fmt_ratio(spread: Mapping[str, float]) -> str:
    return f"{spread['median']:.2f} ({spread['min']:.2f}–{spread['max']:.2f})"


def _load_text(result: Mapping[str, Any]) -> str:
    load = result.get("load_average")
    if not load:
        return "Load average: not recorded."
    parts = [f"start {load['start'][0]:.1f}"]
    parts += [
        f"after {name} {data['load_average_after'][0]:.1f}"
        for name, data in result["backends"].items()
        if "load_average_after" in data
    ]
    if "end" in load:
        parts.append(f"end {load['end'][0]:.1f}")
    cores = result["machine"]["cores"]
    return f"1-minute load average on the {cores} cores (other work shares them): " + (
        ", ".join(parts) + "."
    )


def markdown(result: Mapping[str, Any]) -> str:
    """The whole result as Markdown: the bar, then a table per backend."""
    v = result["versions"]
    m = result["machine"]
    lines = [
        f"# Session-read benchmark, {result['date']}",
        "",
        f"Workload `{result['workload']}` of `benchmarks/workloads.json`; "
        f"{m['processor']}, {m['cores']} cores, {m['platform']}; "
        + ", ".join(f"{k} {val}" for k, val in v.items())
        + ".",
        "",
        _load_text(result),
        "",
        f"Measured code: `{result.get('source', {}).get('describe', 'unknown')}`"
        + (" (with uncommitted changes)" if result.get("source", {}).get("dirty") else "")
        + ".",
        "",
        "Contenders alternate (A B C, order rotated every round) in one process on a pool of "
        f"{result['spec']['main']['pool_size']} connections each; every figure is the median "
        "over rounds, ratios are taken round by round and given as median (min–max).",
        "",
        "## The bar",
        "",
        "| backend | claim | measured: median (min–max) | |",
        "|---|---|---|---|",
    ]
    for c in result.get("bar", []):
        s = c["spread"]
        unit = "ms" if "ms" in c["claim"] else "x"
        value = f"{c['value']:.2f} {unit} ({s['min']:.2f}–{s['max']:.2f})"
        lines.append(f"| {c['backend']} | {c['claim']} | {value} | {'ok' if c['ok'] else 'MISS'} |")
    for name, data in result["backends"].items():
        lines += ["", f"## {name}", ""]
        if data.get("status") != "ran":
            lines.append(f"Not run: {data.get('reason', 'unknown')}.")
            continue
        names = data["contenders"]
        seeded = ", ".join(f"{int(k):,} in {s:.1f} s" for k, s in data["seed_seconds"].items())
        lines += [
            f"{data['server']}; {result['spec']['main']['sessions']:,} sessions; "
            f"bulk seeding: {seeded}.",
            "",
            engine.markdown_table(name, data["summary"], names, "asyncauth", "floor"),
        ]
        if "sizes_note" in data:
            lines += ["", f"Table sizes: {data['sizes_note']}"]
        if name not in SQL_BACKENDS:
            lines += ["", NO_ORM]
        if "sqlalchemy_orm" in names:
            main = data["main"]
            cells = []
            for c, per in main["concurrency"].items():
                r = engine.ratios(
                    [x["ops_s"] for x in per["asyncauth"]],
                    [x["ops_s"] for x in per["sqlalchemy_orm"]],
                )
                cells.append(f"c={c}: {_fmt_ratio(r)}")
            lines += ["", "asyncauth / SQLAlchemy ORM throughput: " + "; ".join(cells) + "."]
        sizes = sorted(data["sizes_summary"], key=int)
        lines += [
            "",
            "Sequential p50 latency by table size (µs):",
            "",
            "| contender | " + " | ".join(f"{int(s):,}" for s in sizes) + " | largest / smallest |",
            "|---|" + "---|" * (len(sizes) + 1),
        ]
        for n in names:
            cells = [f"{data['sizes_summary'][s][n]['p50_us']:.0f}" for s in sizes]
            r = engine.ratios(
                [x["p50_us"] for x in data["sizes"][sizes[-1]][n]],
                [x["p50_us"] for x in data["sizes"][sizes[0]][n]],
            )
            lines.append(f"| {n} | " + " | ".join(cells) + f" | {_fmt_ratio(r)} |")
        b = data["bootstrap"]
        first, again = engine.spread(b["first_ms"]), engine.spread(b["again_ms"])
        lines += [
            "",
            f"`bootstrap` on the up-to-date database: first call on a new adapter "
            f"{first['median']:.2f} ms (max {first['max']:.2f}), repeated "
            f"{again['median']:.2f} ms.",
        ]
    if "import" in result:
        imp = engine.spread(result["import"]["ms"])
        drivers = result["import"]["drivers_imported"] or "none"
        lines += [
            "",
            "## import",
            "",
            f"`import asyncauth` in a fresh interpreter: {imp['median']:.1f} ms median "
            f"(max {imp['max']:.1f}); drivers imported: {drivers}.",
        ]
    return "\n".join(lines) + "\n"


def write_chart(result: Mapping[str, Any], path: Path) -> None:
    """Latency and throughput per contender per backend, and latency against table size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ran = _ran(result)
    fig, (ax_lat, ax_ops, ax_size) = plt.subplots(1, 3, figsize=(18, 5.5))
    contenders = [c for c in COLOURS if any(c in d["contenders"] for d in ran.values())]
    width = 0.8 / max(1, len(contenders))
    for i, name in enumerate(contenders):
        xs, heights, lows, highs = [], [], [], []
        for j, data in enumerate(ran.values()):
            if name not in data["contenders"]:
                continue
            s = engine.spread([r["p50_us"] for r in data["main"]["sequential"][name]])
            xs.append(j + (i - (len(contenders) - 1) / 2) * width)
            heights.append(s["median"])
            lows.append(s["median"] - s["min"])
            highs.append(s["max"] - s["median"])
        ax_lat.bar(
            xs, heights, width, yerr=[lows, highs], color=COLOURS[name], label=name, capsize=3
        )
    ax_lat.set_xticks(range(len(ran)), list(ran))
    ax_lat.set_yscale("log")
    ax_lat.set_ylabel("sequential p50 latency (µs, log; bars: min–max over rounds)")
    ax_lat.set_title("Session read latency")
    ax_lat.legend()

    for backend, data in ran.items():
        for name in data["contenders"]:
            conc = data["main"]["concurrency"]
            levels = sorted(conc, key=int)
            ys = [engine.spread([r["ops_s"] for r in conc[c][name]])["median"] for c in levels]
            ax_ops.plot(
                [int(c) for c in levels],
                ys,
                color=COLOURS[name],
                linestyle=LINES.get(backend, "-"),
                marker=MARKERS.get(backend, "o"),
                label=f"{name} / {backend}",
            )
            sizes = sorted(data["sizes"], key=int)
            lat = [
                engine.spread([r["p50_us"] for r in data["sizes"][s][name]])["median"]
                for s in sizes
            ]
            ax_size.plot(
                [int(s) for s in sizes],
                lat,
                color=COLOURS[name],
                linestyle=LINES.get(backend, "-"),
                marker=MARKERS.get(backend, "o"),
                label=f"{name} / {backend}",
            )
    levels = sorted({int(c) for d in ran.values() for c in d["main"]["concurrency"]})
    ax_ops.set_xscale("log", base=2)
    ax_ops.set_xticks(levels, [str(c) for c in levels])
    ax_ops.set_xlabel(f"concurrent callers (pool of {result['spec']['main']['pool_size']})")
    ax_ops.set_yscale("log")
    ax_ops.set_ylabel("session reads per second (log; median over rounds)")
    ax_ops.set_title("Throughput")
    ax_ops.legend(fontsize=7)
    ax_size.set_xscale("log")
    ax_size.set_yscale("log")
    ax_size.set_xlabel("sessions in the table")
    ax_size.set_ylabel("sequential p50 latency (µs, log)")
    ax_size.set_title("Latency against table size")
    ax_size.legend(fontsize=7)
    loads = [v[0] for v in (result.get("load_average") or {}).values() if isinstance(v, list)]
    loads += [d["load_average_after"][0] for d in ran.values() if "load_average_after" in d]
    load = f", load average {min(loads):.1f}–{max(loads):.1f}" if loads else ""
    fig.suptitle(
        f"asyncauth session read, {result['date']} ({result['machine']['cores']} cores{load})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m benchmarks.report RESULT.json", file=sys.stderr)
        return 2
    source = Path(args[0])
    result = json.loads(source.read_text(encoding="utf-8"))
    result["bar"] = bar_checks(result)
    source.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    write_chart(result, source.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
