"""Huawei SUN2000 + LUNA2000 end to end: Home Assistant drives the real client against the
single-client Modbus simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_HOST, CONF_PORT, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.home_battery.const import DOMAIN
from custom_components.home_battery.devices.huawei import (
    CONTROL_REFRESH_SECONDS,
    FORCIBLE_PERIOD_MINUTES,
)
from custom_components.home_battery.families.huawei import CONF_UNIT_ID

from .families.huawei import entry_data
from .helpers import battery_device, entity_state, poll, select_option, set_number
from .simulators.huawei import CHARGE, DISCHARGE, MODEL, SERIAL, STOP, HuaweiSimulator

pytestmark = [pytest.mark.modbus, pytest.mark.usefixtures("socket_enabled")]

SETPOINT = "number.huawei_sun2000_power_setpoint"
MODE = "select.huawei_sun2000_operating_mode"
SOC = "sensor.huawei_sun2000_state_of_charge"


@pytest.fixture
async def sim(socket_enabled: None) -> AsyncGenerator[HuaweiSimulator]:
    """A SUN2000 simulator on a free loopback port."""
    simulator = HuaweiSimulator()
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def entry(hass: HomeAssistant, sim: HuaweiSimulator) -> MockConfigEntry:
    """The simulated inverter, set up in Home Assistant."""
    config_entry = MockConfigEntry(
        domain=DOMAIN, title="Huawei SUN2000", data=entry_data(sim), unique_id=SERIAL
    )
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


def _writes(sim: HuaweiSimulator, address: int) -> list[int]:
    """Values written to one register (first word), in order."""
    return [r.values[0] for r in sim.peer.writes if r.address == address]


async def test_device_info(
    hass: HomeAssistant, entry: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    """The inverter's model and serial number come from registers 30000 and 30015."""
    device = battery_device(hass, SERIAL)
    assert device is not None
    assert (device.manufacturer, device.model, device.serial_number) == ("Huawei", MODEL, SERIAL)
    # The inverter counts its own battery energy: nothing is integrated.
    assert entry.runtime_data.coordinator.energy is None


async def test_access_point_unit_id_zero(hass: HomeAssistant, sim: HuaweiSimulator) -> None:
    """Through the inverter's own access point the unit id is 0."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "huawei"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: sim.port, CONF_UNIT_ID: 0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == SERIAL
    await hass.async_block_till_done()


async def test_forcible_discharge_then_charge(
    hass: HomeAssistant, entry: MockConfigEntry, sim: HuaweiSimulator
) -> None:
    """A setpoint is a timed forcible command: power, period, time mode, then the command."""
    await set_number(hass, SETPOINT, 2000)
    order = [r.address for r in sim.peer.writes]
    assert order == [47249, 47083, 47246, 47100]
    assert sim.bank.get_32(47249, signed=False) == 2000
    assert _writes(sim, 47083) == [FORCIBLE_PERIOD_MINUTES]
    assert _writes(sim, 47100) == [DISCHARGE]
    assert sim.battery_power() == 2000
    await poll(hass, 61)
    assert float(entity_state(hass, "sensor.huawei_sun2000_battery_power")) == 2000
    assert entity_state(hass, MODE) == "manual"
    assert float(entity_state(hass, SETPOINT)) == 2000

    await set_number(hass, SETPOINT, -1000)
    assert _writes(sim, 47100)[-1] == CHARGE
    assert sim.bank.get_32(47247, signed=False) == 1000
    assert sim.battery_power() == -1000


async def test_manual_without_setpoint_holds_zero(
    hass: HomeAssistant, entry: MockConfigEntry, sim: HuaweiSimulator
) -> None:
    """Manual at 0 W is a forcible charge at 0 W: the battery rests instead of charging."""
    assert sim.battery_power() == -2500
    await select_option(hass, MODE, "manual")
    assert _writes(sim, 47100) == [CHARGE]
    assert sim.bank.get_32(47247, signed=False) == 0
    assert sim.battery_power() == 0


async def test_command_refreshed_before_its_period_ends(
    hass: HomeAssistant, entry: MockConfigEntry, sim: HuaweiSimulator
) -> None:
    """The command is written again within its period; without that it would end."""
    assert CONTROL_REFRESH_SECONDS < FORCIBLE_PERIOD_MINUTES * 60 / 2
    sim.seconds_per_minute = 0.4  # a 5-minute period lasts 2 s here
    await set_number(hass, SETPOINT, -1000)
    await asyncio.sleep(1.2)
    await poll(hass, 61)  # the refresh is due: the command is written again
    assert _writes(sim, 47100) == [CHARGE, CHARGE]
    await asyncio.sleep(1.2)  # past the first command's period, within the refreshed one
    assert sim.forcible_power() == -1000
    await asyncio.sleep(2.1)  # nobody refreshes: the inverter ends the command by itself
    assert sim.forcible_power() is None
    await select_option(hass, MODE, "auto")
    assert _writes(sim, 47100)[-1] == STOP


async def test_working_modes_are_kept(
    hass: HomeAssistant, entry: MockConfigEntry, sim: HuaweiSimulator
) -> None:
    """Working modes go to 47086 and stay when Home Assistant lets go; `auto` is 2."""
    await set_number(hass, SETPOINT, 1500)
    await select_option(hass, MODE, "time_of_use")
    assert _writes(sim, 47100)[-1] == STOP  # the forcible command ended first
    assert sim.bank.get_u16(47086) == 5  # time of use, LUNA2000
    await poll(hass, 61)
    assert entity_state(hass, MODE) == "time_of_use"
    await select_option(hass, MODE, "fully_fed_to_grid")
    assert sim.bank.get_u16(47086) == 4
    writes = len(sim.peer.writes)
    # A working mode is the user's setting, not a forced state: unloading leaves it alone.
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert len(sim.peer.writes) == writes
    assert sim.bank.get_u16(47086) == 4
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entity_state(hass, MODE) == "fully_fed_to_grid"
    await select_option(hass, MODE, "auto")
    assert sim.bank.get_u16(47086) == 2
    await poll(hass, 61)
    assert entity_state(hass, MODE) == "auto"
    # Already maximising self-consumption: the flash-backed register is not written again.
    writes = len(_writes(sim, 47086))
    await select_option(hass, MODE, "auto")
    assert len(_writes(sim, 47086)) == writes


async def test_write_without_login_is_refused(
    hass: HomeAssistant, entry: MockConfigEntry, sim: HuaweiSimulator
) -> None:
    """Without the installer login the inverter answers 0x80: a translated permission error."""
    sim.require_login = True
    with pytest.raises(HomeAssistantError) as err:
        await set_number(hass, SETPOINT, 1000)
    assert err.value.translation_key == "permission_denied"
    assert "installer login" in str(err.value)
    assert sim.forcible_power() is None
    assert entity_state(hass, MODE) == "auto"
    assert entity_state(hass, SOC) != STATE_UNAVAILABLE  # reading still works


async def test_write_ignored_by_device_raises(
    hass: HomeAssistant, entry: MockConfigEntry, sim: HuaweiSimulator
) -> None:
    """A command the inverter does not take shows up in the read-back and is reported."""
    sim.bank.on_write = lambda address, values: sim.bank.set_u16(47100, STOP)
    with pytest.raises(HomeAssistantError) as err:
        await set_number(hass, SETPOINT, 1000)
    assert err.value.translation_key == "write_not_accepted"
    assert entity_state(hass, MODE) == "auto"


async def test_fault_status(
    hass: HomeAssistant, entry: MockConfigEntry, sim: HuaweiSimulator
) -> None:
    """Running status 3 is a fault, and raises the alarm."""
    sim.running_status = 3
    sim.update(0)
    await poll(hass, 61)
    assert entity_state(hass, "sensor.huawei_sun2000_operating_state") == "fault"
    assert entity_state(hass, "binary_sensor.huawei_sun2000_alarm") == "on"


async def test_other_client_raises_repair_issue_until_stable(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    sim: HuaweiSimulator,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Another client taking the connection again and again raises a repair issue; the
    entities stay available (the client reconnects at once), and the issue clears itself once
    the connection has been stable for a while."""
    issue_id = f"connection_taken_over_{entry.entry_id}"
    for _ in range(2):
        await sim.connect_other_client()
        await poll(hass, 61)
        assert entity_state(hass, SOC) != STATE_UNAVAILABLE
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None  # two drops can happen
    await sim.connect_other_client()
    await poll(hass, 61)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "connection_taken_over"
    assert issue.translation_placeholders == {"title": "Huawei SUN2000"}
    assert entity_state(hass, SOC) != STATE_UNAVAILABLE

    coordinator = entry.runtime_data.coordinator
    clock = coordinator.device.clock
    coordinator.device.clock = lambda: clock() + 16 * 60  # a quarter of an hour without a takeover
    await poll(hass, 61)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
