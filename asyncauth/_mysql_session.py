"""What a MySQL / MariaDB connection needs whatever the driver (aiomysql or ODBC).

Kept apart from ``_mysql`` so that the ODBC driver can use it without importing aiomysql.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Final

__all__ = ["ALREADY_DONE", "SESSION_SETUP", "TIMESTAMP_RANGE"]

UTC = timezone.utc

#: Run once on every connection before asyncauth uses it. A ``TIMESTAMP`` is converted between
#: UTC and the session's zone on the way in and out, so ``+00:00`` is what makes stored times
#: UTC whatever the server's zone; strict mode makes an over-long or invalid value an error,
#: never a silent truncation.
SESSION_SETUP: Final = (
    "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"
)

#: The instants a ``TIMESTAMP`` column holds (it is a 32-bit count of seconds).
TIMESTAMP_RANGE: Final = (
    datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC),
    datetime(2038, 1, 19, 3, 14, 7, 999000, tzinfo=UTC),
)

#: Errors of a migration statement repeated after an interruption, which finds its work done:
#: ER_TABLE_EXISTS, ER_DUP_FIELDNAME, ER_DUP_KEYNAME. MySQL 8 has no IF NOT EXISTS for columns
#: and indexes, so the driver skips the statement on these instead.
ALREADY_DONE: Final = frozenset({1050, 1060, 1061})
