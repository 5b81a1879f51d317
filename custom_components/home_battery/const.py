"""Constants of the Home Battery integration."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "home_battery"
LOGGER = logging.getLogger(__package__)

CONF_FAMILY: Final = "family"
# Options: polling and the battery parameters planning uses.
CONF_SCAN_INTERVAL: Final = "scan_interval"
CONF_CAPACITY: Final = "capacity"
CONF_MAX_CHARGE_POWER: Final = "max_charge_power"
CONF_MAX_DISCHARGE_POWER: Final = "max_discharge_power"
CONF_ROUND_TRIP_EFFICIENCY: Final = "round_trip_efficiency"

# Options: what schedule control plans against (entities of price and forecast integrations).
CONF_PRICE_ENTITY: Final = "price_entity"
CONF_SELL_PRICE_ENTITY: Final = "sell_price_entity"
CONF_PV_FORECAST_ENTITY: Final = "pv_forecast_entity"
CONF_LOAD_FORECAST_ENTITY: Final = "load_forecast_entity"
# Without a load forecast: the history of this sensor (default: the battery's house consumption).
CONF_LOAD_HISTORY_ENTITY: Final = "load_history_entity"
# Schedule control keeps the slot in force unless the new plan gains more than this share (%)
# of its savings: no flapping between plans that differ by noise.
CONF_STABILITY_THRESHOLD: Final = "stability_threshold"
DEFAULT_STABILITY_THRESHOLD: Final = 1.0  # %

DEFAULT_SCAN_INTERVAL: Final = 10
DEFAULT_CAPACITY: Final = 10.0
DEFAULT_MAX_POWER: Final = 5000
DEFAULT_ROUND_TRIP_EFFICIENCY: Final = 0.9

# Options: alarm thresholds (alarms.py).
CONF_LOW_STATE_OF_CHARGE: Final = "low_state_of_charge_threshold"
CONF_HEAVY_LOAD_POWER: Final = "heavy_load_threshold"
CONF_HEAVY_LOAD_MINUTES: Final = "heavy_load_duration"
DEFAULT_LOW_STATE_OF_CHARGE: Final = 10.0  # %
DEFAULT_HEAVY_LOAD_POWER: Final = 5000.0  # W
DEFAULT_HEAVY_LOAD_MINUTES: Final = 10.0

# Fired when an alarm binary sensor turns on; the notify blueprint triggers on it.
EVENT_ALARM: Final = "home_battery_alarm"

# After losing contact this long while holding the battery in a forced mode, control is released
# (at once if the device answers again, otherwise on the first answer).
CONTROL_GRACE_PERIOD: Final = timedelta(seconds=60)
