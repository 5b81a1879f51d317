"""The sessy family: a Sessy home battery on its local API (basic auth), found by zeroconf."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import voluptuous as vol

from ..devices.base import BatteryDevice
from ..devices.http import basic_auth
from ..devices.model import InvalidConfigError
from ..devices.sessy import SessyConfig, SessyDevice
from .base import Discovery, Family
from .selectors import PASSWORD, TEXT


def create_device(hass: HomeAssistant, data: Mapping[str, Any]) -> BatteryDevice:
    """Build the device on Home Assistant's shared HTTP session."""
    return SessyDevice(
        async_get_clientsession(hass),
        SessyConfig(
            host=data[CONF_HOST], username=data[CONF_USERNAME], password=data[CONF_PASSWORD]
        ),
    )


def validate(data: Mapping[str, Any]) -> dict[str, str]:
    """Refuse what HTTP basic authentication cannot carry.

    That is a colon in the user name, line breaks and characters outside Latin-1: the same
    check the device's client makes (`devices.http.basic_auth`).
    """
    errors = {}
    username, password = str(data.get(CONF_USERNAME, "")), str(data.get(CONF_PASSWORD, ""))
    for field, credentials in ((CONF_USERNAME, (username, "-")), (CONF_PASSWORD, ("-", password))):
        try:
            basic_auth(*credentials)
        except InvalidConfigError:
            errors[field] = "invalid_characters"
    return errors


def _discovered_host(info: ZeroconfServiceInfo, default_port: int = 80) -> str:
    """Return the announced address as the `host` field: `ip`, `ip:port`, IPv6 in brackets."""
    host = str(info.ip_address)
    if info.ip_address.version == 6:
        host = f"[{host}]"
    return host if info.port in (None, default_port) else f"{host}:{info.port}"


def discover(info: ZeroconfServiceInfo) -> Discovery | None:
    """Sessy dongles announce `sessy-xxxx._http._tcp` with their serial (the username)."""
    if not info.name.lower().startswith("sessy-"):
        return None
    serial = str(info.properties.get("serial") or "").strip().upper()
    data = {CONF_HOST: _discovered_host(info)}
    if serial:
        data[CONF_USERNAME] = serial
    return Discovery(unique_id=serial or None, name=info.name.split(".")[0], data=data)


FAMILY = Family(
    key="sessy",
    title="Sessy",
    schema=vol.Schema(
        {
            vol.Required(CONF_HOST): TEXT,
            vol.Required(CONF_USERNAME): TEXT,
            vol.Required(CONF_PASSWORD): PASSWORD,
        }
    ),
    create=create_device,
    host_with_port=True,
    credentials=(CONF_USERNAME, CONF_PASSWORD),
    zeroconf=discover,
    validate=validate,
)
