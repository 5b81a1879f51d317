"""Binary sensors: the device's alarm and status flags, and the alarms computed from its state.

The computed ones are low state of charge, heavy load and unreachable (alarms.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .alarms import HEAVY_LOAD, LOW_STATE_OF_CHARGE, UNREACHABLE
from .data import HomeBatteryConfigEntry, HomeBatteryData
from .devices.model import ALARM_KEYS, STATUS_KEYS, Key
from .entity import HomeBatteryEntity

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class HomeBatteryBinarySensorEntityDescription(BinarySensorEntityDescription):
    """A binary sensor: whether the battery has it, its state, and when it is available."""

    exists_fn: Callable[[HomeBatteryData], bool]
    is_on_fn: Callable[[HomeBatteryData], bool | None]
    # Overrides the coordinator's availability (`unreachable` must stay available).
    available_fn: Callable[[HomeBatteryData], bool] | None = None


def _flag(key: str, *, problem: bool) -> HomeBatteryBinarySensorEntityDescription:
    """Describe a flag the device reports as a boolean; the summary alarm is the one to watch."""

    def is_on(data: HomeBatteryData) -> bool | None:
        value = data.coordinator.data.get(key)
        return value if isinstance(value, bool) else None

    return HomeBatteryBinarySensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=BinarySensorDeviceClass.PROBLEM if problem else None,
        entity_category=None if key == Key.ALARM else EntityCategory.DIAGNOSTIC,
        exists_fn=lambda data: key in data.coordinator.data,
        is_on_fn=is_on,
    )


def _computed(
    kind: str, device_class: BinarySensorDeviceClass, *, always_available: bool = False
) -> HomeBatteryBinarySensorEntityDescription:
    """Describe an alarm computed from the state; it fires `home_battery_alarm` when on."""
    return HomeBatteryBinarySensorEntityDescription(
        key=kind,
        translation_key=kind,
        device_class=device_class,
        exists_fn=lambda data: kind in data.alarms.kinds,
        is_on_fn=lambda data: data.alarms.alarm(kind) is not None,
        available_fn=(lambda _: True) if always_available else None,
    )


BINARY_SENSORS: tuple[HomeBatteryBinarySensorEntityDescription, ...] = (
    *(_flag(key, problem=True) for key in ALARM_KEYS),
    *(_flag(key, problem=False) for key in STATUS_KEYS),
    _computed(LOW_STATE_OF_CHARGE, BinarySensorDeviceClass.BATTERY),
    _computed(HEAVY_LOAD, BinarySensorDeviceClass.PROBLEM),
    _computed(UNREACHABLE, BinarySensorDeviceClass.PROBLEM, always_available=True),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeBatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a binary sensor for every flag the battery reports, and the computed alarms."""
    data = entry.runtime_data
    async_add_entities(
        HomeBatteryBinarySensor(data, d) for d in BINARY_SENSORS if d.exists_fn(data)
    )


class HomeBatteryBinarySensor(HomeBatteryEntity, BinarySensorEntity):
    """A binary sensor of the battery, as its description says."""

    entity_description: HomeBatteryBinarySensorEntityDescription

    @property
    def available(self) -> bool:
        """Return whether the state is known (the coordinator's view, unless overridden)."""
        if (available_fn := self.entity_description.available_fn) is not None:
            return available_fn(self.data)
        return super().available

    @property
    def is_on(self) -> bool | None:
        """Return the state."""
        return self.entity_description.is_on_fn(self.data)
