"""docs/conformance.md against the suite it describes, so that the page cannot rot.

Every test the page names must exist in the file its section names, and a test listed under
a numbered case must sit under that case's section comment (``# 7 ----``) in the test file.
Every case from 1 to 24 is on the page, in order, with at least one test.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "conformance.md"
CASES = 24
_SECTION_COMMENT = re.compile(r"^# (\d+) -{5,}\s*$")


def case_of_each_test(path: Path) -> dict[str, int | None]:
    """Every test function of a file -> the number of the case section it is in (or None)."""
    source = path.read_text(encoding="utf-8")
    starts: list[tuple[int, int | None]] = []  # (line, case) where a section begins
    for number, line in enumerate(source.splitlines(), start=1):
        if line.startswith("# ") and line.rstrip().endswith("-----"):
            match = _SECTION_COMMENT.match(line)
            starts.append((number, int(match.group(1)) if match else None))
    out: dict[str, int | None] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test_"
        ):
            before = [case for line, case in starts if line < node.lineno]
            out[node.name] = before[-1] if before else None
    return out


def page_entries() -> list[tuple[str, int | None, str]]:
    """(test file, case number or None, test name) for every test the page lists."""
    text = PAGE.read_text(encoding="utf-8")
    entries: list[tuple[str, int | None, str]] = []
    source: str | None = None
    case: int | None = None
    for line in text.splitlines():
        heading = re.match(r"^(#{2,3}) (.*)$", line)
        if heading:
            named = re.search(r"`(tests/conformance/\w+\.py)`", heading.group(2))
            if heading.group(1) == "##":
                source, case = (named.group(1) if named else None), None
            else:
                source = named.group(1) if named else source
                number = re.match(r"(\d+)\. ", heading.group(2))
                case = int(number.group(1)) if number else None
            continue
        item = re.match(r"^- `(test_\w+)`", line)
        if item:
            assert source, f"docs/conformance.md lists {item.group(1)} under no test file"
            entries.append((source, case, item.group(1)))
    return entries


def test_every_test_the_page_names_exists_under_its_case() -> None:
    entries = page_entries()
    assert len(entries) > CASES
    found: dict[str, dict[str, int | None]] = {}
    for source, case, name in entries:
        if source not in found:
            found[source] = case_of_each_test(ROOT / source)
        assert name in found[source], f"docs/conformance.md: {source} has no {name}"
        if case is not None:
            assert found[source][name] == case, (
                f"docs/conformance.md lists {name} under case {case}, "
                f"but {source} has it under case {found[source][name]}"
            )


def test_every_case_is_on_the_page_in_order_with_a_test() -> None:
    text = PAGE.read_text(encoding="utf-8")
    numbers = [int(n) for n in re.findall(r"^### (\d+)\. ", text, re.M)]
    assert numbers == list(range(1, CASES + 1))
    tested = {case for _, case, _ in page_entries() if case is not None}
    assert tested == set(range(1, CASES + 1))


def test_case_of_each_test_reads_the_section_comments(tmp_path: Path) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        "def test_before():\n    pass\n"
        "# 3 ----------\n"
        "async def test_three():\n    pass\n"
        "# Other things ----------\n"
        "def test_other():\n    pass\n",
        encoding="utf-8",
    )
    assert case_of_each_test(sample) == {"test_before": None, "test_three": 3, "test_other": None}
