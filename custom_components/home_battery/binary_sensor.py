"""Alarm binary sensors: the device's protection and alarm flags."""

from __future__ import annotations

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import HomeBatteryConfigEntry, HomeBatteryCoordinator
from .devices.model import ALARM_KEYS, Key
from .entity import HomeBatteryEntity

PARALLEL_UPDATES = 0

BINARY_SENSORS: tuple[BinarySensorEntityDescription, ...] = tuple(
    BinarySensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=BinarySensorDeviceClass.PROBLEM,
        # The summary alarm is the one to watch; the individual flags are diagnostics.
        entity_category=None if key == Key.ALARM else EntityCategory.DIAGNOSTIC,
    )
    for key in ALARM_KEYS
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeBatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a binary sensor for every alarm flag the battery reports."""
    coordinator = entry.runtime_data
    async_add_entities(
        HomeBatteryBinarySensor(coordinator, d) for d in BINARY_SENSORS if d.key in coordinator.data
    )


class HomeBatteryBinarySensor(HomeBatteryEntity, BinarySensorEntity):
    """One alarm flag."""

    def __init__(
        self, coordinator: HomeBatteryCoordinator, description: BinarySensorEntityDescription
    ) -> None:
        """Bind the description."""
        super().__init__(coordinator, description.key)
        self.entity_description = description

    @property
    def is_on(self) -> bool | None:
        """Return True while the alarm is raised."""
        value = self.coordinator.data.get(self.entity_description.key)
        return value if isinstance(value, bool) else None
