"""The JSON report, the Markdown summary, and the judgments of survivors.

``results.json`` keeps one entry per mutant; a run replaces the entries of the targets it ran
and keeps the others, so modules can be measured one at a time into one report.

The judgments file maps a mutant id to ``{"verdict": ..., "reason": ...}``:

- ``equivalent``: no test could tell it apart (same behaviour); left out of the score;
- ``harmless``: it does differ, but in a way that does not matter (stated in the reason);
  it still counts as a survivor in the score.

Score = (killed + timeout) / (run - equivalent).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

VERDICTS = ("equivalent", "harmless")


def load_judgments(path: Path) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    for mutant_id, entry in data.items():
        if entry.get("verdict") not in VERDICTS or not entry.get("reason"):
            raise SystemExit(
                f"{path}: {mutant_id}: each judgement needs a verdict ({'/'.join(VERDICTS)}) "
                "and a reason"
            )
    return dict(data)


def load_results(path: Path) -> dict[str, Any]:
    if path.exists():
        return dict(json.loads(path.read_text(encoding="utf-8")))
    return {"runs": [], "mutants": {}}


def merge(previous: dict[str, Any], targets: set[str], run: dict[str, Any]) -> dict[str, Any]:
    """The previous results updated with this run's.

    A complete run of a target replaces all of that target's entries (mutants that no longer
    exist go away); a partial run (``--sample``, ``--id``, ...) only updates the mutants it ran.
    """
    partial = bool(run.get("sample") or run.get("filtered"))
    if partial:
        kept = dict(previous["mutants"])
        runs = list(previous["runs"])
    else:
        kept = {k: v for k, v in previous["mutants"].items() if v["target"] not in targets}
        runs = [r for r in previous["runs"] if not set(r["targets"]) <= targets]
    kept.update(run["mutants"])
    runs.append({k: v for k, v in run.items() if k != "mutants"})
    return {"runs": runs, "mutants": dict(sorted(kept.items()))}


def _verdict(entry: dict[str, Any], judgments: dict[str, dict[str, str]]) -> str:
    if entry["status"] != "survived":
        return entry["status"]
    judged = judgments.get(entry["id"])
    return judged["verdict"] if judged else "survived"


def summary(
    results: dict[str, Any],
    judgments: dict[str, dict[str, str]],
    contexts: dict[str, str] | None = None,
) -> str:
    """The Markdown summary; ``contexts`` maps ids to their mutated line, where known."""
    contexts = contexts or {}
    by_target: dict[str, list[dict[str, Any]]] = {}
    stale_results = []
    for entry in results["mutants"].values():
        if contexts and entry["id"] not in contexts:
            # The file changed since this mutant ran: it no longer exists, so it is not scored.
            stale_results.append(entry)
            continue
        by_target.setdefault(entry["target"], []).append(entry)
    lines = ["# Mutation results", ""]
    for run in results["runs"]:
        lines.append(
            f"- {run['started']}, commit `{run['commit']}`: {', '.join(run['targets'])} "
            f"({run['workers']} worker(s), {run['seconds']:.0f} s"
            + (f", sample of {run['sample']} per target" if run.get("sample") else "")
            + ")"
        )
        if run.get("flaky"):
            flaky = ", ".join(f"`{t}`" for t in run["flaky"])
            lines.append(f"  - left out as flaky (failed unmutated, then passed): {flaky}")
    lines += [
        "",
        "Score = (killed + timeout) / (run - equivalent). A harmless survivor still counts "
        "against the score; an unjudged one is listed below as *unjudged*.",
        "",
        "| target | generated | run | killed | timeout | survived | equivalent | harmless "
        "| unjudged | error | score |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    survivors: list[tuple[dict[str, Any], str]] = []
    for target in sorted(by_target):
        entries = by_target[target]
        generated = max(e.get("generated", len(entries)) for e in entries)
        counts = Counter(_verdict(e, judgments) for e in entries)
        run_count = len(entries)
        detected = counts["killed"] + counts["timeout"]
        survived = counts["survived"] + counts["equivalent"] + counts["harmless"]
        denominator = run_count - counts["equivalent"]
        score = f"{100 * detected / denominator:.1f}%" if denominator else "n/a"
        lines.append(
            f"| `{target}` | {generated} | {run_count} | {counts['killed']} | "
            f"{counts['timeout']} | {survived} | {counts['equivalent']} | {counts['harmless']} "
            f"| {counts['survived']} | {counts['error']} | **{score}** |"
        )
        for e in sorted(entries, key=lambda e: (e["line"], e["id"])):
            verdict = _verdict(e, judgments)
            if verdict in ("survived", "equivalent", "harmless", "error"):
                survivors.append((e, verdict))
    lines += ["", "## Survivors", ""]
    if not survivors:
        lines.append("None.")
    for e, verdict in survivors:
        reason = judgments.get(e["id"], {}).get("reason", "")
        label = {"survived": "unjudged"}.get(verdict, verdict)
        lines.append(
            f"- `{e['id']}` ({e['target']}:{e['line']}, {e['scope'] or 'module'}) "
            f"`{e['description']}` — **{label}**" + (f": {reason}" if reason else "")
        )
        after = e["description"].rsplit(" -> ", 1)[-1]
        if contexts.get(e["id"], after) != after:
            lines.append(f"  - mutated line: `{contexts[e['id']]}`")
    if stale_results:
        lines += [
            "",
            f"{len(stale_results)} result(s) left out: their mutants no longer exist in the "
            "current files (rerun those files).",
        ]
    known = {e["id"] for entries in by_target.values() for e in entries}
    measured = set(by_target)
    stale = sorted(i for i in judgments if i.split(":", 1)[0] in measured and i not in known)
    if stale:
        lines += ["", "## Judgments that match no mutant any more", ""]
        lines += [f"- `{i}`" for i in stale]
    return "\n".join(lines) + "\n"
