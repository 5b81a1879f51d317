"""The `schedule_control` switch: let the planned schedule drive the battery."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import STATE_ON, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .coordinator import HomeBatteryConfigEntry, HomeBatteryCoordinator
from .entity import HomeBatteryEntity

PARALLEL_UPDATES = 1

SCHEDULE_CONTROL = SwitchEntityDescription(
    key="schedule_control",
    translation_key="schedule_control",
    entity_category=EntityCategory.CONFIG,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeBatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the switch to batteries that take a power setpoint."""
    coordinator = entry.runtime_data
    if coordinator.device.capabilities.power_setpoint:
        async_add_entities([ScheduleControlSwitch(coordinator)])


class ScheduleControlSwitch(HomeBatteryEntity, SwitchEntity, RestoreEntity):
    """On: the battery follows the plan; off: it is back in auto. Kept across restarts."""

    entity_description = SCHEDULE_CONTROL

    def __init__(self, coordinator: HomeBatteryCoordinator) -> None:
        """Bind to the battery's schedule follower."""
        super().__init__(coordinator, SCHEDULE_CONTROL.key)

    async def async_added_to_hass(self) -> None:
        """Resume following the plan if it was on before a restart."""
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        if last is not None and last.state == STATE_ON and self.coordinator.schedule.configured:
            await self.coordinator.schedule.async_enable()

    @property
    def is_on(self) -> bool:
        """Return True while the plan drives the battery."""
        return self.coordinator.schedule.enabled

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Follow the plan, from the current slot."""
        await self.coordinator.schedule.async_enable()
        self.async_write_ha_state()

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Stop following the plan; the battery returns to auto."""
        await self.coordinator.schedule.async_disable()
        self.async_write_ha_state()
