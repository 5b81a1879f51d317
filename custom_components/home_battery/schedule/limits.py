"""The range every number handed to the planner must lie in (issue 17).

A number outside its range, or not finite, is refused with a :class:`PlanInputError` naming the
field, before anything is built: NaN or infinite coefficients made HiGHS spin forever (field audit
F1), and infinite capacities or terminal values gave NaN savings (F7). The ranges are generous for
a home or farm battery; they are there to keep every product of two of them (price x power x
hours, price x multiplier) finite and well inside what the solver handles.
"""

from dataclasses import dataclass
from math import isfinite

from .errors import PlanInputError

#: Largest price magnitude, currency per kWh: room for currencies like IDR or KRW; the EU
#: day-ahead market's harmonised limits are -0.5 and +4 EUR/kWh.
MAX_PRICE = 1e6
#: Largest power, W (10 MW).
MAX_POWER = 1e7


@dataclass(frozen=True, slots=True)
class Limit:
    """A closed range; ``above_low`` excludes the lower end."""

    low: float
    high: float
    unit: str
    above_low: bool = False

    def contains(self, value: float) -> bool:
        """Return whether ``value`` is finite and in range."""
        if not isfinite(value):
            return False
        low_ok = value > self.low if self.above_low else value >= self.low
        return low_ok and value <= self.high

    def describe(self) -> str:
        """Return the range as text, for error messages."""
        opening = "(" if self.above_low else "["
        return f"{opening}{self.low:g}, {self.high:g}] {self.unit}".rstrip()


_PERCENT = Limit(0.0, 100.0, "%")
_POWER = Limit(0.0, MAX_POWER, "W")
_EFFICIENCY = Limit(0.01, 1.0, "")
_PRICE = Limit(-MAX_PRICE, MAX_PRICE, "per kWh")

#: Every checked field, by its action field name.
LIMITS: dict[str, Limit] = {
    "capacity": Limit(0.0, 1e5, "kWh", above_low=True),
    "state_of_charge": _PERCENT,
    "min_state_of_charge": _PERCENT,
    "max_state_of_charge": _PERCENT,
    "target_state_of_charge": _PERCENT,
    "max_charge_power": _POWER,
    "max_discharge_power": _POWER,
    "max_import_power": _POWER,
    "max_export_power": _POWER,
    "hold_power": Limit(-MAX_POWER, MAX_POWER, "W"),
    "charge_efficiency": _EFFICIENCY,
    "discharge_efficiency": _EFFICIENCY,
    "round_trip_efficiency": _EFFICIENCY,
    "cycle_cost": Limit(0.0, MAX_PRICE, "per kWh"),
    "terminal_value": _PRICE,
    "buy_price_multiplier": Limit(0.0, 1e3, ""),
    "buy_price_adder": _PRICE,
    "prices": _PRICE,
    "sell_prices": _PRICE,
    "pv_forecast": Limit(-MAX_POWER, MAX_POWER, "W"),
    "load_forecast": Limit(-MAX_POWER, MAX_POWER, "W"),
    "load_history": Limit(-MAX_POWER, MAX_POWER, "W"),
}


def check(field: str, value: float) -> float:
    """Return ``value`` if it is a finite number in ``field``'s range; raise otherwise."""
    limit = LIMITS[field]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlanInputError(field, f"{field} must be a number")
    if not limit.contains(float(value)):
        raise PlanInputError(field, f"{field} must be finite and in {limit.describe()}")
    return float(value)


def check_optional(field: str, value: float | None) -> float | None:
    """Like :func:`check`, letting None through."""
    return None if value is None else check(field, value)
