"""The planner's errors: one base with a machine-readable reason and the field at fault."""


class PlanningError(ValueError):
    """Input the planner cannot use.

    ``reason`` is short and machine readable; ``field`` names the action field at fault
    (``prices``, ``sell_prices``, ``pv_forecast``, ``load_forecast``, ``load_history``,
    ``capacity``, ...) when it is known; ``detail`` is a sentence for the log.
    """

    def __init__(self, reason: str, detail: str = "", *, field: str | None = None) -> None:
        """Store the reason, the field and the detail."""
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.field = field


class PlanInputError(PlanningError):
    """Parameters that do not describe a plannable battery or horizon.

    ``reason`` names the field at fault (``capacity``, ``state_of_charge``, ``cycle_cost``,
    ``buy_price_multiplier``, ``pv_forecast``, ...; see ``limits.py``), or is ``horizon`` (no
    slot to plan) or ``model`` (a number the solver must not see; validated input never gives
    one). ``field`` is the same as ``reason`` unless the error concerns a whole source.
    """

    def __init__(self, reason: str, detail: str = "", *, field: str | None = None) -> None:
        """Store the reason; the field defaults to it."""
        super().__init__(reason, detail, field=field or reason)


class PriceFormatError(PlanningError):
    """Input that is not a price or forecast source this package understands.

    ``reason`` is one of ``empty``, ``unknown_format``, ``bad_entry``, ``bad_time``,
    ``out_of_range``, ``too_large``, ``unknown_area``, ``ambiguous_area``, ``bad_resolution``,
    ``no_future_prices`` or ``starts_late`` (a forecast that begins after the plan's first
    slot); ``field`` is the source (``prices``, ``sell_prices``, ``pv_forecast``,
    ``load_forecast``, ``load_history``) when the caller named it.
    """
