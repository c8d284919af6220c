"""The mutant record shared by the generators, the runner and the report.

A mutant is one textual edit of one file: replace ``text[start:end]`` with ``replacement``.
Its id must survive unrelated edits of the file, so that a judgement written against it stays
attached: it is made of the file, the operator, a hash of the original and mutated source lines
(not their numbers), and an ordinal among mutants that share those three.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Mutant:
    id: str
    target: str  # path relative to the repository root, POSIX separators
    operator: str
    line: int  # 1-based line of the edit's start, for people; not part of the id
    end_line: int  # 1-based line of the edit's end (the lines whose tests judge it)
    start: int  # character offsets into the file's text
    end: int
    replacement: str
    description: str
    scope: str = ""  # the enclosing function / query name, for people and test lookup

    def apply(self, text: str) -> str:
        return text[: self.start] + self.replacement + text[self.end :]

    def context(self, text: str) -> str:
        """The mutated line(s) as they read after the edit, for a person judging it."""
        first, last = _touched_lines(text, self.start, self.end)
        return _clip(_squash(text[first : self.start] + self.replacement + text[self.end : last]))

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Edit:
    """An edit before it has an id."""

    operator: str
    start: int
    end: int
    replacement: str
    scope: str = ""


def _touched_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets of the whole lines that the span [start, end) touches."""
    first = text.rfind("\n", 0, start) + 1
    last = text.find("\n", end)
    return first, len(text) if last < 0 else last


def _squash(s: str) -> str:
    return " ".join(s.split())


def finish(target: str, text: str, edits: Iterable[Edit]) -> list[Mutant]:
    """Give each edit its stable id and a description; drop duplicates and no-ops."""
    seen_spans: set[tuple[int, int, str]] = set()
    ordinals: Counter[tuple[str, str]] = Counter()
    out: list[Mutant] = []
    for e in sorted(edits, key=lambda e: (e.start, e.end, e.operator, e.replacement)):
        if text[e.start : e.end] == e.replacement or (e.start, e.end, e.replacement) in seen_spans:
            continue
        seen_spans.add((e.start, e.end, e.replacement))
        first, last = _touched_lines(text, e.start, e.end)
        before = _squash(text[first:last])
        after = _squash(text[first : e.start] + e.replacement + text[e.end : last])
        # The scope (function or query name) is hashed too, so that the same line in two
        # functions gives two ids, and the ordinal only separates true twins.
        digest = hashlib.sha1(f"{e.scope}\0{before}\0{after}".encode()).hexdigest()[:10]
        ordinal = ordinals[(e.operator, digest)]
        ordinals[(e.operator, digest)] += 1
        line = text.count("\n", 0, e.start) + 1
        original = _squash(text[e.start : e.end])
        replaced = _squash(e.replacement)
        out.append(
            Mutant(
                id=f"{target}:{e.operator}:{digest}:{ordinal}",
                target=target,
                operator=e.operator,
                line=line,
                end_line=text.count("\n", 0, e.end) + 1,
                start=e.start,
                end=e.end,
                replacement=e.replacement,
                description=f"{_clip(original)} -> {_clip(replaced) or '(removed)'}",
                scope=e.scope,
            )
        )
    return out


def _clip(s: str, limit: int = 110) -> str:
    return s if len(s) <= limit else s[: limit - 3] + "..."
