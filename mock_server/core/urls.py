"""URLs as the kit shows and judges them: never with credentials, and on loopback or not."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def shown_url(url: str) -> str:
    """`url` as messages and logs may show it: without its user info, nor its query, which can carry a password
    (redis-py reads `?password=`) or a key."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2], query="").geturl()


def is_loopback(url: str) -> bool:
    """Whether `url`'s host is `localhost` or a loopback address."""
    return is_loopback_host(urlsplit(url).hostname or "")


def is_loopback_host(host: str) -> bool:
    """Whether `host` (a name, or an address without brackets) is `localhost` or a loopback address."""
    host = host.lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
