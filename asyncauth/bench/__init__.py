"""The session-read benchmark: ``asyncauth bench``'s quick run, and the API ``benchmarks/`` uses.

It answers one question: how close does :meth:`get_session_and_user` come to the bare driver
running the same single statement on a pool of the same size (the *floor*)? Contenders are
named async context managers that yield a lookup function; they run side by side in one
process and take turns, so each ratio is taken within a round (:func:`measure`).

Everything happens in a scratch area that is removed afterwards: a temporary SQLite file, or a
schema or database of its own on a server, so ``asyncauth bench URL`` never touches the
application's tables. Only the library and the bare drivers are used here; the full harness in
``benchmarks/`` (the SQLAlchemy contender, the table-size sweep, bootstrap and import costs, the
saved results) is built on the names below and nothing else:

- a backend per URL scheme, :func:`backend_for`: :class:`BenchBackend` ``.scratch``, ``.seed``,
  ``.floor`` (with ``timeout`` where ``driver_timeout`` is set) and ``.describe``;
- the contenders' shape, :data:`Contender` and :data:`Lookup`, and
  :func:`asyncauth_contender`;
- the seeded tokens, :func:`lookup_tokens`; the measuring steps, :func:`warm_up`,
  :func:`sequential`, :func:`rotated`, and the whole alternation, :func:`measure` with its
  :class:`Workload` and :func:`plan_steps`;
- the statistics and the table: :func:`latency_summary`, :func:`spread`, :func:`ratios`,
  :func:`summarise`, :func:`markdown_table`;
- :class:`Progress`, the CLI's progress line;
- :func:`run_quick` and :func:`command`, the quick run itself.

This module is imported only by ``asyncauth bench`` and the harness, never by
``import asyncauth``; each backend's module, and its driver, only when its scheme is used.
"""

from __future__ import annotations

from .._progress import Progress
from ._backend import (
    BenchBackend,
    Contender,
    Lookup,
    asyncauth_contender,
    backend_for,
    lookup_tokens,
)
from ._measure import (
    Workload,
    latency_summary,
    markdown_table,
    measure,
    plan_steps,
    ratios,
    rotated,
    sequential,
    spread,
    summarise,
    warm_up,
)
from ._quick import QuickResult, command, run_quick

__all__ = [
    "BenchBackend",
    "Contender",
    "Lookup",
    "Progress",
    "QuickResult",
    "Workload",
    "asyncauth_contender",
    "backend_for",
    "command",
    "latency_summary",
    "lookup_tokens",
    "markdown_table",
    "measure",
    "plan_steps",
    "ratios",
    "rotated",
    "run_quick",
    "sequential",
    "spread",
    "summarise",
    "warm_up",
]
