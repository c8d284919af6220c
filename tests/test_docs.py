"""Every code block of docs/*.md runs here, and README.md's Python blocks too.

A page runs top to bottom in a temporary folder (its working directory), its blocks sharing
one namespace, as a reader typing them in order would:

- ``python``: executed; top-level ``await`` / ``async with`` are allowed.
- ``console``: each ``$ asyncauth ...`` line runs the CLI; the lines after it are its expected
  stdout (a ``...`` line matches any number of lines; ``[exit N]`` is the exit status).
- ``tree``: a folder (first line) and paths inside it, indented: each must exist.
- ``sql``: must start with ``-- file: <path>``; the block must appear verbatim in that file
  of the repository, so documented SQL cannot drift from the shipped SQL.

Any other block in docs/ fails the test: nothing is shown that is not checked. A page whose
blocks mention ``ASYNCAUTH_PG_URL`` (or another variable of ``SERVERS``) gets a fresh database
of that server under that variable, through the backend registry: skipped locally when the
server is down, a failure in CI.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import _backends

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
README = ROOT / "README.md"
# Variable -> (provisioning context manager's name in tests._backends, pytest marker). Looked up
# by name so that a backend's entry works as soon as its registry function exists.
SERVERS = {
    "ASYNCAUTH_PG_URL": ("postgres_database", "postgres"),
    "ASYNCAUTH_MYSQL_URL": ("mysql_database", "mysql"),
    "ASYNCAUTH_MONGO_URL": ("secantus_database", "mongodb"),
}
_FENCE = re.compile(r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```\s*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    lang: str
    body: str
    line: int


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    return [
        Block(m.group("lang"), m.group("body"), text.count("\n", 0, m.start()) + 1)
        for m in _FENCE.finditer(text)
    ]


def servers(found: list[Block]) -> list[str]:
    """The server variables a page's blocks use."""
    return [name for name in SERVERS if any(name in b.body for b in found)]


def pages() -> list[object]:
    out: list[object] = []
    for page in [*DOCS, README]:
        if not page.exists():
            continue
        needed = servers(blocks(page))
        marks = [getattr(pytest.mark, SERVERS[n][1]) for n in needed] or [pytest.mark.sqlite]
        out.append(pytest.param(page, id=page.relative_to(ROOT).as_posix(), marks=marks))
    return out


@asynccontextmanager
async def environment(needed: list[str]) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        for name in needed:
            provision = getattr(_backends, SERVERS[name][0], None)
            assert provision is not None, f"tests._backends has no {SERVERS[name][0]}()"
            url = await stack.enter_async_context(provision())
            os.environ[name] = url
            stack.callback(os.environ.pop, name, None)
        yield


async def run_python(block: Block, namespace: dict[str, object], where: str) -> None:
    code = compile(block.body, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)  # the repository's own documentation
    if inspect.iscoroutine(result):
        await result


def run_console(block: Block, where: str) -> None:
    commands: list[tuple[str, list[str]]] = []
    for line in block.body.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            assert commands, f"{where}: output before any '$ ' command"
            commands[-1][1].append(line)
    assert commands, f"{where}: a console block without a command"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("ASYNCAUTH_URL", None)
    for command, expected in commands:
        argv = shlex.split(os.path.expandvars(command))
        assert argv[0] == "asyncauth", f"{where}: only asyncauth commands run here: {command}"
        done = subprocess.run(
            [sys.executable, "-m", "asyncauth", *argv[1:]],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        want_status = 0
        if expected and re.fullmatch(r"\[exit \d+\]", expected[-1].strip()):
            want_status = int(expected.pop()[6:-1])
        assert done.returncode == want_status, f"{where}: {command}\n{done.stdout}{done.stderr}"
        shown = "\n".join(expected)
        assert matches(done.stdout.splitlines(), expected), (
            f"{where}: {command}\n--- expected\n{shown}\n--- got\n{done.stdout}"
        )


def matches(got: list[str], want: list[str]) -> bool:
    """Line-by-line equality (trailing spaces ignored), where a ``...`` line matches any run."""
    got = [g.rstrip() for g in got]
    if not want:
        return not got
    if want[0].strip() == "...":
        return any(matches(got[i:], want[1:]) for i in range(len(got) + 1))
    return bool(got) and got[0] == want[0].rstrip() and matches(got[1:], want[1:])


def check_sql(block: Block, where: str) -> None:
    first, _, rest = block.body.partition("\n")
    match = re.fullmatch(r"--\s*file:\s*(\S+)\s*", first)
    assert match, f"{where}: a sql block must start with '-- file: <path in the repository>'"
    shipped = (ROOT / match.group(1)).read_text(encoding="utf-8")
    assert rest.strip() in shipped, f"{where}: this SQL is not in {match.group(1)} any more"


def check_tree(block: Block, where: str) -> None:
    root, *paths = block.body.splitlines()
    for path in paths:
        assert (ROOT / root.strip() / path.strip()).exists(), f"{where}: no {root}{path.strip()}"


@pytest.mark.anyio
@pytest.mark.parametrize("page", pages())
async def test_code_blocks_run(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    found = blocks(page)
    strict = page != README  # README is the lead's: only its Python blocks are run
    async with environment(servers(found)):
        for block in found:
            where = f"{page.relative_to(ROOT)}:{block.line}"
            if block.lang == "python":
                await run_python(block, namespace, where)
            elif not strict:
                continue
            elif block.lang == "console":
                run_console(block, where)
            elif block.lang == "sql":
                check_sql(block, where)
            elif block.lang == "tree":
                check_tree(block, where)
            else:
                pytest.fail(f"{where}: a ```{block.lang} block is not checked by any test")


def test_the_docs_exist() -> None:
    names = {p.name for p in DOCS}
    assert {
        "backends.md",
        "bootstrap.md",
        "nextauth.md",
        "custom-models.md",
        "starlette.md",
        "schema.md",
        "conformance.md",
    } <= names


def test_matches() -> None:
    assert matches(["a", "b", "c"], ["a", "...", "c"])
    assert matches(["a"], ["a", "..."])
    assert not matches(["a", "b"], ["a"])
    assert not matches(["a", "x"], ["a", "...", "c"])
