"""MQTT batteries through Home Assistant's MQTT integration, with HA's MQTT test fixtures.

`mqtt_mock` is Home Assistant's real MQTT client on a mocked paho connection: subscriptions,
dispatch and publishing are the integration's own code; `async_fire_mqtt_message` plays the
battery. The end-to-end tests against a real broker are in test_mqtt_broker.py and the shared
family suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
import logging
from typing import Any, TypeVar

from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.components.select import ATTR_OPTION, SERVICE_SELECT_OPTION
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import (
    ATTR_ENTITY_ID,
    CONF_UNIQUE_ID,
    EVENT_HOMEASSISTANT_STOP,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.home_battery.const import (
    CONF_FAMILY,
    CONF_MAX_CHARGE_POWER,
    CONF_MAX_DISCHARGE_POWER,
    DOMAIN,
)
from custom_components.home_battery.families.mqtt import (
    CONF_COMMAND_FORMAT,
    CONF_COMMAND_TOPIC,
    CONF_POWER_SIGN,
    CONF_STATE_TIMEOUT,
    HomeAssistantMqttTransport,
)

from .helpers import battery_device, entity_state, poll

T = TypeVar("T")

SOC, POWER, CURRENT, TEMPERATURE = "bat/soc", "bat/power", "bat/current", "bat/temperature"
COMMAND = "bat/set"
STATE = {SOC: "80", POWER: "-1500", CURRENT: "-30", TEMPERATURE: "24.5"}
SETPOINT = "number.mqtt_battery_power_setpoint"
MODE = "select.mqtt_battery_operating_mode"


@pytest.fixture
def expected_lingering_timers() -> bool:
    """Allow the one-second housekeeping timer HA's MQTT client leaves on a mocked connection.

    Home Assistant's own MQTT tests allow it the same way (components' tests default to True).
    """
    return True


def _form(**changes: Any) -> dict[str, Any]:
    """The mqtt form: plain-number topics, + discharging, JSON commands."""
    form: dict[str, Any] = {
        CONF_UNIQUE_ID: "bat",
        "state_of_charge_topic": SOC,
        "battery_power_topic": POWER,
        CONF_POWER_SIGN: "discharge_positive",
        "battery_current_topic": CURRENT,
        "battery_temperature_topic": TEMPERATURE,
        CONF_COMMAND_TOPIC: COMMAND,
        CONF_COMMAND_FORMAT: "json",
        CONF_MAX_CHARGE_POWER: 3000,
        CONF_MAX_DISCHARGE_POWER: 2500,
        CONF_STATE_TIMEOUT: 60,
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


async def _while_publishing(hass: HomeAssistant, action: Awaitable[T], state: dict[str, str]) -> T:
    """Run `action` (which subscribes and waits for state) while the battery publishes `state`
    every 50 ms: the mocked connection has no broker to keep retained messages."""
    task = asyncio.ensure_future(action)
    while not task.done():
        for topic, payload in state.items():
            async_fire_mqtt_message(hass, topic, payload)
        await asyncio.wait({task}, timeout=0.05)
    return task.result()


async def _until_loaded(entry: MockConfigEntry) -> None:
    for _ in range(200):
        if entry.state is ConfigEntryState.LOADED:
            return
        await asyncio.sleep(0.05)


async def _set_up(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    state: dict[str, str] = STATE,
    *,
    options: dict[str, Any] | None = None,
    **changes: Any,
) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="MQTT battery",
        data={CONF_FAMILY: "mqtt", **_form(**changes)},
        options=options or {},
        unique_id="bat",
    )
    entry.add_to_hass(hass)
    assert await _while_publishing(hass, hass.config_entries.async_setup(entry.entry_id), state)
    await hass.async_block_till_done()
    return entry


async def _open_form(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "mqtt"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "mqtt"
    return str(result["flow_id"])


# --- config flow -----------------------------------------------------------------------------


async def test_step_aborts_without_mqtt_integration(hass: HomeAssistant) -> None:
    """Without Home Assistant's MQTT integration the step says what to set up first."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert "mqtt" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "mqtt"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "mqtt_not_configured"


async def test_setup_retries_without_mqtt_integration(hass: HomeAssistant) -> None:
    """An MQTT battery whose MQTT integration is gone retries setup instead of failing."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="MQTT battery", data={CONF_FAMILY: "mqtt", **_form()}, unique_id="bat"
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert HomeAssistantMqttTransport(hass).connected is False


async def test_flow_creates_entry(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    """The form subscribes, waits for the first state and uses the identifier as unique id."""
    flow_id = await _open_form(hass)
    result = await _while_publishing(
        hass, hass.config_entries.flow.async_configure(flow_id, _form()), STATE
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == "bat"
    assert result["data"][CONF_FAMILY] == "mqtt"
    await hass.async_block_till_done()


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({CONF_UNIQUE_ID: "  "}, {CONF_UNIQUE_ID: "invalid_identifier"}),
        ({"state_of_charge_topic": "bat/#/soc"}, {"state_of_charge_topic": "invalid_topic"}),
        ({CONF_COMMAND_TOPIC: "bat/+/set"}, {CONF_COMMAND_TOPIC: "invalid_topic"}),
        ({"battery_power_path": "battery..power"}, {"battery_power_path": "invalid_path"}),
    ],
)
async def test_form_checked_before_subscribing(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    changes: dict[str, Any],
    errors: dict[str, str],
) -> None:
    """Malformed topics and paths are shown on their fields; nothing is subscribed."""
    flow_id = await _open_form(hass)
    subscribed_before = mqtt_mock.async_subscribe.call_count
    result = await hass.config_entries.flow.async_configure(flow_id, _form(**changes))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert mqtt_mock.async_subscribe.call_count == subscribed_before


@pytest.mark.parametrize(
    ("changes", "state", "detail"),
    [
        ({}, {**STATE, SOC: "full"}, "bat/soc: not a number: 'full'"),
        (
            {"state_of_charge_path": "battery.soc"},
            {**STATE, SOC: '{"soc": 80}'},
            "bat/soc: no value at 'battery.soc'",
        ),
    ],
)
async def test_form_unreadable_state(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    changes: dict[str, Any],
    state: dict[str, str],
    detail: str,
) -> None:
    """Messages that arrive but cannot be read name the topic and the reason on the form."""
    flow_id = await _open_form(hass)
    result = await _while_publishing(
        hass,
        hass.config_entries.flow.async_configure(flow_id, _form(state_timeout=1, **changes)),
        state,
    )
    assert result["errors"] == {"base": "invalid_data"}
    assert result["description_placeholders"] == {"detail": detail}


async def test_form_silent_battery(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    """Nothing published within the timeout: `no_data`, and the subscriptions are dropped."""
    flow_id = await _open_form(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(state_timeout=1))
    assert result["errors"] == {"base": "no_data"}
    async_fire_mqtt_message(hass, SOC, "80")  # nobody listens any more: no error either


async def test_reconfigure_drops_emptied_optional_topic(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """An optional topic left empty on the reconfigure form is removed from the entry."""
    entry = await _set_up(hass, mqtt_mock, state_timeout=5)
    result = await entry.start_reconfigure_flow(hass)
    changes = _form(battery_temperature_topic=None, state_timeout=5)
    result = await _while_publishing(
        hass, hass.config_entries.flow.async_configure(result["flow_id"], changes), STATE
    )
    assert result["reason"] == "reconfigure_successful"
    assert "battery_temperature_topic" not in entry.data
    # The entry reloads and waits for the battery's state again.
    await _while_publishing(hass, _until_loaded(entry), STATE)
    assert entry.state is ConfigEntryState.LOADED
    assert entity_state(hass, "sensor.mqtt_battery_battery_temperature") == STATE_UNAVAILABLE


# --- values and signs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sign", "power", "current", "expected_power", "expected_current", "operating_state"),
    [
        ("discharge_positive", "-1500", "-30", -1500, -30, "charging"),
        ("charge_positive", "-1500", "-30", 1500, 30, "discharging"),
        ("charge_positive", "5", "0.1", -5, -0.1, "idle"),
    ],
)
async def test_values_and_signs(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    sign: str,
    power: str,
    current: str,
    expected_power: float,
    expected_current: float,
    operating_state: str,
) -> None:
    """Power and current are converted to + discharging; the operating state follows power."""
    await _set_up(hass, mqtt_mock, {**STATE, POWER: power, CURRENT: current}, power_sign=sign)
    assert float(entity_state(hass, "sensor.mqtt_battery_state_of_charge")) == 80
    assert float(entity_state(hass, "sensor.mqtt_battery_battery_power")) == expected_power
    assert float(entity_state(hass, "sensor.mqtt_battery_battery_current")) == expected_current
    assert float(entity_state(hass, "sensor.mqtt_battery_battery_temperature")) == 24.5
    assert entity_state(hass, "sensor.mqtt_battery_operating_state") == operating_state
    assert hass.states.get("sensor.mqtt_battery_battery_voltage") is None  # no topic given


async def test_identifier_is_the_device(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, device_registry: dr.DeviceRegistry
) -> None:
    """There is no serial to read: the user's identifier names the device."""
    await _set_up(hass, mqtt_mock)
    device = battery_device(hass, "bat")
    assert device is not None
    assert device.model == "MQTT battery"


async def test_json_topic_and_partial_messages(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Several values from one JSON topic; a message without a value keeps its last value."""
    state = {"bat/state": '{"soc": 61.5, "dc": {"power": 300}}'}
    await _set_up(
        hass,
        mqtt_mock,
        state,
        state_of_charge_topic="bat/state",
        state_of_charge_path="soc",
        battery_power_topic="bat/state",
        battery_power_path="dc.power",
        battery_current_topic=None,
        battery_temperature_topic=None,
    )
    assert float(entity_state(hass, "sensor.mqtt_battery_battery_power")) == 300
    async_fire_mqtt_message(hass, "bat/state", '{"soc": 62}')
    await poll(hass)
    assert float(entity_state(hass, "sensor.mqtt_battery_state_of_charge")) == 62
    assert float(entity_state(hass, "sensor.mqtt_battery_battery_power")) == 300


async def test_garbage_makes_unavailable_with_one_log_line(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage on a required value: unavailable, one line naming the topic; then recovery.

    Garbage on an optional value only makes that value unknown.
    """
    await _set_up(hass, mqtt_mock)
    async_fire_mqtt_message(hass, TEMPERATURE, "warm")
    await poll(hass)
    assert entity_state(hass, "sensor.mqtt_battery_battery_temperature") == STATE_UNKNOWN
    assert float(entity_state(hass, "sensor.mqtt_battery_state_of_charge")) == 80
    caplog.set_level(logging.INFO)
    async_fire_mqtt_message(hass, POWER, "\x00garbage")
    for _ in range(3):
        await poll(hass)
    assert entity_state(hass, "sensor.mqtt_battery_battery_power") == STATE_UNAVAILABLE
    errors = [r.getMessage() for r in caplog.records if "Error fetching" in r.getMessage()]
    assert len(errors) == 1
    assert "bat/power: not a number" in errors[0]
    async_fire_mqtt_message(hass, POWER, "-900")
    await poll(hass)
    assert float(entity_state(hass, "sensor.mqtt_battery_battery_power")) == -900
    assert any("recovered" in r.getMessage() for r in caplog.records)


async def test_silence_makes_unavailable_until_the_next_message(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Nothing heard for longer than the state timeout: unavailable; the next message: back."""
    entry = await _set_up(hass, mqtt_mock)
    device = entry.runtime_data.coordinator.device
    clock = device.clock
    device.clock = lambda: clock() + 61  # a minute of silence, with a 60 s timeout
    await poll(hass)
    assert entity_state(hass, "sensor.mqtt_battery_state_of_charge") == STATE_UNAVAILABLE
    async_fire_mqtt_message(hass, SOC, "79")
    await poll(hass)
    assert float(entity_state(hass, "sensor.mqtt_battery_state_of_charge")) == 79


# --- control ---------------------------------------------------------------------------------


def _published(mqtt_mock: MqttMockHAClient) -> list[tuple[Any, ...]]:
    """Commands published to the command topic: (payload, qos, retain)."""
    return [c.args[1:] for c in mqtt_mock.async_publish.call_args_list if c.args[0] == COMMAND]


async def _set_setpoint(hass: HomeAssistant, watts: float) -> None:
    await hass.services.async_call(
        "number", SERVICE_SET_VALUE, {ATTR_ENTITY_ID: SETPOINT, ATTR_VALUE: watts}, blocking=True
    )


@pytest.mark.parametrize(
    ("sign", "charge", "discharge"),
    [
        (
            "discharge_positive",
            '{"power": -2000, "mode": "manual", "expires_in": 120}',
            '{"power": 1500, "mode": "manual", "expires_in": 120}',
        ),
        (
            "charge_positive",
            '{"power": 2000, "mode": "manual", "expires_in": 120}',
            '{"power": -1500, "mode": "manual", "expires_in": 120}',
        ),
    ],
)
async def test_json_commands(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, sign: str, charge: str, discharge: str
) -> None:
    """Setpoints in the device's sign, at least once and never retained; auto releases."""
    entry = await _set_up(hass, mqtt_mock, power_sign=sign)
    await _set_setpoint(hass, -2000)
    await _set_setpoint(hass, 1500)
    await poll(hass)  # the refresh after the second write is debounced
    assert _published(mqtt_mock) == [(charge, 1, False), (discharge, 1, False)]
    assert entity_state(hass, MODE) == "manual"
    assert float(entity_state(hass, SETPOINT)) == 1500
    await hass.services.async_call(
        "select", SERVICE_SELECT_OPTION, {ATTR_ENTITY_ID: MODE, ATTR_OPTION: "auto"}, blocking=True
    )
    assert _published(mqtt_mock)[-1] == ('{"power": 0, "mode": "auto"}', 1, False)
    assert entity_state(hass, MODE) == "auto"
    # Unloading in auto sends nothing more: there is nothing to hand back.
    count = len(_published(mqtt_mock))
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert len(_published(mqtt_mock)) == count


async def test_text_commands_and_release_on_unload(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """The text form: CHARGE/DISCHARGE with watts, IDLE for 0 W and to hand control back."""
    entry = await _set_up(hass, mqtt_mock, command_format="text")
    await _set_setpoint(hass, -1500)
    await _set_setpoint(hass, 800)
    await hass.services.async_call(
        "select",
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: MODE, ATTR_OPTION: "manual"},
        blocking=True,
    )
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert [p[0] for p in _published(mqtt_mock)] == [
        "CHARGE 1500W",
        "DISCHARGE 800W",
        "DISCHARGE 800W",  # manual holds the last setpoint
        "IDLE",  # unloading while in manual
    ]


async def test_out_of_range_publishes_nothing(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Beyond the limits from the form: a translated error and no message.

    The number entity's bounds are the limits, so Home Assistant refuses first; the
    coordinator refuses on its own too (for actions and schedules that bypass the entity).
    The options' maximum powers (for planning) do not widen them.
    """
    options = {CONF_MAX_CHARGE_POWER: 5000, CONF_MAX_DISCHARGE_POWER: 5000}
    entry = await _set_up(hass, mqtt_mock, options=options)
    for watts in (-3010, 2510):
        with pytest.raises(ServiceValidationError) as err:
            await _set_setpoint(hass, watts)
        assert err.value.translation_key == "out_of_range"
        with pytest.raises(ServiceValidationError) as err:
            await entry.runtime_data.coordinator.async_set_power_setpoint(watts)
        assert err.value.translation_key == "value_out_of_range"
    assert _published(mqtt_mock) == []


async def test_broker_down_publishes_nothing(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Without a broker connection a command fails at once and is not queued for later."""
    await _set_up(hass, mqtt_mock)
    mqtt_mock.connected = False
    with pytest.raises(HomeAssistantError) as err:
        await _set_setpoint(hass, 1000)
    assert err.value.translation_key == "communication_error"
    assert _published(mqtt_mock) == []
    await poll(hass)
    assert entity_state(hass, "sensor.mqtt_battery_state_of_charge") == STATE_UNAVAILABLE
    mqtt_mock.connected = True
    await poll(hass)
    assert float(entity_state(hass, "sensor.mqtt_battery_state_of_charge")) == 80


async def test_release_on_stop(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    """Home Assistant stopping hands the battery back to auto."""
    await _set_up(hass, mqtt_mock)
    await _set_setpoint(hass, 1000)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert _published(mqtt_mock)[-1][0] == '{"power": 0, "mode": "auto"}'


async def test_grace_period_releases_after_silence(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Silent for over a minute while in manual: auto is sent as soon as the battery talks."""
    entry = await _set_up(hass, mqtt_mock, state_timeout=30)
    await _set_setpoint(hass, 1000)
    coordinator, device = entry.runtime_data.coordinator, entry.runtime_data.coordinator.device
    device_clock, coordinator_clock = device.clock, coordinator.device.clock
    device.clock = lambda: device_clock() + 61
    coordinator.device.clock = lambda: coordinator_clock() + 61
    for _ in range(2):
        await poll(hass)
    assert entity_state(hass, SETPOINT) == STATE_UNAVAILABLE
    async_fire_mqtt_message(hass, SOC, "78")
    await poll(hass)
    assert _published(mqtt_mock)[-1][0] == '{"power": 0, "mode": "auto"}'
    assert entity_state(hass, MODE) == "auto"


async def test_monitoring_only(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    """Without a command topic there is nothing to control, and nothing is ever published."""
    entry = await _set_up(hass, mqtt_mock, command_topic=None)
    assert hass.states.get(SETPOINT) is None
    assert hass.states.get(MODE) is None
    assert float(entity_state(hass, "sensor.mqtt_battery_battery_power")) == -1500
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert _published(mqtt_mock) == []


async def test_broker_error_on_publish(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    """The MQTT client refusing a publish (connection lost meanwhile) is a translated error."""
    await _set_up(hass, mqtt_mock)
    mqtt_mock.async_publish.side_effect = HomeAssistantError("not connected")
    with pytest.raises(HomeAssistantError) as err:
        await _set_setpoint(hass, 1000)
    assert err.value.translation_key == "communication_error"
    assert entity_state(hass, MODE) == "auto"
