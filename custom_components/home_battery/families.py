"""The device families the config flow offers: adding a family is adding one entry here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.const import (
    CONF_API_TOKEN,
    CONF_DEVICE,
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_USERNAME,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import voluptuous as vol

from . import can_family, deye_family, huawei_family, mqtt_family, sma_family
from .const import CONF_BATTERY_UNIT_ID, CONF_VEBUS_UNIT_ID
from .devices.base import BatteryDevice
from .devices.plasmatronics import PlasmatronicsConfig, PlasmatronicsDevice
from .devices.sessy import SessyConfig, SessyDevice
from .devices.sonnen import SonnenConfig, SonnenDevice
from .devices.victron import (
    DEFAULT_BATTERY_UNIT_ID,
    DEFAULT_PORT as VICTRON_PORT,
    DEFAULT_VEBUS_UNIT_ID,
    VictronConfig,
    VictronDevice,
)

PORT_SELECTOR = selector.NumberSelector(
    selector.NumberSelectorConfig(min=1, max=65535, mode=selector.NumberSelectorMode.BOX)
)
UNIT_ID_SELECTOR = selector.NumberSelector(
    selector.NumberSelectorConfig(min=0, max=247, mode=selector.NumberSelectorMode.BOX)
)
TEXT = selector.TextSelector()
PASSWORD = selector.TextSelector(
    selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
)


@dataclass(frozen=True, kw_only=True)
class Family:
    """How to ask for one family's settings and build its device."""

    key: str
    title: str
    schema: vol.Schema
    create: Callable[[HomeAssistant, Mapping[str, Any]], BatteryDevice]
    credentials: tuple[str, ...] = ()  # the fields a reauth flow asks for again
    # Recognises the family's zeroconf announcement; the manifest must list the service type.
    zeroconf: Callable[[ZeroconfServiceInfo], Discovery | None] | None = None
    # Returns an abort reason while the family cannot be set up (e.g. MQTT is not configured).
    unavailable: Callable[[HomeAssistant], str | None] | None = None
    # Checks the form before connecting; returns the form's errors by field.
    validate: Callable[[Mapping[str, Any]], dict[str, str]] | None = None


@dataclass(frozen=True, kw_only=True)
class Discovery:
    """A device that announced itself: its unique id, if announced, and the fields it fills in."""

    unique_id: str | None
    name: str  # shown in the discovered flow's title
    data: dict[str, Any]


def _discovered_host(info: ZeroconfServiceInfo, default_port: int = 80) -> str:
    """Return the announced address as the `host` field: `ip`, `ip:port`, IPv6 in brackets."""
    host = str(info.ip_address)
    if info.ip_address.version == 6:
        host = f"[{host}]"
    return host if info.port in (None, default_port) else f"{host}:{info.port}"


def _victron(hass: HomeAssistant, data: Mapping[str, Any]) -> BatteryDevice:
    return VictronDevice(
        VictronConfig(
            host=data[CONF_HOST],
            port=int(data[CONF_PORT]),
            vebus_unit_id=int(data[CONF_VEBUS_UNIT_ID]),
            battery_unit_id=int(data[CONF_BATTERY_UNIT_ID]),
        )
    )


VICTRON = Family(
    key="victron",
    title="Victron GX",
    schema=vol.Schema(
        {
            vol.Required(CONF_HOST): TEXT,
            vol.Required(CONF_PORT, default=VICTRON_PORT): PORT_SELECTOR,
            vol.Required(CONF_VEBUS_UNIT_ID, default=DEFAULT_VEBUS_UNIT_ID): UNIT_ID_SELECTOR,
            vol.Required(CONF_BATTERY_UNIT_ID, default=DEFAULT_BATTERY_UNIT_ID): UNIT_ID_SELECTOR,
        }
    ),
    create=_victron,
)


def _sonnen(hass: HomeAssistant, data: Mapping[str, Any]) -> BatteryDevice:
    return SonnenDevice(
        async_get_clientsession(hass),
        SonnenConfig(host=data[CONF_HOST], api_token=data[CONF_API_TOKEN]),
    )


SONNEN = Family(
    key="sonnen",
    title="sonnenBatterie",
    schema=vol.Schema({vol.Required(CONF_HOST): TEXT, vol.Required(CONF_API_TOKEN): PASSWORD}),
    create=_sonnen,
    credentials=(CONF_API_TOKEN,),
)


def _sessy(hass: HomeAssistant, data: Mapping[str, Any]) -> BatteryDevice:
    return SessyDevice(
        async_get_clientsession(hass),
        SessyConfig(
            host=data[CONF_HOST], username=data[CONF_USERNAME], password=data[CONF_PASSWORD]
        ),
    )


def _sessy_discovery(info: ZeroconfServiceInfo) -> Discovery | None:
    """Sessy dongles announce `sessy-xxxx._http._tcp` with their serial (the username)."""
    if not info.name.lower().startswith("sessy-"):
        return None
    serial = str(info.properties.get("serial") or "").strip().upper()
    data = {CONF_HOST: _discovered_host(info)}
    if serial:
        data[CONF_USERNAME] = serial
    return Discovery(unique_id=serial or None, name=info.name.split(".")[0], data=data)


SESSY = Family(
    key="sessy",
    title="Sessy",
    schema=vol.Schema(
        {
            vol.Required(CONF_HOST): TEXT,
            vol.Required(CONF_USERNAME): TEXT,
            vol.Required(CONF_PASSWORD): PASSWORD,
        }
    ),
    create=_sessy,
    credentials=(CONF_USERNAME, CONF_PASSWORD),
    zeroconf=_sessy_discovery,
)


def _plasmatronics(hass: HomeAssistant, data: Mapping[str, Any]) -> BatteryDevice:
    return PlasmatronicsDevice(PlasmatronicsConfig(port=data[CONF_DEVICE]))


# A serial device path (/dev/serial/by-id/…) or a serial server URL (socket://host:port).
PLASMATRONICS = Family(
    key="plasmatronics",
    title="Plasmatronics",
    schema=vol.Schema({vol.Required(CONF_DEVICE): TEXT}),
    create=_plasmatronics,
)

MQTT = Family(
    key="mqtt",
    title="MQTT battery",
    schema=mqtt_family.SCHEMA,
    create=mqtt_family.create_device,
    unavailable=mqtt_family.mqtt_not_ready,
    validate=mqtt_family.validate,
)

# A BMS heard on the CAN bus to its inverter (monitoring only); the form is in can_family.py.
PYLONTECH_CAN = Family(
    key="pylontech_can",
    title="Pylontech BMS",
    schema=can_family.SCHEMA,
    create=can_family.create_device,
    validate=can_family.validate,
)

# Deye hybrids over Modbus TCP, or through a Solarman stick logger; forms in deye_family.py.
DEYE = Family(
    key="deye",
    title="Deye",
    schema=deye_family.MODBUS_SCHEMA,
    create=deye_family.create_device,
)
DEYE_SOLARMAN = Family(
    key="deye_solarman",
    title="Deye (Solarman)",
    schema=deye_family.SOLARMAN_SCHEMA,
    create=deye_family.create_device,
)

# Huawei SUN2000 with LUNA2000, SMA Sunny Island / Sunny Boy Storage (Modbus TCP); forms in
# huawei_family.py and sma_family.py.
HUAWEI = Family(
    key="huawei",
    title="Huawei SUN2000",
    schema=huawei_family.SCHEMA,
    create=huawei_family.create_device,
)
SMA = Family(key="sma", title="SMA", schema=sma_family.SCHEMA, create=sma_family.create_device)

FAMILIES: dict[str, Family] = {
    family.key: family
    for family in (
        VICTRON,
        SONNEN,
        SESSY,
        PLASMATRONICS,
        MQTT,
        PYLONTECH_CAN,
        DEYE,
        DEYE_SOLARMAN,
        HUAWEI,
        SMA,
    )
}
