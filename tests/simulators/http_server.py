"""An HTTP peer on loopback with switchable faults, for the simulators of every REST family.

Built on aiohttp's low-level server (no application object) so that it can be stopped and started
again on the same port, which is how `Fault.REFUSE` closes the port. Routes are (method, regex)
pairs; every request is recorded with its body so tests can check what was (not) sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
import json
import re
from typing import Any

from aiohttp import web

from .base import WriteFailures
from .faults import Fault

type Handler = Callable[[web.BaseRequest, re.Match[str], Any], Awaitable[web.StreamResponse]]


@dataclass
class Request:
    """One request the peer received."""

    method: str
    path: str
    body: Any  # parsed JSON, the raw text when it is not JSON, None when empty


def json_response(data: Any, status: int = 200) -> web.Response:
    """Answer with JSON, as the devices do."""
    return web.Response(text=json.dumps(data), status=status, content_type="application/json")


class HttpPeer:
    """An HTTP server on 127.0.0.1 serving a route table, behind a fault switch."""

    def __init__(
        self,
        routes: Sequence[tuple[str, str, Handler]],
        *,
        authorized: Callable[[web.BaseRequest], bool],
        unauthorized: Callable[[], web.Response] | None = None,
    ) -> None:
        self.routes = [
            (method, re.compile(f"{path}$"), handler) for method, path, handler in routes
        ]
        self.authorized = authorized
        # What a wrong credential gets: 401 unless the device does something else.
        self.unauthorized = unauthorized or (lambda: web.Response(status=401, text="Unauthorized"))
        self.fault = Fault.NONE
        self.requests: list[Request] = []
        self.port = 0
        self._runner: web.ServerRunner | None = None
        self._unstall = asyncio.Event()
        self.write_failures = WriteFailures()

    @property
    def writes(self) -> list[Request]:
        """Requests that change something (POST, PUT)."""
        return [r for r in self.requests if r.method in ("POST", "PUT")]

    async def start(self) -> None:
        self._unstall.clear()
        self._runner = web.ServerRunner(
            web.Server(self._handle), handle_signals=False, shutdown_timeout=0.1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Close the port and every connection; stalled requests are let go first."""
        self._unstall.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def set_fault(self, fault: Fault) -> None:
        """Switch a fault on (or `Fault.NONE` off); REFUSE closes the port and drops clients."""
        self.fault = fault
        if fault is not Fault.STALL:
            self._unstall.set()
        if fault is Fault.REFUSE:
            await self.stop()
        elif self._runner is None:
            await self.start()
        elif fault is Fault.STALL:
            self._unstall.clear()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        text = await request.text()
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = text
        self.requests.append(Request(request.method, request.path, body))
        if self.fault is Fault.DROP:
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if self.fault is Fault.STALL:
            await self._unstall.wait()
        if self.fault is Fault.EXCEPTION or (
            request.method in ("POST", "PUT") and self.write_failures.write_failed()
        ):
            return json_response({"status": "error", "error": "simulated failure"}, status=500)
        if self.fault is Fault.GARBAGE:
            return web.Response(body=b"\xde\xad<html>not json", content_type="application/json")
        if self.fault is Fault.AUTH or not self.authorized(request):
            return self.unauthorized()
        for method, pattern, handler in self.routes:
            if method == request.method and (match := pattern.match(request.path)):
                return await handler(request, match, body)
        return web.Response(status=404, text="Not found")
