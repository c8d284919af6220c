"""Input checks shared by every backend, so that bad input fails the same way everywhere.

The limits follow the narrowest documented schema (docs/schema.md): VARCHAR(255) columns take at
most 255 characters, TEXT columns at most 16,383 (what MySQL's 64 KiB TEXT holds in utf8mb4).
NUL and lone surrogates are refused because PostgreSQL and UTF-8 cannot store them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Final

from ._errors import ValidationError

UTC: Final = timezone.utc
SHORT: Final = 255
LONG: Final = 16_383


def text(value: object, field: str, *, limit: int = SHORT, required: bool = True) -> str | None:
    """Return ``value`` if it is a storable string, ``None`` if optional and absent."""
    if value is None:
        if required:
            raise ValidationError(field, "is required")
        return None
    if type(value) is not str:
        if not isinstance(value, str):
            raise ValidationError(field, f"must be a str, not {type(value).__name__}")
        value = str(value)
    if not value and required:
        raise ValidationError(field, "must not be empty")
    if len(value) > limit:
        raise ValidationError(field, f"is longer than {limit} characters")
    if "\x00" in value:
        raise ValidationError(field, "must not contain NUL characters")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError(field, "is not valid Unicode (lone surrogate)") from None
    return value


def required_text(value: object, field: str, *, limit: int = SHORT) -> str:
    """Like :func:`text`, for a value that must be present and non-empty."""
    checked = text(value, field, limit=limit, required=True)
    assert checked is not None
    return checked


def moment(value: object, field: str) -> datetime:
    """An aware datetime, converted to UTC and cut to the millisecond every backend keeps."""
    if not isinstance(value, datetime):
        raise ValidationError(field, f"must be a datetime, not {type(value).__name__}")
    offset = value.utcoffset()
    if offset is None:
        raise ValidationError(field, "must be timezone-aware (naive datetimes are ambiguous)")
    if offset or value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    if value.microsecond % 1000:
        value = value.replace(microsecond=value.microsecond - value.microsecond % 1000)
    return value


def optional_moment(value: object, field: str) -> datetime | None:
    """:func:`moment`, or ``None``."""
    return None if value is None else moment(value, field)


def integer(value: object, field: str, *, required: bool = True) -> int | None:
    """An int (bool refused, it is almost always a mistake here) within a signed 64-bit range."""
    if value is None:
        if required:
            raise ValidationError(field, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"must be an int, not {type(value).__name__}")
    if not -(2**63) <= value < 2**63:
        raise ValidationError(field, "is out of the 64-bit range")
    return value


def boolean(value: object, field: str) -> bool:
    """A real bool."""
    if not isinstance(value, bool):
        raise ValidationError(field, f"must be a bool, not {type(value).__name__}")
    return value


def key(value: object, field: str) -> str:
    """An id passed in by the caller: must be a str; its shape is the backend's business."""
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a str id, not {type(value).__name__}")
    return value
