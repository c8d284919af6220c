"""Counts of what the reliability tests injected, printed per backend at the end of the run.

Each test adds what it did (operations, faults, hostile inputs) to the ``tally`` of its
backend; the summary is the evidence behind the reliability note (``README.md`` here).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from tests._backends import Backend
from tests.reliability._tally import TALLY


@pytest.fixture
def tally(backend: Backend) -> Counter[str]:
    """The counter of this test's backend: ``tally["reads"] += 1``."""
    return TALLY[backend.name]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _DROPPED:
        terminalreporter.write_line(
            f"reliability: not run on {', '.join(sorted(_DROPPED))} (not required here, see "
            "tests/reliability/README.md; ASYNCAUTH_RELIABILITY_ALL=1 runs them)"
        )
    for nodeid, reason in sorted(_LEFT_OUT.items()):
        terminalreporter.write_line(f"reliability: left out {nodeid}: {reason}")
    if not TALLY:
        return
    terminalreporter.section("reliability: what was injected, per backend")
    for name in sorted(TALLY):
        counts = ", ".join(f"{key}={value}" for key, value in sorted(TALLY[name].items()))
        terminalreporter.write_line(f"{name}: {counts}")


# Where the reliability suite is required to hold: every backend this machine runs.
# ASYNCAUTH_RELIABILITY_ALL=1 also runs what NOT_HERE leaves out.
REQUIRED = frozenset({"sqlite", "postgres", "mysql", "odbc-postgres", "odbc-mysql", "mongodb"})
# (test name, backend) pairs left out of the test command, each with the reason it prints.
NOT_HERE = {
    ("test_purge_deletes_in_bounded_batches_while_reads_go_on", "mongodb"): (
        "SecantusDB, the MongoDB-wire server available here, inserts ~2,000 indexed "
        "documents/s and takes ~3 s per 1,000-id delete, so loading and purging 110,000 rows "
        "outlasts the 120 s test timeout; against a real mongod run it with "
        "ASYNCAUTH_MONGODB_URL and ASYNCAUTH_RELIABILITY_ALL=1"
    ),
}
_LEFT_OUT: dict[str, str] = {}
_DROPPED: set[str] = set()


def _backend_of(item: pytest.Item) -> Backend | None:
    """The backend a test runs on, whatever its fixture is called (backend, server_backend)."""
    spec = getattr(item, "callspec", None)
    if spec is None:
        return None
    found = [v for v in spec.params.values() if isinstance(v, Backend)]
    return found[0] if found else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("ASYNCAUTH_RELIABILITY_ALL") == "1":
        return
    here = Path(__file__).parent
    kept, dropped = [], []
    for item in items:
        backend = _backend_of(item)
        inside = here in Path(str(item.fspath)).parents
        if inside and backend is not None and backend.name not in REQUIRED:
            dropped.append(item)
            _DROPPED.add(backend.name)
        elif inside and backend is not None and (item.originalname, backend.name) in NOT_HERE:
            dropped.append(item)
            _LEFT_OUT[item.nodeid] = NOT_HERE[(item.originalname, backend.name)]
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
