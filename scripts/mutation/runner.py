"""Runs mutants against their tests, each worker in its own scratch copy of the repository.

The working tree is never written. Each worker copies the repository once (without .git, the
virtual environments and caches), then for each mutant writes the mutated file into its copy,
runs pytest there, and writes the original back. Python never writes bytecode in the copies
(``PYTHONDONTWRITEBYTECODE``) and their ``__pycache__`` folders are removed before every run,
so a stale ``.pyc`` cannot hide a mutant.

Each selection first runs once unmutated, traced, as a baseline: it must pass, and it gives
each test's duration and the lines it runs. A mutant then runs in two phases:

1. the tests that run its lines (for SQL: the lines that name its query), fastest first,
   stopping at the first failure;
2. if it survived that, or no test runs its lines, the whole selection: tests that work in a
   child process are invisible to the tracer.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .model import Mutant

PLUGIN_DIR = Path(__file__).resolve().parent
_SKIP_DIRS = {".git", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "__pycache__"}
# pytest's short summary: "FAILED tests/x.py::test[param with spaces] - message".
_FAILED = re.compile(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", re.MULTILINE)


def _ignore(root: Path) -> Callable[[str, list[str]], set[str]]:
    report = (PLUGIN_DIR / "report").resolve()

    def ignore(folder: str, names: list[str]) -> set[str]:
        out = set()
        for name in names:
            if name in _SKIP_DIRS or name.startswith(".venv") or name.endswith(".egg-info"):
                out.add(name)
            elif (Path(folder) / name).resolve() == report:
                out.add(name)
        return out

    return ignore


@dataclass
class Baseline:
    selection: str
    args: list[str]
    seconds: float
    durations: dict[str, float]
    coverage: dict[str, dict[str, list[int]]]
    flaky: list[str] = field(default_factory=list)
    # (file, line) -> tests that ran it; built once from ``coverage``.
    index: dict[tuple[str, int], set[str]] = field(default_factory=dict)

    def build_index(self) -> None:
        for test, files in self.coverage.items():
            for rel, lines in files.items():
                for line in lines:
                    self.index.setdefault((rel, line), set()).add(test)

    def covering(self, rel: str, lines: Sequence[int]) -> list[str]:
        found: set[str] = set()
        for line in lines:
            found |= self.index.get((rel, line), set())
        return sorted(found, key=lambda t: (self.durations.get(t, 0.0), t))


@dataclass
class Result:
    status: str  # killed | timeout | survived | error
    phase: int
    seconds: float
    killed_by: str = ""
    detail: str = ""


class Runner:
    def __init__(
        self,
        root: Path,
        *,
        workers: int,
        time_limit: float,
        python: str,
        log: Callable[[str], None],
    ) -> None:
        self.root = root.resolve()
        self.workers = max(1, workers)
        self.time_limit = time_limit
        self.python = python
        self.log = log
        self.scratch = Path(tempfile.mkdtemp(prefix="asyncauth-mutation-"))
        self.copies: queue.Queue[Path] = queue.Queue()
        for i in range(self.workers):
            dest = self.scratch / f"w{i}"
            shutil.copytree(self.root, dest, ignore=_ignore(self.root), symlinks=True)
            self.copies.put(dest)
        self._lock = threading.Lock()

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    # -- running pytest ------------------------------------------------------------------
    def _env(self, copy: Path, extra: dict[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "PYTHONDONTWRITEBYTECODE": "1",
                # The copy first, so nothing is imported from the working tree; the plugin's
                # own folder for ``-p mutation_plugin``.
                "PYTHONPATH": os.pathsep.join([str(copy), str(PLUGIN_DIR)]),
                "CI": env.get("CI", "true"),
                "MUTATION_ORIGINAL_ROOT": str(self.root),
            }
        )
        for name in ("MUTATION_TRACE_OUT", "MUTATION_SELECT", "MUTATION_LEAKS_OUT"):
            env.pop(name, None)
        env.update(extra)
        return env

    def _pytest(
        self, copy: Path, args: list[str], *, stop_first: bool, limit: float, extra: dict[str, str]
    ) -> tuple[int | None, str, float]:
        """Run pytest in ``copy``; the exit code is None when the time limit ran out."""
        for cache in copy.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
        cmd = [self.python, "-m", "pytest", *args, "-q", "-p", "no:cacheprovider"]
        cmd += ["-p", "mutation_plugin", "--no-header", "-o", "console_output_style=classic"]
        if stop_first:
            cmd.append("-x")
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            cwd=copy,
            env=self._env(copy, extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its own process group, so a timeout ends all of it
        )
        try:
            out, _ = proc.communicate(timeout=limit)
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            code = None
        return code, out, time.perf_counter() - started

    # -- baseline ------------------------------------------------------------------------
    def tree_digest(self) -> str:
        """A hash of the scratch copy's files: a baseline is reused only for the same tree."""
        copy = self.copies.get()
        try:
            digest = hashlib.sha256()
            tool = (
                copy / PLUGIN_DIR.relative_to(self.root)
                if PLUGIN_DIR.is_relative_to(self.root)
                else None
            )
            for path in sorted(p for p in copy.rglob("*") if p.is_file()):
                if tool is not None and path.is_relative_to(tool):
                    continue  # this tool's own code does not change what the tests do
                digest.update(path.relative_to(copy).as_posix().encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
            return digest.hexdigest()
        finally:
            self.copies.put(copy)

    def baseline(self, selection: str, args: list[str], cache: Path | None = None) -> Baseline:
        """The traced, unmutated run of a selection; reused from ``cache`` for the same tree."""
        key = hashlib.sha256(f"{self.tree_digest()}\0{selection}".encode()).hexdigest()[:16]
        cached = cache / f"baseline-{key}.json" if cache is not None else None
        if cached is not None and cached.exists():
            data = json.loads(cached.read_text())
            flaky = data.get("flaky", [])
            args = [*args, *(f"--deselect={t}" for t in flaky)]
            base = Baseline(
                selection, args, data["seconds"], data["durations"], data["coverage"], flaky=flaky
            )
            base.build_index()
            self.log(f"baseline {selection!r}: reused {cached.name} ({len(base.durations)} tests)")
            return base
        base = self._baseline(selection, args)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            payload = {"seconds": base.seconds, "durations": base.durations, "flaky": base.flaky}
            cached.write_text(json.dumps({**payload, "coverage": base.coverage}))
        return base

    def _flaky(self, copy: Path, args: list[str], out: str) -> list[str]:
        """The baseline's failed tests if each passes when run again alone; else []."""
        failed = sorted(set(_FAILED.findall(out)))
        if not failed or len(failed) > 5:
            return []
        for test in failed:
            self.log(f"baseline: {test} failed; running it again to see if it is flaky")
            code, _, _ = self._pytest(
                copy, [test, *_options(args)], stop_first=True, limit=600.0, extra={}
            )
            if code != 0:
                return []
        self.log(f"baseline: flaky, left out of this selection: {failed}")
        return failed

    def _baseline(self, selection: str, args: list[str]) -> Baseline:
        copy = self.copies.get()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                trace = Path(tmp) / "trace.json"
                leaks = Path(tmp) / "leaks.json"
                extra = {
                    "MUTATION_TRACE_OUT": str(trace),
                    "MUTATION_TRACE_ROOT": str(copy),
                    "MUTATION_LEAKS_OUT": str(leaks),
                }
                self.log(f"baseline for selection {selection!r}: pytest {' '.join(args)}")
                code, out, seconds = self._pytest(
                    copy, args, stop_first=False, limit=max(1800.0, self.time_limit), extra=extra
                )
                flaky: list[str] = []
                if code == 1:
                    flaky = self._flaky(copy, args, out)
                if code != 0 and not flaky:
                    tail = "\n".join(out.splitlines()[-40:])
                    raise SystemExit(
                        f"the baseline of selection {selection!r} does not pass "
                        f"(exit {code}); mutants cannot be judged against it:\n{tail}"
                    )
                leaked = json.loads(leaks.read_text()) if leaks.exists() else []
                if leaked:
                    raise SystemExit(
                        "modules were imported from the working tree instead of the scratch "
                        f"copy, so mutants would not be seen: {leaked}"
                    )
                data = json.loads(trace.read_text())
        finally:
            self.copies.put(copy)
        # A test that failed unmutated and passed when run again cannot judge a mutant: it is
        # left out of this selection (and named, so that it gets fixed).
        args = [*args, *(f"--deselect={t}" for t in flaky)]
        coverage = {t: c for t, c in data["coverage"].items() if t not in flaky}
        # The traced run is slower than a plain one: a safe basis for the time limits.
        base = Baseline(selection, args, seconds, data["durations"], coverage, flaky=flaky)
        base.build_index()
        self.log(f"baseline {selection!r}: {len(base.durations)} tests, {seconds:.0f} s traced")
        return base

    # -- one mutant ----------------------------------------------------------------------
    def run(self, mutant: Mutant, base: Baseline, covering: list[str]) -> Result:
        copy = self.copies.get()
        target = copy / mutant.target
        original = target.read_text(encoding="utf-8")
        try:
            target.write_text(mutant.apply(original), encoding="utf-8")
            return self._judge(copy, base, covering)
        finally:
            target.write_text(original, encoding="utf-8")
            self.copies.put(copy)

    def _judge(self, copy: Path, base: Baseline, covering: list[str]) -> Result:
        total = 0.0
        if covering:
            expected = sum(base.durations.get(t, 1.0) for t in covering)
            with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
                f.write("\n".join(covering))
            try:
                result = self._phase(copy, base, 1, expected, {"MUTATION_SELECT": f.name})
            finally:
                os.unlink(f.name)
            total += result.seconds
            if result.status != "survived":
                result.seconds = total
                return result
        deselected: list[str] = []
        for _ in range(3):
            result = self._phase(copy, base, 2, base.seconds, {}, deselected)
            total += result.seconds
            result.seconds = total
            test = result.killed_by
            if deselected:
                result.detail = f"flaky, left out: {', '.join(deselected)}"
            if result.status != "killed" or not test or test in covering or "::" not in test:
                return result
            # Killed by a test that never ran the mutated lines (a child process's test, or a
            # timing-sensitive one under load): it must fail again, alone, to count.
            code, _, seconds = self._pytest(
                copy, [test, *_options(base.args)], stop_first=True, limit=600.0, extra={}
            )
            total += seconds
            if code != 0:
                return result
            self.log(f"{test} failed once, then passed alone: run again without it")
            deselected.append(test)
        return result

    def _phase(
        self,
        copy: Path,
        base: Baseline,
        phase: int,
        expected: float,
        extra: dict[str, str],
        deselected: Sequence[str] = (),
    ) -> Result:
        limit = self.time_limit + 2 * expected
        args = [*base.args, *(f"--deselect={t}" for t in deselected)]
        if "MUTATION_SELECT" in extra:
            # Collect only the files that hold the chosen tests: collecting the whole tree
            # costs more than running a few fast tests.
            chosen = Path(extra["MUTATION_SELECT"]).read_text().splitlines()
            files = sorted({nodeid.split("::", 1)[0] for nodeid in chosen})
            args = [*files, *_options(base.args)]
        code, out, seconds = self._pytest(copy, args, stop_first=True, limit=limit, extra=extra)
        failed = _FAILED.search(out)
        killed_by = failed.group(1) if failed else ""
        if code is None:
            return Result("timeout", phase, seconds, killed_by, f"over {limit:.0f} s")
        if code == 0:
            return Result("survived", phase, seconds)
        if code in (1, 2, 3):
            # 1: a test failed; 2/3: the run broke (a collection or import error), which the
            # unmutated baseline did not do.
            detail = "" if code == 1 else f"pytest exit {code}"
            if not killed_by:
                killed_by = _first_error(out)
            return Result("killed", phase, seconds, killed_by, detail)
        if code == 5 and phase == 1:
            return Result("survived", phase, seconds, detail="selected tests not collected")
        return Result("error", phase, seconds, detail=f"pytest exit {code}: {_first_error(out)}")

    def run_all(
        self,
        jobs: list[tuple[Mutant, Baseline, list[str]]],
        on_result: Callable[[Mutant, Result], None],
    ) -> None:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = {pool.submit(self.run, m, b, c): m for m, b, c in jobs}
            for future in futures:
                on_result(futures[future], future.result())

    def check_restored(self, targets: set[str]) -> None:
        """Every copy holds the original text of every target again (a guard on the tool)."""
        copies = [self.copies.get() for _ in range(self.workers)]
        try:
            for copy in copies:
                for rel in targets:
                    original = (self.root / rel).read_text(encoding="utf-8")
                    if (copy / rel).read_text(encoding="utf-8") != original:
                        raise SystemExit(f"internal error: {copy / rel} was not restored")
        finally:
            for copy in copies:
                self.copies.put(copy)


def _options(args: list[str]) -> list[str]:
    """The selection's arguments without its test paths (``-m EXPR`` and the like kept)."""
    out: list[str] = []
    takes_value = False
    for arg in args:
        if takes_value or arg.startswith("-"):
            out.append(arg)
            takes_value = arg in ("-m", "-k", "-o", "-p", "--ignore", "--deselect")
        else:
            takes_value = False
    return out


def _first_error(out: str) -> str:
    for line in out.splitlines():
        if line.startswith(("E ", "ERROR", "ImportError", "SyntaxError")):
            return line.strip()[:200]
    return ""


def default_python(root: Path) -> str:
    venv = root / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable
