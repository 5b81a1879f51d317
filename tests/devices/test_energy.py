"""The energy integrator: counters that never jump on hostile samples or long gaps."""

from __future__ import annotations

import math

import pytest

from custom_components.home_battery.devices.energy import EnergyIntegrator


@pytest.mark.parametrize("glitch", [math.nan, math.inf, -math.inf, 1e12, -1e12, 12_000.0])
def test_implausible_samples_are_skipped(glitch: float) -> None:
    """A non-finite sample or one far beyond the rating (5 kW here) moves no counter."""
    energy = EnergyIntegrator(max_power=5000)
    energy.add(-3600, 0)
    energy.add(glitch, 60)
    energy.add(-3600, 120)
    assert energy.skipped == 1
    assert energy.charged_kwh == pytest.approx(0.12)  # the two good samples, joined
    assert energy.discharged_kwh == 0


def test_without_a_rating_only_non_finite_samples_are_skipped() -> None:
    energy = EnergyIntegrator()
    energy.add(math.nan, 0)
    energy.add(20_000, 0)
    energy.add(20_000, 36)
    assert energy.discharged_kwh == pytest.approx(0.2)


def test_gaps_longer_than_a_few_polls_are_not_bridged() -> None:
    """Samples further apart than `max_gap` (e.g. 3 polls of 30 s) leave the energy unknown."""
    energy = EnergyIntegrator(max_gap=90)
    energy.add(3600, 0)
    energy.add(3600, 91)
    assert energy.discharged_kwh == 0
    energy.add(3600, 181)
    assert energy.discharged_kwh == pytest.approx(0.09)


@pytest.mark.parametrize("restored", [math.nan, math.inf, -1.0])
def test_unusable_restored_values_start_from_zero(restored: float) -> None:
    energy = EnergyIntegrator(restored, restored)
    energy.restore(charged_kwh=restored, discharged_kwh=restored)
    assert (energy.charged_kwh, energy.discharged_kwh) == (0.0, 0.0)


def test_a_thousand_hostile_polls_never_jump() -> None:
    """Alternating real and hostile samples: each step adds at most rating × interval."""
    energy = EnergyIntegrator(max_power=3000, max_gap=90)
    hostile = [math.nan, 1e12, -math.inf, 3e9]
    before = 0.0
    for poll in range(1000):
        power = hostile[poll % 4] if poll % 3 == 0 else (-1) ** poll * 2500.0
        energy.add(power, poll * 30.0)
        total = energy.charged_kwh + energy.discharged_kwh
        assert 0 <= total - before <= 3000 * 2 * 60 / 3_600_000
        before = total
