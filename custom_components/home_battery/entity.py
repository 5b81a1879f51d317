"""The base entity every Home Battery entity derives from."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import HomeBatteryCoordinator
from .data import HomeBatteryData


class HomeBatteryEntity(CoordinatorEntity[HomeBatteryCoordinator]):
    """An entity of one battery, described by its description (keyed by a common-model key).

    The battery's device is registered once, when the entry is set up (`__init__.py`); an entity
    only names it.
    """

    _attr_has_entity_name = True

    def __init__(self, data: HomeBatteryData, description: EntityDescription) -> None:
        """Bind the description and the battery's runtime data."""
        super().__init__(data.coordinator)
        self.data = data
        self.entity_description = description
        serial = data.coordinator.identity.serial_number
        self._attr_unique_id = f"{serial}_{description.key}"
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, serial)})
