"""The follower's decision at a re-plan: keep the slot in force unless changing it pays."""

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from custom_components.home_battery.schedule import (
    Battery,
    PlanInputs,
    PlanOptions,
    compute_plan,
    decide_setpoint,
    needs_hold,
)

from .test_pipeline import NP_DAY1, NP_DAY2

TZ = ZoneInfo("Europe/Stockholm")
START = datetime(2024, 11, 5, tzinfo=TZ)


def inputs(soc: float, hold: float | None = None) -> PlanInputs:
    battery = Battery(capacity=10, state_of_charge=soc, min_state_of_charge=10,
                      max_charge_power=5000, max_discharge_power=5000, cycle_cost=0.2)  # fmt: skip
    return PlanInputs(
        prices=[NP_DAY1, NP_DAY2],
        area="SE3",
        battery=battery,
        buy_price_multiplier=1.25,
        buy_price_adder=0.9,
        options=PlanOptions(hold_power=hold),
    )


def test_without_a_plan_in_force_the_new_power_applies() -> None:
    new = compute_plan(inputs(50), now=START, tz=TZ)
    decision = decide_setpoint(None, new, START)
    assert (decision.power, decision.reason) == (new.slots[0].power, "no_plan_in_force")


def test_a_small_gain_keeps_the_slot_and_a_large_one_changes_it() -> None:
    now = START + timedelta(hours=3)
    in_force = compute_plan(inputs(50), now=START, tz=TZ)
    slot = next(s for s in in_force.slots if s.start <= now < s.end)
    new = compute_plan(inputs(51), now=now, tz=TZ)  # one point of noise
    hold = needs_hold(in_force, new, now)
    if hold is None:  # the noise did not move this slot: nothing to decide
        assert decide_setpoint(in_force, new, now).reason == "same_power"
        return
    held = compute_plan(inputs(51, hold), now=now, tz=TZ)
    assert held.slots[0].power == pytest.approx(slot.power, abs=1)
    kept = decide_setpoint(in_force, new, now, held=held)
    assert kept.gain >= -1e-6  # the new plan is optimal, holding can only cost
    assert kept.action == ("keep" if kept.gain <= 0.01 * abs(new.savings) else "change")
    changed = decide_setpoint(in_force, new, now, held=held, threshold=0.0)
    if kept.gain > 1e-6:
        assert changed.action == "change"


def test_a_flip_for_noise_is_refused() -> None:
    # a plan in force that discharges now, and a re-plan that would charge: the change gains
    # little compared to the day's savings, so the discharge is kept
    now = START + timedelta(hours=2)
    new = compute_plan(inputs(50), now=now, tz=TZ)
    first = new.slots[0]
    fake = replace(new, slots=(replace(first, power=-first.power or 800.0), *new.slots[1:]))
    held = compute_plan(inputs(50, fake.slots[0].power), now=now, tz=TZ)
    decision = decide_setpoint(fake, new, now, held=held, threshold=1.0)
    assert decision.action == "keep"
    assert decision.power == pytest.approx(held.slots[0].power)
    assert decide_setpoint(fake, new, now, held=None).reason == "hold_not_optimal"
