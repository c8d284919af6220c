"""From a URL to an adapter: the scheme picks the backend, whose driver is imported lazily.

A missing driver extra therefore never breaks users of another backend: ``import asyncauth``
imports no database driver at all, and ``connect("mysql://...")`` without aiomysql raises a
:class:`ConfigurationError` naming the extra to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._errors import ConfigurationError

if TYPE_CHECKING:
    from ._base import BaseAdapter
    from ._protocol import Adapter

__all__ = ["Options", "connect", "register_scheme"]

DEFAULT_URL = "sqlite:///:memory:"

# scheme -> (module with ``from_url``, the pip extra that brings its driver)
_SCHEMES: dict[str, tuple[str, str]] = {
    "sqlite": ("asyncauth._sqlite_adapter", "sqlite"),
    "postgresql": ("asyncauth._postgres_adapter", "postgres"),
    "postgres": ("asyncauth._postgres_adapter", "postgres"),
    "mysql": ("asyncauth._mysql_adapter", "mysql"),
    "mariadb": ("asyncauth._mysql_adapter", "mysql"),
    "mssql": ("asyncauth._odbc_adapter", "mssql"),
    "odbc": ("asyncauth._odbc_adapter", "mssql"),
}


def register_scheme(scheme: str, module: str, extra: str) -> None:
    """Map a URL scheme to a backend module exposing ``from_url(url, options)``."""
    _SCHEMES[scheme] = (module, extra)


@dataclass
class Options:
    """The options every backend accepts; a backend pops its own from ``rest``."""

    pool_size: int | None = None
    timeout: float = 10.0
    hash_session_tokens: bool = False
    sql_folders: Sequence[Path] = ()
    rest: dict[str, Any] | None = None

    @classmethod
    def parse(cls, options: dict[str, Any]) -> Options:
        """Check the common options; leave the others in ``rest`` for the backend."""
        opts = dict(options)
        pool_size = opts.pop("pool_size", None)
        if pool_size is not None and (
            isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1
        ):
            raise ConfigurationError(f"pool_size must be a positive int, not {pool_size!r}")
        timeout = opts.pop("timeout", 10.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigurationError(f"timeout must be a positive number, not {timeout!r}")
        hashing = opts.pop("hash_session_tokens", False)
        if not isinstance(hashing, bool):
            raise ConfigurationError("hash_session_tokens must be a bool")
        folders = opts.pop("sql_folders", ())
        if isinstance(folders, str | Path):
            folders = (folders,)
        return cls(
            pool_size=pool_size,
            timeout=float(timeout),
            hash_session_tokens=hashing,
            sql_folders=tuple(Path(f) for f in folders),
            rest=opts,
        )

    def take(self, name: str, default: Any) -> Any:
        """Pop a backend-specific option."""
        assert self.rest is not None
        return self.rest.pop(name, default)

    def finish(self, backend: str) -> None:
        """Refuse what no one took: a typo must not pass silently."""
        if self.rest:
            raise ConfigurationError(
                f"unknown option(s) for {backend}: {', '.join(sorted(self.rest))}"
            )


def connect(url: str | None = None, *, bootstrap: bool = False, **options: Any) -> Adapter:
    """The adapter for ``url`` (in-memory SQLite when omitted), not yet connected.

    Use it as ``async with asyncauth.connect(url) as auth:`` or ``auth = await
    asyncauth.connect(url)``; either connects, and with ``bootstrap=True`` also brings the
    schema up to date. The adapter owns the pool or client it makes and closes it in
    ``aclose()``. Options: ``pool_size``, ``timeout`` (seconds to wait for a connection or a
    statement), ``hash_session_tokens``, ``sql_folders`` (custom queries and migrations), and
    each backend's own (see the backend pages in ``docs/``).
    """
    url = DEFAULT_URL if url is None else url
    if not isinstance(url, str):
        raise ConfigurationError(f"url must be a str, not {type(url).__name__}")
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:  # e.g. "Invalid IPv6 URL"; the URL itself is not repeated
        raise ConfigurationError(f"malformed URL: {exc}") from None
    base = scheme.split("+", 1)[0]
    if scheme not in _SCHEMES and base not in _SCHEMES:
        known = ", ".join(sorted(f"{s}://" for s in _SCHEMES))
        raise ConfigurationError(f"unsupported URL scheme {scheme!r}; known: {known}")
    module_name, extra = _SCHEMES.get(scheme) or _SCHEMES[base]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"the {scheme} backend needs its driver ({exc.name}): pip install 'asyncauth[{extra}]'"
        ) from exc
    opts = Options.parse(options)
    adapter: BaseAdapter = module.from_url(url, opts)
    opts.finish(scheme)
    adapter._bootstrap_on_open = bootstrap
    result: Adapter = adapter  # type: ignore[assignment]  # checked in _adapter.py
    return result
