"""Random control under random faults, 1,000 steps per controllable family (issue 12's figure).

Each step is a random setpoint (the limits and just beyond them included), a random mode, a
fault switched on or off, a write made to fail, or the simulator's clock moved on with a poll.
Counted: writes the device could not take, moments the battery was forced while the integration
said auto, and unexpected errors (a traceback the user would see).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
import tempfile
import time
from typing import Any

STEPS = 1000


async def _family(case: Any) -> dict[str, int]:
    """One family's random control, in a Home Assistant of its own."""
    # a config folder of its own: the MQTT integration reads configuration.yaml from it
    with tempfile.TemporaryDirectory() as config_dir:
        Path(config_dir, "configuration.yaml").write_text("")
        return await _run(case, config_dir)


async def _run(case: Any, config_dir: str) -> dict[str, int]:
    from homeassistant import loader
    from homeassistant.helpers import frame
    from homeassistant.setup import async_setup_component
    from pytest_homeassistant_custom_component.common import (
        MockConfigEntry,
        async_test_home_assistant,
    )

    import custom_components.home_battery  # noqa: F401 - ours, not the test plugin's

    from ..families import family_simulator
    from ..test_control_safety import random_control

    async with async_test_home_assistant(config_dir=config_dir) as hass:
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
        # each family gets a new Home Assistant: its usage reports (zeroconf's) need this one
        frame.async_setup(hass)
        # Home Assistant's shared HTTP session (sonnen, Sessy) asks the network integration.
        assert await async_setup_component(hass, "network", {})
        async with family_simulator(hass, case) as sim:
            entry = MockConfigEntry(
                domain="home_battery",
                title=case.title,
                data=case.entry_data(sim),
                options=case.options,
                unique_id=case.unique_id(sim),
            )
            entry.add_to_hass(hass)
            await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            counts = await random_control(hass, case, sim, entry, steps=STEPS, seed=12)
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()
        await hass.async_stop(force=True)
    return counts


def run() -> list[tuple[str, str]]:
    """Drive every controllable family at random and print what must never happen."""
    from ..families import CASES

    figures = []
    for case in CASES:
        if case.setpoint is None or case.forced is None:
            continue
        started = time.perf_counter()
        counts = asyncio.run(_family(case))
        figures.append(
            (
                f"{case.key}: steps / refused / out-of-range writes",
                f"{counts['steps']} / {counts['refused']} / {counts['out_of_range_writes']}",
            )
        )
        figures.append(
            (
                f"{case.key}: forced while auto / unexpected errors",
                f"{counts['forced_while_auto']} / {counts['unexpected_errors']}"
                f"   ({time.perf_counter() - started:.0f} s)",
            )
        )
    return figures
