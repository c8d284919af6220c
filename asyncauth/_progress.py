"""The one progress printer of the CLI: ``asyncauth purge`` and ``asyncauth bench`` share it.

One status line on stderr. On a terminal it is rewritten in place; anywhere else (a log, a
pipe, CI) a rewrite would leave carriage returns in the file, so each step is a line of its
own and the in-between labels are not printed. With a ``total`` the line carries a bar and a
percentage; without one (purge cannot know how many rows will go) it is the label alone.
"""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["Progress"]

_BAR_WIDTH = 30


class Progress:
    """A status line on ``stream`` (stderr by default), or nothing when not ``enabled``.

    ``step`` advances by a unit of work and prints; ``show`` only names what runs now (drawn
    on a terminal, where it costs nothing, skipped elsewhere); ``close`` ends the line.
    """

    def __init__(
        self, total: int | None = None, *, enabled: bool = True, stream: TextIO | None = None
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.live = enabled and _is_terminal(self.stream)
        self.total = None if total is None else max(1, total)
        self.done = 0
        self.label = ""
        self._drawn = False

    def step(self, label: str | None = None, amount: int = 1) -> None:
        """Advance by ``amount`` units; ``label`` names what runs now."""
        self.done += amount
        if self.total is not None:
            self.done = min(self.total, self.done)
        if label is not None:
            self.label = label
        self._draw()

    def show(self, label: str) -> None:
        """Name what runs now without advancing."""
        self.label = label
        if self.live:
            self._draw()

    def close(self) -> None:
        """End the line the terminal was rewriting (nothing to do elsewhere)."""
        if self.live and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def line(self) -> str:
        """The text of the status line as it stands."""
        if self.total is None:
            return self.label
        filled = _BAR_WIDTH * self.done // self.total
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        return f"[{bar}] {100 * self.done // self.total:3d}% {self.label}"

    def _draw(self) -> None:
        if not self.enabled:
            return
        if self.live:
            # Carriage return, then erase to the end of the line: a shorter label leaves no tail.
            self.stream.write(f"\r\x1b[K{self.line()}")
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()
        self._drawn = True


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream
        return False
