"""PLI round trips per poll against the peer, over each link the family supports.

The peer answers at once, so these figures are the client's own cost (framing, retries logic,
event loop or executor hops). A real PLI at 9600 baud adds the wire time printed alongside: every
request is 4 bytes out and 2 back, 10 bits per byte, plus the PLI's own turnaround.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from custom_components.home_battery.devices.plasmatronics import (
    PlasmatronicsConfig,
    PlasmatronicsDevice,
)
from custom_components.home_battery.devices.pli import BAUD_RATE

from ..simulators.pli import PliSimulator

POLLS = 50
LINKS = ("tcp", "pty", "rfc2217")
BYTES_PER_REQUEST = 4 + 2


async def _measure(link: str) -> list[tuple[str, str]]:
    sim = PliSimulator(link=link)  # type: ignore[arg-type]
    await sim.start()
    try:
        device = PlasmatronicsDevice(PlasmatronicsConfig(port=sim.url))
        await device.connect()
        await device.read()  # warm up: port open
        before = sim.request_count
        durations = []
        for _ in range(POLLS):
            started = time.perf_counter()
            await device.read()
            durations.append(time.perf_counter() - started)
        requests = (sim.request_count - before) / POLLS
        await device.close()
    finally:
        await sim.stop()
    poll_ms = statistics.median(durations) * 1000
    return [
        (f"{link}: requests per poll", f"{requests:g}"),
        (f"{link}: median poll time ({POLLS} polls)", f"{poll_ms:.2f} ms"),
        (f"{link}: median time per request", f"{poll_ms / requests:.3f} ms"),
    ]


def run() -> list[tuple[str, str]]:
    """Poll the PLI peer over every link and report the figures."""
    figures: list[tuple[str, str]] = []
    for link in LINKS:
        figures += asyncio.run(_measure(link))
    wire_ms = BYTES_PER_REQUEST * 10 / BAUD_RATE * 1000
    figures.append(("wire time per request at 9600 baud (computed)", f"{wire_ms:.2f} ms"))
    return figures
