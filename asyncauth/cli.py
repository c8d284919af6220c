"""The ``asyncauth`` command: bootstrap, check, print the DDL, purge expired rows, bench.

Every command that takes a URL defaults to ``$ASYNCAUTH_URL``, else the SQLite file
``asyncauth.db`` in the current folder.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import anyio

from . import _connect, ddl
from ._errors import AsyncAuthError
from ._progress import Progress
from ._redact import redact_text, redact_url

__all__ = ["main"]

DEFAULT_FILE_URL = "sqlite:///asyncauth.db"
# The SQL dialects are the folders of bundled SQL: a new one is listed once it has its folder.
# (sql/layouts/ holds the other table layouts, each with folders per dialect: docs/layouts.md.)
DIALECTS = tuple(
    sorted(
        f.name
        for f in resources.files("asyncauth").joinpath("sql").iterdir()
        if f.is_dir() and f.name != "layouts"
    )
)


def _default_url() -> str:
    return os.environ.get("ASYNCAUTH_URL", DEFAULT_FILE_URL)


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _open(args: argparse.Namespace) -> Any:
    """The adapter for the command's URL, with the user's custom SQL folders if any."""
    return _connect.connect(args.url, sql_folders=[Path(f) for f in args.sql_folder])


async def _cmd_bootstrap(args: argparse.Namespace) -> int:
    async with _open(args) as adapter:
        applied = await adapter.bootstrap()
    if applied:
        _out(f"applied migrations {', '.join(map(str, applied))} to {_safe(args.url)}")
    else:
        _out(f"{_safe(args.url)} is up to date")
    return 0


async def _cmd_check(args: argparse.Namespace) -> int:
    async with _open(args) as adapter:
        report = await adapter.check()
    if args.json:
        _out(json.dumps(report.as_dict(), indent=2))
    elif report.ok:
        _out(f"{_safe(args.url)}: schema ok (migrations {report.applied})")
    else:
        _out(f"{_safe(args.url)}: {len(report.differences)} difference(s)")
        for line in report.differences:
            _out(f"  - {line}")
    if report.unknown and not args.json:
        # Not drift: a newer asyncauth migrated this database (a rolling deploy).
        _out(
            f"  note: migration(s) {', '.join(map(str, report.unknown))} recorded by a newer "
            "asyncauth are unknown to this one (fine: migrations only add)"
        )
    # Non-zero on drift, so a deploy pipeline can stop on it.
    return 0 if report.ok else 1


async def _cmd_sql(args: argparse.Namespace) -> int:
    _out(ddl(args.dialect, sql_folders=args.sql_folder))
    return 0


def _purge_reporter(progress: Progress) -> Callable[[str, int], None]:
    """The ``progress`` callback of ``purge_expired``: one step per batch deleted."""

    def report(kind: str, total: int) -> None:
        batch = progress.done + 1
        progress.step(f"purge: {kind.replace('_', ' ')}: {total} deleted (batch {batch})")

    return report


async def _cmd_purge(args: argparse.Namespace) -> int:
    progress = Progress(enabled=not args.quiet)
    try:
        async with _open(args) as adapter:
            purge = adapter.purge_expired
            # ``progress`` is optional in the contract: a backend without it still purges.
            if "progress" in inspect.signature(purge).parameters:
                result = await purge(batch_size=args.batch_size, progress=_purge_reporter(progress))
            else:
                result = await purge(batch_size=args.batch_size)
    finally:
        progress.close()
    _out(
        f"purged {result.sessions} expired session(s) and "
        f"{result.verification_tokens} verification token(s)"
    )
    return 0


async def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import command

    return await command(
        args.url,
        sessions=args.sessions,
        rounds=args.rounds,
        duration=args.duration,
        progress=not args.quiet,
    )


def _safe(url: str) -> str:
    """The URL with every credential masked, fit for printing (asyncauth._redact)."""
    return redact_url(url)


Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the docs and the tests)."""
    parser = argparse.ArgumentParser(
        prog="asyncauth",
        description="Manage an asyncauth (NextAuth-compatible) auth store.",
        epilog="example: asyncauth bootstrap postgresql://app@db/app",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def url_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "url",
            nargs="?",
            default=_default_url(),
            help="database URL (default: $ASYNCAUTH_URL or sqlite:///asyncauth.db)",
        )
        p.add_argument(
            "--sql-folder",
            action="append",
            default=[],
            metavar="DIR",
            help="a folder of custom queries and migrations (repeatable; docs/custom-models.md)",
        )

    p = sub.add_parser(
        "bootstrap",
        help="apply missing migrations (idempotent, safe to run from many replicas)",
        epilog="example: asyncauth bootstrap sqlite:///auth.db",
    )
    url_arg(p)
    p.set_defaults(handler=_cmd_bootstrap)

    p = sub.add_parser(
        "check",
        help="compare the live schema with the expected one; exit 1 on drift",
        epilog="example: asyncauth check --json postgresql://app@db/app || exit 1",
    )
    url_arg(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=_cmd_check)

    p = sub.add_parser(
        "sql",
        help="print the full DDL of a dialect, for review",
        epilog="example: asyncauth sql postgres > schema.sql",
    )
    p.add_argument("dialect", choices=DIALECTS)
    p.add_argument(
        "--sql-folder",
        action="append",
        default=[],
        metavar="DIR",
        help="also print the custom migrations of this folder (repeatable)",
    )
    p.set_defaults(handler=_cmd_sql)

    p = sub.add_parser(
        "purge",
        help="delete expired sessions and verification tokens in batches",
        epilog="example: asyncauth purge --batch-size 5000 postgresql://app@db/app",
    )
    url_arg(p)
    p.add_argument("--batch-size", type=int, default=1000, help="rows per batch (default 1000)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(handler=_cmd_purge)

    p = sub.add_parser(
        "bench",
        help="time the session read against the bare driver on a scratch table (quick)",
        epilog="example: asyncauth bench postgresql://app@db/app",
    )
    p.add_argument(
        "url",
        nargs="?",
        default=None,
        help="database URL (default: a temporary SQLite file); the run seeds a scratch "
        "schema (PostgreSQL), database (MySQL, MongoDB) or new file (SQLite) and removes it "
        "afterwards",
    )
    p.add_argument("--sessions", type=int, default=10_000, help="rows seeded (default 10000)")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    p.add_argument(
        "--duration", type=float, default=0.25, help="seconds per contender per round (0.25)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return anyio.run(handler, args)
    except AsyncAuthError as exc:
        # Messages name objects, not values; a driver's may still quote the URL it was given.
        _err(
            f"asyncauth: {type(exc).__name__}: {redact_text(str(exc), getattr(args, 'url', None))}"
        )
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
