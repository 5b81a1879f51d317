"""SMA Sunny Island / Sunny Boy Storage end to end: Home Assistant drives the real client
against the Modbus simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from homeassistant.components.select import ATTR_OPTION, SERVICE_SELECT_OPTION
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.home_battery.const import DOMAIN
from custom_components.home_battery.devices import sma

from .families.sma import entry_data
from .helpers import battery_device, entity_state, poll, set_number
from .simulators.sma import CONTROL_ACTIVE, CONTROL_INACTIVE, SERIAL, WRITE_ONLY, SmaSimulator

pytestmark = [pytest.mark.modbus, pytest.mark.usefixtures("socket_enabled")]

SETPOINT = "number.sma_power_setpoint"
MODE = "select.sma_operating_mode"


@pytest.fixture
async def sim(socket_enabled: None) -> AsyncGenerator[SmaSimulator]:
    """A Sunny Boy Storage simulator on a free loopback port."""
    simulator = SmaSimulator()
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def entry(hass: HomeAssistant, sim: SmaSimulator) -> MockConfigEntry:
    """The simulated inverter, set up in Home Assistant."""
    config_entry = MockConfigEntry(
        domain=DOMAIN, title="SMA", data=entry_data(sim), unique_id=str(SERIAL)
    )
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


def _commands(sim: SmaSimulator) -> list[tuple[int, int]]:
    """(address, signed 32-bit value) of every write, in order."""
    result = []
    for request in sim.peer.writes:
        raw = request.values[0] << 16 | request.values[1]
        result.append((request.address, raw - (1 << 32) if raw >= 1 << 31 else raw))
    return result


async def test_device_info(
    hass: HomeAssistant, entry: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    """Serial number (30057) and device type (30053) name the device."""
    device = battery_device(hass, str(SERIAL))
    assert device is not None
    assert (device.manufacturer, device.model) == ("SMA", "Sunny Boy Storage 3.7")
    assert entry.runtime_data.coordinator.energy is None  # the inverter counts its energy itself


@pytest.mark.parametrize(
    ("address", "entity_id"),
    [
        (30849, "sensor.sma_battery_temperature"),  # S32: 0x80000000
        (30845, "sensor.sma_state_of_charge"),  # U32: 0xFFFFFFFF
        (30775, "sensor.sma_battery_power"),
        (30867, "sensor.sma_grid_power"),  # one of the two grid values is enough
        (30595, "sensor.sma_energy_charged"),
    ],
)
async def test_nan_is_unknown(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SmaSimulator, address: int, entity_id: str
) -> None:
    """SMA's "not available" markers show as unknown, never as 0 or as 2147483648."""
    assert entity_state(hass, entity_id) not in (STATE_UNKNOWN, "0")
    sim.unavailable.add(address)
    sim.update(0)
    await poll(hass)
    assert entity_state(hass, entity_id) == STATE_UNKNOWN
    sim.unavailable.clear()
    sim.update(0)
    await poll(hass)
    assert entity_state(hass, entity_id) != STATE_UNKNOWN


async def test_status_tag_nan_falls_back_to_power(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SmaSimulator
) -> None:
    """Without condition and battery status (0xFFFFFD), the state follows the power's sign."""
    sim.unavailable.update({30201, 30955})
    sim.update(0)
    await poll(hass)
    assert entity_state(hass, "sensor.sma_operating_state") == "charging"


async def test_fault_condition(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SmaSimulator
) -> None:
    """Condition 35 is a fault, and raises the alarm."""
    sim.condition = 35
    sim.update(0)
    await poll(hass)
    assert entity_state(hass, "sensor.sma_operating_state") == "fault"
    assert entity_state(hass, "binary_sensor.sma_alarm") == "on"


async def test_setpoint_enables_control_then_writes_power(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SmaSimulator
) -> None:
    """40151 ← 802 first, then the signed setpoint in 40149; the battery power follows."""
    await set_number(hass, SETPOINT, -1500)
    assert _commands(sim) == [(40151, CONTROL_ACTIVE), (40149, -1500)]
    assert sim.battery_power() == -1500
    await poll(hass)
    assert float(entity_state(hass, "sensor.sma_battery_power")) == -1500
    assert entity_state(hass, MODE) == "manual"
    assert float(entity_state(hass, SETPOINT)) == -1500
    # The write-only registers are never read (the inverter would refuse).
    assert not [r for r in sim.peer.requests if r.function == 3 and r.address in WRITE_ONLY]


async def test_control_refreshed_and_released(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SmaSimulator
) -> None:
    """Control lapses on the inverter unless written again: it is, until auto is chosen."""
    sim.watchdog = 1.0
    await set_number(hass, SETPOINT, 1000)
    for _ in range(2):
        await asyncio.sleep(0.6)
        await poll(hass)  # the refresh is due with every poll
    assert sim.commanded_power() == 1000  # 1.2 s after the first command: kept alive
    assert _commands(sim).count((40149, 1000)) >= 3
    await hass.services.async_call(
        "select", SERVICE_SELECT_OPTION, {ATTR_ENTITY_ID: MODE, ATTR_OPTION: "auto"}, blocking=True
    )
    assert _commands(sim)[-1] == (40151, CONTROL_INACTIVE)
    assert sim.commanded_power() is None
    writes = sim.write_count
    await poll(hass)
    assert sim.write_count == writes  # no refresh once released


async def test_control_lapses_without_refresh(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SmaSimulator
) -> None:
    """The simulated inverter, like the real one, drops control that is not refreshed."""
    sim.watchdog = 0.5
    await set_number(hass, SETPOINT, 1000)
    await asyncio.sleep(0.7)
    assert sim.commanded_power() is None


async def test_setpoint_not_followed_is_reported_and_released(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    sim: SmaSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The setpoint cannot be read back: a battery power that does not move towards it within
    the follow time counts as not applied, and control is handed back at once."""
    monkeypatch.setattr(sma, "FOLLOW_TIMEOUT", 0.6)
    sim.obey_control = False  # control through communication not allowed on the inverter
    with pytest.raises(HomeAssistantError) as err:
        await set_number(hass, SETPOINT, 2000)
    assert err.value.translation_key == "write_not_accepted"
    assert _commands(sim)[-1] == (40151, CONTROL_INACTIVE)
    await poll(hass)
    assert entity_state(hass, MODE) == "auto"
