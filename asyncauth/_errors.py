"""The exception tree of asyncauth.

::

    AsyncAuthError
     ├── ConfigurationError   bad URL, unknown option, missing driver extra
     ├── SchemaError          bootstrap or check found a schema it cannot work with
     ├── DuplicateError       a unique key (email, account, token, credential) is taken
     ├── NotFoundError        the row an update needs does not exist
     ├── ValidationError      bad input, refused before it reaches the database
     └── BackendError         the database failed or could not be reached

Driver exceptions are translated in one place per driver, the ``Translating`` block of
``asyncauth._driver`` over each driver module's ``map_error`` (most specific first), and
chained with ``raise ... from exc`` so the original stays inspectable; except where the
driver's text quotes bound values (a duplicate key's value, a PostgreSQL DETAIL line): those
are raised ``from None``, and the driver's exception is never edited.
"""

from __future__ import annotations

__all__ = [
    "AsyncAuthError",
    "BackendError",
    "ConfigurationError",
    "DuplicateError",
    "NotFoundError",
    "SchemaError",
    "ValidationError",
]


class AsyncAuthError(Exception):
    """Raised when anything in asyncauth fails; the base of every error it raises."""


class ConfigurationError(AsyncAuthError):
    """Raised when a URL, an option or a missing driver extra makes a backend unusable."""


class SchemaError(AsyncAuthError):
    """Raised when bootstrap or check meets a schema it cannot safely work with."""


class DuplicateError(AsyncAuthError):
    """Raised when a write would break a unique key (email, account, token, credential).

    ``key`` names the key as ``table.column`` (``"users.email"``,
    ``"accounts.compound_id"``), or is None when the database did not say which. The
    driver's own exception, which quotes the duplicate value, is not chained.
    """

    def __init__(self, message: str = "unique key taken", *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class NotFoundError(AsyncAuthError):
    """Raised when an update names a row that does not exist."""


class ValidationError(AsyncAuthError, ValueError):
    """Raised when an argument is refused before any database is asked.

    ``field`` names the offending argument, so callers can report it.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class BackendError(AsyncAuthError):
    """Raised when the database fails, times out or cannot be reached.

    ``query`` names the query that failed (``"create_session"``), when one did; the values
    it was given are never part of the message.
    """

    query: str | None = None
