"""connect() refuses numeric options that are not finite, positive and sane, naming them.

Nothing here reaches a server: the options are checked before the backend is built, so the
URLs only pick the backend (each backend's driver is installed in the test environment).
"""

from __future__ import annotations

import math

import pytest

import asyncauth

URLS = [
    "sqlite:///:memory:",
    "postgresql://app@127.0.0.1:1/app",
    "mysql://app@127.0.0.1:1/app",
    "mongodb://127.0.0.1:1/app",
    "mssql://app@127.0.0.1:1/app",
]
BAD_SECONDS = [math.nan, math.inf, -math.inf, 0, -1, 1e300, "10", True]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("option", ["timeout", "lock_timeout"])
@pytest.mark.parametrize("value", BAD_SECONDS, ids=repr)
def test_bad_seconds_are_refused_by_name(url: str, option: str, value: object) -> None:
    with pytest.raises(asyncauth.ConfigurationError, match=option):
        asyncauth.connect(url, **{option: value})


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("value", [0, -3, 2**40, 1.5, math.nan, True])
def test_bad_pool_sizes_are_refused_by_name(url: str, value: object) -> None:
    with pytest.raises(asyncauth.ConfigurationError, match="pool_size"):
        asyncauth.connect(url, pool_size=value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app@127.0.0.1:1/app?connect_timeout=inf",
        "postgresql://app@127.0.0.1:1/app?command_timeout=nan",
        "mongodb://127.0.0.1:1/app?timeoutMS=inf",
        "mongodb://127.0.0.1:1/app?maxPoolSize=nan",
        "mongodb://127.0.0.1:1/app?serverSelectionTimeoutMS=-inf",
    ],
)
def test_url_numbers_that_are_not_finite_are_refused_by_name(url: str) -> None:
    name = url.rsplit("?", 1)[1].split("=")[0]
    with pytest.raises(asyncauth.ConfigurationError, match=name):
        asyncauth.connect(url)


def test_sane_values_pass() -> None:
    auth = asyncauth.connect("sqlite:///:memory:", timeout=0.5, lock_timeout=3600, pool_size=3)
    assert auth is not None
