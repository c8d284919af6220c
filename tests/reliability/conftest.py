"""Counts of what the reliability tests injected, printed per backend at the end of the run.

Each test adds what it did (operations, faults, hostile inputs) to the ``tally`` of its
backend; the summary is the evidence behind the reliability note (``README.md`` here).
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests._backends import Backend
from tests.reliability._tally import TALLY


@pytest.fixture
def tally(backend: Backend) -> Counter[str]:
    """The counter of this test's backend: ``tally["reads"] += 1``."""
    return TALLY[backend.name]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLY:
        return
    terminalreporter.section("reliability: what was injected, per backend")
    for name in sorted(TALLY):
        counts = ", ".join(f"{key}={value}" for key, value in sorted(TALLY[name].items()))
        terminalreporter.write_line(f"{name}: {counts}")
