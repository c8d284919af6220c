"""A smoke of the mutation tool (scripts/mutate), cheap enough for every test run.

The real mutation run takes tens of minutes and stays out of the suite (docs/testing.md). Here
the tool runs end to end on a toy project of one module, one SQL file and three tests: a known
mutant of each kind must be killed, the equivalent one judged so, the report written and the
toy's own files left untouched. The rest checks the generators on the real targets, without
running any test.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from asyncauth._sql import load_queries
from scripts.mutation import pymut, report, sqlmut, targets

ROOT = Path(__file__).resolve().parents[1]

TOY = {
    "pyproject.toml": """
        [tool.pytest.ini_options]
        pythonpath = ["."]
        testpaths = ["tests"]
        # Each plugin costs every one of the tool's pytest runs its start-up time.
        addopts = "-p no:hypothesispytest -p no:anyio -p no:timeout"
        """,
    "pkg/__init__.py": "",
    "pkg/calc.py": """
        def clamp(value: int, low: int) -> int:
            if value < low:
                return low
            return value
        """,
    "pkg/db.py": """
        import sqlite3
        from pathlib import Path

        SQL = Path(__file__).parent / "sql" / "sqlite" / "items.sql"


        def active(conn: sqlite3.Connection, now: int) -> list[int]:
            text = SQL.read_text().split("-- params: now")[1]
            query = text.replace(":now", "?")
            return [row[0] for row in conn.execute(query, (now,))]
        """,
    "pkg/sql/sqlite/items.sql": """
        -- name: active
        -- params: now
        SELECT id FROM items WHERE expires > :now ORDER BY id;
        """,
    "tests/test_toy.py": """
        import sqlite3

        from pkg.calc import clamp
        from pkg.db import active


        def test_clamp_keeps_a_value_above_the_floor():
            assert clamp(5, 0) == 5


        def test_clamp_raises_a_value_below_the_floor():
            assert clamp(-3, 0) == 0


        def test_active_items():
            conn = sqlite3.connect(":memory:")
            conn.execute("CREATE TABLE items (id integer, expires integer)")
            conn.executemany("INSERT INTO items VALUES (?, ?)", [(1, 10), (2, 20), (3, 30)])
            assert active(conn, 15) == [2, 3]
            assert active(conn, 20) == [3]
        """,
    # Fails the first time only: the baseline must spot it as flaky and leave it out.
    "tests/test_flaky.py": """
        import os
        from pathlib import Path


        def test_fails_once():
            marker = Path(os.environ["TOY_FLAKY_MARKER"])
            if not marker.exists():
                marker.write_text("failed once")
                raise AssertionError("the first run fails")
        """,
}


def _make_toy(folder: Path) -> None:
    for rel, text in TOY.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_tool_runs_kills_and_reports(tmp_path: Path) -> None:
    toy = tmp_path / "toy"
    _make_toy(toy)
    before = _digest(toy)
    calc = (toy / "pkg/calc.py").read_text()
    boundary = next(m for m in pymut.mutants("pkg/calc.py", calc) if m.description == "< -> <=")
    judgments = tmp_path / "judgments.json"
    judgments.write_text(
        json.dumps({boundary.id: {"verdict": "equivalent", "reason": "clamp(x, x) is x"}})
    )
    out = tmp_path / "report"
    argv = ["--root", str(toy), "--module", "pkg/calc.py", "--sql", "pkg/sql/sqlite/items.sql"]
    argv += ["--tests", "tests", "--workers", "2", "--operator", "return,relax,cmp"]
    argv += ["--out", str(out), "--judgments", str(judgments), "--python", sys.executable]
    done = subprocess.run(
        [sys.executable, "-m", "scripts.mutation", *argv],
        cwd=ROOT,
        env={**os.environ, "TOY_FLAKY_MARKER": str(tmp_path / "flaky-marker")},
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    written = json.loads((out / "results.json").read_text())
    assert written["runs"][-1]["flaky"] == ["tests/test_flaky.py::test_fails_once"]
    results = written["mutants"]
    by_description = {(m["target"], m["description"]): m for m in results.values()}
    # A known Python mutant and a known SQL mutant (the filter dropped, parameter still bound).
    assert by_description[("pkg/calc.py", "low -> None")]["status"] == "killed"
    relaxed = by_description[
        ("pkg/sql/sqlite/items.sql", "expires > :now -> (expires > :now OR 1=1)")
    ]
    assert relaxed["status"] == "killed"
    assert relaxed["killed_by"] == "tests/test_toy.py::test_active_items"
    assert results[boundary.id]["status"] == "survived"
    # The judged survivor is out of the score; the summary says why.
    summary = (out / "summary.md").read_text()
    assert f"`{boundary.id}`" in summary and "clamp(x, x) is x" in summary
    assert "| `pkg/calc.py` |" in summary and "**100.0%**" in summary
    # The traced baseline is kept for the next run of the same tree (e.g. one mutant by --id).
    assert list((out / "cache").glob("baseline-*.json"))
    # The working tree was never written: every mutant ran in a scratch copy.
    assert _digest(toy) == before


def test_ids_survive_unrelated_edits() -> None:
    text = (ROOT / "asyncauth/_validate.py").read_text(encoding="utf-8")
    edited = text.replace("\nSHORT: Final", "\n# an unrelated comment\n\nSHORT: Final", 1)
    assert edited != text
    before = {m.id: m.line for m in pymut.mutants("asyncauth/_validate.py", text)}
    after = {m.id: m.line for m in pymut.mutants("asyncauth/_validate.py", edited)}
    assert before.keys() == after.keys()
    assert all(after[i] == line + 2 for i, line in before.items() if line > 17)


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_sql_mutants_keep_every_parameter_bound(dialect: str, tmp_path: Path) -> None:
    files = targets.sql_files(ROOT, dialect)
    found = [m for f in files for m in sqlmut.mutants(f, (ROOT / f).read_text(encoding="utf-8"))]
    operators = {m.operator for m in found}
    assert {"relax", "cmp", "set", "case", "order", "limit"} <= operators
    hot = [m for m in found if m.scope == "get_session_and_user" and m.operator == "relax"]
    assert any(
        "expires) > :now OR 1=1" in m.replacement or "expires > :now OR 1=1" in m.replacement
        for m in hot
    )
    # The hot-path statement's parameters are still all there in each mutant.
    for m in hot:
        text = m.apply((ROOT / m.target).read_text(encoding="utf-8"))
        assert ":session_token" in text and ":now" in text
    assert len({m.id for m in found}) == len(found)
    # Each mutated file still loads (same names, every parameter bound, nothing stray): fed
    # to the library's loader as a custom-SQL override of the bundled file.
    style = {"sqlite": "qmark", "postgres": "numeric"}[dialect]
    for i, m in enumerate(found):
        folder = tmp_path / str(i)
        mutated = folder / "queries" / dialect / Path(m.target).name
        mutated.parent.mkdir(parents=True)
        mutated.write_text(m.apply((ROOT / m.target).read_text(encoding="utf-8")))
        assert load_queries(dialect, style, [folder]), m.id


def test_every_default_module_has_mutants_and_the_judgments_load() -> None:
    for module in targets.MODULES:
        found = pymut.mutants(module, (ROOT / module).read_text(encoding="utf-8"))
        assert found, module
        assert len({m.id for m in found}) == len(found)
    report.load_judgments(ROOT / "scripts/mutation/judgments.json")
