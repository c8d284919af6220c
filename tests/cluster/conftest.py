"""Fixtures of the cluster tests: each builds its cluster (``_clusters.py``) and removes it.

These tests need Debian packages the rest of the suite does not (``bash scripts/cluster-deps``
as root) and take minutes, so a plain ``pytest`` leaves them out; they run when asked for
by marker (``-m cluster``) or with ``ASYNCAUTH_CLUSTER=1``. See ``README.md`` here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import _clusters

_LEFT_OUT: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("ASYNCAUTH_CLUSTER") == "1" or "cluster" in (config.option.markexpr or ""):
        return
    here = Path(__file__).parent
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        (dropped if here in Path(str(item.fspath)).parents else kept).append(item)
    if dropped:
        _LEFT_OUT.extend(item.nodeid for item in dropped)
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _LEFT_OUT:
        terminalreporter.write_line(
            f"cluster: {len(_LEFT_OUT)} tests not run (they build their own clusters; "
            "bash scripts/cluster-deps, then pytest tests/cluster -m cluster)"
        )


@pytest.fixture
def pgbouncer() -> Iterator[_clusters.PgBouncerCluster]:
    with _clusters.pgbouncer() as cluster:
        yield cluster


@pytest.fixture
def pg_replica() -> Iterator[_clusters.ReplicaCluster]:
    with _clusters.pg_replica() as cluster:
        yield cluster


@pytest.fixture
def patroni() -> Iterator[_clusters.PatroniCluster]:
    with _clusters.patroni() as cluster:
        yield cluster


@pytest.fixture
def galera() -> Iterator[_clusters.GaleraCluster]:
    with _clusters.galera() as cluster:
        yield cluster
