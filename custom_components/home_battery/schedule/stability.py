"""Plan stability: which power to apply at a re-plan (issue 16, field audit D9).

Re-planning every 15 minutes with a state of charge that is a little off each time moves the
optimum's partial slots, and the applied power jumped by more than half in up to 8 % of
re-plans (field audit, "Plan stability"). The follower therefore keeps the slot in force
unless changing it pays:

1. the new plan is solved as usual, and a second time with the first slot held at the power
   in force (``PlanOptions(hold_power=...)``); both are exact optima under the same inputs, so
   the difference of their savings is exactly what changing the slot now gains;
2. :func:`decide_setpoint` keeps the power in force unless that gain is more than
   ``threshold`` x the new plan's savings (default 1 %): a share, so one default works for EUR,
   SEK or JPY, and a flat tariff (no savings) never moves the battery for nothing.

A charge/discharge flip is a change like any other: it happens only when it is worth the
threshold, never for noise. Where there is no plan in force, no slot of it covering now, or
the held plan is not optimal, the new plan's power is applied.
"""

from dataclasses import dataclass
from datetime import datetime

from .plan import Plan, PlanSlot

#: Default share of the new plan's savings that a change of the applied power must gain.
DEFAULT_THRESHOLD = 0.01
#: Powers closer than this (W) count as the same; no second solve is needed for them.
SAME_POWER = 50.0

KEEP, CHANGE = "keep", "change"


@dataclass(frozen=True, slots=True)
class Decision:
    """The power to apply now (W, + discharge), whether the slot in force was kept, and why.

    ``reason``: ``no_plan_in_force``, ``no_slot_in_force``, ``same_power``, ``hold_not_optimal``,
    ``gain_below_threshold`` (kept) or ``gain_above_threshold`` (changed).
    """

    power: float
    action: str
    reason: str
    gain: float = 0.0
    """What the change gains over keeping the slot in force (currency; 0 when not compared)."""


def slot_at(plan: Plan | None, now: datetime) -> PlanSlot | None:
    """Return the slot of ``plan`` that covers ``now``, if any."""
    if plan is None:
        return None
    return next((slot for slot in plan.slots if slot.start <= now < slot.end), None)


def needs_hold(in_force: Plan | None, new: Plan, now: datetime) -> float | None:
    """Return the power to hold for the comparison solve, or None when none is needed."""
    current, proposed = slot_at(in_force, now), slot_at(new, now)
    if current is None or proposed is None or abs(current.power - proposed.power) <= SAME_POWER:
        return None
    return current.power


def decide_setpoint(
    in_force: Plan | None,
    new: Plan,
    now: datetime,
    *,
    held: Plan | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> Decision:
    """Return the power to apply at ``now``: the slot in force unless changing it pays.

    ``held`` is the new plan's inputs solved with ``hold_power`` = the power in force (see
    :func:`needs_hold`); ``threshold`` is the share of ``new``'s savings a change must gain.
    """
    proposed = slot_at(new, now)
    power = proposed.power if proposed else 0.0
    if in_force is None:
        return Decision(power, CHANGE, "no_plan_in_force")
    current = slot_at(in_force, now)
    if current is None:
        return Decision(power, CHANGE, "no_slot_in_force")
    if abs(current.power - power) <= SAME_POWER:
        return Decision(power, CHANGE, "same_power")
    if held is None or held.status != "optimal" or not held.slots:
        return Decision(power, CHANGE, "hold_not_optimal")
    gain = new.savings - held.savings
    if gain > threshold * abs(new.savings):
        return Decision(power, CHANGE, "gain_above_threshold", gain)
    return Decision(held.slots[0].power, KEEP, "gain_below_threshold", gain)
