"""MQTT batteries end to end: a real broker on loopback, HA's MQTT integration, the battery.

The shared family suite covers the flow, entities, setpoint, faults and diagnostics against
the same simulator; these are the MQTT-specific extras.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable

from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.components.select import ATTR_OPTION, SERVICE_SELECT_OPTION
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import ATTR_ENTITY_ID, EVENT_HOMEASSISTANT_STOP, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.home_battery.const import CONF_FAMILY, DOMAIN
from custom_components.home_battery.families.mqtt import CONF_COMMAND_FORMAT

from .families.mqtt import entry_data, mqtt_entry, mqtt_test_tuning
from .helpers import entity_state, poll, set_number, set_up_entry
from .simulators.mqtt_battery import IDENTIFIER, MqttBatterySimulator

pytestmark = pytest.mark.usefixtures("socket_enabled")

BATTERY_POWER = "sensor.mqtt_battery_battery_power"
SETPOINT = "number.mqtt_battery_power_setpoint"
MODE = "select.mqtt_battery_operating_mode"


@pytest.fixture
async def sim(
    hass: HomeAssistant, socket_enabled: None, mock_hass_config: None
) -> AsyncGenerator[MqttBatterySimulator]:
    """The broker with the battery, and Home Assistant's MQTT integration connected to it."""
    simulator = MqttBatterySimulator()
    await simulator.start()
    with mqtt_test_tuning():
        support = mqtt_entry(simulator, birth=True)
        broker_entry = MockConfigEntry(
            domain=support.domain, data=support.data, minor_version=support.minor_version
        )
        broker_entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(broker_entry.entry_id)
        yield simulator
        for config_entry in hass.config_entries.async_loaded_entries(DOMAIN):
            await hass.config_entries.async_unload(config_entry.entry_id)
        await hass.config_entries.async_unload(broker_entry.entry_id)
    await simulator.stop()


async def _set_up(hass: HomeAssistant, sim: MqttBatterySimulator, **changes: str) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="MQTT battery",
        data={**entry_data(sim), **changes},
        unique_id=IDENTIFIER,
    )
    await set_up_entry(hass, entry)


async def _until(check: Callable[[], bool]) -> None:
    """Wait (up to 2 s) for the battery to act on a command it gets through the broker."""
    for _ in range(100):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the battery did not act on the command")


async def test_text_commands_obeyed_and_seen_in_the_state(
    hass: HomeAssistant, sim: MqttBatterySimulator
) -> None:
    """The battery obeys CHARGE/IDLE; its published power is how Home Assistant sees it obey.

    Plain MQTT has no read-back: what is verified is that the broker took the command (QoS 1)
    and, afterwards, the power the battery reports.
    """
    await _set_up(hass, sim, **{CONF_COMMAND_FORMAT: "text"})
    assert float(entity_state(hass, BATTERY_POWER)) == -600  # its own automatic mode
    await hass.services.async_call(
        "number", SERVICE_SET_VALUE, {ATTR_ENTITY_ID: SETPOINT, ATTR_VALUE: -1500}, blocking=True
    )
    await _until(lambda: sim.commands == ["CHARGE 1500W"])
    await asyncio.sleep(0.2)  # the battery publishes its new state
    await poll(hass)
    assert float(entity_state(hass, BATTERY_POWER)) == -1500
    assert entity_state(hass, MODE) == "manual"
    await hass.services.async_call(
        "select", SERVICE_SELECT_OPTION, {ATTR_ENTITY_ID: MODE, ATTR_OPTION: "auto"}, blocking=True
    )
    await _until(lambda: sim.commands[-1:] == ["IDLE"] and sim.mode == "auto")


async def test_release_on_stop_reaches_the_battery(
    hass: HomeAssistant, sim: MqttBatterySimulator
) -> None:
    """Stopping Home Assistant: the auto command still goes out through the broker."""
    await _set_up(hass, sim)
    await set_number(hass, SETPOINT, 1000)
    await _until(lambda: sim.mode == "manual" and sim.commanded_w == 1000)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    await _until(lambda: sim.mode == "auto")


async def test_flow_reports_a_wrong_value_path(
    hass: HomeAssistant, sim: MqttBatterySimulator
) -> None:
    """The retained state arrives, but not where the form says: the form names the path."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "mqtt"}
    )
    form = {**entry_data(sim), "state_of_charge_path": "bms.soc"}
    form.pop(CONF_FAMILY)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
    assert result["errors"] == {"base": "invalid_data"}
    assert result["description_placeholders"] == {
        "detail": "home/battery/state: no value at 'bms.soc'"
    }


async def test_mqtt_integration_unloaded(hass: HomeAssistant, sim: MqttBatterySimulator) -> None:
    """Unloading Home Assistant's MQTT integration disconnects it: the battery is unavailable."""
    await _set_up(hass, sim)
    (broker_entry,) = hass.config_entries.async_entries("mqtt")
    assert await hass.config_entries.async_unload(broker_entry.entry_id)
    await poll(hass)
    assert entity_state(hass, "sensor.mqtt_battery_state_of_charge") == STATE_UNAVAILABLE


async def test_setpoint_refreshed_and_expires_after_a_crash(
    hass: HomeAssistant, sim: MqttBatterySimulator
) -> None:
    """The contract: repeated every 30 s while active; 120 s after the last one, auto again."""
    await _set_up(hass, sim)
    await set_number(hass, SETPOINT, 1000)
    await _until(lambda: sim.forced and sim.commanded_w == 1000)
    await poll(hass, 31)  # the refresh interval: the same command again
    await _until(lambda: len(sim.commands) == 2)
    assert sim.commands[0] == sim.commands[1]
    # Home Assistant disappears without handing control back: no more commands arrive.
    (entry,) = hass.config_entries.async_entries(DOMAIN)
    device = entry.runtime_data.coordinator.device
    device.record_hook = None
    device._forced = False  # the crashed run forgets; only the bridge's expiry is left
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert sim.commands[-1].startswith('{"power": -1000, "mode": "manual"')
    await sim.advance(100)  # (the bridge's clock also runs in real time)
    assert sim.forced
    await sim.advance(20)
    assert not sim.forced
    assert sim.power_w == sim.auto_power_w


async def test_ignored_command_is_not_forced(
    hass: HomeAssistant, sim: MqttBatterySimulator
) -> None:
    """A command the bridge missed: the battery stays in its own mode (nothing forced)."""
    await _set_up(hass, sim)
    sim.fail_write(0)
    await set_number(hass, SETPOINT, 1000)
    await _until(lambda: len(sim.commands) == 1)
    assert not sim.forced
    assert sim.invalid_writes == 0
