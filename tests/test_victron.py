"""Victron GX end to end: Home Assistant drives the real client against the Modbus simulator."""

from __future__ import annotations

from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.components.select import ATTR_OPTION, SERVICE_SELECT_OPTION
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    ATTR_ENTITY_ID,
    EVENT_HOMEASSISTANT_STOP,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .helpers import battery_device, entity_state, poll
from .simulators.faults import Fault
from .simulators.victron import SERIAL, SYSTEM, VictronSimulator

pytestmark = pytest.mark.modbus

SETPOINT = "number.victron_gx_power_setpoint"
MODE = "select.victron_gx_operating_mode"
BATTERY_POWER = "sensor.victron_gx_battery_power"
SOC = "sensor.victron_gx_state_of_charge"


def _override_writes(sim: VictronSimulator) -> list[int]:
    """Values written to the volatile grid setpoint 2716/2717, in order."""
    return [
        (r.values[0] << 16 | r.values[1]) - (1 << 32 if r.values[0] >= 0x8000 else 0)
        for r in sim.peer.writes
        if r.unit_id == SYSTEM and r.address == 2716
    ]


async def test_device_and_unique_ids(
    hass: HomeAssistant,
    victron: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """One device per GX, identified by its serial; entity unique ids end in the model key."""
    device = battery_device(hass, SERIAL)
    assert device is not None
    assert device.manufacturer == "Victron Energy"
    assert device.serial_number == SERIAL
    entry = entity_registry.async_get(BATTERY_POWER)
    assert entry is not None
    assert entry.unique_id == f"{SERIAL}_battery_power"
    assert entry.device_id == device.id


async def test_alarm_flags(
    hass: HomeAssistant,
    victron: MockConfigEntry,
    victron_sim: VictronSimulator,
) -> None:
    """A battery-monitor alarm raises its flag and the summary alarm."""
    victron_sim.battery.set_u16(273, 2)  # high temperature: alarm
    await poll(hass)
    assert entity_state(hass, "binary_sensor.victron_gx_alarm") == "on"
    victron_sim.battery.set_u16(273, 1)  # warning only
    await poll(hass)
    assert entity_state(hass, "binary_sensor.victron_gx_alarm") == "off"


async def test_setpoint_written_and_read_back(
    hass: HomeAssistant,
    victron: MockConfigEntry,
    victron_sim: VictronSimulator,
) -> None:
    """A discharge setpoint becomes a grid setpoint of load − PV − P, and the battery follows."""
    await hass.services.async_call(
        "number", SERVICE_SET_VALUE, {ATTR_ENTITY_ID: SETPOINT, ATTR_VALUE: 2000}, blocking=True
    )
    # load 900 − PV 1500 − 2000 = −2600 W: ESS exports 2600 W so the battery delivers 2000 W.
    assert _override_writes(victron_sim) == [-2600]
    assert victron_sim.battery_power() == 2000
    await poll(hass)
    assert float(entity_state(hass, BATTERY_POWER)) == 2000
    assert float(entity_state(hass, SETPOINT)) == 2000
    assert entity_state(hass, MODE) == "manual"


async def test_write_ignored_by_device_raises(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """A write the device does not apply is reported, not swallowed."""
    victron_sim.system.on_write = lambda address, values: victron_sim.system.set_32(2716, 12345)
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "number", SERVICE_SET_VALUE, {ATTR_ENTITY_ID: SETPOINT, ATTR_VALUE: 1000}, blocking=True
        )
    assert err.value.translation_key == "write_not_accepted"
    assert entity_state(hass, MODE) == "auto"


async def test_min_soc_written(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """The minimum state of charge goes to ESS register 2901 in tenths of a percent."""
    await hass.services.async_call(
        "number",
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: "number.victron_gx_minimum_state_of_charge", ATTR_VALUE: 25},
        blocking=True,
    )
    assert victron_sim.system.get_u16(2901) == 250
    assert float(entity_state(hass, "number.victron_gx_minimum_state_of_charge")) == 25


async def test_control_refreshed_while_active(
    hass: HomeAssistant,
    victron: MockConfigEntry,
    victron_sim: VictronSimulator,
) -> None:
    """The volatile setpoint is written again every refresh interval, from fresh load and PV."""
    await hass.services.async_call(
        "number", SERVICE_SET_VALUE, {ATTR_ENTITY_ID: SETPOINT, ATTR_VALUE: -1000}, blocking=True
    )
    victron_sim.load_w = 1500
    await poll(hass)
    await poll(hass)
    writes = _override_writes(victron_sim)
    assert writes[0] == 900 - 1500 + 1000
    assert writes[-1] == 1500 - 1500 + 1000
    assert len(writes) >= 3
    # Back to auto: the override is set back to the ESS grid setpoint and no longer refreshed.
    await hass.services.async_call(
        "select", SERVICE_SELECT_OPTION, {ATTR_ENTITY_ID: MODE, ATTR_OPTION: "auto"}, blocking=True
    )
    released = len(_override_writes(victron_sim))
    assert _override_writes(victron_sim)[-1] == 0
    await poll(hass)
    assert len(_override_writes(victron_sim)) == released
    assert entity_state(hass, MODE) == "auto"


async def test_manual_mode_holds_zero(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """Choosing manual without a setpoint holds the battery at 0 W."""
    await hass.services.async_call(
        "select",
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: MODE, ATTR_OPTION: "manual"},
        blocking=True,
    )
    assert victron_sim.battery_power() == 0
    assert entity_state(hass, MODE) == "manual"


async def test_release_on_stop(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """Stopping Home Assistant returns the GX to auto."""
    await hass.services.async_call(
        "number", SERVICE_SET_VALUE, {ATTR_ENTITY_ID: SETPOINT, ATTR_VALUE: 1500}, blocking=True
    )
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert _override_writes(victron_sim)[-1] == 0


async def test_stalled_device_times_out(
    hass: HomeAssistant,
    victron: MockConfigEntry,
    victron_sim: VictronSimulator,
) -> None:
    """A device that stops answering mid-conversation makes the entities unavailable."""
    await victron_sim.peer.set_fault(Fault.STALL)
    await poll(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entity_state(hass, SOC) == STATE_UNAVAILABLE
    await victron_sim.peer.set_fault(Fault.NONE)
    await poll(hass)
    assert entity_state(hass, SOC) != STATE_UNAVAILABLE


async def test_grace_period_releases_control(
    hass: HomeAssistant,
    victron: MockConfigEntry,
    victron_sim: VictronSimulator,
) -> None:
    """Losing contact for longer than the grace period returns the GX to auto on reconnect."""
    await hass.services.async_call(
        "number", SERVICE_SET_VALUE, {ATTR_ENTITY_ID: SETPOINT, ATTR_VALUE: 1500}, blocking=True
    )
    await victron_sim.peer.set_fault(Fault.REFUSE)
    coordinator = victron.runtime_data.coordinator
    clock = coordinator.device.clock
    coordinator.device.clock = lambda: clock() + 61  # one minute without contact
    for _ in range(2):
        await poll(hass)
    await victron_sim.peer.set_fault(Fault.NONE)
    await poll(hass)
    assert _override_writes(victron_sim)[-1] == 0
    assert entity_state(hass, MODE) == "auto"


async def test_setup_retries_when_offline(
    hass: HomeAssistant, victron_entry: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """An unreachable GX at startup makes setup retry, with a translated reason."""
    await victron_sim.peer.set_fault(Fault.REFUSE)
    victron_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(victron_entry.entry_id)
    await hass.async_block_till_done()
    assert victron_entry.state is ConfigEntryState.SETUP_RETRY


async def test_energy_integrated_from_power(
    hass: HomeAssistant,
    victron: MockConfigEntry,
    victron_sim: VictronSimulator,
) -> None:
    """The GX has no battery energy counters: they are integrated from battery power."""
    victron_sim.tick = 3600  # freeze the simulator's physics: power stays at −600 W
    coordinator = victron.runtime_data.coordinator
    now = [0.0]
    coordinator.device.clock = lambda: now[0]
    for _ in range(7):
        now[0] += 10
        await poll(hass)
    charged = float(entity_state(hass, "sensor.victron_gx_energy_charged"))
    # 600 W for 60 s = 0.01 kWh (the first sample on the new clock only starts the integral).
    assert charged == pytest.approx(0.01, rel=0.05)
    assert float(entity_state(hass, "sensor.victron_gx_energy_discharged")) == 0
