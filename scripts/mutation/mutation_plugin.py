"""A pytest plugin that the mutation runner loads into the test runs it starts.

It is driven by environment variables, so that it does nothing unless asked:

- ``MUTATION_TRACE_OUT``: record, per test, the lines of the code under test that it ran
  (files under ``MUTATION_TRACE_ROOT``, test files excluded) and its duration, and write them
  there as JSON. Only the baseline run does this: tracing is slow.
- ``MUTATION_SELECT``: a file of test ids, one a line; only those run, in that order.
- ``MUTATION_ORIGINAL_ROOT``: the working tree the scratch copy came from. A module imported
  from there instead of from the copy would mean the mutants are not being tested; the
  baseline lists any such module in ``MUTATION_LEAKS_OUT`` and the runner stops.

A hand-written tracer (``sys.settrace``) stands in for coverage.py's per-test contexts, so the
tool needs nothing beyond the test dependencies. Lines run while collecting, or inside a child
process, are attributed to no test: the runner falls back to the whole selection for those.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Generator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

_HERE = str(Path(__file__).resolve().parent)


class _Tracer:
    def __init__(self, root: str) -> None:
        self.root = root.rstrip(os.sep) + os.sep
        self.wanted: dict[str, str | None] = {}  # filename -> relative path, or None
        self.current: set[tuple[str, int]] = set()
        self.per_test: dict[str, dict[str, list[int]]] = {}
        self.durations: dict[str, float] = {}

    def _relative(self, filename: str) -> str | None:
        rel = self.wanted.get(filename, "")
        if rel != "":
            return rel
        found: str | None = None
        if filename.startswith(self.root) and filename.endswith(".py"):
            rel_path = filename[len(self.root) :].replace(os.sep, "/")
            parts = rel_path.split("/")
            if "tests" not in parts and not parts[-1].startswith(("test_", "conftest")):
                found = rel_path
        self.wanted[filename] = found
        return found

    def global_trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        rel = self._relative(frame.f_code.co_filename)
        if rel is None:
            return None
        self.current.add((rel, frame.f_lineno))

        def local(frame: FrameType, event: str, arg: Any) -> Any:
            if event == "line":
                self.current.add((rel, frame.f_lineno))
            return local

        return local

    def start(self) -> None:
        threading.settrace(self.global_trace)
        sys.settrace(self.global_trace)

    def stop(self) -> None:
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]

    def finish_test(self, nodeid: str, seconds: float) -> None:
        files: dict[str, list[int]] = {}
        for rel, line in self.current:
            files.setdefault(rel, []).append(line)
        self.per_test[nodeid] = {rel: sorted(lines) for rel, lines in files.items()}
        self.durations[nodeid] = seconds
        self.current = set()


_tracer: _Tracer | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _tracer
    if os.environ.get("MUTATION_TRACE_OUT") and _tracer is None:
        _tracer = _Tracer(os.environ["MUTATION_TRACE_ROOT"])
        _tracer.start()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: object) -> Generator[None]:
    if _tracer is None:
        yield
        return
    _tracer.current = set()  # lines run between tests (collection, teardown of the last)
    started = time.perf_counter()
    # Some tests (or pytest-timeout) replace the trace function; set it again for each test.
    sys.settrace(_tracer.global_trace)
    yield
    _tracer.finish_test(item.nodeid, time.perf_counter() - started)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    select = os.environ.get("MUTATION_SELECT")
    if not select:
        return
    order = {nodeid: i for i, nodeid in enumerate(Path(select).read_text().splitlines())}
    keep = sorted((item for item in items if item.nodeid in order), key=lambda i: order[i.nodeid])
    drop = [item for item in items if item.nodeid not in order]
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _tracer is not None:
        _tracer.stop()
        Path(os.environ["MUTATION_TRACE_OUT"]).write_text(
            json.dumps({"coverage": _tracer.per_test, "durations": _tracer.durations})
        )
    original = os.environ.get("MUTATION_ORIGINAL_ROOT")
    leaks_out = os.environ.get("MUTATION_LEAKS_OUT")
    if original and leaks_out:
        prefix = original.rstrip(os.sep) + os.sep
        leaks = []
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if not path:
                continue
            real = os.path.realpath(path)
            if not real.startswith(prefix) or real.startswith(_HERE):
                continue
            if real[len(prefix) :].startswith(".venv"):
                continue  # the virtual environment's packages, not the code under test
            leaks.append(name)
        Path(leaks_out).write_text(json.dumps(leaks))
