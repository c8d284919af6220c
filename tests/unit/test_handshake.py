"""The file handshake of tests/_handshake.py: a marker is seen whole or not at all.

Issue 11: a fault test read its child's marker file after the child created it and before
the child wrote it (``assert 'authenticators' in ''``). These tests pin the handshake down
without a database: a reader polling as hard as it can never sees a marker half-written.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tests._handshake import wait_for_file, write_atomically

# Large enough that a plain ``write_text`` takes many reads' time between creating the file
# and finishing it; the atomic write must hide that window entirely.
TEXT = "CREATE TABLE IF NOT EXISTS authenticators " + "x" * 4_000_000
MARKERS = 20


def test_a_reader_never_sees_a_marker_half_written(tmp_path: Path) -> None:
    seen: list[int] = []  # the length of every text read before the whole one
    failures: list[BaseException] = []

    def write_all() -> None:
        try:
            for index in range(MARKERS):
                write_atomically(tmp_path / f"marker-{index}", TEXT)
        except BaseException as exc:  # reported by the reader's thread below
            failures.append(exc)

    writer = threading.Thread(target=write_all)
    writer.start()
    try:
        for index in range(MARKERS):
            marker = tmp_path / f"marker-{index}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not failures:
                try:
                    text = marker.read_text(encoding="utf-8")
                except FileNotFoundError:
                    continue  # not there yet: poll as hard as possible, to catch any window
                if text == TEXT:
                    break
                seen.append(len(text))
            else:
                raise AssertionError(f"marker {index} never appeared: {failures!r}")
    finally:
        writer.join(timeout=60)
    assert failures == []
    assert seen == [], f"{len(seen)} reads found a partial marker, e.g. {seen[:5]} characters"
    # Only the markers are left: no temporary file stays behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"marker-{index}" for index in range(MARKERS)
    )


def test_waiting_returns_the_text_or_gives_up_when_the_child_is_gone(tmp_path: Path) -> None:
    marker = tmp_path / "parked"
    started = time.monotonic()
    assert wait_for_file(marker, timeout=30, alive=lambda: False) is None
    assert time.monotonic() - started < 5  # a dead child ends the wait, not the deadline
    assert wait_for_file(marker, timeout=0.05) is None  # nobody writes: the deadline ends it
    write_atomically(marker, "parked at step 2")
    # A child that wrote its marker and then died still counts as having got there.
    assert wait_for_file(marker, timeout=30, alive=lambda: False) == "parked at step 2"
