"""The sonnen family: a sonnenBatterie with the JSON API v2 (`Auth-Token`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.const import CONF_API_TOKEN, CONF_HOST
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
import voluptuous as vol

from ..devices.base import BatteryDevice
from ..devices.sonnen import SonnenConfig, SonnenDevice
from .base import Family
from .selectors import PASSWORD, TEXT


def create_device(hass: HomeAssistant, data: Mapping[str, Any]) -> BatteryDevice:
    """Build the device on Home Assistant's shared HTTP session."""
    return SonnenDevice(
        async_get_clientsession(hass),
        SonnenConfig(host=data[CONF_HOST], api_token=str(data[CONF_API_TOKEN]).strip()),
    )


def validate(data: Mapping[str, Any]) -> dict[str, str]:
    """Refuse a token no HTTP header can carry (a line break inside it, control characters).

    Surrounding white space (a pasted line break) is dropped, not refused.
    """
    token = str(data.get(CONF_API_TOKEN, "")).strip()
    return {} if token.isprintable() and token else {CONF_API_TOKEN: "invalid_characters"}


FAMILY = Family(
    key="sonnen",
    title="sonnenBatterie",
    schema=vol.Schema({vol.Required(CONF_HOST): TEXT, vol.Required(CONF_API_TOKEN): PASSWORD}),
    create=create_device,
    host_with_port=True,
    credentials=(CONF_API_TOKEN,),
    validate=validate,
)
