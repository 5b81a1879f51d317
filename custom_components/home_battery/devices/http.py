"""HTTP toolkit: one device's JSON API over an aiohttp session, with timeouts and typed errors.

Families that speak a local REST API (sonnen, Sessy) share this client. Every request has a
timeout; the answers are parsed as JSON whatever content type the device declares (some devices
send JSON as text/html); transport failures, HTTP errors and bodies that are not JSON become the
model's typed errors, so the Home Assistant layer never sees an aiohttp exception. A rejected
credential (401/403) is a `DeviceAuthError`, which starts Home Assistant's reauth flow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import json
from typing import Any

import aiohttp
from yarl import URL

from .model import DeviceAuthError, DeviceConnectionError, StateValue

DEFAULT_TIMEOUT = 10.0  # seconds per request; local devices answer within a second or two
_AUTH_STATUSES = (401, 403)
_MAX_ERROR_TEXT = 120  # characters of an error body kept in the message


def base_url(host: str) -> URL:
    """Return the device's base URL from what the user typed: a host, `host:port` or a URL.

    A bare IPv6 address gets its brackets, so `fe80::1` works as well as `[fe80::1]:8080`.
    """
    text = host.strip()
    if "://" not in text:
        if text.count(":") > 1 and not text.startswith("["):
            text = f"[{text}]"
        text = f"http://{text}"
    try:
        url = URL(text)
    except ValueError as err:
        raise DeviceConnectionError(f"{host!r} is not a host name or address") from err
    if not url.host or any(char.isspace() for char in url.host):
        raise DeviceConnectionError(f"{host!r} is not a host name or address")
    return url.with_path("")


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
        headers: Mapping[str, str] | None = None,
        auth: aiohttp.BasicAuth | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        close_session: bool = False,
    ) -> None:
        """Prepare the client; `close_session` when the session is this client's own."""
        self.session = session
        self.base_url = base_url(host)
        self.headers = dict(headers or {})
        self.auth = auth
        self.timeout = timeout
        self.lock = asyncio.Lock()
        self.requests = 0  # counted for the benchmarks
        self._close_session = close_session

    async def request(self, method: str, path: str, body: object = None) -> Any:
        """Send one request and return its parsed JSON answer; the caller holds `lock`."""
        url = self.base_url.with_path(path)
        self.requests += 1
        try:
            async with self.session.request(
                method,
                url,
                json=body,
                headers=self.headers,
                auth=self.auth,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                allow_redirects=False,
            ) as response:
                raw = await response.read()
        except TimeoutError as err:
            raise DeviceConnectionError(
                f"{method} {path}: no answer within {self.timeout:g} s"
            ) from err
        except aiohttp.ClientError as err:
            raise DeviceConnectionError(f"{method} {path}: {err}") from err
        if response.status in _AUTH_STATUSES:
            raise DeviceAuthError(f"{method} {path}: HTTP {response.status}")
        if response.status >= 300:
            text = raw.decode("utf-8", "replace").strip()[:_MAX_ERROR_TEXT]
            raise DeviceConnectionError(f"{method} {path}: HTTP {response.status} {text}".strip())
        try:
            return json.loads(raw)
        except ValueError as err:
            raise DeviceConnectionError(f"{method} {path}: the answer is not JSON") from err

    async def get_object(self, path: str) -> dict[str, Any]:
        """GET a JSON object; anything else is a malformed answer."""
        return json_object(await self.request("GET", path), f"GET {path}")

    async def close(self) -> None:
        """Close the session if it is this client's own (never Home Assistant's shared one)."""
        if self._close_session:
            await self.session.close()


def json_object(answer: object, what: str) -> dict[str, Any]:
    """Return `answer` as a JSON object, or raise: the device sent something else."""
    if not isinstance(answer, dict):
        raise DeviceConnectionError(f"{what}: expected a JSON object, got {type(answer).__name__}")
    return answer


def number(obj: Mapping[str, Any], key: str) -> float | None:
    """Return a numeric field (devices send numbers, or numbers as strings); None if absent."""
    value = obj.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def required_number(obj: Mapping[str, Any], key: str, what: str) -> float:
    """Return a numeric field the state cannot do without; its absence fails the poll."""
    value = number(obj, key)
    if value is None:
        raise DeviceConnectionError(f"{what}: the answer lacks {key}")
    return value


def put_present(state: dict[str, StateValue], key: str, value: StateValue | None) -> None:
    """Set `key` only when the device reported a value: absent keys create no entity."""
    if value is not None:
        state[key] = value
