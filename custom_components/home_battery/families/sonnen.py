"""The sonnen family: a sonnenBatterie with the JSON API v2 (`Auth-Token`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.const import CONF_API_TOKEN, CONF_HOST
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
import voluptuous as vol

from ..devices.base import BatteryDevice
from ..devices.http import header_value
from ..devices.model import InvalidConfigError
from ..devices.sonnen import SonnenConfig, SonnenDevice
from .base import Family
from .selectors import PASSWORD, TEXT

# The type plate's serial number: the v2 API reports none, so it keeps the unique id (and the
# device) when the battery's address changes. Optional: without it the address identifies it.
CONF_SERIAL_NUMBER = "serial_number"


def create_device(hass: HomeAssistant, data: Mapping[str, Any]) -> BatteryDevice:
    """Build the device on Home Assistant's shared HTTP session."""
    return SonnenDevice(
        async_get_clientsession(hass),
        SonnenConfig(
            host=data[CONF_HOST],
            api_token=str(data[CONF_API_TOKEN]).strip(),
            serial_number=data.get(CONF_SERIAL_NUMBER, ""),
        ),
    )


def validate(data: Mapping[str, Any]) -> dict[str, str]:
    """Refuse a token no HTTP header can carry (a line break inside it, control characters).

    Surrounding white space (a pasted line break) is dropped, not refused: the same check the
    device's client makes (`devices.http.header_value`).
    """
    try:
        header_value(CONF_API_TOKEN, str(data.get(CONF_API_TOKEN, "")))
    except InvalidConfigError:
        return {CONF_API_TOKEN: "invalid_characters"}
    return {}


FAMILY = Family(
    key="sonnen",
    title="sonnenBatterie",
    schema=vol.Schema(
        {
            vol.Required(CONF_HOST): TEXT,
            vol.Required(CONF_API_TOKEN): PASSWORD,
            vol.Optional(CONF_SERIAL_NUMBER, default=""): TEXT,
        }
    ),
    create=create_device,
    host_with_port=True,
    credentials=(CONF_API_TOKEN,),
    validate=validate,
)
