"""Alarms computed in the Home Assistant layer, and the `home_battery_alarm` event.

Driven through Home Assistant against the Victron simulator over a real socket; the pure
evaluator is also checked on its own for what the simulator cannot show (no load reported).
"""

from __future__ import annotations

from collections.abc import Callable
import time

from homeassistant.const import EVENT_HOMEASSISTANT_STARTED, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import CoreState, Event, HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.home_battery.alarms import (
    HEAVY_LOAD,
    LOW_STATE_OF_CHARGE,
    UNREACHABLE,
    AlarmEvaluator,
    AlarmSettings,
)
from custom_components.home_battery.const import (
    CONF_HEAVY_LOAD_MINUTES,
    CONF_HEAVY_LOAD_POWER,
    CONF_LOW_STATE_OF_CHARGE,
    EVENT_ALARM,
)

from .helpers import battery_device, entity_state, poll, set_up_entry
from .simulators.faults import Fault
from .simulators.victron import SERIAL, VictronSimulator

pytestmark = pytest.mark.modbus

LOW_SOC = "binary_sensor.victron_gx_low_state_of_charge"
HEAVY = "binary_sensor.victron_gx_heavy_load"
UNREACHABLE_ID = "binary_sensor.victron_gx_unreachable"
HIGH_TEMPERATURE = "binary_sensor.victron_gx_high_temperature"
SOC = "sensor.victron_gx_state_of_charge"


def _kinds(events: list[Event]) -> list[str]:
    return [event.data["kind"] for event in events]


async def _set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await set_up_entry(hass, entry)


async def test_computed_alarms_exist_and_are_off(
    hass: HomeAssistant, victron: MockConfigEntry
) -> None:
    """A healthy battery: the three computed alarms exist, are off, and nothing is fired."""
    for entity_id in (LOW_SOC, HEAVY, UNREACHABLE_ID):
        assert entity_state(hass, entity_id) == STATE_OFF, entity_id


async def test_low_state_of_charge_fires_once_with_values(
    hass: HomeAssistant,
    victron: MockConfigEntry,
    victron_sim: VictronSimulator,
) -> None:
    """At the threshold the alarm turns on and fires one event carrying what an automation needs."""
    events = async_capture_events(hass, EVENT_ALARM)
    victron_sim.soc = 9.6  # the default threshold is 10 %
    victron_sim.update(0.0)
    await poll(hass)
    assert entity_state(hass, LOW_SOC) == STATE_ON
    device = battery_device(hass, SERIAL)
    assert device is not None
    assert len(events) == 1
    data = events[0].data
    assert data == {
        "entry_id": victron.entry_id,
        "battery": "Victron GX",
        "device_id": device.id,
        "kind": LOW_STATE_OF_CHARGE,
        "state_of_charge": 9.6,
        "battery_power": data["battery_power"],
        "value": 9.6,
        "threshold": 10.0,
        "unit": "%",
        "duration": None,
    }
    assert isinstance(data["battery_power"], (int, float))
    # Still low on the next polls, and within the hysteresis: no second event.
    victron_sim.soc = 11.4
    victron_sim.update(0.0)
    await poll(hass)
    await poll(hass)
    assert entity_state(hass, LOW_SOC) == STATE_ON
    assert len(events) == 1
    # Clear above threshold + 2 points, then low again: a new event.
    victron_sim.soc = 20
    victron_sim.update(0.0)
    await poll(hass)
    assert entity_state(hass, LOW_SOC) == STATE_OFF
    victron_sim.soc = 5
    victron_sim.update(0.0)
    await poll(hass)
    assert _kinds(events) == [LOW_STATE_OF_CHARGE, LOW_STATE_OF_CHARGE]
    assert events[1].data["value"] == 5.0


async def test_thresholds_from_options(
    hass: HomeAssistant, victron_entry: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """The options set the low state of charge threshold."""
    victron_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        victron_entry, options={**victron_entry.options, CONF_LOW_STATE_OF_CHARGE: 70}
    )
    events = async_capture_events(hass, EVENT_ALARM)
    assert await hass.config_entries.async_setup(victron_entry.entry_id)
    await hass.async_block_till_done()
    # The simulator starts at 65 %: below 70, on from the start and announced once.
    assert entity_state(hass, LOW_SOC) == STATE_ON
    assert _kinds(events) == [LOW_STATE_OF_CHARGE]
    assert events[0].data["threshold"] == 70.0


def _movable_clock(entry: MockConfigEntry) -> Callable[[float], None]:
    """Put the coordinator on a clock the test moves forward; return the mover."""
    offset = [0.0]
    entry.runtime_data.coordinator.device.clock = lambda: time.monotonic() + offset[0]

    def advance(seconds: float) -> None:
        offset[0] += seconds

    return advance


async def test_heavy_load_needs_the_duration(
    hass: HomeAssistant, victron_entry: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """Consumption above the threshold raises the alarm only once it has lasted long enough."""
    victron_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        victron_entry,
        options={**victron_entry.options, CONF_HEAVY_LOAD_POWER: 3000, CONF_HEAVY_LOAD_MINUTES: 5},
    )
    assert await hass.config_entries.async_setup(victron_entry.entry_id)
    await hass.async_block_till_done()
    advance = _movable_clock(victron_entry)
    events = async_capture_events(hass, EVENT_ALARM)

    victron_sim.load_w = 4200
    victron_sim.update(0.0)
    await poll(hass)  # above the threshold: the timer starts
    advance(240)
    await poll(hass)  # 4 minutes: not yet
    assert entity_state(hass, HEAVY) == STATE_OFF
    victron_sim.load_w = 1000  # a dip resets the timer
    victron_sim.update(0.0)
    await poll(hass)
    victron_sim.load_w = 4200
    victron_sim.update(0.0)
    await poll(hass)
    advance(240)
    await poll(hass)
    assert entity_state(hass, HEAVY) == STATE_OFF
    advance(70)
    await poll(hass)
    assert entity_state(hass, HEAVY) == STATE_ON
    assert _kinds(events) == [HEAVY_LOAD]
    assert events[0].data["value"] == 4200.0
    assert events[0].data["threshold"] == 3000.0
    assert events[0].data["unit"] == "W"
    assert events[0].data["duration"] >= 300
    victron_sim.load_w = 900
    victron_sim.update(0.0)
    await poll(hass)
    assert entity_state(hass, HEAVY) == STATE_OFF


async def test_unreachable_stays_available_and_fires(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """While the device is gone, `unreachable` is on (not unavailable) and says so once."""
    events = async_capture_events(hass, EVENT_ALARM)
    await victron_sim.set_fault(Fault.REFUSE)
    for _ in range(3):
        await poll(hass)
    assert entity_state(hass, SOC) == STATE_UNAVAILABLE
    assert entity_state(hass, UNREACHABLE_ID) == STATE_ON
    assert entity_state(hass, LOW_SOC) == STATE_UNAVAILABLE
    assert _kinds(events) == [UNREACHABLE]
    assert events[0].data["state_of_charge"] == 65  # the last value known
    await victron_sim.set_fault(Fault.NONE)
    await poll(hass)
    assert entity_state(hass, UNREACHABLE_ID) == STATE_OFF
    assert entity_state(hass, LOW_SOC) == STATE_OFF
    assert len(events) == 1


async def test_device_alarm_flag_fires(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """A flag the device reports fires the event under its own key, and the summary alarm."""
    events = async_capture_events(hass, EVENT_ALARM)
    victron_sim.battery.set_u16(274, 2)  # high temperature alarm (VIC366 @274)
    await poll(hass)
    assert entity_state(hass, HIGH_TEMPERATURE) == STATE_ON
    assert sorted(_kinds(events)) == ["alarm", "high_temperature_alarm"]
    assert events[0].data["value"] is None


async def test_alarm_on_at_startup_is_announced_once_started(
    hass: HomeAssistant, victron_entry: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """An alarm already on while Home Assistant starts is announced when it has started."""
    victron_sim.soc = 4
    victron_sim.update(0.0)
    events = async_capture_events(hass, EVENT_ALARM)
    hass.set_state(CoreState.starting)
    await _set_up(hass, victron_entry)
    assert entity_state(hass, LOW_SOC) == STATE_ON
    assert events == []  # automations may not be listening yet
    hass.set_state(CoreState.running)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    await hass.async_block_till_done()
    assert _kinds(events) == [LOW_STATE_OF_CHARGE]
    await poll(hass)
    assert len(events) == 1


def test_evaluator_without_load_has_no_heavy_load_alarm() -> None:
    """A battery that does not report consumption gets no heavy-load alarm."""
    evaluator = AlarmEvaluator(AlarmSettings(), {"state_of_charge": 50.0, "battery_power": 0})
    assert evaluator.kinds == (LOW_STATE_OF_CHARGE, UNREACHABLE)
    assert evaluator.evaluate({"state_of_charge": 50.0}, reachable=True, now=0) == {}
    only_flags = AlarmEvaluator(AlarmSettings(), {"battery_power": 0})
    assert only_flags.kinds == (UNREACHABLE,)
    assert set(only_flags.evaluate({"system_error": True}, reachable=True, now=0)) == {
        "system_error"
    }
