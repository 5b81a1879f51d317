"""The base entity every Home Battery entity derives from."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import HomeBatteryCoordinator


class HomeBatteryEntity(CoordinatorEntity[HomeBatteryCoordinator]):
    """An entity of one battery, keyed by a common-model key."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: HomeBatteryCoordinator, key: str) -> None:
        """Name the entity by its key and attach it to the battery's device."""
        super().__init__(coordinator)
        identity = coordinator.identity
        self._attr_translation_key = key
        self._attr_unique_id = f"{identity.serial_number}_{key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, identity.serial_number)},
            manufacturer=identity.manufacturer,
            model=identity.model,
            serial_number=identity.serial_number,
            sw_version=identity.sw_version,
            name=coordinator.config_entry.title,
        )
