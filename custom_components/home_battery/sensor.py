"""Sensors of the common battery model: one per key the device reports, and the plan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
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

from .data import HomeBatteryConfigEntry, HomeBatteryData
from .devices.model import Key, OperatingState
from .entity import HomeBatteryEntity
from .planning.follower import slot_action

PARALLEL_UPDATES = 0


def _reported(key: str) -> Callable[[HomeBatteryData], StateType]:
    """Return the value the device reported for `key`; None (unknown) when it did not."""

    def value(data: HomeBatteryData) -> StateType:
        reported = data.coordinator.data.get(key)
        return reported if isinstance(reported, (int, float, str)) else None

    return value


def _in_first_poll(key: str) -> Callable[[HomeBatteryData], bool]:
    """Return whether the device reported `key` in its first poll."""
    return lambda data: key in data.coordinator.data


@dataclass(frozen=True, kw_only=True)
class HomeBatterySensorEntityDescription(SensorEntityDescription):
    """A sensor: whether the battery has it, its value, and what it keeps across restarts."""

    exists_fn: Callable[[HomeBatteryData], bool]
    value_fn: Callable[[HomeBatteryData], StateType]
    attributes_fn: Callable[[HomeBatteryData], dict[str, Any] | None] = lambda _: None
    # Continues a counter from the value recorded before a restart.
    restore_fn: Callable[[HomeBatteryData, float], None] | None = None


def _measurement(
    key: str,
    device_class: SensorDeviceClass | None,
    unit: str,
    *,
    diagnostic: bool = False,
    precision: int | None = None,
) -> HomeBatterySensorEntityDescription:
    return HomeBatterySensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=device_class,
        native_unit_of_measurement=unit,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC if diagnostic else None,
        suggested_display_precision=precision,
        exists_fn=_in_first_poll(key),
        value_fn=_reported(key),
    )


def _counter(
    key: str,
    *,
    exists_fn: Callable[[HomeBatteryData], bool] | None = None,
    value_fn: Callable[[HomeBatteryData], StateType] | None = None,
    restore_fn: Callable[[HomeBatteryData, float], None] | None = None,
) -> HomeBatterySensorEntityDescription:
    return HomeBatterySensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        exists_fn=exists_fn or _in_first_poll(key),
        value_fn=value_fn or _reported(key),
        restore_fn=restore_fn,
    )


def _battery_counter(key: str, *, charged: bool) -> HomeBatterySensorEntityDescription:
    """Describe the energy into or out of the battery.

    From the device's counter, or integrated from its power (the live integrator, so that a
    value restored after a restart shows at once).
    """

    def value(data: HomeBatteryData) -> StateType:
        energy = data.coordinator.energy
        if energy is None:
            return _reported(key)(data)
        return round(energy.charged_kwh if charged else energy.discharged_kwh, 4)

    def restore(data: HomeBatteryData, kwh: float) -> None:
        if (energy := data.coordinator.energy) is not None:
            energy.restore(
                charged_kwh=kwh if charged else None, discharged_kwh=None if charged else kwh
            )

    return _counter(key, value_fn=value, restore_fn=restore)


POWER, W = SensorDeviceClass.POWER, UnitOfPower.WATT
VOLTAGE, V = SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.VOLT
CURRENT, A = SensorDeviceClass.CURRENT, UnitOfElectricCurrent.AMPERE


def _schedule_attributes(data: HomeBatteryData) -> dict[str, Any] | None:
    """Return the plan as the compute_schedule action returns it, and when it was made."""
    follower = data.follower
    if follower.plan is None:
        return {"error": follower.error} if follower.error else None
    attributes = follower.plan.to_dict()
    attributes["updated"] = follower.updated.isoformat() if follower.updated else None
    attributes["error"] = follower.error
    return attributes


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
    _battery_counter(Key.ENERGY_CHARGED, charged=True),
    _battery_counter(Key.ENERGY_DISCHARGED, charged=False),
    _counter(Key.GRID_ENERGY_IMPORTED),
    _counter(Key.GRID_ENERGY_EXPORTED),
    HomeBatterySensorEntityDescription(
        key=Key.OPERATING_STATE,
        translation_key=Key.OPERATING_STATE,
        device_class=SensorDeviceClass.ENUM,
        options=[state.value for state in OperatingState],
        exists_fn=_in_first_poll(Key.OPERATING_STATE),
        value_fn=_reported(Key.OPERATING_STATE),
    ),
    # The current slot's action; the whole plan in the attributes, for dashboards.
    HomeBatterySensorEntityDescription(
        key="schedule",
        translation_key="schedule",
        device_class=SensorDeviceClass.ENUM,
        options=["charge", "discharge", "idle"],
        exists_fn=lambda data: data.coordinator.device.capabilities.power_setpoint,
        value_fn=lambda data: slot_action(data.follower.current_slot()),
        attributes_fn=_schedule_attributes,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeBatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a sensor for every key the battery reported in its first poll, and the plan."""
    data = entry.runtime_data
    async_add_entities(HomeBatterySensor(data, d) for d in SENSORS if d.exists_fn(data))


class HomeBatterySensor(HomeBatteryEntity, RestoreSensor):
    """A sensor of the battery, as its description says."""

    entity_description: HomeBatterySensorEntityDescription
    # The plan can hold hundreds of slots: keep it out of the recorder's database.
    _unrecorded_attributes = frozenset({"slots"})

    async def async_added_to_hass(self) -> None:
        """Continue a counter from its last recorded value before the first state is written."""
        restore = self.entity_description.restore_fn
        if (
            restore is not None
            and (last := await self.async_get_last_sensor_data()) is not None
            and isinstance(last.native_value, (int, float))
        ):
            restore(self.data, float(last.native_value))
        await super().async_added_to_hass()

    @property
    def native_value(self) -> StateType:
        """Return the value."""
        return self.entity_description.value_fn(self.data)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the attributes (the plan, for the schedule sensor)."""
        return self.entity_description.attributes_fn(self.data)
