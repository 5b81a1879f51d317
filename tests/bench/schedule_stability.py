"""Re-planning every 15 minutes over two real days, with and without the stability rule.

The field audit's procedure ("Plan stability"): re-plan every 15 minutes from day 1 00:00 local
to day 2 23:00 (188 re-plans); day 2's prices are known from 12:00 UTC on day 1; each new state
of charge is the applied power's result plus U(-1, +1) points of noise. A change of the applied
power counts when |a - b| > 0.5 x max(|a|, |b|) and either is at least 100 W, where b is what the
plan in force meant for the slot and a is what is applied.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from custom_components.home_battery.schedule import (
    Battery,
    PlanOptions,
    compute_plan,
    decide_setpoint,
    needs_hold,
    slot_at,
)

from .schedule_cases import BATTERY, NOV5, STOCKHOLM, nord_pool_days, real_inputs

STEP = timedelta(minutes=15)
PUBLISHED = datetime(2024, 11, 5, 12, tzinfo=UTC)


def replan_series(seed: int | None, *, rule: bool) -> tuple[int, int, int]:
    """Return (re-plans, applied changes > 50 %, sign flips) for one run."""
    rng = np.random.default_rng(seed)
    days = nord_pool_days()
    soc = BATTERY.state_of_charge
    in_force = None
    now = NOV5
    end = NOV5 + timedelta(days=1, hours=23)
    changes = flips = count = 0
    while now <= end:
        prices = days if now >= PUBLISHED else days[:1]
        battery = replace(BATTERY, state_of_charge=soc)
        inputs = real_inputs(prices=prices, battery=battery)
        new = compute_plan(inputs, now=now, tz=STOCKHOLM)
        applied, follow = new.slots[0].power, new
        if rule:
            hold = needs_hold(in_force, new, now)
            held = None
            if hold is not None:
                options = PlanOptions(hold_power=hold)
                held = compute_plan(replace(inputs, options=options), now=now, tz=STOCKHOLM)
            decision = decide_setpoint(in_force, new, now, held=held)
            applied = decision.power
            if decision.action == "keep" and held is not None:
                follow = held
        intended = slot_at(in_force, now)
        if intended is not None:
            count += 1
            a, b = applied, intended.power
            if max(abs(a), abs(b)) >= 100 and abs(a - b) > 0.5 * max(abs(a), abs(b)):
                changes += 1
            if a * b < 0 and min(abs(a), abs(b)) >= 100:
                flips += 1
        soc = _next_soc(battery, applied) + (rng.uniform(-1, 1) if seed is not None else 0.0)
        soc = float(np.clip(soc, 0.0, 100.0))
        in_force = follow
        now += STEP
    return count, changes, flips


def _next_soc(battery: Battery, power: float) -> float:
    """State of charge after 15 minutes at ``power`` W (+ discharge), within the bounds."""
    hours = 0.25
    energy = battery.energy
    if power < 0:
        energy += -power / 1000 * hours * battery.charge_efficiency
    else:
        energy -= power / 1000 * hours / battery.discharge_efficiency
    energy = min(max(energy, battery.min_energy), battery.max_energy)
    return energy / battery.capacity * 100


def figures() -> list[tuple[str, str]]:
    """The share of re-plans whose applied power changed by more than half, before and after."""
    rows = []
    for seed in (None, 1, 2, 3):
        label = "no noise" if seed is None else f"+/-1 % noise, seed {seed}"
        before = replan_series(seed, rule=False)
        after = replan_series(seed, rule=True)
        rows.append(
            (
                f"stability SE3 2 days, {label}: >50 % changes (flips)",
                f"before {before[1]}/{before[0]} = {before[1] / before[0]:.1%} ({before[2]}), "
                f"after {after[1]}/{after[0]} = {after[1] / after[0]:.1%} ({after[2]})",
            )
        )
    return rows
