"""The boundary under load: how long the event loop is blocked by the biggest action call.

Ten years of 15-minute prices (350,400 entries) through `home_battery.compute_schedule`: the
whole call's time, and the longest the event loop went without running a 5 ms heartbeat (what
every other integration would wait). asyncio debug mode off, as in production.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import time
from typing import Any

BATTERY = {
    "capacity": 10,
    "state_of_charge": 50,
    "max_charge_power": 3000,
    "max_discharge_power": 3000,
}


async def _ten_years() -> tuple[float, float, int]:
    from homeassistant import loader
    from homeassistant.setup import async_setup_component
    from homeassistant.util import dt as dt_util
    from pytest_homeassistant_custom_component.common import async_test_home_assistant

    import custom_components.home_battery  # noqa: F401 - ours, not the test plugin's

    async with async_test_home_assistant() as hass:
        hass.loop.set_debug(False)
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
        assert await async_setup_component(hass, "home_battery", {})
        start = dt_util.utcnow().replace(minute=0, second=0, microsecond=0)
        step = timedelta(minutes=15)
        prices = [
            {"start": (start + i * step).isoformat(), "price": 0.1 + 0.2 * ((i // 4) % 24 > 16)}
            for i in range(350_400)
        ]
        worst = 0.0
        running = True

        async def heartbeat() -> None:
            nonlocal worst
            last = time.perf_counter()
            while running:
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                worst = max(worst, now - last - 0.005)
                last = now

        beat = asyncio.create_task(heartbeat())
        began = time.perf_counter()
        plan: Any = await hass.services.async_call(
            "home_battery",
            "compute_schedule",
            {"prices": prices, **BATTERY},
            blocking=True,
            return_response=True,
        )
        took = time.perf_counter() - began
        running = False
        await beat
        await hass.async_stop(force=True)
    return took, worst, len(plan["slots"])


def run() -> list[tuple[str, str]]:
    """Plan ten years of prices and report the time and the longest loop block."""
    took, worst, slots = asyncio.run(_ten_years())
    return [
        ("10 years of 15-min prices: whole action call", f"{took:.2f} s ({slots} slots planned)"),
        ("10 years of 15-min prices: longest event-loop block", f"{worst * 1000:.0f} ms"),
    ]
