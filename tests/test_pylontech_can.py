"""Pylontech BMS on CAN, family-specific: Home Assistant against the slcan peer on a pty.

The shared suite (test_families.py) covers the config flow, every entity's value, the faults and
diagnostics; these tests add what only a listen-only bus has: nothing heard, alarms pushed by the
BMS, nothing ever sent, one bus shared by the config flow and the running entry, and the reader
thread ending when Home Assistant stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
import threading

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant, State
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.home_battery.const import DOMAIN
from custom_components.home_battery.families.pylontech_can import CONF_SILENCE_TIMEOUT

from .families.pylontech_can import CASE, PERIOD, V1_3_CASE, entry_data
from .helpers import battery_device, entity_state, poll, set_up_entry
from .simulators.faults import Fault
from .simulators.pylontech_can import PylontechCanSimulator

pytestmark = pytest.mark.usefixtures("socket_enabled")

ALARM = "binary_sensor.pylontech_bms_alarm"
HIGH_TEMPERATURE = "binary_sensor.pylontech_bms_high_temperature"
SYSTEM_ERROR = "binary_sensor.pylontech_bms_system_error"
CHARGING_ALLOWED = "binary_sensor.pylontech_bms_charging_allowed"
OPERATING_STATE = "sensor.pylontech_bms_operating_state"
ENERGY_DISCHARGED = "sensor.pylontech_bms_energy_discharged"
# What python-can's slcan writes to open the adapter (close, 500 kbit/s, no FD rate, open).
OPENING_COMMANDS = {"C", "S6", "", "O"}


@pytest.fixture
async def sim() -> AsyncGenerator[PylontechCanSimulator]:
    """The BMS behind an slcan adapter on a pty."""
    simulator = PylontechCanSimulator(period=PERIOD)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
def entry(sim: PylontechCanSimulator) -> MockConfigEntry:
    """The config entry of the simulated BMS, not yet set up."""
    return MockConfigEntry(
        domain=DOMAIN, title=CASE.title, data=entry_data(sim), unique_id=CASE.unique_id(sim)
    )


async def _set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await set_up_entry(hass, entry)


async def _poll(hass: HomeAssistant) -> None:
    """Let a few broadcasts arrive, then fire the next poll."""
    await asyncio.sleep(3 * PERIOD)
    await poll(hass)


def _user_input(sim: PylontechCanSimulator, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {k: v for k, v in entry_data(sim).items() if k != "family"}
    return data | changes


async def test_nothing_heard_then_heard(hass: HomeAssistant, sim: PylontechCanSimulator) -> None:
    """A silent BMS: the form says nothing was heard within the timeout; then it is heard."""
    await sim.set_fault(Fault.STALL)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "pylontech_can"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(sim, **{CONF_SILENCE_TIMEOUT: 1})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "no_data"}
    await sim.set_fault(Fault.NONE)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], _user_input(sim))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def test_unknown_interface_opens_nothing(
    hass: HomeAssistant, sim: PylontechCanSimulator
) -> None:
    """An interface python-can does not know is refused on its field, before anything opens."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "pylontech_can"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(sim, interface="cannot_be")
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"interface": "unknown_can_interface"}
    assert sim.request_count == 0


async def test_device_identity(
    hass: HomeAssistant,
    sim: PylontechCanSimulator,
    entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """The manufacturer comes from 0x35E; the interface and channel identify the battery."""
    await _set_up(hass, entry)
    device = battery_device(hass, f"slcan:{sim.link}")
    assert device is not None
    assert device.manufacturer == "Pylontech"
    assert device.model == "LV battery (Pylontech CAN protocol)"


async def test_diagnostics_without_the_port(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    sim: PylontechCanSimulator,
    entry: MockConfigEntry,
) -> None:
    """The adapter's path (a by-id path names its serial) is redacted; the pack data is there."""
    await _set_up(hass, entry)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert str(sim.link) not in str(diagnostics)
    assert diagnostics["entry"]["data"]["interface"] == "slcan"
    assert diagnostics["device"]["state"]["module_count"] == 2
    assert diagnostics["device"]["state"]["discharge_voltage_limit"] == 46.0


async def test_alarms_pushed_by_the_bms(
    hass: HomeAssistant, sim: PylontechCanSimulator, entry: MockConfigEntry
) -> None:
    """Protection flags raise their alarm and make the state a fault; warnings only alarm."""
    await _set_up(hass, entry)
    assert entity_state(hass, ALARM) == "off"
    sim.bms.protection = (0x08, 0)  # over-temperature protection: the BMS cut off
    await _poll(hass)
    assert entity_state(hass, HIGH_TEMPERATURE) == "on"
    assert entity_state(hass, ALARM) == "on"
    assert entity_state(hass, OPERATING_STATE) == "fault"
    sim.bms.protection = (0, 0)
    sim.bms.alarms = (0, 0x08)  # internal communication failure warning
    sim.bms.requests = 0x40  # charging not allowed
    await _poll(hass)
    assert entity_state(hass, HIGH_TEMPERATURE) == "off"
    assert entity_state(hass, SYSTEM_ERROR) == "on"
    assert entity_state(hass, ALARM) == "on"
    assert entity_state(hass, CHARGING_ALLOWED) == "off"
    assert entity_state(hass, OPERATING_STATE) == "discharging"


async def test_never_sends_a_frame(
    hass: HomeAssistant, sim: PylontechCanSimulator, entry: MockConfigEntry
) -> None:
    """Set up, polls, a config flow for the same bus and unload: only the adapter is opened."""
    await _set_up(hass, entry)
    for _ in range(3):
        await _poll(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "pylontech_can"})
    await hass.config_entries.flow.async_configure(result["flow_id"], _user_input(sim))
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert sim.write_count == 0
    assert set(sim.commands) <= OPENING_COMMANDS | {"C"}


async def test_config_flow_shares_the_running_bus(
    hass: HomeAssistant, sim: PylontechCanSimulator, entry: MockConfigEntry
) -> None:
    """Checking the same bus again (add or reconfigure) does not open the port a second time,
    which would split the adapter's bytes between two readers and garble both."""
    await _set_up(hass, entry)
    opened = sim.commands.count("O")
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "pylontech_can"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], _user_input(sim))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert sim.commands.count("O") == opened
    device = entry.runtime_data.coordinator.device
    assert device._bad_lines == 0
    assert device._rejected == 0


async def test_energy_integrated_and_restored(
    hass: HomeAssistant, sim: PylontechCanSimulator, entry: MockConfigEntry
) -> None:
    """The BMS counts no energy: integrated from power, continued from the restored value."""
    mock_restore_cache_with_extra_data(
        hass,
        (
            (
                State(ENERGY_DISCHARGED, "1.5"),
                {"native_value": 1.5, "native_unit_of_measurement": "kWh"},
            ),
        ),
    )
    await _set_up(hass, entry)
    assert float(entity_state(hass, ENERGY_DISCHARGED)) == pytest.approx(1.5)
    coordinator = entry.runtime_data.coordinator
    now = [coordinator.clock()]
    coordinator.device.clock = lambda: now[0]
    await _poll(hass)  # first sample on the new clock
    now[0] += 60
    await _poll(hass)  # frames stamped on the moved clock keep the data fresh
    # 640.8 W for 60 s = 0.01068 kWh
    assert float(entity_state(hass, ENERGY_DISCHARGED)) == pytest.approx(1.5 + 0.01068, abs=1e-4)


async def test_reader_stops_with_home_assistant(
    hass: HomeAssistant, sim: PylontechCanSimulator, entry: MockConfigEntry
) -> None:
    """Entries are not unloaded at stop: the CAN reader thread still ends then."""
    await _set_up(hass, entry)

    def readers() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith("home_battery CAN")]

    assert readers()
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert not readers()


async def test_protocol_v1_3_battery_shows_alarms_and_permissions(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """A V1.3 BMS (0x35A/0x35F, no 0x359/0x35C): alarms and charge/discharge allowed appear."""
    sim = V1_3_CASE.make_simulator()
    await sim.start()
    try:
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=V1_3_CASE.title,
            data=V1_3_CASE.entry_data(sim),
            unique_id=V1_3_CASE.unique_id(sim),
        )
        await set_up_entry(hass, entry)
        for entity_id, (value, _unit) in V1_3_CASE.expected.items():
            state = hass.states.get(entity_id)
            assert state is not None, entity_id
            if isinstance(value, str):
                assert state.state == value, entity_id
        sim.bms.alarm_bytes = bytes.fromhex("0400000000000000")  # high voltage alarm
        await asyncio.sleep(3 * PERIOD)  # the next broadcasts carry it
        await poll(hass)
        assert entity_state(hass, "binary_sensor.pylontech_bms_high_voltage") == "on"
        assert entity_state(hass, "sensor.pylontech_bms_operating_state") == "fault"
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await sim.stop()
