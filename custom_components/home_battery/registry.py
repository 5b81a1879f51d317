"""The battery's device in Home Assistant's registries: registered once, followed when it moves.

Some families identified a device by its address before they could read something stable from
it (Plasmatronics regulators by their port, sonnen batteries by their host). When an entry made
back then connects and the device now gives a stable identity, the entry, its device and its
entities move to it: the user keeps their entities, their history and their automations.
"""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .const import DOMAIN, LOGGER
from .devices.model import DeviceIdentity


def async_register_battery(
    hass: HomeAssistant, entry: ConfigEntry, identity: DeviceIdentity
) -> dr.DeviceEntry:
    """Register the battery's device (its entities only name it), after following a move."""
    _async_follow_identity(hass, entry, identity.serial_number)
    return dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, identity.serial_number)},
        manufacturer=identity.manufacturer,
        model=identity.model,
        serial_number=identity.serial_number,
        sw_version=identity.sw_version,
        name=entry.title,
    )


def _async_follow_identity(hass: HomeAssistant, entry: ConfigEntry, serial: str) -> None:
    old = entry.unique_id
    if old is None or old == serial:
        return
    if hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, serial) is not None:
        LOGGER.warning(
            "%s now identifies as a device that another entry already has; it keeps its old id",
            entry.title,
        )
        return
    entities = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(entities, entry.entry_id):
        if entity.unique_id.startswith(f"{old}_"):
            entities.async_update_entity(
                entity.entity_id, new_unique_id=serial + entity.unique_id.removeprefix(old)
            )
    devices = dr.async_get(hass)
    for device in dr.async_entries_for_config_entry(devices, entry.entry_id):
        if (DOMAIN, old) in device.identifiers:
            devices.async_update_device(
                device.id, new_identifiers={(DOMAIN, serial)}, serial_number=serial
            )
    hass.config_entries.async_update_entry(entry, unique_id=serial)
    LOGGER.info("%s: identified by its own data now, not by its address", entry.title)
