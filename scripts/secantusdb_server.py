"""Run a throwaway SecantusDB (a MongoDB-wire server) for the test suite, in its own process.

SecantusDB is GPL: asyncauth never imports it. The tests start this script as a separate
process (``python scripts/secantusdb_server.py DATA_DIR``); it binds a free port chosen by the
kernel, prints ``mongodb://127.0.0.1:PORT/`` on one line once it accepts connections, and stops
(closing its storage) when its standard input closes or it receives SIGTERM/SIGINT, so a test
run that dies cannot leave it running. A script rather than SecantusDB's CLI because the CLI
ignores ``ttl_sweep_seconds``, which the TTL test lowers to one second.

Usage: secantusdb_server.py DATA_DIR [--port PORT] [--ttl-sweep-seconds S]

``--port`` binds that port instead (the fault tests restart a server where its clients
expect it, on the same data directory).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ttl-sweep-seconds", type=float, default=60.0)
    args = parser.parse_args()

    from secantus import SecantusDBServer  # only ever imported in this separate process

    server = SecantusDBServer(
        "127.0.0.1", args.port, args.data_dir, ttl_sweep_seconds=args.ttl_sweep_seconds
    )
    server.start()
    done = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def watch_stdin() -> None:
        # EOF on stdin: the parent (the test run) went away, however it ended.
        sys.stdin.buffer.read()
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    host, port = server.address
    print(f"mongodb://{host}:{port}/", flush=True)
    try:
        done.wait()
    finally:
        server.stop()
        sys.stdout.flush()
        # Stopped on a signal, the stdin reader may still hold stdin's lock, which aborts
        # interpreter shutdown; the server is closed already, so leave without it.
        os._exit(0)


if __name__ == "__main__":
    main()
