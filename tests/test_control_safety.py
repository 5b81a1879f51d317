"""Control safety, for every controllable family, judged by what the simulated device does.

The simulator says whether the battery is forced right now (`FamilyCase.forced`), never the
integration. Checked here: a crash of Home Assistant leaves the battery forced at most for the
bound the README states; a control action that fails at any of its writes leaves nothing forced
that the integration does not know about; a start after a crash releases the battery; and random
setpoints and mode changes under random faults never write outside the device's range and never
leave the battery forced while the integration says auto.
"""

from __future__ import annotations

import math
import random
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import slugify
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.home_battery.const import DOMAIN
from custom_components.home_battery.control import ControlGuard
from custom_components.home_battery.devices.base import BatteryDevice

from .families import CASES, VARIANTS, FamilyCase, family_params
from .helpers import eventually, poll, select_option, set_number
from .simulators.faults import Fault

CONTROLLED = [case for case in (*CASES, *VARIANTS) if case.setpoint is not None]

pytestmark = [
    pytest.mark.usefixtures("socket_enabled"),
    pytest.mark.parametrize("case", family_params(CONTROLLED), indirect=True),
]


def _entity(case: FamilyCase, domain: str, key: str) -> str:
    return f"{domain}.{slugify(case.title)}_{key}"


def _device_truth(case: FamilyCase) -> tuple[Any, float, Any]:
    """The case's device-side views; a family that lacks them cannot be judged yet."""
    if case.forced is None or case.crash_bound is None or case.advance is None:
        pytest.fail(f"{case.key}: the simulator does not tell forced/crash_bound/advance yet")
    return case.forced, case.crash_bound, case.advance


async def _crash(hass: HomeAssistant, entry: MockConfigEntry) -> BatteryDevice:
    """Home Assistant vanishes without releasing: the link is closed, nothing is handed back."""
    device = entry.runtime_data.coordinator.device
    with patch.object(ControlGuard, "async_release", AsyncMock()):
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    return device


def _known(case: FamilyCase, sim: Any, hass: HomeAssistant, entry: MockConfigEntry) -> bool:
    """Return True unless the battery is forced while the integration believes it is in auto."""
    forced, _, _ = _device_truth(case)
    if not forced(sim):
        return True
    if entry.runtime_data.coordinator.device.control_active:
        return True
    select = hass.states.get(_entity(case, "select", "operating_mode"))
    return select is not None and select.state not in ("auto", "unavailable")


async def test_crash_leaves_it_forced_at_most_the_stated_bound(
    hass: HomeAssistant, case: FamilyCase, sim: Any, entry: MockConfigEntry
) -> None:
    """After a crash the battery runs on its own again within the README's bound.

    A device without any expiry (the README says so, with its source) stays forced until Home
    Assistant starts again, which releases it (`test_start_after_a_crash_releases_it`).
    """
    forced, bound, advance = _device_truth(case)
    await set_number(hass, _entity(case, "number", "power_setpoint"), case.setpoint or 0)
    assert await eventually(lambda: forced(sim))  # through a broker, a moment later
    device = await _crash(hass, entry)
    if math.isinf(bound):
        await advance(sim, 24 * 3600)
        assert forced(sim), f"{case.key}: the README says nothing on the device ends control"
        assert device.capabilities.control_expiry is None
        return
    await advance(sim, bound + 1)
    assert not forced(sim), f"{case.key}: still forced {bound + 1:.0f} s after the crash"


async def test_start_after_a_crash_releases_it(
    hass: HomeAssistant, case: FamilyCase, sim: Any, entry: MockConfigEntry
) -> None:
    """The record kept before the first write lets the next start hand the battery back."""
    forced, _, _ = _device_truth(case)
    await set_number(hass, _entity(case, "number", "power_setpoint"), case.setpoint or 0)
    await _crash(hass, entry)
    assert forced(sim)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert not forced(sim)
    assert case.released is None or case.released(sim)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"released_after_restart_{entry.entry_id}")
    assert issue is not None


async def test_failure_at_any_write_leaves_nothing_unknown(
    hass: HomeAssistant, case: FamilyCase, sim: Any, entry: MockConfigEntry
) -> None:
    """Each write of each control action fails in turn: afterwards the battery is either not
    forced, or the integration knows it holds it (and releases it on unload)."""
    _device_truth(case)
    setpoint = _entity(case, "number", "power_setpoint")
    mode = _entity(case, "select", "operating_mode")
    modes = hass.states.get(mode).attributes["options"] if hass.states.get(mode) else []
    actions = [("setpoint", case.setpoint)] + [("mode", m) for m in modes if m != "auto"]

    async def act(kind: str, value: Any) -> None:
        if kind == "setpoint":
            await set_number(hass, setpoint, value)
        else:
            await select_option(hass, mode, value)

    for kind, value in actions:
        before = sim.write_count
        await act(kind, value)
        writes = sim.write_count - before
        await entry.runtime_data.coordinator.async_release("test")
        for index in range(max(writes, 1)):
            sim.fail_write(index)
            if case.silent_writes:  # nothing answers a command: an ignored one cannot be seen
                await act(kind, value)
            else:
                with pytest.raises(HomeAssistantError):
                    await act(kind, value)
            await poll(hass)
            assert _known(case, sim, hass, entry), (kind, value, index)
            sim.fail_write(None)
            await entry.runtime_data.coordinator.async_release("test")
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    forced, _, _ = _device_truth(case)
    assert not forced(sim)


async def test_random_control_under_random_faults(
    hass: HomeAssistant, case: FamilyCase, sim: Any, entry: MockConfigEntry
) -> None:
    """Random setpoints, limits included, and mode changes while faults come and go."""
    counts = await random_control(hass, case, sim, entry, steps=60, seed=1)
    assert counts["out_of_range_writes"] == 0, counts
    assert counts["forced_while_auto"] == 0, counts
    assert counts["unexpected_errors"] == 0, counts


async def random_control(
    hass: HomeAssistant,
    case: FamilyCase,
    sim: Any,
    entry: MockConfigEntry,
    *,
    steps: int,
    seed: int,
) -> dict[str, int]:
    """Drive the battery at random and count what must never happen (also for scripts/bench)."""
    forced, _, advance = _device_truth(case)
    rng = random.Random(seed)
    device = entry.runtime_data.coordinator.device
    low, high = device.power_limits()
    setpoint = _entity(case, "number", "power_setpoint")
    mode = _entity(case, "select", "operating_mode")
    modes = list(hass.states.get(mode).attributes["options"]) if hass.states.get(mode) else []
    faults = [*case.faults, *[Fault.NONE] * 4]
    counts = {"steps": 0, "refused": 0, "out_of_range_writes": 0, "forced_while_auto": 0,
              "unexpected_errors": 0}  # fmt: skip
    invalid_before = case.invalid_writes(sim) if case.invalid_writes else 0
    for _ in range(steps):
        counts["steps"] += 1
        roll = rng.random()
        try:
            if roll < 0.15:
                await sim.set_fault(rng.choice(faults))
            elif roll < 0.25:
                sim.fail_write(rng.randrange(3))
            elif roll < 0.7:
                value = rng.choice([low, high, 0.0, low - 10, high + 10, rng.uniform(low, high)])
                await set_number(hass, setpoint, round(value, -1))
            elif roll < 0.85 and modes:
                await select_option(hass, mode, rng.choice(modes))
            else:
                await advance(sim, rng.uniform(0, 30))
                await poll(hass, rng.choice([11, 61]))
        except HomeAssistantError:
            counts["refused"] += 1
        except Exception:
            counts["unexpected_errors"] += 1
        if not _known(case, sim, hass, entry):
            counts["forced_while_auto"] += 1
    await sim.set_fault(Fault.NONE)
    sim.fail_write(None)
    if case.invalid_writes:
        counts["out_of_range_writes"] = case.invalid_writes(sim) - invalid_before
    return counts
