"""get_session_and_user on MongoDB: two find_one calls against one $lookup aggregation.

The contract allows the MongoDB hot path at most two round trips, or one if an aggregation
is measured to be faster. This runs both read strategies side by side, in alternating
rounds on the same data and the same client, against a throwaway SecantusDB (started as a
separate process, like the tests do) or the server named by ``--url``, and saves the
result as JSON.

    python benchmarks/mongo_hot_path.py [--url mongodb://...] [--reads 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import secrets
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pymongo
from bson.codec_options import CodecOptions
from pymongo import AsyncMongoClient

UTC = timezone.utc
RESULTS = Path(__file__).resolve().parent / "results" / "mongo_hot_path.json"


async def two_finds(db: Any, token: str, now: datetime) -> Any:
    session = await db.sessions.find_one(
        {"sessionToken": token, "expires": {"$gt": now}},
        projection={"userId": 1, "expires": 1, "_id": 0},
    )
    if session is None:
        return None
    user = await db.users.find_one({"_id": session["userId"]})
    return session, user


async def one_lookup(db: Any, token: str, now: datetime) -> Any:
    cursor = await db.sessions.aggregate(
        [
            {"$match": {"sessionToken": token, "expires": {"$gt": now}}},
            {"$limit": 1},
            {
                "$lookup": {
                    "from": "users",
                    "localField": "userId",
                    "foreignField": "_id",
                    "as": "user",
                }
            },
            {"$project": {"_id": 0, "expires": 1, "user": 1}},
        ]
    )
    async for doc in cursor:
        return doc, doc["user"][0]
    return None


STRATEGIES = {"two_find_one": two_finds, "one_lookup_aggregate": one_lookup}


async def run(url: str, reads: int, rounds: int, concurrency: int) -> dict[str, Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    name = f"asyncauth_bench_{secrets.token_hex(4)}"
    db = client.get_database(name, CodecOptions(tz_aware=True, tzinfo=UTC))
    try:
        await db.users.create_index("email", unique=True, sparse=True)
        await db.sessions.create_index("sessionToken", unique=True)
        stamp = datetime.now(UTC)
        users = [{"email": f"u{i}@example.com", "name": f"User {i}"} for i in range(1000)]
        ids = (await db.users.insert_many(users)).inserted_ids
        sessions = [
            {
                "userId": uid,
                "sessionToken": secrets.token_hex(32),
                "accessToken": secrets.token_hex(32),
                "expires": stamp + timedelta(days=30),
            }
            for uid in ids
        ]
        await db.sessions.insert_many(sessions)
        tokens = [s["sessionToken"] for s in sessions]
        # Same answers first: the comparison is only fair if both read the same thing.
        for strategy in STRATEGIES.values():
            found = await strategy(db, tokens[0], stamp)
            assert found is not None and found[1]["_id"] == ids[0]

        per_op: dict[str, list[float]] = {k: [] for k in STRATEGIES}
        throughput: dict[str, list[float]] = {k: [] for k in STRATEGIES}
        for _ in range(rounds):
            for label, strategy in STRATEGIES.items():  # alternating, round after round
                now = datetime.now(UTC)
                began = time.perf_counter()
                for i in range(reads):
                    await strategy(db, tokens[i % len(tokens)], now)
                per_op[label].append((time.perf_counter() - began) / reads * 1e6)

                async def worker(
                    offset: int, strategy: Any = strategy, now: datetime = now
                ) -> None:
                    for i in range(offset, reads, concurrency):
                        await strategy(db, tokens[i % len(tokens)], now)

                began = time.perf_counter()
                await asyncio.gather(*(worker(k) for k in range(concurrency)))
                throughput[label].append(reads / (time.perf_counter() - began))
        summary = {
            label: {
                "sequential_us_per_read_median": round(statistics.median(per_op[label]), 1),
                "sequential_us_per_read_rounds": [round(x, 1) for x in per_op[label]],
                f"concurrent{concurrency}_reads_per_s_median": round(
                    statistics.median(throughput[label]), 1
                ),
            }
            for label in STRATEGIES
        }
        a, b = (summary[k]["sequential_us_per_read_median"] for k in STRATEGIES)
        summary["ratio_lookup_over_two_finds"] = round(b / a, 3)
        return summary
    finally:
        await client.drop_database(name)
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a MongoDB server (default: a throwaway SecantusDB)")
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    server = None
    url = args.url
    if url is None:
        # The tests' process manager: SecantusDB runs in its own process, never imported.
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests._backends import SecantusServer

        server = SecantusServer()
        url = server.start()
    try:
        summary = asyncio.run(run(url, args.reads, args.rounds, args.concurrency))
        hello = asyncio.run(_hello(url))
    finally:
        if server is not None:
            server.stop()
    result = {
        "benchmark": "mongo_hot_path",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "server": "SecantusDB 0.7.0b3 (separate process)" if server else hello,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": __import__("os").cpu_count(),
        },
        "pymongo": pymongo.version,
        "reads_per_round": args.reads,
        "rounds": args.rounds,
        "results": summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


async def _hello(url: str) -> str:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    try:
        info = await client.admin.command("buildInfo")
        return f"MongoDB {info.get('version', '?')}"
    finally:
        await client.close()


if __name__ == "__main__":
    main()
