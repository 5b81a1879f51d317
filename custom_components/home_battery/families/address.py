"""Checks of a typed address before anything connects: host names, IP addresses and ports.

A wrong address is a form error (`invalid_host`) at once, never an exception deep inside a
client library (an empty host, `127.0.0.1:99999`, `[::1`, a null byte, a pasted line break).
"""

from __future__ import annotations

import ipaddress
import re

# RFC 1123 labels (letters, digits, hyphens, not at either end), and the underscores some home
# networks put in host names.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
_PORT = re.compile(r"[0-9]{1,5}")


def _valid_name(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return True
    labels = name.rstrip(".").split(".")
    return 0 < len(name) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


def _valid_port(port: str) -> bool:
    return bool(_PORT.fullmatch(port)) and 1 <= int(port) <= 65535


def valid_host(text: object, *, with_port: bool = False) -> bool:
    """Return whether `text` is a host name or IP address (with `:port` when allowed).

    IPv6 addresses may be bracketed; with a port they must be: `[fe80::1]:8080`.
    """
    if not isinstance(text, str):
        return False
    host = text.strip()
    if with_port and "://" in host:  # a URL: http://host[:port][/]
        scheme, _, host = host.partition("://")
        if scheme.lower() not in ("http", "https"):
            return False
        host = host.removesuffix("/")
    if host.startswith("["):
        inside, bracket, rest = host[1:].partition("]")
        if not bracket or not _is_ipv6(inside):
            return False
        return not rest or (with_port and rest.startswith(":") and _valid_port(rest[1:]))
    if host.count(":") > 1:
        return _is_ipv6(host)
    name, colon, port = host.partition(":")
    if colon and not (with_port and _valid_port(port)):
        return False
    return _valid_name(name)


def _is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False
