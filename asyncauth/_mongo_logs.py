"""PyMongo's command log, with the documents withheld (see docs/mongodb-design.md).

PyMongo logs every command at DEBUG on ``pymongo.command`` with its documents, and here those
hold secrets: session and verification tokens, OAuth tokens, a duplicate key's value.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["WithholdDocuments", "install"]

# The fields of PyMongo's command log records that hold documents, and what of a server's
# failure may stay (PyMongo's own list for server-side errors).
_DOCUMENT_FIELDS: Final = ("command", "reply", "failure")
_FAILURE_KEPT: Final = ("code", "codeName", "errorLabels")


class WithholdDocuments(logging.Filter):
    """Keep what a command did (name, database, duration, ids, an error's code); withhold
    its documents.

    The fields come from PyMongo's private ``LogMessage._kwargs`` (pinned by
    tests/unit/test_driver_internals.py); a record of any other shape is withheld whole
    rather than risk a token.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        fields = getattr(record.msg, "_kwargs", None)
        if not isinstance(fields, dict):
            if not isinstance(record.msg, str) or record.args:
                record.msg, record.args = "PyMongo command event (withheld by asyncauth)", ()
            return True
        shown: dict[str, Any] = {}
        for key, value in fields.items():
            if key == "failure" and isinstance(value, Mapping):
                shown[key] = {k: value[k] for k in _FAILURE_KEPT if k in value}
            elif key == "command" and isinstance(value, Mapping) and value:
                name, target = next(iter(value.items()))
                shown[key] = {name: target if isinstance(target, str) else "…", "…": "withheld"}
            elif key in _DOCUMENT_FIELDS:
                shown[key] = "withheld by asyncauth"
            elif value is None or key in ("isServerSideError", "speculative_authenticate"):
                continue
            elif hasattr(value, "total_seconds"):  # durationMS, a timedelta until formatted
                shown[key] = value.total_seconds() * 1000
            else:
                shown[key] = value if isinstance(value, str | int | float | bool) else str(value)
        record.msg, record.args = json.dumps(shown, default=str), ()
        return True


def install() -> None:
    """Put the filter on ``pymongo.command``, once per process.

    Process-wide: it also withholds the documents of the application's own commands, since
    a record does not say which client sent it.
    """
    logger = logging.getLogger("pymongo.command")
    if not any(isinstance(f, WithholdDocuments) for f in logger.filters):
        logger.addFilter(WithholdDocuments())
