"""`Secret`: an API key (or any credential) that shows as a mask wherever Python prints it.

Tracebacks with `%xmode Verbose` or `capture_locals=True` print the `repr` of every local in every
frame, and notebooks save them. Keys therefore travel through the core as `Secret`s and are revealed
only where the header that carries them is built (and where text is redacted).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from .urls import url_secrets

MASK = "***"

# Header names whose values are credentials (`Authorization`, Azure's `api-key`, `x-api-key`,
# `Cookie`, `X-Auth-Token`...): redacted from error texts and kept as `Secret`s like the key.
_SECRET_HEADER = re.compile(r"auth|key|token|secret|cookie|passw|session|credential", re.IGNORECASE)


class Secret:
    """A credential whose `repr`, `str` and format are a mask; `reveal()` returns the value."""

    __slots__ = ("__value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a Secret holds a str, not {type(value).__name__}")
        self.__value = value

    @classmethod
    def wrap(cls, value: str | Secret | None) -> Secret | None:
        """`None` stays `None`, a `Secret` stays itself, a `str` becomes a `Secret`."""
        if value is None or isinstance(value, Secret):
            return value
        if isinstance(value, str):
            return cls(value)
        raise TypeError(f"an API key must be a str or a Secret, not {type(value).__name__}")

    def reveal(self) -> str:
        """The value itself: call it only where the request header is built."""
        return self.__value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})" if self.__value else "Secret('')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __bool__(self) -> bool:
        return bool(self.__value)

    def __len__(self) -> int:
        return len(self.__value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self.__value.encode(), other.__value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self.__value))

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce__(self) -> NoReturn:
        # A pickle (a cache file, a multiprocessing job) would hold the value in clear.
        raise TypeError("a Secret cannot be pickled")


# What redaction takes: keys and credentials, as `Secret`s or plain text (None entries are skipped).
Secrets = tuple[str | Secret | None, ...]


def argument(value: object) -> Secret | TypeError | None:
    """A key argument as a `Secret`; a value of the wrong type comes back as the TypeError to raise.

    Returning the error (instead of raising it) lets the caller rebind its variable first, so no
    frame of the traceback holds the value.
    """
    if value is None or isinstance(value, Secret | TypeError):
        return value
    if isinstance(value, str):
        return Secret(value)
    return TypeError(f"an API key must be a str or a Secret, not {type(value).__name__}")


def _has_credentials(url: object) -> bool:
    return isinstance(url, str) and bool(url_secrets(url))


_URL_ARGUMENTS = ("api_base", "base_url", "api_endpoint", "proxy")


def protect(arguments: dict[str, Any]) -> dict[str, Any]:
    """A call's keyword arguments with every credential as a `Secret`: the key, credential
    headers, and URLs that carry `user:password@` (the frames that hold them print masks)."""
    protected = dict(arguments)
    if "api_key" in protected:
        protected["api_key"] = argument(protected["api_key"])
    if isinstance(protected.get("headers"), Mapping):
        protected["headers"] = wrap_headers(protected["headers"])
    for name in _URL_ARGUMENTS:
        if _has_credentials(protected.get(name)):
            protected[name] = Secret(protected[name])
    return protected


def reveal(value: str | Secret | None) -> str | None:
    """The plain text of a key given as a `str` or a `Secret`."""
    return value.reveal() if isinstance(value, Secret) else value


def is_secret_header(name: str) -> bool:
    """Whether a header's value is a credential, by its name."""
    return bool(_SECRET_HEADER.search(name))


def wrap_headers(headers: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A copy of `headers` whose credential values (by header name) are `Secret`s."""
    if headers is None:
        return None
    wrapped: dict[str, Any] = {}
    for name, value in headers.items():
        secret = isinstance(name, str) and isinstance(value, str) and is_secret_header(name)
        wrapped[name] = Secret(value) if secret else value
    return wrapped


def header_secrets(headers: Mapping[str, Any] | None) -> tuple[Secret, ...]:
    """The credentials in `headers` to redact: each value, and its token after a scheme (`Bearer x`)."""
    found: list[Secret] = []
    for name, value in (headers or {}).items():
        if isinstance(value, Secret) or (isinstance(name, str) and is_secret_header(name)):
            text = reveal(value)
            if isinstance(text, str) and text.strip():
                found.append(Secret(text.strip()))
                token = text.strip().partition(" ")[2]
                if token.strip():
                    found.append(Secret(token.strip()))
    return tuple(found)


def unique(secrets: Iterable[str | Secret | None]) -> tuple[Secret, ...]:
    """Distinct non-empty secrets as `Secret`s, longest first (so a key is masked before its parts)."""
    seen: dict[str, Secret] = {}
    for secret in secrets:
        text = reveal(secret)
        if text and text not in seen:
            seen[text] = secret if isinstance(secret, Secret) else Secret(text)
    return tuple(seen[text] for text in sorted(seen, key=len, reverse=True))


__all__ = [
    "MASK",
    "Secret",
    "Secrets",
    "argument",
    "header_secrets",
    "is_secret_header",
    "protect",
    "reveal",
    "unique",
    "wrap_headers",
]
