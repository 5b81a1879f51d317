"""What no battery can report: values that are unknown for the poll that brought them.

A device that answers with a value that is not a number (NaN, infinity: a sensor fault, a bad
read of a register, a JSON `"NaN"`) or one physically impossible for a home battery system (a
spike of 10¹² W) must not reach Home Assistant as a number: a sensor would refuse it or show it,
and an energy counter integrated from it would jump for good. Such a value is dropped from that
poll's state, so its entity shows unknown until the device reports a sane value again.

The bounds are deliberately wide (physics, not tuning): they only catch what cannot be real.
"""

from __future__ import annotations

import math

from .model import BatteryState, Key

# A home battery's own power cannot exceed its rating many times over; where the rating is small
# or unknown, a floor keeps real peaks (inverter surge ratings are about 2x) far inside.
BATTERY_POWER_MARGIN = 5.0
BATTERY_POWER_FLOOR = 20_000.0  # W
# Grid, PV and house power of a home (a farm with a large PV array stays well inside).
SITE_POWER_LIMIT = 1_000_000.0  # W
# Physical ranges of the other measurements, in the model's units.
RANGES: dict[str, tuple[float, float]] = {
    # Some batteries report a point or two beyond 0-100 % after a calibration: not impossible.
    Key.STATE_OF_CHARGE: (-5.0, 105.0),
    Key.STATE_OF_HEALTH: (0.0, 150.0),
    Key.BATTERY_VOLTAGE: (0.0, 2_000.0),  # high-voltage stacks reach ~1,000 V
    Key.BATTERY_CURRENT: (-5_000.0, 5_000.0),
    Key.BATTERY_TEMPERATURE: (-60.0, 150.0),
    Key.CHARGE_VOLTAGE_LIMIT: (0.0, 2_000.0),
    Key.CHARGE_CURRENT_LIMIT: (0.0, 5_000.0),
    Key.DISCHARGE_CURRENT_LIMIT: (0.0, 5_000.0),
    Key.STORED_ENERGY: (0.0, 10_000.0),  # kWh
    Key.CAPACITY: (0.0, 10_000.0),
    Key.ENERGY_CHARGED: (0.0, math.inf),
    Key.ENERGY_DISCHARGED: (0.0, math.inf),
    Key.GRID_ENERGY_IMPORTED: (0.0, math.inf),
    Key.GRID_ENERGY_EXPORTED: (0.0, math.inf),
}
SITE_POWER_KEYS = (Key.GRID_POWER, Key.PV_POWER, Key.LOAD_POWER)


def drop_implausible(state: BatteryState, *, rated_power: float | None) -> list[str]:
    """Remove what cannot be real from `state`; return the keys removed.

    `rated_power` (W) is the larger of the device's charge and discharge limits, if known.
    Numbers are also freed of a negative zero.
    """
    battery_limit = max(BATTERY_POWER_FLOOR, BATTERY_POWER_MARGIN * (rated_power or 0.0))
    dropped = []
    for key, value in list(state.items()):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        low, high = _range(key, battery_limit)
        if not (math.isfinite(value) and low <= value <= high):
            del state[key]
            dropped.append(key)
        elif isinstance(value, float):
            state[key] = value + 0.0  # -0.0 becomes 0.0
    return dropped


def _range(key: str, battery_limit: float) -> tuple[float, float]:
    if key in (Key.BATTERY_POWER, Key.MAX_CHARGE_POWER, Key.MAX_DISCHARGE_POWER):
        return -battery_limit, battery_limit
    if key in SITE_POWER_KEYS:
        return -SITE_POWER_LIMIT, SITE_POWER_LIMIT
    return RANGES.get(key, (-math.inf, math.inf))
