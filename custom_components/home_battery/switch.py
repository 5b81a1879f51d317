"""The `schedule_control` switch: let the planned schedule drive the battery."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import STATE_ON, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .data import HomeBatteryConfigEntry, HomeBatteryData
from .entity import HomeBatteryEntity

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class HomeBatterySwitchEntityDescription(SwitchEntityDescription):
    """A switch: whether the battery has it, its state, and how to turn it on and off.

    `resume_fn` decides whether an "on" from before a restart is resumed.
    """

    exists_fn: Callable[[HomeBatteryData], bool]
    is_on_fn: Callable[[HomeBatteryData], bool]
    turn_on_fn: Callable[[HomeBatteryData], Awaitable[None]]
    turn_off_fn: Callable[[HomeBatteryData], Awaitable[None]]
    resume_fn: Callable[[HomeBatteryData], bool] = lambda _: True


SWITCHES: tuple[HomeBatterySwitchEntityDescription, ...] = (
    # On: the battery follows the plan; off: it is back in auto. Kept across restarts.
    HomeBatterySwitchEntityDescription(
        key="schedule_control",
        translation_key="schedule_control",
        entity_category=EntityCategory.CONFIG,
        exists_fn=lambda data: data.coordinator.device.capabilities.power_setpoint,
        is_on_fn=lambda data: data.follower.enabled,
        turn_on_fn=lambda data: data.follower.async_enable(),
        turn_off_fn=lambda data: data.follower.async_disable(),
        resume_fn=lambda data: data.follower.configured,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeBatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the switches the battery can have."""
    data = entry.runtime_data
    async_add_entities(HomeBatterySwitch(data, d) for d in SWITCHES if d.exists_fn(data))


class HomeBatterySwitch(HomeBatteryEntity, SwitchEntity, RestoreEntity):
    """A switch of the battery, as its description says; resumed after a restart."""

    entity_description: HomeBatterySwitchEntityDescription

    async def async_added_to_hass(self) -> None:
        """Turn on again if it was on before a restart."""
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        if (
            last is not None
            and last.state == STATE_ON
            and self.entity_description.resume_fn(self.data)
        ):
            await self.entity_description.turn_on_fn(self.data)

    @property
    def is_on(self) -> bool:
        """Return the switch's state."""
        return self.entity_description.is_on_fn(self.data)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Turn on."""
        await self.entity_description.turn_on_fn(self.data)
        self.async_write_ha_state()

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Turn off."""
        await self.entity_description.turn_off_fn(self.data)
        self.async_write_ha_state()
