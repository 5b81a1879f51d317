"""The operating mode select."""

from __future__ import annotations

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import HomeBatteryConfigEntry, HomeBatteryCoordinator
from .devices.model import Key
from .entity import HomeBatteryEntity

PARALLEL_UPDATES = 1

OPERATING_MODE = SelectEntityDescription(key=Key.OPERATING_MODE, translation_key=Key.OPERATING_MODE)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeBatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the mode select for batteries that have modes."""
    coordinator = entry.runtime_data
    if coordinator.device.capabilities.modes:
        async_add_entities([HomeBatteryModeSelect(coordinator)])


class HomeBatteryModeSelect(HomeBatteryEntity, SelectEntity):
    """`auto` (the device's own self-consumption), `manual` (follow the setpoint), and more."""

    entity_description = OPERATING_MODE

    def __init__(self, coordinator: HomeBatteryCoordinator) -> None:
        """Offer the device's modes."""
        super().__init__(coordinator, Key.OPERATING_MODE)
        self._attr_options = list(coordinator.device.capabilities.modes)

    @property
    def current_option(self) -> str | None:
        """Return the mode the device reports, or the one this integration set."""
        mode = self.coordinator.data.get(Key.OPERATING_MODE, self.coordinator.device.mode)
        return mode if isinstance(mode, str) and mode in self.options else None

    async def async_select_option(self, option: str) -> None:
        """Switch the mode."""
        await self.coordinator.async_set_mode(option)
