"""File handshakes between a test and a process it started: the marker is all or nothing.

A child that says "I got here" by writing a file must never let the test see that file
before it is complete: ``Path.write_text`` creates the file empty and writes it after, so a
test polling for the file can read it in between and find ``''`` (issue 11: the SQLite
migration kill test read its marker that way and failed with ``assert 'authenticators' in
''``). :func:`write_atomically` writes a temporary file beside the target and renames it into
place (``os.replace`` is atomic on one file system), so the target appears with its whole
text or not at all. :func:`wait_for_file` is the test's side: poll with a deadline, and stop
at once if the child died instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

#: How often the waiting side looks for the file; a handshake, not a benchmark.
POLL_EVERY = 0.01


def write_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Make ``path`` appear with ``text`` in one step (a temporary file renamed into place)."""
    target = Path(path)
    # The temporary file is in the same directory, so the rename never crosses file systems,
    # and is named after the process, so two writers never share one.
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, target)


def wait_for_file(
    path: str | os.PathLike[str],
    *,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
) -> str | None:
    """The text of ``path`` once it exists; ``None`` if ``alive()`` turns false first or
    ``timeout`` seconds pass. Written with :func:`write_atomically`, the text is whole."""
    target = Path(path)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return target.read_text(encoding="utf-8")
        except FileNotFoundError:
            pass
        # Looked at after the read: a child that wrote the file and then exited still counts.
        if not alive() or time.monotonic() >= deadline:
            try:
                return target.read_text(encoding="utf-8")
            except FileNotFoundError:
                return None
        time.sleep(POLL_EVERY)
