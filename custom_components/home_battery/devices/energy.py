"""Energy counters integrated from battery power, for devices that do not count themselves."""

from __future__ import annotations

import math

# Samples further apart than this are not joined: the device was offline in between and the
# energy moved then is unknown, so counting it as if power had stayed constant would invent it.
MAX_GAP_SECONDS = 300.0
# A sample beyond this multiple of the device's rated power is a glitch (a 1e12 W spike), not a
# reading: inverters overshoot their rating briefly, never by twice.
PLAUSIBLE_POWER_FACTOR = 2.0


class EnergyIntegrator:
    """Lifetime charged/discharged energy (kWh) from battery power samples (W, + discharging).

    Uses the trapezoidal rule, split at the zero crossing so that a swing from charging to
    discharging between two samples is credited to both counters correctly. The counters only
    ever grow, as Home Assistant's energy dashboard requires, and never jump: a sample that is not
    a finite number, or beyond `PLAUSIBLE_POWER_FACTOR` × `max_power` (the device's rating, when
    known), is skipped, and samples more than `max_gap` seconds apart are not joined.
    """

    def __init__(
        self,
        charged_kwh: float = 0.0,
        discharged_kwh: float = 0.0,
        *,
        max_power: float | None = None,
        max_gap: float = MAX_GAP_SECONDS,
    ) -> None:
        """Start from restored counter values (0 for a new battery).

        `max_power`: the device's rating in W, for the plausibility bound; `max_gap`: seconds
        between samples beyond which the energy in between is unknown (a few polls).
        """
        self.charged_kwh = _finite(charged_kwh)
        self.discharged_kwh = _finite(discharged_kwh)
        self.max_power = max_power if max_power and math.isfinite(max_power) else None
        self.max_gap = max_gap
        self.skipped = 0  # samples left out as implausible, for diagnostics
        self._last: tuple[float, float] | None = None

    def restore(self, *, charged_kwh: float | None, discharged_kwh: float | None) -> None:
        """Continue from values restored after a restart; never let a counter go down."""
        if charged_kwh is not None:
            self.charged_kwh = max(self.charged_kwh, _finite(charged_kwh))
        if discharged_kwh is not None:
            self.discharged_kwh = max(self.discharged_kwh, _finite(discharged_kwh))

    def plausible(self, power_w: float) -> bool:
        """Return True for a sample that can be a real battery power."""
        if not math.isfinite(power_w):
            return False
        return self.max_power is None or abs(power_w) <= self.max_power * PLAUSIBLE_POWER_FACTOR

    def add(self, power_w: float, at_seconds: float) -> None:
        """Add a power sample taken at a monotonic time in seconds; skip an implausible one."""
        if not self.plausible(power_w) or not math.isfinite(at_seconds):
            self.skipped += 1
            return
        last, self._last = self._last, (power_w, at_seconds)
        if last is None:
            return
        last_power, last_at = last
        elapsed = at_seconds - last_at
        if elapsed <= 0 or elapsed > self.max_gap:
            return
        if (last_power >= 0) == (power_w >= 0):
            self._credit((last_power + power_w) / 2 * elapsed)
            return
        # The sign changed: split the interval where the straight line crosses zero.
        crossing = elapsed * abs(last_power) / (abs(last_power) + abs(power_w))
        self._credit(last_power / 2 * crossing)
        self._credit(power_w / 2 * (elapsed - crossing))

    def _credit(self, watt_seconds: float) -> None:
        kwh = watt_seconds / 3_600_000
        if kwh > 0:
            self.discharged_kwh += kwh
        else:
            self.charged_kwh -= kwh


def _finite(kwh: float) -> float:
    """Return a restored counter, or 0 for one that is not a finite, non-negative number."""
    return kwh if isinstance(kwh, (int, float)) and math.isfinite(kwh) and kwh >= 0 else 0.0
