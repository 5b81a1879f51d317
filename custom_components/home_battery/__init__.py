"""The Home Battery integration: home batteries of many brands through one model."""

from __future__ import annotations

from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .alarms import AlarmMonitor
from .compat import OPTIONS_FLOW_RELOADS
from .const import CONF_FAMILY, DOMAIN
from .control import async_remove_control_record
from .coordinator import HomeBatteryCoordinator
from .data import HomeBatteryConfigEntry, HomeBatteryData
from .families import FAMILIES
from .frontend import async_register_frontend
from .planning.follower import ScheduleFollower
from .registry import async_register_battery
from .services import async_setup_services

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS = [
    Platform.BINARY_SENSOR,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the planning action and serve the plan card."""
    async_setup_services(hass)
    await async_register_frontend(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: HomeBatteryConfigEntry) -> bool:
    """Connect to the battery, register it, and set up its entities, plan and alarms."""
    device = FAMILIES[entry.data[CONF_FAMILY]].create(hass, entry.data)
    coordinator = HomeBatteryCoordinator(hass, entry, device)
    try:
        await coordinator.async_config_entry_first_refresh()
    except Exception:
        # Setup is retried with a new device: this one must not keep its link (a serial port
        # or CAN bus read by two listeners splits the data between them).
        await device.close()
        raise
    registered = async_register_battery(hass, entry, coordinator.identity)
    follower = ScheduleFollower(coordinator)
    alarms = AlarmMonitor(hass, coordinator, registered.id)
    entry.runtime_data = HomeBatteryData(coordinator=coordinator, follower=follower, alarms=alarms)
    # Evaluated before the entities subscribe, so they read this poll's alarms.
    entry.async_on_unload(alarms.start())

    async def _release_on_stop(_event: Event) -> None:
        follower.async_stop()
        await coordinator.async_release("Home Assistant is stopping")
        # Entries are not unloaded at stop: close links that run their own reader thread.
        await device.close()

    entry.async_on_unload(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _release_on_stop))
    if not OPTIONS_FLOW_RELOADS:  # newer Home Assistant reloads after the options flow itself
        entry.async_on_unload(entry.add_update_listener(_async_reload))
    # Stopped before the coordinator's shutdown (registered earlier, run later) releases control.
    entry.async_on_unload(follower.async_stop)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    await follower.async_start()
    return True


async def _async_reload(hass: HomeAssistant, entry: HomeBatteryConfigEntry) -> None:
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: HomeBatteryConfigEntry) -> bool:
    """Unload the entities, return the battery to auto and close the connection."""
    # The coordinator's shutdown (registered with the entry) releases control and disconnects.
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: HomeBatteryConfigEntry) -> None:
    """Forget what the battery's control stored (the entry is deleted)."""
    await async_remove_control_record(hass, entry.entry_id)
