"""MQTT battery: how long state and commands take through a real broker on loopback.

The family benchmark's requests per poll are 0 for MQTT (state is pushed, a poll reads what
arrived); what matters here is the time a state message and a command take end to end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import statistics
import time

from custom_components.home_battery.devices.model import Key

from ..families.mqtt import CASE
from ..simulators.mqtt_battery import MqttBatterySimulator

ROUNDS = 50


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(10_000):  # 2 s at most
        if await check():
            return
        await asyncio.sleep(0.0002)
    raise TimeoutError


async def _measure() -> list[tuple[str, str]]:
    sim = MqttBatterySimulator(publish_interval=3600)  # only the publications measured here
    await sim.start()
    assert CASE.make_device is not None
    device = CASE.make_device(sim)
    try:
        await device.connect()
        state_ms, command_ms = [], []

        async def soc_arrived() -> bool:
            return (await device.read())[Key.STATE_OF_CHARGE] == sim.soc

        async def battery_obeys() -> bool:
            return sim.commanded_w == watts

        for i in range(ROUNDS):
            sim.soc = 10 + i
            started = time.perf_counter()
            await sim.publish_state()
            await _until(soc_arrived)
            state_ms.append((time.perf_counter() - started) * 1000)
        for i in range(ROUNDS):
            watts = float(-100 * (i % 25 + 1))  # a new value each round, within the limits
            started = time.perf_counter()
            await device.set_power_setpoint(watts)
            await _until(battery_obeys)
            command_ms.append((time.perf_counter() - started) * 1000)
        await device.release_control()
    finally:
        await device.close()
        await sim.stop()
    return [
        (
            f"mqtt: state message to device, median ({ROUNDS})",
            f"{statistics.median(state_ms):.2f} ms",
        ),
        (
            f"mqtt: setpoint to battery, median ({ROUNDS})",
            f"{statistics.median(command_ms):.2f} ms",
        ),
    ]


def run() -> list[tuple[str, str]]:
    """Measure state and command latency through the broker."""
    return asyncio.run(_measure())
