"""Command line of the mutation tool: ``bash scripts/mutate --help``."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from . import pymut, report, sqlmut, targets
from .model import Mutant
from .runner import Baseline, Runner, default_python

HERE = Path(__file__).resolve().parent


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="scripts/mutate",
        description="Mutation testing of asyncauth's Python modules and SQL files. With no "
        "--module and no --sql, every default target (the full run, tens of minutes).",
    )
    p.add_argument(
        "--module",
        action="append",
        default=[],
        metavar="PATH",
        help="a Python module to mutate, e.g. asyncauth/_validate.py (repeatable)",
    )
    p.add_argument(
        "--sql",
        default="",
        metavar="LIST",
        help="comma-separated SQL dialects (sqlite,postgres,mysql) or .sql paths",
    )
    p.add_argument(
        "--tests",
        default="",
        metavar="ARGS",
        help="pytest arguments replacing each target's default selection",
    )
    p.add_argument("--workers", type=int, default=1, help="parallel workers (default 1)")
    p.add_argument(
        "--time-limit",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds allowed per pytest run on top of twice the baseline's time "
        "for the tests it runs (default 30)",
    )
    p.add_argument(
        "--sample",
        type=int,
        default=0,
        metavar="N",
        help="run only N mutants per target, picked by a hash of their ids",
    )
    p.add_argument("--operator", default="", help="only these operators (comma-separated)")
    p.add_argument("--match", default="", help="only mutants whose description contains this")
    p.add_argument("--id", action="append", default=[], help="only this mutant id (repeatable)")
    p.add_argument("--list", action="store_true", help="list the mutants; run nothing")
    p.add_argument(
        "--whole-only",
        action="store_true",
        help="skip the covering-tests phase: every mutant runs the whole selection",
    )
    p.add_argument(
        "--summary",
        action="store_true",
        help="only rewrite summary.md from results.json and the judgments (after judging)",
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="run the baseline even if one is cached for the same tree and selection",
    )
    p.add_argument(
        "--root",
        type=Path,
        default=HERE.parents[1],
        help="the repository (default: the one holding this tool)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=HERE / "report",
        help="folder for results.json and summary.md (default scripts/mutation/report)",
    )
    p.add_argument(
        "--judgments",
        type=Path,
        default=HERE / "judgments.json",
        help="the committed verdicts on survivors",
    )
    p.add_argument(
        "--python",
        default="",
        help="the interpreter that runs pytest (default: the repository's .venv, else this one)",
    )
    return p.parse_args(argv)


def _targets(args: argparse.Namespace, root: Path) -> list[tuple[str, str, list[str]]]:
    """(target, kind, pytest args) for each target asked for."""
    custom = shlex.split(args.tests) if args.tests else None
    out: list[tuple[str, str, list[str]]] = []
    modules = list(args.module)
    sql = [s.strip() for s in args.sql.split(",") if s.strip()]
    if not modules and not sql:
        modules = list(targets.MODULES)
        sql = list(targets.DIALECTS)
    for module in modules:
        module = Path(module).as_posix()
        if not (root / module).is_file():
            raise SystemExit(f"no module {module} under {root}")
        selection = targets.SELECTIONS[targets.selection_for_module(module)]
        out.append((module, "python", custom or selection))
    for item in sql:
        if item.endswith(".sql"):
            if not (root / item).is_file():
                raise SystemExit(f"no SQL file {item} under {root}")
            if custom is None:
                dialect = Path(item).parent.name
                selection = targets.SELECTIONS[targets.selection_for_dialect(dialect)]
            out.append((Path(item).as_posix(), "sql", custom or selection))
            continue
        files = targets.sql_files(root, item)
        if not files:
            raise SystemExit(f"no SQL files for dialect {item!r}")
        selection = custom or targets.SELECTIONS[targets.selection_for_dialect(item)]
        out += [(f, "sql", selection) for f in files]
    return out


def _generate(root: Path, target: str, kind: str) -> list[Mutant]:
    text = (root / target).read_text(encoding="utf-8")
    return (pymut if kind == "python" else sqlmut).mutants(target, text)


def _pick(mutants: list[Mutant], args: argparse.Namespace) -> list[Mutant]:
    ops = {o.strip() for o in args.operator.split(",") if o.strip()}
    chosen = [
        m
        for m in mutants
        if (not ops or m.operator in ops)
        and (not args.match or args.match in m.description)
        and (not args.id or m.id in args.id)
    ]
    if args.sample and len(chosen) > args.sample:
        by_hash = sorted(chosen, key=lambda m: hashlib.sha1(m.id.encode()).hexdigest())
        keep = {m.id for m in by_hash[: args.sample]}
        chosen = [m for m in chosen if m.id in keep]
    return chosen


def _query_lines(root: Path) -> dict[str, list[tuple[str, int]]]:
    """For each quoted name in the library's code, the lines that quote it."""
    found: dict[str, list[tuple[str, int]]] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        parts = rel.split("/")
        if parts[0].startswith(".") or "tests" in parts or parts[0] == "scripts":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for name in re.findall(r"""["']([A-Za-z_]\w*)["']""", line):
                found.setdefault(name, []).append((rel, number))
    return found


def _covering(mutant: Mutant, kind: str, base: Baseline, quoted: dict[str, list]) -> list[str]:
    if kind == "python":
        return base.covering(mutant.target, range(mutant.line, mutant.end_line + 1))
    found: set[str] = set()
    for rel, line in quoted.get(mutant.scope, []):
        found.update(base.covering(rel, [line]))
    return sorted(found, key=lambda t: (base.durations.get(t, 0.0), t))


def _commit(root: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    commit = done.stdout.strip() or "unknown"
    return commit + ("+changes" if dirty.stdout.strip() else "")


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    root = args.root.resolve()
    judgments = report.load_judgments(args.judgments)
    if args.summary:
        results = report.load_results(args.out / "results.json")
        _write_summary(root, args.out, results, judgments)
        return 0
    plan: list[tuple[Mutant, str, list[str], int]] = []
    for target, kind, selection in _targets(args, root):
        generated = _generate(root, target, kind)
        plan += [(m, kind, selection, len(generated)) for m in _pick(generated, args)]
    if args.list:
        for m, _, _, _ in plan:
            print(f"{m.id}  {m.target}:{m.line}  [{m.scope}]  {m.description}")
        print(f"{len(plan)} mutants")
        return 0
    if not plan:
        raise SystemExit("no mutant matches")

    started = time.perf_counter()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{len(plan)} mutants, {args.workers} worker(s); scratch copies of {root}", flush=True)
    runner = Runner(
        root,
        workers=args.workers,
        time_limit=args.time_limit,
        python=args.python or default_python(root),
        log=lambda s: print(s, flush=True),
    )
    try:
        baselines: dict[tuple[str, ...], Baseline] = {}
        for _, _, selection, _ in plan:
            if tuple(selection) not in baselines:
                baselines[tuple(selection)] = runner.baseline(
                    shlex.join(selection), selection, None if args.fresh else args.out / "cache"
                )
        quoted = _query_lines(root)
        jobs = []
        kinds: dict[str, str] = {}
        generated_counts: dict[str, int] = {}
        for m, kind, selection, generated in plan:
            base = baselines[tuple(selection)]
            covering = [] if args.whole_only else _covering(m, kind, base, quoted)
            jobs.append((m, base, covering))
            kinds[m.id] = kind
            generated_counts[m.target] = generated
        entries: dict[str, dict[str, object]] = {}
        done = 0

        def record(m: Mutant, r: object) -> None:
            nonlocal done
            done += 1
            entry = {
                **m.as_dict(),
                "kind": kinds[m.id],
                "generated": generated_counts[m.target],
                **vars(r),
            }
            entries[m.id] = entry
            print(
                f"[{done}/{len(jobs)}] {entry['status']:8} {m.target}:{m.line} "
                f"{m.operator} {m.description} ({entry['seconds']:.1f} s, phase "
                f"{entry['phase']}){' ' + str(entry['killed_by']) if entry['killed_by'] else ''}",
                flush=True,
            )

        runner.run_all(jobs, record)
        runner.check_restored({m.target for m, _, _, _ in plan})
    finally:
        runner.close()

    run = {
        "started": stamp,
        "commit": _commit(root),
        "targets": sorted({m.target for m, _, _, _ in plan}),
        "workers": args.workers,
        "sample": args.sample,
        "filtered": bool(args.operator or args.match or args.id),
        "seconds": time.perf_counter() - started,
        "baselines": {b.selection: round(b.seconds, 1) for b in baselines.values()},
        "flaky": sorted({t for b in baselines.values() for t in b.flaky}),
        "mutants": entries,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "results.json"
    merged = report.merge(report.load_results(results_path), set(run["targets"]), run)
    results_path.write_text(json.dumps(merged, indent=1) + "\n", encoding="utf-8")
    _write_summary(root, args.out, merged, judgments)
    print(f"wrote {results_path} and {args.out / 'summary.md'}")
    return 0


def _write_summary(
    root: Path, out: Path, results: dict[str, object], judgments: dict[str, dict[str, str]]
) -> None:
    contexts: dict[str, str] = {}
    entries = results["mutants"]
    assert isinstance(entries, dict)
    for target in sorted({e["target"] for e in entries.values()}):
        path = root / target
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            kind = "python" if target.endswith(".py") else "sql"
            contexts.update((m.id, m.context(text)) for m in _generate(root, target, kind))
    text = report.summary(results, judgments, contexts)
    (out / "summary.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
