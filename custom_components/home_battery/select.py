"""The operating mode select."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .data import HomeBatteryConfigEntry, HomeBatteryData
from .devices.model import Key
from .entity import HomeBatteryEntity

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class HomeBatterySelectEntityDescription(SelectEntityDescription):
    """A select: its options on this battery, the current one, and how to choose one."""

    options_fn: Callable[[HomeBatteryData], list[str]]
    current_fn: Callable[[HomeBatteryData], str | None]
    select_fn: Callable[[HomeBatteryData, str], Awaitable[None]]


def _current_mode(data: HomeBatteryData) -> str | None:
    """Return the mode the device reports, or the one this integration set."""
    mode = data.coordinator.data.get(Key.OPERATING_MODE, data.coordinator.device.mode)
    return mode if isinstance(mode, str) else None


# `auto` (the device's own self-consumption), `manual` (follow the setpoint), and the device's
# own modes.
SELECTS: tuple[HomeBatterySelectEntityDescription, ...] = (
    HomeBatterySelectEntityDescription(
        key=Key.OPERATING_MODE,
        translation_key=Key.OPERATING_MODE,
        options_fn=lambda data: list(data.coordinator.device.capabilities.modes),
        current_fn=_current_mode,
        select_fn=lambda data, option: data.coordinator.async_set_mode(option),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeBatteryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the selects for batteries that have options to choose."""
    data = entry.runtime_data
    async_add_entities(HomeBatterySelect(data, d) for d in SELECTS if d.options_fn(data))


class HomeBatterySelect(HomeBatteryEntity, SelectEntity):
    """A select written to the device through the coordinator's guarded control."""

    entity_description: HomeBatterySelectEntityDescription

    @property
    def options(self) -> list[str]:
        """Return what can be chosen on this battery."""
        return self.entity_description.options_fn(self.data)

    @property
    def current_option(self) -> str | None:
        """Return the current option; None (unknown) when it is not one of the options."""
        current = self.entity_description.current_fn(self.data)
        return current if current in self.options else None

    async def async_select_option(self, option: str) -> None:
        """Choose the option."""
        await self.entity_description.select_fn(self.data, option)
