"""Number entities: the power setpoint and the state-of-charge limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfPower
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import HomeBatteryConfigEntry, HomeBatteryCoordinator
from .devices.model import Capabilities, Key
from .entity import HomeBatteryEntity

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class HomeBatteryNumberEntityDescription(NumberEntityDescription):
    """A settable number: whether the device offers it, and how to set it."""

    exists_fn: Callable[[Capabilities], bool]
    set_fn: Callable[[HomeBatteryCoordinator, float], Awaitable[None]]


def _soc_limit(
    key: str, exists_fn: Callable[[Capabilities], bool]
) -> HomeBatteryNumberEntityDescription:
    async def set_limit(coordinator: HomeBatteryCoordinator, value: float) -> None:
        await coordinator.async_set_state_of_charge_limit(key, value)

    return HomeBatteryNumberEntityDescription(
        key=key,
        translation_key=key,
        device_class=NumberDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        native_min_value=0,
        native_max_value=100,
        native_step=1,
        mode=NumberMode.SLIDER,
        entity_category=EntityCategory.CONFIG,
        exists_fn=exists_fn,
        set_fn=set_limit,
    )


NUMBERS: tuple[HomeBatteryNumberEntityDescription, ...] = (
    HomeBatteryNumberEntityDescription(
        key=Key.POWER_SETPOINT,
        translation_key=Key.POWER_SETPOINT,
        device_class=NumberDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        native_step=10,
        mode=NumberMode.BOX,
        exists_fn=lambda caps: caps.power_setpoint,
        set_fn=lambda coordinator, value: coordinator.async_set_power_setpoint(value),
    ),
    _soc_limit(Key.MIN_STATE_OF_CHARGE, lambda caps: caps.min_state_of_charge),
    _soc_limit(Key.MAX_STATE_OF_CHARGE, lambda caps: caps.max_state_of_charge),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeBatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the numbers the battery can take."""
    coordinator = entry.runtime_data
    caps = coordinator.device.capabilities
    async_add_entities(HomeBatteryNumber(coordinator, d) for d in NUMBERS if d.exists_fn(caps))


class HomeBatteryNumber(HomeBatteryEntity, NumberEntity):
    """A number written to the device through the coordinator's guarded control."""

    entity_description: HomeBatteryNumberEntityDescription

    def __init__(
        self, coordinator: HomeBatteryCoordinator, description: HomeBatteryNumberEntityDescription
    ) -> None:
        """Bind the description."""
        super().__init__(coordinator, description.key)
        self.entity_description = description

    @property
    def native_min_value(self) -> float:
        """Return the lower bound: the device's max charge power for the setpoint."""
        if self.entity_description.key == Key.POWER_SETPOINT:
            return self.coordinator.device.power_limits()[0]
        return super().native_min_value

    @property
    def native_max_value(self) -> float:
        """Return the upper bound: the device's max discharge power for the setpoint."""
        if self.entity_description.key == Key.POWER_SETPOINT:
            return self.coordinator.device.power_limits()[1]
        return super().native_max_value

    @property
    def native_value(self) -> float | None:
        """Return the value the device reports (the setpoint: None while in auto)."""
        value = self.coordinator.data.get(self.entity_description.key)
        return float(value) if isinstance(value, (int, float)) else None

    async def async_set_native_value(self, value: float) -> None:
        """Write the value; out-of-range values are refused before anything is sent."""
        await self.entity_description.set_fn(self.coordinator, value)
