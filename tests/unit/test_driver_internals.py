"""Every private driver detail asyncauth relies on, named, so a driver release that moves one
fails here, loudly, instead of in production as an AttributeError or a silent slow path.

Each reach has a reason in the code that uses it (a cheaper hot path, a health check without a
round trip, keeping tokens out of logs). The checks read the driver's classes and source, so
they need no server. When one fails: read the new release, adapt the code that uses it, and
update the entry here (or pin the driver below the release, if that is the honest answer).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest


def _sets_attribute(cls: type, attribute: str) -> bool:
    """``cls.__init__`` assigns ``self.<attribute>`` (instances carry it from birth)."""
    return f"self.{attribute} =" in inspect.getsource(cls.__init__)


def _asyncpg_protocol_is_cancelling() -> bool:
    # _postgres._reusable: a connection whose cancellation is still in flight is not lent.
    import asyncpg.connection
    import asyncpg.protocol

    return _sets_attribute(asyncpg.connection.Connection, "_protocol") and callable(
        getattr(asyncpg.protocol.Protocol, "_is_cancelling", None)
    )


def _aiomysql_loop_and_reader() -> bool:
    # _mysql: the statement deadline is a timer on the connection's loop, and the health
    # check reads the stream reader's state instead of pinging the server.
    import aiomysql

    # Read from the source: building a Connection outside a running loop would make (and
    # leak) an event loop of its own.
    return (
        _sets_attribute(aiomysql.Connection, "_loop")
        and _sets_attribute(aiomysql.Connection, "_reader")
        and callable(getattr(aiomysql.Connection, "get_transaction_status", None))
    )


def _aiomysql_show_warnings() -> bool:
    # _mysql._Cursor overrides it: aiomysql would run SHOW WARNINGS after some statements.
    import aiomysql

    method = getattr(aiomysql.DictCursor, "_show_warnings", None)
    return callable(method) and inspect.iscoroutinefunction(method)


def _aioodbc_conn_execute_executor() -> bool:
    # _odbc: one worker thread per connection (its executor), the raw pyodbc connection for
    # the set-up and the autocommit flag, and _execute to run a call in that thread.
    from aioodbc.connection import Connection

    return (
        _sets_attribute(Connection, "_conn")
        and _sets_attribute(Connection, "_executor")
        and callable(getattr(Connection, "_execute", None))
    )


def _aiomysql_pool_wakeup() -> bool:
    # _mysql._release_borrowed wakes a waiter after giving back a connection it closed.
    from aiomysql.pool import Pool

    return inspect.iscoroutinefunction(getattr(Pool, "_wakeup", None))


def _aioodbc_pool_wakeup() -> bool:
    # _odbc._release_borrowed wakes a waiter after giving back a connection it closed.
    from aioodbc.pool import Pool

    return inspect.iscoroutinefunction(getattr(Pool, "_wakeup", None))


def _pyodbc_autocommit() -> bool:
    import pyodbc

    return hasattr(pyodbc.Connection, "autocommit")


def _pymongo_log_message_kwargs() -> bool:
    # _mongo's log filter reads the fields of PyMongo's command log records there.
    from pymongo.logger import LogMessage

    return "_kwargs" in getattr(LogMessage, "__slots__", ())


def _aiosqlite_in_transaction() -> bool:
    # _sqlite._reusable: a flag read on the event loop's side, no hop to the thread.
    import aiosqlite

    return isinstance(getattr(aiosqlite.Connection, "in_transaction", None), property)


def _sqlite_error_code() -> bool:
    # _sqlite._busy tells SQLITE_BUSY apart from other OperationalErrors by its code (Python
    # 3.11 and later; before, it reads the message instead).
    import sqlite3
    import sys

    if sys.version_info < (3, 11):
        return True

    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("SELECT * FROM no_such_table")
    except sqlite3.OperationalError as exc:
        return isinstance(getattr(exc, "sqlite_errorcode", None), int)
    finally:
        conn.close()
    return False


INTERNALS: dict[str, Callable[[], bool]] = {
    "asyncpg Connection._protocol._is_cancelling()": _asyncpg_protocol_is_cancelling,
    "aiomysql Connection._loop, ._reader, get_transaction_status()": _aiomysql_loop_and_reader,
    "aiomysql DictCursor._show_warnings (overridden)": _aiomysql_show_warnings,
    "aioodbc Connection._conn, ._executor, ._execute()": _aioodbc_conn_execute_executor,
    "aiomysql Pool._wakeup()": _aiomysql_pool_wakeup,
    "aioodbc Pool._wakeup()": _aioodbc_pool_wakeup,
    "pyodbc Connection.autocommit": _pyodbc_autocommit,
    "pymongo LogMessage._kwargs": _pymongo_log_message_kwargs,
    "aiosqlite Connection.in_transaction": _aiosqlite_in_transaction,
    "sqlite3.Error.sqlite_errorcode": _sqlite_error_code,
}


@pytest.mark.parametrize("name", sorted(INTERNALS))
def test_the_driver_internal_asyncauth_reads_is_still_there(name: str) -> None:
    assert INTERNALS[name](), (
        f"{name}: the installed driver no longer has it; adapt the code that reads it "
        "(see the comment beside it) before upgrading the driver"
    )
