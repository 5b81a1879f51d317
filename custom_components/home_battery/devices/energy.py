"""Energy counters integrated from battery power, for devices that do not count themselves."""

from __future__ import annotations

# Samples further apart than this are not joined: the device was offline in between and the
# energy moved then is unknown, so counting it as if power had stayed constant would invent it.
MAX_GAP_SECONDS = 300.0


class EnergyIntegrator:
    """Lifetime charged/discharged energy (kWh) from battery power samples (W, + discharging).

    Uses the trapezoidal rule, split at the zero crossing so that a swing from charging to
    discharging between two samples is credited to both counters correctly. The counters only
    ever grow, as Home Assistant's energy dashboard requires.
    """

    def __init__(self, charged_kwh: float = 0.0, discharged_kwh: float = 0.0) -> None:
        """Start from restored counter values (0 for a new battery)."""
        self.charged_kwh = charged_kwh
        self.discharged_kwh = discharged_kwh
        self._last: tuple[float, float] | None = None

    def restore(self, *, charged_kwh: float | None, discharged_kwh: float | None) -> None:
        """Continue from values restored after a restart; never let a counter go down."""
        if charged_kwh is not None:
            self.charged_kwh = max(self.charged_kwh, charged_kwh)
        if discharged_kwh is not None:
            self.discharged_kwh = max(self.discharged_kwh, discharged_kwh)

    def add(self, power_w: float, at_seconds: float) -> None:
        """Add a power sample taken at a monotonic time in seconds."""
        last, self._last = self._last, (power_w, at_seconds)
        if last is None:
            return
        last_power, last_at = last
        elapsed = at_seconds - last_at
        if elapsed <= 0 or elapsed > MAX_GAP_SECONDS:
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
