"""Mutants of a file of named SQL queries (``-- name:`` blocks), written as rules over its text.

Every mutant keeps each ``:param`` of its query bound exactly as before, so the library's loader
accepts it and the mutant is judged by the tests, not by a load error. Operators:

- ``relax``: a condition term (after WHERE, ON, AND, OR, WHEN, NOT or ``(``) made always true,
  as ``(term OR 1=1)``: a dropped filter, with its parameter still bound;
- ``cmp``: an ordering comparison moved across its boundary (``<``/``<=``, ``>``/``>=``) or
  inverted (``<``/``>``); ``null``: ``IS NULL``/``IS NOT NULL`` swapped;
- ``andor``: one ``AND`` between conditions made ``OR``;
- ``set``: one assignment of an UPDATE made ineffective, ``col = COALESCE(col, expr)``;
- ``case``: the THEN and ELSE results of a ``CASE WHEN`` swapped;
- ``order``: an ``ORDER BY`` clause removed; ``limit``: ``LIMIT x`` made ``LIMIT x + 1``;
- ``drop``: one statement of a several-statement query removed.

Comments and string literals are masked before any rule looks at the text.
"""

from __future__ import annotations

import re

from .model import Edit, Mutant, finish

_HEADER = re.compile(r"^--\s*name:\s*(?P<name>\w+)\s*$", re.MULTILINE)
_MASKED = re.compile(r"'(?:[^']|'')*'|--[^\n]*")
_PARAM = re.compile(r"(?<!:):(?P<name>[A-Za-z_]\w*)")
_KW_BEFORE = re.compile(r"(?:\bWHERE|\bAND|\bOR|\bON|\bWHEN|\bNOT|\()\s*$", re.IGNORECASE)
_CAST = r"(?:::[A-Za-z_]\w*(?:\s*\(\d+\))?)*"
_OPERAND = r"(?:[A-Za-z_][\w.]*\s*\([^()]*\)|:?[A-Za-z_][\w.]*|'[^']*'|\d+)" + _CAST
_TERM = re.compile(
    rf"(?P<lhs>{_OPERAND})\s*(?P<op><>|!=|<=|>=|=|<|>)\s*(?P<rhs>{_OPERAND})"
    rf"|(?P<nlhs>{_OPERAND})\s+IS\s+(?P<not>NOT\s+)?NULL\b",
    re.IGNORECASE,
)
_KEYWORDS = {"and", "or", "not", "where", "on", "when", "then", "else", "end", "null", "is"}
_BOUNDARY = {"<": "<=", "<=": "<", ">": ">=", ">=": ">"}
_INVERT = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
_CLAUSE_END = re.compile(
    r"\b(?:LIMIT|OFFSET|FOR|FETCH|RETURNING|WHERE|GROUP|HAVING|UNION)\b|[);]", re.IGNORECASE
)


def _mask(text: str) -> str:
    """The text with comments and string literals blanked (same length, same offsets)."""
    return _MASKED.sub(lambda m: " " * len(m.group()), text)


def _params(text: str) -> set[str]:
    return {m.group("name") for m in _PARAM.finditer(_mask(text))}


def _statements(masked: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the statements of one query block (split on top-level ';')."""
    spans: list[tuple[int, int]] = []
    pos = start
    for m in re.finditer(";", masked[start:end]):
        stop = start + m.end()
        if masked[pos : stop - 1].strip():
            spans.append(_strip_span(masked, pos, stop))
        pos = stop
    if masked[pos:end].strip():
        spans.append(_strip_span(masked, pos, end))
    # Comments are blank in ``masked``: stripping keeps the header lines out of each span.
    return spans


def _strip_span(masked: str, start: int, end: int) -> tuple[int, int]:
    while start < end and masked[start].isspace():
        start += 1
    while end > start and masked[end - 1].isspace():
        end -= 1
    return start, end


def _top_level_commas(masked: str, start: int, end: int) -> list[int]:
    depth = 0
    out = []
    for i in range(start, end):
        c = masked[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(i)
    return out


def _query_edits(text: str, masked: str, name: str, start: int, end: int) -> list[Edit]:
    edits: list[Edit] = []

    def add(op: str, s: int, e: int, replacement: str) -> None:
        edits.append(Edit(op, s, e, replacement, name))

    body = masked[start:end]
    for m in _TERM.finditer(body):
        s, e = start + m.start(), start + m.end()
        if not _KW_BEFORE.search(masked[start:s]):
            continue
        words = {(m.group("lhs") or m.group("nlhs") or "").lower(), (m.group("rhs") or "").lower()}
        if words & _KEYWORDS:
            continue
        add("relax", s, e, f"({text[s:e]} OR 1=1)")
        if m.group("op") in _BOUNDARY:
            os_, oe = start + m.start("op"), start + m.end("op")
            add("cmp", os_, oe, _BOUNDARY[m.group("op")])
            add("cmp", os_, oe, _INVERT[m.group("op")])
        if m.group("nlhs"):
            tail = re.search(r"IS\s+(NOT\s+)?NULL", text[s:e], re.IGNORECASE)
            assert tail is not None
            add(
                "null",
                s + tail.start(),
                s + tail.end(),
                "IS NULL" if m.group("not") else "IS NOT NULL",
            )

    # AND between conditions (not the AND of BETWEEN x AND y).
    for m in re.finditer(r"\bAND\b", body, re.IGNORECASE):
        before = body[: m.start()]
        if re.search(r"\bBETWEEN\b[^()]*$", before, re.IGNORECASE) and not re.search(
            r"\bBETWEEN\b.*\bAND\b[^()]*$", before, re.IGNORECASE | re.DOTALL
        ):
            continue
        add("andor", start + m.start(), start + m.end(), "OR")

    # UPDATE ... SET a = x, b = y [WHERE|RETURNING|FROM|OUTPUT|;]
    for m in re.finditer(r"\bSET\b", body, re.IGNORECASE):
        set_start = start + m.end()
        stop = re.search(r"\b(?:WHERE|RETURNING|FROM|OUTPUT)\b|;", masked[set_start:end], re.I)
        set_end = set_start + stop.start() if stop else end
        bounds = [set_start - 1, *_top_level_commas(masked, set_start, set_end), set_end]
        for a, b in zip(bounds, bounds[1:], strict=False):
            s, e = _strip_span(masked, a + 1, b)
            assign = re.match(r"([A-Za-z_][\w.]*)\s*=\s*", masked[s:e])
            if assign is None:
                continue
            column = assign.group(1)
            value_start = s + assign.end()
            value = text[value_start:e]
            if value.strip() == column:
                continue
            add("set", value_start, e, f"COALESCE({column}, {value})")

    # CASE WHEN c THEN a ELSE b END, not nested.
    for m in re.finditer(
        r"\bCASE\s+WHEN\b(?:(?!\bCASE\b).)*?\bTHEN\b(?P<a>(?:(?!\bCASE\b).)*?)\bELSE\b"
        r"(?P<b>(?:(?!\bCASE\b).)*?)\bEND\b",
        body,
        re.IGNORECASE | re.DOTALL,
    ):
        a = text[start + m.start("a") : start + m.end("a")]
        b = text[start + m.start("b") : start + m.end("b")]
        s, e = start + m.start("a"), start + m.end("b")
        add("case", s, e, f" {b.strip()} ELSE {a.strip()} ")

    for m in re.finditer(r"\bORDER\s+BY\b", body, re.IGNORECASE):
        s = start + m.start()
        stop = _CLAUSE_END.search(masked, start + m.end(), end)
        e = stop.start() if stop else end
        s2, e2 = _strip_span(masked, s, e)
        add("order", s2, e2, "")

    for m in re.finditer(rf"\bLIMIT\s+(?P<x>:\w+|\d+){_CAST}", body, re.IGNORECASE):
        s, e = start + m.start("x"), start + m.end()
        add("limit", s, e, f"({text[s:e]} + 1)")

    statements = _statements(masked, start, end)
    if len(statements) > 1:
        for s, e in statements:
            add("drop", s, e, "")
    return edits


def mutants(target: str, text: str) -> list[Mutant]:
    """Every mutant of the SQL file ``target`` whose text is ``text``."""
    masked = _mask(text)
    heads = list(_HEADER.finditer(text))
    edits: list[Edit] = []
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        edits.extend(_query_edits(text, masked, head.group("name"), head.end(), end))
    out = []
    for mutant in finish(target, text, edits):
        # A mutant that unbinds a parameter would only test the loader: left out.
        block_start = max(h.end() for h in heads if h.end() <= mutant.start)
        block_end = min([h.start() for h in heads if h.start() >= mutant.end] or [len(text)])
        block = text[block_start:block_end]
        changed = (
            block[: mutant.start - block_start]
            + mutant.replacement
            + block[mutant.end - block_start :]
        )
        if _params(block) == _params(changed):
            out.append(mutant)
    return out
