"""Credentials in URLs (`http://user:KEY@host/v1`): removed wherever a URL is shown, redacted as secrets."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit


def _userinfo(url: str) -> str:
    # The netloc up to its last "@" (a password may itself contain "@" when not percent-encoded).
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return ""
    return netloc.rpartition("@")[0]


def strip_credentials(url: str) -> str:
    """`url` without its `user:password@` part (unchanged when it has none)."""
    userinfo = _userinfo(url)
    if not userinfo:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def url_secrets(url: str | None) -> tuple[str, ...]:
    """The user, password and whole userinfo of `url`, raw and percent-decoded, for redaction."""
    userinfo = _userinfo(url or "")
    if not userinfo:
        return ()
    user, _, password = userinfo.partition(":")
    found: list[str] = []
    for part in (userinfo, user, password):
        for form in (part, unquote(part)):
            if form and form not in found:
                found.append(form)
    return tuple(found)


def credentials(url: str) -> tuple[str, str] | None:
    """The percent-decoded `(user, password)` of `url`, or None (sent as HTTP Basic auth)."""
    userinfo = _userinfo(url)
    if not userinfo:
        return None
    user, _, password = userinfo.partition(":")
    return unquote(user), unquote(password)


__all__ = ["credentials", "strip_credentials", "url_secrets"]
