"""Sensors of the common battery model: one per key the device reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfTemperature,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .coordinator import INTEGRATED_COUNTERS, HomeBatteryConfigEntry, HomeBatteryCoordinator
from .devices.model import Key, OperatingState
from .entity import HomeBatteryEntity
from .schedule_control import slot_action

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class HomeBatterySensorEntityDescription(SensorEntityDescription):
    """A sensor of one common-model key; its value is the key's value in the state."""


def _measurement(
    key: str,
    device_class: SensorDeviceClass | None,
    unit: str,
    *,
    diagnostic: bool = False,
    enabled: bool = True,
    precision: int | None = None,
) -> HomeBatterySensorEntityDescription:
    return HomeBatterySensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=device_class,
        native_unit_of_measurement=unit,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC if diagnostic else None,
        entity_registry_enabled_default=enabled,
        suggested_display_precision=precision,
    )


def _energy(key: str) -> HomeBatterySensorEntityDescription:
    return HomeBatterySensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
    )


POWER, W = SensorDeviceClass.POWER, UnitOfPower.WATT
VOLTAGE, V = SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.VOLT
CURRENT, A = SensorDeviceClass.CURRENT, UnitOfElectricCurrent.AMPERE

SENSORS: tuple[HomeBatterySensorEntityDescription, ...] = (
    _measurement(Key.STATE_OF_CHARGE, SensorDeviceClass.BATTERY, PERCENTAGE, precision=1),
    _measurement(Key.STATE_OF_HEALTH, None, PERCENTAGE, diagnostic=True, precision=0),
    _measurement(Key.BATTERY_POWER, POWER, W, precision=0),
    _measurement(Key.BATTERY_VOLTAGE, VOLTAGE, V, precision=2),
    _measurement(Key.BATTERY_CURRENT, CURRENT, A, precision=1),
    _measurement(
        Key.BATTERY_TEMPERATURE,
        SensorDeviceClass.TEMPERATURE,
        UnitOfTemperature.CELSIUS,
        precision=1,
    ),
    _measurement(Key.GRID_POWER, POWER, W, precision=0),
    _measurement(Key.PV_POWER, POWER, W, precision=0),
    _measurement(Key.LOAD_POWER, POWER, W, precision=0),
    _measurement(Key.CHARGE_VOLTAGE_LIMIT, VOLTAGE, V, diagnostic=True, precision=1),
    _measurement(Key.CHARGE_CURRENT_LIMIT, CURRENT, A, diagnostic=True, precision=1),
    _measurement(Key.DISCHARGE_CURRENT_LIMIT, CURRENT, A, diagnostic=True, precision=1),
    _measurement(Key.MAX_CHARGE_POWER, POWER, W, diagnostic=True, precision=0),
    _measurement(Key.MAX_DISCHARGE_POWER, POWER, W, diagnostic=True, precision=0),
    _measurement(
        Key.STORED_ENERGY,
        SensorDeviceClass.ENERGY_STORAGE,
        UnitOfEnergy.KILO_WATT_HOUR,
        precision=2,
    ),
    _measurement(
        Key.CAPACITY,
        SensorDeviceClass.ENERGY_STORAGE,
        UnitOfEnergy.KILO_WATT_HOUR,
        diagnostic=True,
        precision=1,
    ),
    _energy(Key.ENERGY_CHARGED),
    _energy(Key.ENERGY_DISCHARGED),
    _energy(Key.GRID_ENERGY_IMPORTED),
    _energy(Key.GRID_ENERGY_EXPORTED),
    HomeBatterySensorEntityDescription(
        key=Key.OPERATING_STATE,
        translation_key=Key.OPERATING_STATE,
        device_class=SensorDeviceClass.ENUM,
        options=[state.value for state in OperatingState],
    ),
)


SCHEDULE = SensorEntityDescription(
    key="schedule",
    translation_key="schedule",
    device_class=SensorDeviceClass.ENUM,
    options=["charge", "discharge", "idle"],
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeBatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a sensor for every key the battery reported in its first poll, and the plan."""
    coordinator = entry.runtime_data
    if coordinator.device.capabilities.power_setpoint:
        async_add_entities([HomeBatteryScheduleSensor(coordinator)])
    async_add_entities(
        (
            HomeBatteryEnergySensor
            if d.key in INTEGRATED_COUNTERS and coordinator.energy
            else HomeBatterySensor
        )(coordinator, d)
        for d in SENSORS
        if d.key in coordinator.data
    )


class HomeBatterySensor(HomeBatteryEntity, SensorEntity):
    """A sensor showing one key of the battery's state."""

    entity_description: HomeBatterySensorEntityDescription

    def __init__(
        self, coordinator: HomeBatteryCoordinator, description: HomeBatterySensorEntityDescription
    ) -> None:
        """Bind the description."""
        super().__init__(coordinator, description.key)
        self.entity_description = description

    @property
    def native_value(self) -> StateType:
        """Return the key's value; None (unknown) when the device did not report it."""
        value = self.coordinator.data.get(self.entity_description.key)
        return value if isinstance(value, (int, float, str)) else None


class HomeBatteryEnergySensor(HomeBatterySensor, RestoreSensor):
    """A lifetime energy counter integrated from battery power, restored across restarts."""

    async def async_added_to_hass(self) -> None:
        """Continue from the last recorded value before the first state is written."""
        if (last := await self.async_get_last_sensor_data()) is not None and isinstance(
            last.native_value, (int, float)
        ):
            assert self.coordinator.energy is not None
            restored = float(last.native_value)
            if self.entity_description.key == Key.ENERGY_CHARGED:
                self.coordinator.energy.restore(charged_kwh=restored, discharged_kwh=None)
            else:
                self.coordinator.energy.restore(charged_kwh=None, discharged_kwh=restored)
        await super().async_added_to_hass()

    @property
    def native_value(self) -> StateType:
        """Return the live counter, so a restored value is shown at once."""
        energy = self.coordinator.energy
        assert energy is not None
        counter = (
            energy.charged_kwh
            if self.entity_description.key == Key.ENERGY_CHARGED
            else energy.discharged_kwh
        )
        return round(counter, 4)


class HomeBatteryScheduleSensor(HomeBatteryEntity, SensorEntity):
    """The current slot's action; the whole plan in its attributes, for dashboards."""

    entity_description = SCHEDULE
    # The plan can hold hundreds of slots: keep it out of the recorder's database.
    _unrecorded_attributes = frozenset({"slots"})

    def __init__(self, coordinator: HomeBatteryCoordinator) -> None:
        """Show the battery's schedule follower."""
        super().__init__(coordinator, SCHEDULE.key)

    @property
    def native_value(self) -> str | None:
        """Return charge, discharge or idle for the current slot; unknown without a plan."""
        return slot_action(self.coordinator.schedule.current_slot())

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the plan as the compute_schedule action does, and when it was made."""
        follower = self.coordinator.schedule
        if follower.plan is None:
            return {"error": follower.error} if follower.error else None
        attributes = follower.plan.to_dict()
        attributes["updated"] = follower.updated.isoformat() if follower.updated else None
        attributes["error"] = follower.error
        return attributes
