"""Values no battery can report are dropped from the poll's state."""

from __future__ import annotations

import math

from custom_components.home_battery.devices.model import Key
from custom_components.home_battery.devices.plausible import drop_implausible


def test_not_a_number_and_infinity_are_unknown() -> None:
    state = {Key.BATTERY_POWER: math.nan, Key.GRID_POWER: math.inf, Key.STATE_OF_CHARGE: 50.0}
    assert sorted(drop_implausible(state, rated_power=5000)) == [Key.BATTERY_POWER, Key.GRID_POWER]
    assert state == {Key.STATE_OF_CHARGE: 50.0}


def test_a_spike_beyond_the_rating_is_unknown_a_real_peak_is_not() -> None:
    state = {Key.BATTERY_POWER: 1e12, Key.LOAD_POWER: 9_500.0}
    assert drop_implausible(state, rated_power=5000) == [Key.BATTERY_POWER]
    state = {Key.BATTERY_POWER: -12_000.0}  # a surge twice the rating: real
    assert drop_implausible(state, rated_power=5000) == []
    assert drop_implausible({Key.BATTERY_POWER: 30_000.0}, rated_power=None) == [Key.BATTERY_POWER]


def test_ranges_of_the_other_measurements() -> None:
    state = {
        Key.STATE_OF_CHARGE: 250.0,
        Key.BATTERY_TEMPERATURE: -273.0,
        Key.ENERGY_DISCHARGED: -1.0,
        Key.BATTERY_VOLTAGE: 51.9,
        Key.OPERATING_MODE: "auto",
        Key.ALARM: True,
    }
    dropped = drop_implausible(state, rated_power=3000)
    assert set(dropped) == {Key.STATE_OF_CHARGE, Key.BATTERY_TEMPERATURE, Key.ENERGY_DISCHARGED}
    assert state == {Key.BATTERY_VOLTAGE: 51.9, Key.OPERATING_MODE: "auto", Key.ALARM: True}


def test_no_negative_zero() -> None:
    state = {Key.GRID_POWER: -0.0}
    drop_implausible(state, rated_power=None)
    assert math.copysign(1.0, state[Key.GRID_POWER]) == 1.0
