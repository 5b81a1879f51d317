"""What a loaded entry holds: its coordinator, its schedule follower and its alarm monitor."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .alarms import AlarmMonitor
from .coordinator import HomeBatteryCoordinator
from .planning.follower import ScheduleFollower


@dataclass(frozen=True, kw_only=True)
class HomeBatteryData:
    """The runtime objects of one battery, built in `async_setup_entry`."""

    coordinator: HomeBatteryCoordinator
    follower: ScheduleFollower
    alarms: AlarmMonitor


type HomeBatteryConfigEntry = ConfigEntry[HomeBatteryData]
