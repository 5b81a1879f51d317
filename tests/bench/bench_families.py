"""Requests per poll and poll time of every family against its simulator, on loopback."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from custom_components.home_battery.families import FAMILIES

from ..families import CASES, FamilyCase

POLLS = 50


async def _measure(case: FamilyCase) -> list[tuple[str, str]]:
    sim: Any = case.make_simulator()
    await sim.start()
    try:
        data = case.entry_data(sim)
        device = (
            case.make_device(sim) if case.make_device else FAMILIES[case.key].create(None, data)
        )  # type: ignore[arg-type]
        await device.connect()
        await device.read()  # warm up: connection open, plan built
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
    return [
        (f"{case.key}: requests per poll", f"{requests:g}"),
        (
            f"{case.key}: median poll time ({POLLS} polls)",
            f"{statistics.median(durations) * 1000:.2f} ms",
        ),
    ]


def run() -> list[tuple[str, str]]:
    """Poll every family's simulator and report the figures."""
    figures: list[tuple[str, str]] = []
    for case in CASES:
        figures += asyncio.run(_measure(case))
    return figures
