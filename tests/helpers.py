"""Helpers the Home Assistant tests share: states, polls, and the control services."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.components.select import ATTR_OPTION, SERVICE_SELECT_OPTION
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.home_battery.const import DOMAIN

# The default poll interval is 10 s: moving time on by this fires the next poll.
NEXT_POLL = 11.0


def entity_state(hass: HomeAssistant, entity_id: str) -> str:
    """Return an entity's state; the entity must exist."""
    current = hass.states.get(entity_id)
    assert current is not None, entity_id
    return current.state


async def poll(hass: HomeAssistant, seconds: float = NEXT_POLL) -> None:
    """Move Home Assistant's time on by `seconds` and let what became due run (polls, control
    refreshes, re-plans), background tasks included."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done(wait_background_tasks=True)


async def eventually(check: Callable[[], Any], seconds: float = 2.0) -> bool:
    """Return whether `check` holds within `seconds` of real time: a command sent through a
    broker (MQTT) reaches the battery only after the service call has returned."""
    for _ in range(int(seconds / 0.02)):
        if check():
            return True
        await asyncio.sleep(0.02)
    return bool(check())


async def set_number(hass: HomeAssistant, entity_id: str, value: float) -> None:
    """Set a number entity (a power setpoint, a state-of-charge limit) through its service."""
    await hass.services.async_call(
        "number", SERVICE_SET_VALUE, {ATTR_ENTITY_ID: entity_id, ATTR_VALUE: value}, blocking=True
    )


async def select_option(hass: HomeAssistant, entity_id: str, option: str) -> None:
    """Choose an option of a select entity (the operating mode) through its service."""
    await hass.services.async_call(
        "select",
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: entity_id, ATTR_OPTION: option},
        blocking=True,
    )


async def set_up_entry(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add ``entry`` to Home Assistant and set it up; the set-up must succeed."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def battery_device(hass: HomeAssistant, identifier: str) -> dr.DeviceEntry | None:
    """Return the integration's device with `identifier`, None when there is none.

    (`DeviceRegistry.async_get_device` is deprecated on current Home Assistant;
    `async_entries_for_config_entry` is in every version.)
    """
    registry = dr.async_get(hass)
    for entry in hass.config_entries.async_entries(DOMAIN):
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
            if (DOMAIN, identifier) in device.identifiers:
                return device
    return None
