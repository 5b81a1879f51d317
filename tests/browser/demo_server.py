"""Run the demo (tests/simulators/demo.py) on a free loopback port in a scratch config folder.

The scratch folder keeps the browser test apart from a demo someone runs on 8123 with config/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import contextlib
from dataclasses import dataclass
import json
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

import aiohttp

from ..simulators.demo import PASSWORD, USER
from ..simulators.demo_dashboard import REPOSITORY, login


def free_port() -> int:
    """Return a loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Demo:
    """A running demo: its URL and a way to call its API as the demo user."""

    url: str
    log: Path
    tokens: dict[str, Any] | None = None

    @property
    def client_id(self) -> str:
        return f"{self.url}/"

    def _get(self, path: str) -> Any:
        """GET an API path as the demo user; return the decoded JSON."""
        assert self.tokens is not None, "log in first"
        request = urllib.request.Request(
            f"{self.url}{path}", headers={"Authorization": f"Bearer {self.tokens['access_token']}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def login(self) -> dict[str, Any]:
        """Log in through the auth API as the frontend would; return the token response."""

        async def tokens() -> dict[str, Any]:
            async with aiohttp.ClientSession() as session:
                return await login(session, self.url, self.client_id, USER, PASSWORD)

        self.tokens = asyncio.run(tokens())
        return self.tokens

    def running(self) -> bool:
        """Return True once Home Assistant has started every integration."""
        return bool(self._get("/api/config")["state"] == "RUNNING")

    def state(self, entity_id: str) -> dict[str, Any] | None:
        """Return an entity's state as the REST API gives it, None when there is none."""
        try:
            return self._get(f"/api/states/{entity_id}")  # type: ignore[no-any-return]
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise

    def history_points(self, entity_id: str, hours: float = 1) -> int:
        """Return how many states of `entity_id` the recorder has for the last `hours`."""
        start = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - hours * 3600))
        history = self._get(
            f"/api/history/period/{urllib.parse.quote(start)}"
            f"?filter_entity_id={entity_id}&minimal_response"
        )
        return len(history[0]) if history else 0

    def wait(self, what: str, ready: Any, timeout: float) -> None:
        """Poll `ready()` until it is true; fail with the demo's log when it never is."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, KeyError, ValueError, urllib.error.URLError):
                if ready():
                    return
            time.sleep(1)
        raise TimeoutError(
            f"demo: {what} not ready in {timeout:.0f} s\n{self.log.read_text()[-3000:]}"
        )


@contextlib.contextmanager
def run_demo(folder: Path) -> Iterator[Demo]:
    """Start the demo in `folder` and stop it (and its Home Assistant) on exit."""
    config = folder / "config"
    config.mkdir()
    shutil.copy(REPOSITORY / "config" / "configuration.yaml", config)
    port = free_port()
    log = folder / "demo.log"
    env = {**os.environ, "HOME_BATTERY_DEMO_PORT": str(port)}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.simulators.demo", str(config)],
            cwd=REPOSITORY,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole below
        )
    demo = Demo(url=f"http://127.0.0.1:{port}", log=log)
    try:
        demo.wait("onboarding", lambda: "Onboarding done" in log.read_text(), 180)
        demo.login()
        yield demo
    finally:
        # SIGTERM to the demo: it stops Home Assistant, then its simulators.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
