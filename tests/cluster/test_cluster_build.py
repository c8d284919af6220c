"""How ``_clusters._build`` treats a failed build: unit tests, no server started."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tests.cluster._clusters import _build, _program

pytestmark = pytest.mark.cluster


class _Interrupted(BaseException):
    pass


def test_a_lost_port_race_is_built_again_and_each_attempt_torn_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI", "true")  # a build given up on fails the test, never skips it
    roots: list[Path] = []
    torn: list[Path] = []

    def build(stack: contextlib.ExitStack, root: Path) -> str:
        roots.append(root)
        stack.callback(torn.append, root)
        if len(roots) == 1:
            (root / "etcd").mkdir()
            (root / "etcd" / "log").write_text(
                "listen tcp 127.0.0.1:2389: bind: address already in use"
            )
            raise OSError("etcd exited with 1")
        return "built"

    with _build("unit", None, build) as built:
        assert built == "built"
        assert torn == [roots[0]] and not roots[0].exists() and roots[1].exists()
    assert torn == roots and not roots[1].exists()


@pytest.mark.parametrize("ci", ["true", ""])
def test_any_other_failure_is_torn_down_and_skips_or_fails_in_ci(
    ci: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", ci)
    roots: list[Path] = []
    torn: list[Path] = []

    def build(stack: contextlib.ExitStack, root: Path) -> str:
        roots.append(root)
        stack.callback(torn.append, root)
        (root / "log").write_text("FATAL: something else")
        raise OSError("not ready within 60 s")

    outcome = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(outcome, match="cannot build unit: not ready within 60 s"):
        with _build("unit", None, build):
            pass  # pragma: no cover
    assert len(roots) == 1 and torn == roots and not roots[0].exists()


def test_an_interrupted_build_and_a_failed_test_are_torn_down() -> None:
    torn: list[str] = []

    def interrupted(stack: contextlib.ExitStack, root: Path) -> None:
        stack.callback(torn.append, "interrupted")
        raise _Interrupted

    with pytest.raises(_Interrupted):
        with _build("unit", None, interrupted):
            pass  # pragma: no cover

    def fine(stack: contextlib.ExitStack, root: Path) -> Path:
        stack.callback(torn.append, "fine")
        return root

    with pytest.raises(AssertionError):
        with _build("unit", None, fine) as root:
            raise AssertionError("the test failed")
    assert torn == ["interrupted", "fine"] and not root.exists()


@pytest.mark.parametrize("ci", ["true", ""])
def test_a_missing_program_says_how_to_install_it(ci: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", ci)
    outcome = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(
        outcome, match=r"no-such-daemon not found \(run `bash scripts/cluster-deps`"
    ):
        _program("no-such-daemon", "/nonexistent/*/no-such-daemon")
