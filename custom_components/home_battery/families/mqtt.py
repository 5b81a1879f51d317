"""The mqtt family: any battery on MQTT; its form, and a transport over HA's MQTT integration.

Home Assistant's MQTT integration is an after-dependency, not a dependency: users without a
broker can use every other family, and the `mqtt` step aborts with `mqtt_not_configured` until
the MQTT integration is set up. Its modules are imported only when an MQTT battery is used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from homeassistant.const import CONF_UNIQUE_ID
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
import voluptuous as vol

from ..const import CONF_MAX_CHARGE_POWER, CONF_MAX_DISCHARGE_POWER, DEFAULT_MAX_POWER
from ..devices.base import BatteryDevice
from ..devices.model import DeviceConnectionError
from ..devices.mqtt import (
    DEFAULT_STATE_TIMEOUT,
    OPTIONAL_KEYS,
    REQUIRED_KEYS,
    CommandFormat,
    MqttConfig,
    MqttDevice,
    PowerSign,
    ValueSource,
    path_error,
)
from .base import Family
from .selectors import TEXT, dropdown, number

if TYPE_CHECKING:
    from homeassistant.components.mqtt import ReceiveMessage

CONF_POWER_SIGN = "power_sign"
CONF_COMMAND_TOPIC = "command_topic"
CONF_COMMAND_FORMAT = "command_format"
CONF_STATE_TIMEOUT = "state_timeout"
VALUE_KEYS = (*REQUIRED_KEYS, *OPTIONAL_KEYS)
MQTT_DOMAIN = "mqtt"
STATE_QOS = 0
COMMAND_QOS = 1  # the broker acknowledges every command


def topic_field(key: str) -> str:
    """Return the form field holding the topic of a common-model key."""
    return f"{key}_topic"


def path_field(key: str) -> str:
    """Return the form field holding the JSON value path of a common-model key."""
    return f"{key}_path"


def _value_fields(key: str, *, required: bool) -> dict[vol.Marker, Any]:
    marker = vol.Required if required else vol.Optional
    return {marker(topic_field(key)): TEXT, vol.Optional(path_field(key)): TEXT}


SCHEMA = vol.Schema(
    {
        vol.Required(CONF_UNIQUE_ID): TEXT,
        **_value_fields(REQUIRED_KEYS[0], required=True),
        **_value_fields(REQUIRED_KEYS[1], required=True),
        vol.Required(CONF_POWER_SIGN, default=PowerSign.DISCHARGE_POSITIVE.value): dropdown(
            [sign.value for sign in PowerSign], CONF_POWER_SIGN
        ),
        **{k: v for key in OPTIONAL_KEYS for k, v in _value_fields(key, required=False).items()},
        vol.Optional(CONF_COMMAND_TOPIC): TEXT,
        vol.Required(CONF_COMMAND_FORMAT, default=CommandFormat.JSON.value): dropdown(
            [fmt.value for fmt in CommandFormat], CONF_COMMAND_FORMAT
        ),
        vol.Required(CONF_MAX_CHARGE_POWER, default=DEFAULT_MAX_POWER): number(
            0, 100000, step=10, unit="W"
        ),
        vol.Required(CONF_MAX_DISCHARGE_POWER, default=DEFAULT_MAX_POWER): number(
            0, 100000, step=10, unit="W"
        ),
        vol.Required(CONF_STATE_TIMEOUT, default=DEFAULT_STATE_TIMEOUT): number(
            1, 3600, step=1, unit="s"
        ),
    }
)


def _text(data: Mapping[str, Any], field: str) -> str:
    return str(data.get(field) or "").strip()


def config_from_data(data: Mapping[str, Any]) -> MqttConfig:
    """Return the device configuration the entry's data describes (empty fields: not set)."""
    return MqttConfig(
        identifier=_text(data, CONF_UNIQUE_ID),
        sources={
            key: ValueSource(topic=topic, path=_text(data, path_field(key)))
            for key in VALUE_KEYS
            if (topic := _text(data, topic_field(key)))
        },
        power_sign=PowerSign(data.get(CONF_POWER_SIGN, PowerSign.DISCHARGE_POSITIVE)),
        command_topic=_text(data, CONF_COMMAND_TOPIC) or None,
        command_format=CommandFormat(data.get(CONF_COMMAND_FORMAT, CommandFormat.JSON)),
        max_charge_power=float(data.get(CONF_MAX_CHARGE_POWER, DEFAULT_MAX_POWER)),
        max_discharge_power=float(data.get(CONF_MAX_DISCHARGE_POWER, DEFAULT_MAX_POWER)),
        state_timeout=float(data.get(CONF_STATE_TIMEOUT, DEFAULT_STATE_TIMEOUT)),
    )


def create_device(hass: HomeAssistant, data: Mapping[str, Any]) -> BatteryDevice:
    """Build the MQTT battery from the entry's data, on Home Assistant's MQTT client."""
    return MqttDevice(config_from_data(data), HomeAssistantMqttTransport(hass))


def mqtt_not_ready(hass: HomeAssistant) -> str | None:
    """Return the abort reason while Home Assistant's MQTT integration is not set up."""
    return None if hass.config_entries.async_loaded_entries(MQTT_DOMAIN) else "mqtt_not_configured"


def validate(data: Mapping[str, Any]) -> dict[str, str]:
    """Check topics and value paths before subscribing; return the form's errors by field."""
    from homeassistant.components import mqtt

    errors: dict[str, str] = {}
    if not _text(data, CONF_UNIQUE_ID):
        errors[CONF_UNIQUE_ID] = "invalid_identifier"
    checks: list[tuple[str, Callable[[Any], str]]] = [
        (topic_field(key), mqtt.valid_subscribe_topic) for key in VALUE_KEYS
    ]
    checks.append((CONF_COMMAND_TOPIC, mqtt.valid_publish_topic))
    for field, check in checks:
        topic = data.get(field)
        required = field in (topic_field(key) for key in REQUIRED_KEYS)
        if topic is None and not required:
            continue
        try:
            check(str(topic or "").strip())
        except vol.Invalid:
            errors[field] = "invalid_topic"
    for key in VALUE_KEYS:
        if path_error(_text(data, path_field(key))):
            errors[path_field(key)] = "invalid_path"
    return errors


class HomeAssistantMqttTransport:
    """Subscribe and publish through Home Assistant's MQTT integration (the user's broker)."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Use the MQTT client of this Home Assistant instance."""
        self._hass = hass

    @property
    def connected(self) -> bool:
        """Return True while Home Assistant's MQTT client is connected to the broker."""
        from homeassistant.components import mqtt

        try:
            return mqtt.is_connected(self._hass)
        except KeyError:  # the MQTT integration is not set up
            return False

    async def subscribe(
        self, topic: str, on_message: Callable[[bytes], None]
    ) -> Callable[[], None]:
        """Subscribe with raw payloads, so that garbage reaches the parser and is reported."""
        from homeassistant.components import mqtt

        @callback
        def received(message: ReceiveMessage) -> None:
            payload = message.payload
            on_message(payload if isinstance(payload, bytes) else str(payload).encode())

        try:
            return await mqtt.async_subscribe(
                self._hass, topic, received, qos=STATE_QOS, encoding=None
            )
        except HomeAssistantError as err:
            raise DeviceConnectionError(f"cannot subscribe to {topic}: {err}") from err

    async def publish(self, topic: str, payload: str) -> None:
        """Publish a command, not retained: a stale command must never be replayed."""
        from homeassistant.components import mqtt

        try:
            await mqtt.async_publish(self._hass, topic, payload, qos=COMMAND_QOS, retain=False)
        except HomeAssistantError as err:
            raise DeviceConnectionError(f"cannot publish to {topic}: {err}") from err


FAMILY = Family(
    key="mqtt",
    title="MQTT battery",
    schema=SCHEMA,
    create=create_device,
    unavailable=mqtt_not_ready,
    validate=validate,
)
