"""What a plan was made from, and why its horizon ends where it does (the response's ``sources``).

No source is ever zero-filled: where the sell prices or a forecast end (or have a gap) before
the buy prices, the horizon ends there, and :class:`Horizon` says which source cut it and why.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: ``Horizon.limited_by`` values besides the source names.
MAX_HORIZON = "max_horizon"
#: ``Horizon.reason`` values.
ENDED, GAP, SIZE_LIMIT = "ended", "gap", "size_limit"


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """One source as it was read: its format and the time its data covers.

    ``kind`` names the format (``nordpool``, ``tibber``, ``attributes``, ``list``,
    ``open_meteo``, ``forecast_solar``, ``solcast``, ``history_profile``, ``spot`` for the
    default sell price, ``series`` when the caller passed numbers on the grid).
    """

    kind: str
    start: datetime | None = None
    end: datetime | None = None
    """End of the data read (within the planning window)."""
    keys: tuple[str, ...] = ()
    """The attributes or response keys the data came from."""
    area: str | None = None
    detail: str | None = None
    ends: str | None = None
    """Why the data stops at ``end``: ``ended``, ``gap`` or ``size_limit``."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form; empty fields left out."""
        data: dict[str, Any] = {"source": self.kind}
        if self.start is not None:
            data["start"] = self.start.isoformat()
        if self.end is not None:
            data["end"] = self.end.isoformat()
        if self.ends is not None:
            data["ends"] = self.ends
        if self.keys:
            data["keys"] = list(self.keys)
        if self.area is not None:
            data["area"] = self.area
        if self.detail is not None:
            data["detail"] = self.detail
        return data


@dataclass(frozen=True, slots=True)
class Horizon:
    """Where the plan starts and ends, and what ended it.

    ``limited_by`` is ``prices``, ``sell_prices``, ``pv_forecast``, ``load_forecast`` or
    ``max_horizon``; ``reason`` is ``ended`` (the source has no data after ``end``), ``gap`` (it
    has data again later, after a hole) or ``size_limit`` (the horizon cap).
    """

    start: datetime
    end: datetime
    slots: int
    limited_by: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "slots": self.slots,
            "limited_by": self.limited_by,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Sources:
    """The sources of one plan."""

    prices: SourceInfo
    sell_prices: SourceInfo
    horizon: Horizon
    pv_forecast: SourceInfo | None = None
    load_forecast: SourceInfo | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the four sources (None where not given) and the horizon."""
        return {
            "prices": self.prices.to_dict(),
            "sell_prices": self.sell_prices.to_dict(),
            "pv_forecast": self.pv_forecast.to_dict() if self.pv_forecast else None,
            "load_forecast": self.load_forecast.to_dict() if self.load_forecast else None,
            "horizon": self.horizon.to_dict(),
        }
