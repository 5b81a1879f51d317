"""Import time of the integration, and time from config entry setup to entities available."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
import statistics
import subprocess
import sys
import time

ROOT = Path(__file__).parents[2]
MODULES = ["binary_sensor", "config_flow", "diagnostics", "number", "select", "sensor"]

_IMPORT = """
import time, importlib
import homeassistant.helpers.entity_platform, homeassistant.helpers.update_coordinator
import homeassistant.components.sensor, homeassistant.components.number
import homeassistant.components.select, homeassistant.components.binary_sensor
import homeassistant.config_entries, homeassistant.components.diagnostics
started = time.perf_counter()
import custom_components.home_battery
for name in {modules!r}:
    importlib.import_module("custom_components.home_battery." + name)
print(time.perf_counter() - started)
"""


def _import_seconds() -> float:
    code = _IMPORT.format(modules=MODULES)
    runs = []
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        runs.append(float(out.stdout.strip()))
    return statistics.median(runs)


async def _setup_seconds() -> float:
    from homeassistant import loader
    from pytest_homeassistant_custom_component.common import (
        MockConfigEntry,
        async_test_home_assistant,
    )

    import custom_components.home_battery  # noqa: F401 - ours, not the test plugin's

    from ..families.victron import CASE

    sim = CASE.make_simulator()
    await sim.start()
    try:
        async with async_test_home_assistant() as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
            entry = MockConfigEntry(
                domain="home_battery",
                title=CASE.title,
                data=CASE.entry_data(sim),
                unique_id=CASE.serial,
            )
            entry.add_to_hass(hass)
            started = time.perf_counter()
            await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            elapsed = time.perf_counter() - started
            assert hass.states.get("sensor.victron_gx_state_of_charge") is not None
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_stop(force=True)
            return elapsed
    finally:
        await sim.stop()


def run() -> list[tuple[str, str]]:
    """Measure the import and the setup of a Victron entry against its simulator."""
    setup = [asyncio.run(_setup_seconds()) for _ in range(3)]
    return [
        ("import of the integration's modules (median of 5)", f"{_import_seconds() * 1000:.0f} ms"),
        (
            "config entry setup to entities available (Victron)",
            f"{statistics.median(setup) * 1000:.0f} ms",
        ),
    ]
