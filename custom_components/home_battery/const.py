"""Constants of the Home Battery integration."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "home_battery"
LOGGER = logging.getLogger(__package__)

CONF_FAMILY: Final = "family"
CONF_VEBUS_UNIT_ID: Final = "vebus_unit_id"
CONF_BATTERY_UNIT_ID: Final = "battery_unit_id"

# Options: polling and the battery parameters planning uses.
CONF_SCAN_INTERVAL: Final = "scan_interval"
CONF_CAPACITY: Final = "capacity"
CONF_MAX_CHARGE_POWER: Final = "max_charge_power"
CONF_MAX_DISCHARGE_POWER: Final = "max_discharge_power"
CONF_ROUND_TRIP_EFFICIENCY: Final = "round_trip_efficiency"

DEFAULT_SCAN_INTERVAL: Final = 10
DEFAULT_CAPACITY: Final = 10.0
DEFAULT_MAX_POWER: Final = 5000
DEFAULT_ROUND_TRIP_EFFICIENCY: Final = 0.9

# After losing contact this long while holding the battery in a forced mode, control is released
# (at once if the device answers again, otherwise on the first answer).
CONTROL_GRACE_PERIOD: Final = timedelta(seconds=60)
