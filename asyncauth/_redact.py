"""Credential redaction for database URLs: the one place that decides what is secret.

The CLI prints URLs, reprs show them and error messages may quote them (a driver's complaint
about a malformed URL repeats its text). Every credential a URL can carry is masked here:

- the userinfo password, ``scheme://user:secret@host``, on every kind of network location,
  multi-host MongoDB lists included (nothing here reads ``.port``, which fails on those);
- query parameters that hold a secret (``password``, ``pwd``, ``pass``, ``secret``,
  ``token``, ``sslpassword``, ``tlsCertificateKeyFilePassword``, MongoDB's
  ``authMechanismProperties`` that can hold an AWS session token, ...), matched case
  insensitively after percent-decoding the name;
- inside ``odbc_connect``, the connection string's ``PWD=`` / ``Password=`` attributes (and
  the other secret names above), braced values ``{a;b}`` with ``}}`` escapes included.

The parser is hand-written and total: it never raises, so a URL too broken for ``urllib`` is
still redacted rather than printed as it is.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

__all__ = ["MASK", "redact_text", "redact_url", "secrets_of"]

MASK = "***"

# Parameter names (lower case, '_' and '-' removed) that are credentials themselves...
_SECRET_NAMES = frozenset({"pass", "pwd", "authmechanismproperties", "apikey", "key"})
# ...and fragments that make any name one ("sslpassword", "access_token", "client_secret").
_SECRET_PARTS = ("password", "passwd", "secret", "token", "credential")


def is_secret_name(name: str) -> bool:
    """True when a query parameter or connection-string attribute of this name is a secret."""
    key = name.strip().lower().replace("_", "").replace("-", "")
    return key in _SECRET_NAMES or any(part in key for part in _SECRET_PARTS)


def _split_url(url: str) -> tuple[str, str, str, str, str]:
    """(scheme + '://', network location, path, query, fragment), never raising."""
    head, sep, rest = url.partition("://")
    if not sep:
        head, rest = "", url
        netloc = ""
    else:
        head += sep
        cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
        netloc, rest = rest[:cut], rest[cut:]
    rest, _, fragment = rest.partition("#")
    path, _, query = rest.partition("?")
    return head, netloc, path, query, fragment


def _odbc_attributes(text: str) -> list[tuple[str, str, bool]]:
    """The (name, value, braced) attributes of an ODBC connection string."""
    out: list[tuple[str, str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        eq = text.find("=", i)
        if eq < 0:
            if text[i:].strip(" ;"):
                out.append((text[i:], "", False))
            break
        name = text[i:eq].lstrip(" ;")
        j = eq + 1
        if j < n and text[j] == "{":
            # A braced value runs to the first '}' not doubled; '}}' stands for one '}'.
            k, value = j + 1, []
            while k < n:
                if text[k] == "}":
                    if k + 1 < n and text[k + 1] == "}":
                        value.append("}")
                        k += 2
                        continue
                    k += 1
                    break
                value.append(text[k])
                k += 1
            out.append((name, "".join(value), True))
            semi = text.find(";", k)
            i = n if semi < 0 else semi + 1
        else:
            semi = text.find(";", j)
            end = n if semi < 0 else semi
            out.append((name, text[j:end], False))
            i = end + 1
    return out


def redact_connection_string(text: str) -> str:
    """An ODBC connection string with its secret attributes' values masked."""
    pieces = []
    for name, value, braced in _odbc_attributes(text):
        if is_secret_name(name):
            value = MASK
        elif braced:
            value = "{" + value.replace("}", "}}") + "}"
        pieces.append(f"{name}={value}")
    return ";".join(pieces) + (";" if text.rstrip().endswith(";") else "")


def redact_url(url: str) -> str:
    """``url`` with every credential it carries replaced by ``***``, fit for printing."""
    head, netloc, path, query, fragment = _split_url(url)
    userinfo, at, hosts = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{hosts}"
    if query:
        parts = []
        for piece in query.split("&"):
            raw_name, eq, raw_value = piece.partition("=")
            name = unquote(raw_name)
            if eq and is_secret_name(name):
                piece = f"{raw_name}={MASK}"
            elif eq and name.strip().lower() == "odbc_connect":
                redacted = redact_connection_string(unquote(raw_value.replace("+", " ")))
                piece = f"{raw_name}={quote(redacted, safe='={};,*: ')}"
            parts.append(piece)
        query = "&".join(parts)
    return (
        head + netloc + path + ("?" + query if query else "") + ("#" + fragment if fragment else "")
    )


def secrets_of(url: str) -> list[str]:
    """Every secret value ``url`` holds, in each spelling it may be quoted in (longest first)."""
    found: set[str] = set()
    _, netloc, _, query, _ = _split_url(url)
    userinfo, at, _ = netloc.rpartition("@")
    if at and ":" in userinfo:
        found.add(userinfo.split(":", 1)[1])
    for piece in query.split("&") if query else ():
        raw_name, eq, raw_value = piece.partition("=")
        name = unquote(raw_name)
        if eq and is_secret_name(name):
            found.add(raw_value)
        elif eq and name.strip().lower() == "odbc_connect":
            found.update(
                value
                for attr, value, _ in _odbc_attributes(unquote(raw_value.replace("+", " ")))
                if is_secret_name(attr)
            )
    spelled = set(found)
    for value in found:
        spelled.add(unquote(value))
        spelled.add(unquote(value.replace("+", " ")))
        spelled.add(value.replace("}", "}}"))
    return sorted((s for s in spelled if s), key=len, reverse=True)


def redact_text(text: str, url: str | None) -> str:
    """``text`` (an error message, a repr) with every secret of ``url`` masked in it."""
    if not url:
        return text
    text = text.replace(url, redact_url(url))
    for secret in secrets_of(url):
        text = text.replace(secret, MASK)
    return text
