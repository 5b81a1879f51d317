"""HTTP toolkit: one device's JSON API over an aiohttp session, with timeouts and typed errors.

Families that speak a local REST API (sonnen, Sessy) share this client. Every request has a
timeout; the answers are parsed as JSON whatever content type the device declares (some devices
send JSON as text/html); transport failures, HTTP errors and bodies that are not JSON become the
model's typed errors, so the Home Assistant layer never sees an aiohttp exception.

Reads and writes fail differently, because they mean different things:
- a READ answered 401/403 is a rejected credential (`DeviceAuthError`: Home Assistant's reauth
  flow); a read answered 404 is an endpoint this model lacks (`get_optional` returns None and
  remembers it in `missing`, so that only its entities stay unknown);
- a WRITE answered 401/403 is a refused permission (`DevicePermissionError`, with the family's
  reason: the token reads fine), any other non-2xx is the device's refusal
  (`DeviceRejectedError`), and a JSON `false` is a refusal too: never a silent success.
  A 2xx write whose body is not JSON is accepted (sonnen's v1 API answered text/html).

Settings the user typed are checked before anything is sent: a host that is no address, a port
out of range, a token or password that cannot travel in a header (a newline, a character outside
Latin-1, a `:` in a Basic-auth user name) is an `InvalidConfigError` naming the field, raised by
the first request (so that building a device never raises). Pasted tokens lose surrounding
whitespace.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
import json
import math
from typing import Any

import aiohttp
from yarl import URL

from .model import (
    DeviceAuthError,
    DeviceConnectionError,
    DevicePermissionError,
    DeviceRejectedError,
    InvalidConfigError,
    StateValue,
)

DEFAULT_TIMEOUT = 10.0  # seconds per request; local devices answer within a second or two
_AUTH_STATUSES = (401, 403)
_NOT_FOUND = 404
_MAX_ERROR_TEXT = 120  # characters of an error body kept in the message


class EndpointMissingError(DeviceConnectionError):
    """A read answered 404: this model has no such endpoint."""


def _has_control_characters(text: str) -> bool:
    return any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)


def base_url(host: str) -> URL:
    """Return the device's base URL from what the user typed: a host, `host:port` or a URL.

    A bare IPv6 address gets its brackets, so `fe80::1` works as well as `[fe80::1]:8080`.
    """
    text = host.strip()
    if not text or _has_control_characters(text):
        raise InvalidConfigError("host", "the host is empty or holds control characters")
    if "://" not in text:
        if text.count(":") > 1 and not text.startswith("["):
            text = f"[{text}]"
        text = f"http://{text}"
    try:
        url = URL(text)
        port = url.port
    except ValueError as err:
        raise InvalidConfigError("host", "the host is not a host name or address") from err
    if not url.host or any(char.isspace() for char in url.host) or port == 0:
        raise InvalidConfigError("host", "the host is not a host name or address")
    return url.with_path("")


def header_value(field: str, value: str) -> str:
    """Return a secret for an HTTP header without the whitespace a paste brings along.

    Raises `InvalidConfigError(field)` when it is empty or cannot travel in a header.
    """
    text = value.strip()
    if not text or _has_control_characters(text) or not text.isascii():
        raise InvalidConfigError(field, f"the {field} is empty or holds characters a header cannot")
    return text


def basic_auth(username: str, password: str) -> str:
    """Return the `Authorization` header of Basic auth (RFC 7617).

    Credentials HTTP cannot carry raise `InvalidConfigError`. Built here rather than with
    aiohttp's `BasicAuth`, which newer aiohttp deprecates.
    """
    login = username
    if not login.strip() or ":" in login or _has_control_characters(login):
        raise InvalidConfigError("username", "the user name is empty or holds a ':'")
    if _has_control_characters(password):
        raise InvalidConfigError("password", "the password holds control characters")
    for field, text in (("username", login), ("password", password)):
        try:
            text.encode("latin-1")
        except UnicodeEncodeError as err:
            message = f"the {field} holds characters outside Latin-1"
            raise InvalidConfigError(field, message) from err
    token = base64.b64encode(f"{login}:{password}".encode("latin-1")).decode("ascii")
    return f"Basic {token}"


class JsonHttpClient:
    """Requests to one device, serialised by `lock` like every other transport of the project.

    Callers hold `lock` around a whole operation (a poll, or a write with its read-back), so that
    the requests of a control sequence never interleave with a poll's.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        host: str,
        *,
        token_header: tuple[str, str] | None = None,
        credentials: tuple[str, str] | None = None,
        permission_reasons: Mapping[int, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        close_session: bool = False,
    ) -> None:
        """Prepare the client; `close_session` when the session is this client's own.

        `token_header`: (header name, token) for token APIs; `credentials`: (user, password)
        for Basic auth; `permission_reasons`: the reason of a write refused with this status.
        Unusable settings are kept as the error every request raises.
        """
        self.session = session
        self.headers: dict[str, str] = {}
        self.base_url = URL("http://invalid")
        self.config_error: InvalidConfigError | None = None
        try:
            self.base_url = base_url(host)
            if token_header is not None:
                name, token = token_header
                self.headers[name] = header_value("api_token", token)
            if credentials is not None:
                self.headers["Authorization"] = basic_auth(*credentials)
        except InvalidConfigError as err:
            self.config_error = err
        self.permission_reasons = dict(permission_reasons or {})
        self.timeout = timeout
        self.lock = asyncio.Lock()
        self.requests = 0  # counted for the benchmarks
        self.missing: set[str] = set()  # endpoints this model answered 404 to
        self._close_session = close_session

    async def _send(self, method: str, path: str, body: object) -> tuple[int, bytes]:
        if self.config_error is not None:
            raise self.config_error
        url = self.base_url.with_path(path)
        self.requests += 1
        try:
            async with self.session.request(
                method,
                url,
                json=body,
                headers=self.headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                allow_redirects=False,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise DeviceConnectionError(
                f"{method} {path}: no answer within {self.timeout:g} s"
            ) from err
        except aiohttp.ClientError as err:
            raise DeviceConnectionError(f"{method} {path}: {err}") from err

    async def request(self, method: str, path: str, body: object = None) -> Any:
        """Send one read and return its parsed JSON answer; the caller holds `lock`."""
        status, raw = await self._send(method, path, body)
        if status in _AUTH_STATUSES:
            raise DeviceAuthError(f"{method} {path}: HTTP {status}")
        if status == _NOT_FOUND:
            raise EndpointMissingError(f"{method} {path}: HTTP {status}")
        if status >= 300:
            raise DeviceConnectionError(f"{method} {path}: HTTP {status} {_text(raw)}".strip())
        try:
            return json.loads(raw)
        except ValueError as err:
            raise DeviceConnectionError(f"{method} {path}: the answer is not JSON") from err

    async def write(self, method: str, path: str, body: object = None) -> Any:
        """Send one write; return its JSON answer (None when the 2xx body is not JSON).

        The caller holds `lock`. A refusal of any kind raises (see the module docstring).
        """
        status, raw = await self._send(method, path, body)
        what = f"{method} {path}"
        if status in _AUTH_STATUSES:
            reason = self.permission_reasons.get(status, "permission_denied")
            raise DevicePermissionError(f"{what}: HTTP {status}", reason=reason, code=status)
        if status >= 300:
            raise DeviceRejectedError(f"{what}: HTTP {status} {_text(raw)}".strip(), code=status)
        try:
            answer = json.loads(raw)
        except ValueError:
            return None
        if answer is False:
            raise DeviceRejectedError(f"{what}: the device answered false")
        return answer

    async def get_object(self, path: str) -> dict[str, Any]:
        """GET a JSON object; anything else is a malformed answer."""
        return json_object(await self.request("GET", path), f"GET {path}")

    async def get_optional(self, path: str) -> dict[str, Any] | None:
        """GET a JSON object from an endpoint some models lack: None (and noted) on 404."""
        if path in self.missing:
            return None
        try:
            return await self.get_object(path)
        except EndpointMissingError:
            self.missing.add(path)
            return None

    async def close(self) -> None:
        """Close the session if it is this client's own (never Home Assistant's shared one)."""
        if self._close_session:
            await self.session.close()


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").strip()[:_MAX_ERROR_TEXT]


def json_object(answer: object, what: str) -> dict[str, Any]:
    """Return `answer` as a JSON object, or raise: the device sent something else."""
    if not isinstance(answer, dict):
        raise DeviceConnectionError(f"{what}: expected a JSON object, got {type(answer).__name__}")
    return answer


def number(obj: Mapping[str, Any], key: str, *, limit: float | None = None) -> float | None:
    """Return a numeric field (devices send numbers, or numbers as strings); None if unknown.

    Unknown: absent, null, not a number, not finite (`"NaN"`, `"inf"`), or beyond `limit` in
    size: a value physically impossible for the device (a 1e12 W spike) is unknown for that poll.
    """
    value = obj.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    if limit is not None and abs(value) > limit:
        return None
    return float(value) + 0.0  # + 0.0: no negative zero


def required_number(
    obj: Mapping[str, Any], key: str, what: str, *, limit: float | None = None
) -> float | None:
    """Return a numeric field every model sends: its absence fails the poll (a wrong answer).

    Present but unusable (null, `"NaN"`, a spike) it is only unknown for this poll.
    """
    if key not in obj:
        raise DeviceConnectionError(f"{what}: the answer lacks {key}")
    return number(obj, key, limit=limit)


def put_present(state: dict[str, StateValue], key: str, value: StateValue | None) -> None:
    """Set `key` only when the device reported a value: absent keys create no entity."""
    if value is not None:
        state[key] = value
