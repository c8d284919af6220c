"""One smoke test per cluster of ``_clusters.py``: it is built, does what it is for, and is
removed. Raw drivers only (asyncpg, aiomysql): these prove the clusters, not asyncauth.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

import aiomysql
import anyio
import asyncpg
import pytest

from tests.cluster._clusters import (
    GaleraCluster,
    PatroniCluster,
    PgBouncerCluster,
    ReplicaCluster,
)

pytestmark = [pytest.mark.anyio, pytest.mark.cluster]

#: How long a replicated write may take to show up on a loaded 2-core machine.
DEADLINE = 30.0


async def _eventually(what: str, check: Callable[[], Awaitable[bool]]) -> float:
    """Poll ``check()`` until it holds; the monotonic time it first did. Fails after
    ``DEADLINE`` seconds."""
    deadline = time.monotonic() + DEADLINE
    while not await check():
        assert time.monotonic() < deadline, f"{what}: not within {DEADLINE:.0f} s"
        await anyio.sleep(0.02)
    return time.monotonic()


async def test_pgbouncer_answers_in_transaction_mode(pgbouncer: PgBouncerCluster) -> None:
    # Four clients, two server connections: in transaction mode they take turns on them.
    # asyncpg's named prepared statements do not survive that (the issue the library work
    # addresses), so the raw clients here prepare nothing.
    clients = [
        await asyncpg.connect(pgbouncer.url(), statement_cache_size=0, timeout=10)
        for _ in range(2 * pgbouncer.pool_size)
    ]
    try:
        backends = set()
        for _ in range(3):
            for client in clients:
                async with client.transaction():
                    backends.add(await client.fetchval("SELECT pg_backend_pid()"))
                    assert await client.fetchval("SELECT current_setting('port')") == str(
                        pgbouncer.server.port
                    )
        assert 1 <= len(backends) <= pgbouncer.pool_size, backends
    finally:
        for client in clients:
            await client.close()
    direct = await asyncpg.connect(pgbouncer.direct_url(), timeout=10)
    try:
        assert await direct.fetchval("SELECT 1") == 1
    finally:
        await direct.close()


async def test_standby_replays_a_write_late_with_an_apply_delay(
    pg_replica: ReplicaCluster,
) -> None:
    primary = await asyncpg.connect(pg_replica.primary_url(), timeout=10)
    try:
        await primary.execute("CREATE TABLE smoke (id text PRIMARY KEY)")

        async def on_standby(value: str) -> bool:
            standby = await asyncpg.connect(pg_replica.standby_url(), timeout=10)
            try:
                found = await standby.fetchval("SELECT count(*) FROM smoke WHERE id = $1", value)
            except asyncpg.UndefinedTableError:
                return False  # the CREATE TABLE has not been replayed yet
            finally:
                await standby.close()
            return bool(found)

        await primary.execute("INSERT INTO smoke VALUES ('at-once')")
        await _eventually("the write replayed", lambda: on_standby("at-once"))

        # With a delay the standby applies a commit no sooner than its commit time plus the
        # delay; the commit comes after `before`, so it cannot be visible sooner than this.
        delay = 1.0
        await anyio.to_thread.run_sync(pg_replica.set_apply_delay, int(delay * 1000))
        before = time.monotonic()
        await primary.execute("INSERT INTO smoke VALUES ('late')")
        seen = await _eventually("the delayed write replayed", lambda: on_standby("late"))
        assert seen - before >= delay * 0.95, f"replayed after {seen - before:.3f} s"
        await anyio.to_thread.run_sync(pg_replica.set_apply_delay, 0)

        # A stopped standby catches up when it starts again.
        await anyio.to_thread.run_sync(pg_replica.stop_standby)
        await primary.execute("INSERT INTO smoke VALUES ('while-down')")
        await anyio.to_thread.run_sync(pg_replica.start_standby)
        await _eventually("the write made while down replayed", lambda: on_standby("while-down"))
    finally:
        await primary.close()

    # The multi-host URL finds the primary although the standby is listed first.
    either = await asyncpg.connect(pg_replica.multi_host_url(), timeout=10)
    try:
        assert await either.fetchval("SELECT pg_is_in_recovery()") is False
    finally:
        await either.close()


async def test_patroni_switchover_moves_the_leader_and_haproxy_follows(
    patroni: PatroniCluster,
) -> None:
    async def through_haproxy() -> tuple[int, bool, int]:
        client = await asyncpg.connect(patroni.url(), timeout=10)
        try:
            row = await client.fetchrow(
                "SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby, "
                "(SELECT count(*) FROM smoke) AS rows"
            )
        finally:
            await client.close()
        assert row is not None
        return row["port"], row["standby"], row["rows"]

    old = patroni.leader()
    client = await asyncpg.connect(patroni.url(), timeout=10)
    try:
        await client.execute("CREATE TABLE smoke (id text PRIMARY KEY)")
        await client.execute("INSERT INTO smoke VALUES ($1)", str(uuid.uuid4()))
    finally:
        await client.close()
    assert await through_haproxy() == (patroni.nodes[old].pg_port, False, 1)

    new = await anyio.to_thread.run_sync(patroni.switchover)
    assert new != old
    # A planned switchover hands over every committed write; HAProxy now sends new
    # connections to the new leader, which takes writes.
    assert await through_haproxy() == (patroni.nodes[new].pg_port, False, 1)
    multi = await asyncpg.connect(patroni.multi_host_url(), timeout=10)
    try:
        assert await multi.fetchval("SELECT inet_server_port()") == patroni.nodes[new].pg_port
        await multi.execute("INSERT INTO smoke VALUES ($1)", str(uuid.uuid4()))
    finally:
        await multi.close()


async def test_galera_replicates_a_write_from_node_1_to_node_3(galera: GaleraCluster) -> None:
    await anyio.to_thread.run_sync(galera.create_database, "smoke")
    ports = galera.ports

    async def connect(port: int) -> aiomysql.Connection:
        return await aiomysql.connect(
            host="127.0.0.1", port=port, user="root", db="smoke", autocommit=True
        )

    first = await connect(ports[0])
    try:
        async with first.cursor() as cursor:
            # Galera replicates row events of tables with a primary key.
            await cursor.execute("CREATE TABLE t (id VARCHAR(36) PRIMARY KEY)")
            value = str(uuid.uuid4())
            await cursor.execute("INSERT INTO t VALUES (%s)", (value,))
    finally:
        await first.ensure_closed()

    third = await connect(ports[2])
    try:

        async def on_node_3() -> bool:
            async with third.cursor() as cursor:
                try:
                    await cursor.execute("SELECT id FROM t WHERE id = %s", (value,))
                except aiomysql.ProgrammingError:
                    return False  # the CREATE TABLE has not been applied there yet
                row = await cursor.fetchone()
                return bool(row == (value,))

        await _eventually("the write on node 3", on_node_3)
        async with third.cursor() as cursor:
            await cursor.execute("SHOW STATUS LIKE 'wsrep_cluster_size'")
            assert await cursor.fetchone() == ("wsrep_cluster_size", "3")
    finally:
        await third.ensure_closed()


async def test_patroni_fails_over_when_the_leader_is_killed(patroni: PatroniCluster) -> None:
    old = patroni.leader()
    killed = await anyio.to_thread.run_sync(patroni.kill_leader)
    assert killed == old
    # The other node takes over once the dead leader's key expires in etcd (ttl 10 s), and
    # HAProxy follows; then the killed node comes back as a replica of the new leader.
    new = await anyio.to_thread.run_sync(patroni.wait_settled)
    assert new != old
    client = await asyncpg.connect(patroni.url(), timeout=10)
    try:
        assert await client.fetchval("SELECT inet_server_port()") == patroni.nodes[new].pg_port
        assert await client.fetchval("SELECT pg_is_in_recovery()") is False
    finally:
        await client.close()
    await anyio.to_thread.run_sync(patroni.start_node, old)
    assert await anyio.to_thread.run_sync(patroni.wait_settled) == new
