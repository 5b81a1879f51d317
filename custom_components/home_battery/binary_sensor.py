"""Binary sensors: the device's protection and alarm flags, and its status flags."""

from __future__ import annotations

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .alarms import HEAVY_LOAD, LOW_STATE_OF_CHARGE, UNREACHABLE, AlarmMonitor
from .coordinator import HomeBatteryConfigEntry, HomeBatteryCoordinator
from .devices.model import ALARM_KEYS, STATUS_KEYS, Key
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
) + tuple(
    BinarySensorEntityDescription(
        key=key, translation_key=key, entity_category=EntityCategory.DIAGNOSTIC
    )
    for key in STATUS_KEYS
)

# Alarms computed from the state (alarms.py): each fires `home_battery_alarm` when it turns on.
COMPUTED_ALARMS: tuple[BinarySensorEntityDescription, ...] = (
    BinarySensorEntityDescription(
        key=LOW_STATE_OF_CHARGE,
        translation_key=LOW_STATE_OF_CHARGE,
        device_class=BinarySensorDeviceClass.BATTERY,
    ),
    BinarySensorEntityDescription(
        key=HEAVY_LOAD, translation_key=HEAVY_LOAD, device_class=BinarySensorDeviceClass.PROBLEM
    ),
    BinarySensorEntityDescription(
        key=UNREACHABLE, translation_key=UNREACHABLE, device_class=BinarySensorDeviceClass.PROBLEM
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeBatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a binary sensor for every flag the battery reports, and the computed alarms."""
    coordinator = entry.runtime_data
    # Started before the entities subscribe, so they read this poll's evaluation.
    monitor = AlarmMonitor(hass, coordinator)
    entry.async_on_unload(monitor.start())
    async_add_entities(
        HomeBatteryBinarySensor(coordinator, d) for d in BINARY_SENSORS if d.key in coordinator.data
    )
    async_add_entities(
        HomeBatteryAlarmSensor(coordinator, monitor, d)
        for d in COMPUTED_ALARMS
        if d.key in monitor.kinds
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


class HomeBatteryAlarmSensor(HomeBatteryBinarySensor):
    """An alarm computed from the state: low state of charge, heavy load, unreachable."""

    def __init__(
        self,
        coordinator: HomeBatteryCoordinator,
        monitor: AlarmMonitor,
        description: BinarySensorEntityDescription,
    ) -> None:
        """Bind the monitor that evaluates the alarm."""
        super().__init__(coordinator, description)
        self._monitor = monitor

    @property
    def available(self) -> bool:
        """Return True for `unreachable`: it must stay available to say the battery is not."""
        return self.entity_description.key == UNREACHABLE or super().available

    @property
    def is_on(self) -> bool:
        """Return True while the alarm is on."""
        return self._monitor.alarm(self.entity_description.key) is not None
