"""Mutants of a Python module, as textual edits located through its syntax tree.

The tree finds what to change; the edit is made in the source text itself, so comments and
layout survive and each mutant differs from the original in exactly one place. Operators:

- ``cmp``: a comparison flipped (``<``/``<=``, ``>``/``>=``, ``==``/``!=``, ``in``/``not in``,
  ``is``/``is not``);
- ``bool``: ``and``/``or`` swapped at one place;
- ``not``: a ``not`` removed;
- ``cond``: the condition of an ``if``, ``while`` or ternary negated;
- ``num``: an int constant moved by +1 and by -1; ``const``: ``True``/``False`` flipped;
- ``return``: ``return X`` made ``return None``;
- ``stmt``: one statement removed (a call or await, an augmented assignment, an assignment to
  an attribute or item, a ``raise``, ``break`` or ``continue``);
- ``arith``: binary ``+``/``-`` swapped.

Left alone by design: string constants (messages), docstrings, ``assert`` statements, logging
calls, ``__repr__`` bodies, ``if TYPE_CHECKING:`` blocks, plain local assignments (removing
one only gives a NameError) and any line marked ``# pragma: no mutate``.
"""

from __future__ import annotations

import ast
import re

from .model import Edit, Mutant, finish

_FLIP = {
    ast.Lt: ("<", "<="),
    ast.LtE: ("<=", "<"),
    ast.Gt: (">", ">="),
    ast.GtE: (">=", ">"),
    ast.Eq: ("==", "!="),
    ast.NotEq: ("!=", "=="),
    ast.In: ("in", "not in"),
    ast.NotIn: ("not in", "in"),
    ast.Is: ("is", "is not"),
    ast.IsNot: ("is not", "is"),
}
# How each operator is spelled in the gap between its operands (which may also hold
# parentheses, whitespace and line breaks).
_SPELLING = {
    "<": r"(?<![<>=!])<(?![=<])",
    "<=": r"<=",
    ">": r"(?<![<>=!-])>(?![=>])",
    ">=": r">=",
    "==": r"==",
    "!=": r"!=",
    "in": r"(?<!\bnot )\bin\b",
    "not in": r"\bnot\s+in\b",
    "is": r"\bis\b(?!\s+not\b)",
    "is not": r"\bis\s+not\b",
    "and": r"\band\b",
    "or": r"\bor\b",
    "+": r"(?<![+*/=])\+(?!=)",
    "-": r"(?<![-*/=])-(?![=>])",
}
_LOGGERS = {"log", "logger", "logging", "_log", "_logger", "LOG", "LOGGER"}


class _Offsets:
    """Converts the tree's (line, UTF-8 byte column) positions into offsets of the text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def at(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1]
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        start = self.at(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.at(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return start, end


class _Collector(ast.NodeVisitor):
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = _Offsets(text)
        self.edits: list[Edit] = []
        self.scope: list[str] = []
        self.quiet_lines = {
            i + 1 for i, line in enumerate(text.splitlines()) if "pragma: no mutate" in line
        }

    # -- helpers ---------------------------------------------------------------------------
    def _add(self, operator: str, start: int, end: int, replacement: str, node: ast.AST) -> None:
        if getattr(node, "lineno", 0) in self.quiet_lines:
            return
        self.edits.append(Edit(operator, start, end, replacement, ".".join(self.scope)))

    def _gap_edit(
        self, operator: str, left: ast.AST, right: ast.AST, old: str, new: str, node: ast.AST
    ) -> None:
        """Replace the operator ``old`` found between two operands with ``new``."""
        gap_start = self.pos.span(left)[1]
        gap_end = self.pos.span(right)[0]
        found = re.search(_SPELLING[old], self.text[gap_start:gap_end])
        if found is None:
            return  # not spelled as expected (a comment in the gap, say): no mutant
        self._add(operator, gap_start + found.start(), gap_start + found.end(), new, node)

    def _source(self, node: ast.AST) -> str:
        start, end = self.pos.span(node)
        return self.text[start:end]

    # -- what is skipped -------------------------------------------------------------------
    def visit_Assert(self, node: ast.Assert) -> None:
        return

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            for stmt in node.orelse:
                self.visit(stmt)
            return
        self._negate(node.test, node)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name == "__repr__":
            return
        for deco in node.decorator_list:
            self.visit(deco)
        self.visit(node.args)  # the defaults; annotations are not behaviour
        self.scope.append(node.name)
        for stmt in node.body:
            self.visit(stmt)
        self.scope.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scope.append(node.name)
        for stmt in node.body:
            self.visit(stmt)
        self.scope.pop()

    def visit_arguments(self, node: ast.arguments) -> None:
        # Defaults are behaviour; annotations are not.
        for default in [*node.defaults, *node.kw_defaults]:
            if default is not None:
                self.visit(default)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)

    # -- operators -------------------------------------------------------------------------
    def visit_Compare(self, node: ast.Compare) -> None:
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            old, new = _FLIP[type(op)]
            self._gap_edit("cmp", operands[i], operands[i + 1], old, new, node)
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        for left, right in zip(node.values, node.values[1:], strict=False):
            self._gap_edit("bool", left, right, old, new, node)
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not):
            start, end = self.pos.span(node)
            self._add("not", start, end, f"({self._source(node.operand)})", node)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, (ast.Add, ast.Sub)):
            old, new = ("+", "-") if isinstance(node.op, ast.Add) else ("-", "+")
            if not _is_text(node.left) and not _is_text(node.right):
                self._gap_edit("arith", node.left, node.right, old, new, node)
        self.generic_visit(node)

    def _negate(self, test: ast.expr, node: ast.AST) -> None:
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            return  # the ``not`` operator already removes that ``not``
        start, end = self.pos.span(test)
        self._add("cond", start, end, f"not ({self.text[start:end]})", node)

    def visit_While(self, node: ast.While) -> None:
        self._negate(node.test, node)
        self.generic_visit(node)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self._negate(node.test, node)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        start, end = self.pos.span(node)
        if isinstance(node.value, bool):
            self._add("const", start, end, str(not node.value), node)
        elif isinstance(node.value, int):
            self._add("num", start, end, str(node.value + 1), node)
            self._add("num", start, end, str(node.value - 1), node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        return  # messages

    def visit_Return(self, node: ast.Return) -> None:
        value = node.value
        if value is not None and not (isinstance(value, ast.Constant) and value.value is None):
            start, end = self.pos.span(value)
            self._add("return", start, end, "None", node)
            self.visit(value)

    def _remove(self, node: ast.stmt) -> None:
        start, end = self.pos.span(node)
        self._add("stmt", start, end, "pass", node)

    def visit_Expr(self, node: ast.Expr) -> None:
        value = node.value
        if isinstance(value, ast.Constant):
            return  # a docstring or a bare literal
        if isinstance(value, ast.Call) and _is_logging(value):
            return
        if isinstance(value, (ast.Call, ast.Await)):
            self._remove(node)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._remove(node)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if any(isinstance(t, (ast.Attribute, ast.Subscript)) for t in node.targets):
            self._remove(node)
        self.visit(node.value)
        for target in node.targets:
            if isinstance(target, ast.Subscript):
                self.visit(target.slice)

    def visit_Raise(self, node: ast.Raise) -> None:
        self._remove(node)  # what is raised is a message: not mutated further

    def visit_Break(self, node: ast.Break) -> None:
        self._remove(node)

    def visit_Continue(self, node: ast.Continue) -> None:
        self._remove(node)


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))
    )


def _is_logging(call: ast.Call) -> bool:
    func = call.func
    while isinstance(func, ast.Attribute):
        func = func.value
    return isinstance(func, ast.Name) and func.id in _LOGGERS


def mutants(target: str, text: str) -> list[Mutant]:
    """Every mutant of the module ``target`` whose source is ``text``."""
    collector = _Collector(text)
    collector.visit(ast.parse(text, filename=target))
    return finish(target, text, collector.edits)
