"""From a URL to an adapter: the scheme picks the backend, whose driver is imported lazily.

A missing driver extra therefore never breaks users of another backend: ``import asyncauth``
imports no database driver at all, and ``connect("mysql://...")`` without aiomysql raises a
:class:`ConfigurationError` naming the extra to install.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ._errors import ConfigurationError
from ._layout import DEFAULT_LAYOUT, load_layout

if TYPE_CHECKING:
    from ._base import BaseAdapter
    from ._protocol import Adapter

__all__ = [
    "BACKENDS",
    "Options",
    "adapter_classes",
    "connect",
    "register_scheme",
    "typeorm_url",
]

DEFAULT_URL = "sqlite:///:memory:"

#: The one registry of backends: URL scheme -> (module, adapter class, pip extra). ``connect()``
#: imports the module (which exposes ``from_url(url, options)``) on first use of the scheme,
#: ``asyncauth.<class>`` is a lazy export read from here, and a missing driver names the extra.
#: A new backend is one module and one line here (plus its SQL folder, for a SQL dialect).
BACKENDS: dict[str, tuple[str, str | None, str]] = {
    "sqlite": ("asyncauth._sqlite", "SqliteAdapter", "sqlite"),
    "postgresql": ("asyncauth._postgres", "PostgresAdapter", "postgres"),
    "postgres": ("asyncauth._postgres", "PostgresAdapter", "postgres"),
    "mysql": ("asyncauth._mysql", "MySQLAdapter", "mysql"),
    "mariadb": ("asyncauth._mysql", "MySQLAdapter", "mysql"),
    "mssql": ("asyncauth._odbc", "MssqlAdapter", "mssql"),
    "odbc": ("asyncauth._odbc", "OdbcAdapter", "mssql"),
    "mongodb": ("asyncauth._mongo", "MongoAdapter", "mongodb"),
    "mongodb+srv": ("asyncauth._mongo", "MongoAdapter", "mongodb"),
}


def register_scheme(scheme: str, module: str, extra: str, adapter: str | None = None) -> None:
    """Map a URL scheme to a backend module exposing ``from_url(url, options)``.

    ``adapter`` names the module's adapter class when it is exported as ``asyncauth.<name>``;
    a scheme registered at run time (a test's, a third party's) usually has none.
    """
    BACKENDS[scheme] = (module, adapter, extra)


def adapter_classes() -> dict[str, tuple[str, str]]:
    """The lazily exported adapter classes: class name -> (module, extra)."""
    return {cls: (module, extra) for module, cls, extra in BACKENDS.values() if cls is not None}


def import_backend(module: str, extra: str, what: str) -> Any:
    """Import a backend module; a missing driver is a ConfigurationError naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigurationError(
            f"{what} needs its driver ({exc.name}): pip install 'asyncauth[{extra}]'"
        ) from exc


#: the largest pool any backend is asked for (MongoDB's maxPoolSize is a 32-bit int, and no
#: database serves this many connections from one process anyway)
MAX_POOL_SIZE = 10_000
#: the longest wait asyncauth accepts, in seconds (a week): drivers turn seconds into 32-bit
#: milliseconds, and ``inf`` or ``nan`` would fail deep inside them, or never time out
MAX_SECONDS = 7 * 24 * 3600.0
#: how long a bootstrap waits for another process's bootstrap lock (docs/bootstrap.md)
DEFAULT_LOCK_TIMEOUT = 600.0


def seconds(value: object, name: str) -> float:
    """A wait in seconds: a finite positive number up to :data:`MAX_SECONDS`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number of seconds, not {value!r}")
    if not (math.isfinite(value) and 0 < value <= MAX_SECONDS):
        raise ConfigurationError(
            f"{name} must be a finite number of seconds above 0 and at most {MAX_SECONDS:g}, "
            f"not {value!r}"
        )
    return float(value)


# URL query parameters that drivers read as numbers (connect_timeout, timeoutMS,
# maxPoolSize, ...): a value of nan or inf is refused here, naming the parameter, rather than
# failing later inside the driver with an OverflowError or an "invalid URL".
_NUMERIC_PARAMETER = re.compile(
    r"timeout|ms$|size|max|min|interval|keepalive|idle|retries|limit|lifetime|port", re.I
)


def _check_url_numbers(query: str) -> None:
    for name, value in parse_qsl(query, keep_blank_values=True):
        if not _NUMERIC_PARAMETER.search(name):
            continue
        try:
            number = float(value)
        except ValueError:
            continue  # not a number at all: the driver's own message says so
        if not math.isfinite(number):
            raise ConfigurationError(
                f"URL parameter {name!r} must be a finite number, not {value!r}"
            )


@dataclass
class Options:
    """The options every backend accepts; a backend pops its own from ``rest``."""

    pool_size: int | None = None
    timeout: float = 10.0
    lock_timeout: float = 600.0
    hash_session_tokens: bool = False
    sql_folders: Sequence[Path] = ()
    layout: str | None = None
    rest: dict[str, Any] | None = None

    @classmethod
    def parse(cls, options: dict[str, Any]) -> Options:
        """Check the common options; leave the others in ``rest`` for the backend."""
        opts = dict(options)
        pool_size = opts.pop("pool_size", None)
        if pool_size is not None and (
            isinstance(pool_size, bool)
            or not isinstance(pool_size, int)
            or not 1 <= pool_size <= MAX_POOL_SIZE
        ):
            raise ConfigurationError(
                f"pool_size must be an int from 1 to {MAX_POOL_SIZE}, not {pool_size!r}"
            )
        timeout = seconds(opts.pop("timeout", 10.0), "timeout")
        lock_timeout = seconds(opts.pop("lock_timeout", DEFAULT_LOCK_TIMEOUT), "lock_timeout")
        hashing = opts.pop("hash_session_tokens", False)
        if not isinstance(hashing, bool):
            raise ConfigurationError("hash_session_tokens must be a bool")
        layout = opts.pop("layout", None)
        if layout is not None:
            layout = load_layout(layout).name  # an unknown name fails here, listing the known
        folders = opts.pop("sql_folders", ())
        if isinstance(folders, str | Path):
            folders = (folders,)
        return cls(
            pool_size=pool_size,
            timeout=timeout,
            lock_timeout=lock_timeout,
            hash_session_tokens=hashing,
            sql_folders=tuple(Path(f) for f in folders),
            layout=layout,
            rest=opts,
        )

    def common(self) -> dict[str, Any]:
        """The options every SQL adapter class takes, as its keyword arguments."""
        common: dict[str, Any] = {
            "pool_size": self.pool_size,
            "timeout": self.timeout,
            "hash_session_tokens": self.hash_session_tokens,
            "sql_folders": self.sql_folders,
        }
        if self.layout is not None:
            common["layout"] = self.layout
        return common

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


#: NextAuth v3's TypeORM ``type`` -> asyncauth's URL scheme
TYPEORM_TYPES: dict[str, str] = {
    "sqlite": "sqlite",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mariadb",
    "mssql": "mssql",
    "mongodb": "mongodb",
}
_TYPEORM_KEYS = frozenset(
    {"type", "host", "port", "username", "password", "database", "ssl", "synchronize"}
)
# How each server's URL asks for TLS (ssl: true) or refuses it (ssl: false).
_TLS = {
    "postgresql": ({"sslmode": "require"}, {"sslmode": "disable"}),
    "mysql": ({"ssl": "true"}, {}),
    "mariadb": ({"ssl": "true"}, {}),
    "mssql": ({"Encrypt": "yes"}, {"Encrypt": "no"}),
    "mongodb": ({"tls": "true"}, {"tls": "false"}),
}
_HOST = re.compile(r"[A-Za-z0-9._-]+|[0-9A-Fa-f:.]+|\[[0-9A-Fa-f:.]+\]")


def typeorm_url(config: Mapping[str, Any]) -> tuple[str, bool]:
    """The URL for NextAuth v3's TypeORM options, and whether they ask to synchronize.

    Every piece of user text is percent-quoted into its place, never pasted: a password with
    ``@``, ``/`` or ``#`` stays a password.
    """
    unknown = sorted(str(k) for k in config if k not in _TYPEORM_KEYS)
    if unknown:
        raise ConfigurationError(
            f"unknown TypeORM option(s) {', '.join(map(repr, unknown))}; asyncauth reads "
            f"{', '.join(sorted(_TYPEORM_KEYS))}"
        )
    kind = config.get("type")
    scheme = TYPEORM_TYPES.get(kind) if isinstance(kind, str) else None
    if scheme is None:
        raise ConfigurationError(
            f"TypeORM type must be one of {', '.join(sorted(TYPEORM_TYPES))}, not {kind!r}"
        )
    sync = config.get("synchronize", False)
    if not isinstance(sync, bool):
        raise ConfigurationError(f"synchronize must be true or false, not {sync!r}")

    def text(key: str, default: str | None = None) -> str | None:
        value = config.get(key, default)
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigurationError(f"TypeORM option {key!r} must be a non-empty str")
        return value

    database = text("database")
    if scheme == "sqlite":
        extra = sorted(k for k in ("host", "port", "username", "password", "ssl") if k in config)
        if extra:
            raise ConfigurationError(f"a sqlite database takes no {', '.join(extra)}")
        if database is None:
            raise ConfigurationError("a sqlite TypeORM config needs database (a path or :memory:)")
        return f"sqlite:///{quote(database, safe='/:')}", sync

    host = text("host", "localhost")
    assert host is not None
    if not _HOST.fullmatch(host):
        raise ConfigurationError("TypeORM option 'host' must be a host name or address")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    port = config.get("port")
    if port is not None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigurationError(f"TypeORM option 'port' must be 1 to 65535, not {port!r}")
        host = f"{host}:{port}"
    username, password = text("username"), text("password")
    if password is not None and username is None:
        raise ConfigurationError("TypeORM option 'password' needs 'username'")
    credentials = ""
    if username is not None:
        credentials = quote(username, safe="")
        if password is not None:
            credentials += ":" + quote(password, safe="")
        credentials += "@"
    ssl = config.get("ssl")
    query: dict[str, str] = {}
    if ssl is not None:
        if not isinstance(ssl, bool):
            raise ConfigurationError(
                "TypeORM option 'ssl' must be true or false here; certificate options go in a "
                "URL (docs/nextauth.md)"
            )
        query = _TLS[scheme][0 if ssl else 1]
    path = "/" + quote(database, safe="") if database is not None else ""
    tail = "?" + urlencode(query) if query else ""
    return f"{scheme}://{credentials}{host}{path}{tail}", sync


def _take_layout(url: str, parts: Any, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Move ``?layout=`` out of the URL into the options (the driver would not know it)."""
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    named = [value for name, value in pairs if name == "layout"]
    if not named:
        return url, options
    if len(named) > 1 or ("layout" in options and options["layout"] != named[0]):
        raise ConfigurationError("the layout is named twice (URL and options) with two values")
    rest = urlencode([(name, value) for name, value in pairs if name != "layout"])
    return urlunsplit(parts._replace(query=rest)), {**options, "layout": named[0]}


def connect(
    url: str | Mapping[str, Any] | None = None, *, bootstrap: bool = False, **options: Any
) -> Adapter:
    """The adapter for ``url`` (in-memory SQLite when omitted), not yet connected.

    Use it as ``async with asyncauth.connect(url) as auth:`` or ``auth = await
    asyncauth.connect(url)``; either connects, and with ``bootstrap=True`` also brings the
    schema up to date. The adapter owns the pool or client it makes and closes it in
    ``aclose()``. Options: ``pool_size``, ``timeout`` (seconds to wait for a connection or a
    statement), ``lock_timeout`` (seconds a bootstrap waits for another process's bootstrap,
    default 600), ``hash_session_tokens``, ``sql_folders`` (custom queries and migrations),
    ``layout`` (whose tables: ``nextauth-v3`` by default, or an Auth.js adapter's, also
    ``?layout=`` in the URL; docs/layouts.md), and each backend's own (see ``docs/``).

    ``url`` may also be NextAuth v3's TypeORM options, as a mapping (``{"type": "postgres",
    "host": ..., "database": ..., "synchronize": True}``); ``synchronize`` means bootstrap
    (docs/nextauth.md).
    """
    url = DEFAULT_URL if url is None else url
    if isinstance(url, Mapping):
        url, synchronize = typeorm_url(url)
        bootstrap = bootstrap or synchronize
    if not isinstance(url, str):
        raise ConfigurationError(f"url must be a str, not {type(url).__name__}")
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
    except ValueError as exc:  # e.g. "Invalid IPv6 URL"; the URL itself is not repeated
        raise ConfigurationError(f"malformed URL: {exc}") from None
    base = scheme.split("+", 1)[0]
    if scheme not in BACKENDS and base not in BACKENDS:
        known = ", ".join(sorted(f"{s}://" for s in BACKENDS))
        raise ConfigurationError(f"unsupported URL scheme {scheme!r}; known: {known}")
    module_name, _, extra = BACKENDS.get(scheme) or BACKENDS[base]
    url, options = _take_layout(url, parts, options)
    module = import_backend(module_name, extra, f"the {scheme} backend")
    opts = Options.parse(options)
    if opts.layout not in (None, DEFAULT_LAYOUT) and base == "mongodb":
        raise ConfigurationError(f"the {opts.layout} layout is not available on MongoDB")
    _check_url_numbers(parts.query)
    adapter: BaseAdapter = module.from_url(url, opts)
    opts.finish(scheme)
    adapter._bootstrap_on_open = bootstrap
    adapter._lock_timeout = opts.lock_timeout
    return adapter
