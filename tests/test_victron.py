"""Victron GX end to end: Home Assistant drives the real client against the Modbus simulator."""

from __future__ import annotations

from unittest.mock import AsyncMock, patch

from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.components.select import ATTR_OPTION, SERVICE_SELECT_OPTION
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    ATTR_ENTITY_ID,
    EVENT_HOMEASSISTANT_STOP,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.home_battery.const import (
    CONF_MAX_CHARGE_POWER,
    CONF_MAX_DISCHARGE_POWER,
    DOMAIN,
)

from .families.victron import config_entry
from .helpers import battery_device, entity_state, poll, select_option, set_number, set_up_entry
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


@pytest.mark.parametrize(
    ("address", "entity_id"),
    [
        (268, "binary_sensor.victron_gx_low_voltage"),  # VIC366 @268 Low voltage alarm
        (269, "binary_sensor.victron_gx_high_voltage"),  # @269 High voltage alarm
        (273, "binary_sensor.victron_gx_low_temperature"),  # @273 Low temperature alarm
        (274, "binary_sensor.victron_gx_high_temperature"),  # @274 High temperature alarm
    ],
)
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_alarm_registers_follow_the_register_list(
    hass: HomeAssistant,
    victron: MockConfigEntry,
    victron_sim: VictronSimulator,
    address: int,
    entity_id: str,
) -> None:
    """Each battery-monitor alarm raises its own flag and the summary alarm (0 = no alarm,
    2 = alarm); 267, the deprecated general alarm, is not read as any of them."""
    victron_sim.battery.set_u16(address, 2)
    await poll(hass)
    assert entity_state(hass, entity_id) == "on"
    assert entity_state(hass, "binary_sensor.victron_gx_alarm") == "on"
    victron_sim.battery.set_u16(address, 0)
    victron_sim.battery.set_u16(267, 2)
    await poll(hass)
    assert entity_state(hass, entity_id) == "off"
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


# --- what one GX has and another does not ---------------------------------------------------------


async def _setup_with(hass: HomeAssistant, sim: VictronSimulator) -> MockConfigEntry:
    """Set up an entry for another simulated GX (started here, stopped by the caller)."""
    await sim.start()
    options = {CONF_MAX_CHARGE_POWER: 5000, CONF_MAX_DISCHARGE_POWER: 5000}
    return await set_up_entry(hass, config_entry(sim, options))


async def test_values_a_smartshunt_does_not_have_are_unknown(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """A BMV/SmartShunt publishes no state of health, no BMS limits and (without a sensor) no
    temperature; the GX reads them as 0, which is shown as unknown, never as 0 %, 0 A or 0 °C."""
    sim = VictronSimulator(monitor="smartshunt")
    try:
        await _setup_with(hass, sim)
        for key in (
            "state_of_health",
            "battery_temperature",
            "charge_voltage_limit",
            "charge_current_limit",
            "discharge_current_limit",
        ):
            state = hass.states.get(f"sensor.victron_gx_{key}")
            assert state is None or state.state == STATE_UNKNOWN, key
        assert float(entity_state(hass, SOC)) == 65.0
    finally:
        await sim.stop()


async def test_old_venus_reads_but_refuses_control(
    hass: HomeAssistant, socket_enabled: None, issue_registry: ir.IssueRegistry
) -> None:
    """Venus before v3.50 has no 2716: the poll never asks for it, and control is refused with
    a translated reason and a repair issue, before anything is written."""
    sim = VictronSimulator(firmware=0x0340)
    try:
        entry = await _setup_with(hass, sim)
        device = entry.runtime_data.coordinator.device
        assert device.probe_report()["refused"]["grid_setpoint_override"] == {
            "unit": "system",
            "addresses": [2716],
            "exception_code": 2,
        }
        before = len(sim.peer.requests)
        await poll(hass)
        assert not [r for r in sim.peer.requests[before:] if r.address == 2716]
        assert float(entity_state(hass, SOC)) == 65.0
        with pytest.raises(HomeAssistantError) as err:
            await set_number(hass, SETPOINT, 1000)
        assert err.value.translation_key == "victron_firmware_too_old"
        assert sim.peer.writes == []
        assert issue_registry.async_get_issue(DOMAIN, f"victron_firmware_too_old_{entry.entry_id}")
        assert entity_state(hass, MODE) == "auto"
    finally:
        await sim.stop()


async def test_firmware_shown_on_the_device(
    hass: HomeAssistant, victron: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    """834 rendered in hexadecimal is the Venus version (VIC366 @834)."""
    device = battery_device(hass, SERIAL)
    assert device is not None
    assert device.sw_version == "v3.66"


# --- control safety -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "value", "reason"),
    [
        (2902, 3, "victron_ess_mode_3"),
        (5400, 1, "victron_dynamic_ess"),
        (2900, 9, "victron_keep_batteries_charged"),
    ],
)
async def test_states_that_ignore_the_setpoint_are_refused(
    hass: HomeAssistant,
    victron: MockConfigEntry,
    victron_sim: VictronSimulator,
    issue_registry: ir.IssueRegistry,
    address: int,
    value: int,
    reason: str,
) -> None:
    """ESS mode 3, Dynamic ESS and "keep batteries charged" ignore 2716: refused, nothing
    written, a repair issue saying what to change; it clears once control works again."""
    victron_sim.system.set_u16(address, value)
    await poll(hass)
    with pytest.raises(HomeAssistantError) as err:
        await set_number(hass, SETPOINT, 1000)
    assert err.value.translation_key == reason
    assert victron_sim.peer.writes == []
    issue_id = f"{reason}_{victron.entry_id}"
    assert issue_registry.async_get_issue(DOMAIN, issue_id)
    victron_sim.system.set_u16(address, {2902: 1, 5400: 0, 2900: 2}[address])
    await poll(hass)
    await set_number(hass, SETPOINT, 1000)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_blocked_state_during_control_hands_back(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """Dynamic ESS switched on while a setpoint is held: the next refresh is refused and control
    is handed back (2716 restored)."""
    await set_number(hass, SETPOINT, 1000)
    victron_sim.system.set_u16(5400, 1)
    await poll(hass)  # reads 5400
    await poll(hass)  # the refresh is refused
    assert _override_writes(victron_sim)[-1] == 0
    assert not victron.runtime_data.coordinator.device.control_active


async def test_read_only_gx_is_a_permission_error(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """The GX's read-only Modbus setting refuses writes with exception 2: a permission error of
    its own, not a failed read; the battery stays in its own operation."""
    victron_sim.read_only = True
    with pytest.raises(HomeAssistantError) as err:
        await set_number(hass, SETPOINT, 1000)
    assert err.value.translation_key == "victron_modbus_read_only"
    assert not victron_sim.forced()
    assert entity_state(hass, SOC) != STATE_UNAVAILABLE


async def test_release_restores_the_override_that_was_there(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """Another controller had set 2716 to −300 W: release writes −300 back, not 2700's value."""
    victron_sim.system.set_32(2716, -300)
    victron_sim.override_set = True
    await set_number(hass, SETPOINT, 1000)
    await select_option(hass, MODE, "auto")
    assert _override_writes(victron_sim)[-1] == -300
    assert victron_sim.grid_setpoint == -300


async def test_partial_failure_leaves_nothing_forced(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """The setpoint write fails (the device's error, unapplied): nothing is forced, the
    integration says auto."""
    victron_sim.fail_write(0)
    with pytest.raises(HomeAssistantError):
        await set_number(hass, SETPOINT, 1000)
    assert not victron_sim.forced()
    assert not victron.runtime_data.coordinator.device.control_active
    assert entity_state(hass, MODE) == "auto"


async def test_no_limit_reported_uses_the_options(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """DVCC max charge current −1 and max discharge power −1 mean "no limit": the setpoint is
    bounded by the options (5000 W here) and still works."""
    victron_sim.system.set_i16(2704, -1)
    victron_sim.system.set_i16(2705, -1)
    await poll(hass)
    await set_number(hass, SETPOINT, -4000)
    assert victron_sim.battery_power() == pytest.approx(-4000, abs=1)
    with pytest.raises(ServiceValidationError):
        await set_number(hass, SETPOINT, -6000)


async def test_crash_leaves_the_override_until_home_assistant_starts_again(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """No documented expiry: after a crash (no release) the GX keeps regulating to the last
    setpoint however long it waits; the next start finds the stored record and releases it."""
    await set_number(hass, SETPOINT, 1500)
    guard = victron.runtime_data.coordinator.control
    with patch.object(guard, "async_release", AsyncMock()):  # Home Assistant dies here
        assert await hass.config_entries.async_unload(victron.entry_id)
    await victron_sim.advance(3600)
    assert victron_sim.forced()
    assert await hass.config_entries.async_setup(victron.entry_id)
    await hass.async_block_till_done()
    assert not victron_sim.forced()
    assert _override_writes(victron_sim)[-1] == 0


async def test_outage_log_names_no_host(
    hass: HomeAssistant,
    victron: MockConfigEntry,
    victron_sim: VictronSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The one line an outage logs says what failed, without the device's address."""
    await victron_sim.peer.set_fault(Fault.REFUSE)
    await poll(hass)
    lines = [r.getMessage() for r in caplog.records if "Error fetching" in r.getMessage()]
    assert lines
    assert not [line for line in lines if "127.0.0.1" in line]
