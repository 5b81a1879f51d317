"""Piecewise-linear functions: the programme's operations against brute force."""

import numpy as np
import pytest

from custom_components.home_battery.schedule.piecewise import (
    Piecewise,
    UnrepresentableError,
    add,
    convolve,
    lower_envelope,
    make,
)


def random_function(rng: np.random.Generator, low: float, high: float, size: int) -> Piecewise:
    x = np.sort(np.concatenate(([low, high], rng.uniform(low, high, size))))
    return make(x, rng.normal(0, 1, x.size))


def brute_force(to_go: Piecewise, cost: Piecewise, energies: np.ndarray) -> np.ndarray:
    """min over a dense grid of changes (never below the exact minimum, close above it)."""
    changes = np.linspace(cost.low, cost.high, 20001)
    changes = np.concatenate((changes, cost.x))
    return np.array([np.min(cost.at(changes) + to_go.at(e + changes)) for e in energies])


@pytest.mark.parametrize("seed", range(40))
def test_convolve_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    to_go = random_function(rng, 0.0, 10.0, int(rng.integers(0, 12)))
    low, high = sorted(rng.uniform(-3, 3, 2))
    cost = random_function(rng, low, high, int(rng.integers(0, 5)))  # not convex
    result = convolve(to_go, cost, 0.0, 10.0)
    energies = np.linspace(result.low, result.high, 301)
    exact = result.at(energies)
    dense = brute_force(to_go, cost, energies)
    # the dense grid can only miss the minimum by its spacing times the steepest slope
    slopes = np.abs(np.diff(cost.y) / np.diff(cost.x)).max(initial=0) + np.abs(
        np.diff(to_go.y) / np.diff(to_go.x)
    ).max(initial=0)
    assert np.all(exact <= dense + 1e-9)
    assert np.all(dense - exact <= slopes * (high - low) / 20000 + 1e-9)
    # and nothing outside its domain can be reached
    assert result.low >= max(0.0, to_go.low - cost.high) - 1e-9
    assert result.high <= min(10.0, to_go.high - cost.low) + 1e-9


def test_convolve_with_one_change_shifts_every_breakpoint() -> None:
    to_go = make(np.array([0.0, 1.0, 2.0, 5.0]), np.array([0.0, -1.0, 3.0, 3.0]))
    result = convolve(to_go, Piecewise(np.array([-0.5]), np.array([2.0])), 0.0, 5.0)
    np.testing.assert_allclose(result.x, [0.5, 1.5, 2.5, 5.0])
    np.testing.assert_allclose(result.y, [2.0, 1.0, 5.0, 5.0])


def test_convolve_to_one_point_and_out_of_reach() -> None:
    to_go = make(np.array([0.0, 4.0]), np.array([0.0, -4.0]))
    cost = make(np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    point = convolve(to_go, cost, 4.0, 9.0)
    assert point.x.tolist() == [4.0]
    assert point.y.tolist() == [-4.0]
    with pytest.raises(UnrepresentableError):
        convolve(to_go, cost, 6.0, 9.0)


def test_convolve_refuses_functions_too_large_for_its_arrays() -> None:
    x = np.linspace(0.0, 10.0, 400)
    to_go = make(x, np.sin(x))
    cost = make(np.linspace(-1.0, 1.0, 5), np.array([0.0, 1.0, 0.0, 1.0, 0.0]))
    with pytest.raises(UnrepresentableError):
        convolve(to_go, cost, 0.0, 10.0)


def test_make_drops_collinear_and_repeated_points() -> None:
    function = make(
        np.array([2.0, 0.0, 1.0, 1.0 + 1e-12, 3.0]), np.array([2.0, 0.0, 1.0, 1.0, 1.0])
    )
    assert function.x.tolist() == [0.0, 2.0, 3.0]


def test_lower_envelope_adds_the_crossing_and_refuses_jumps() -> None:
    rising = make(np.array([0.0, 2.0]), np.array([0.0, 2.0]))
    falling = make(np.array([0.0, 2.0]), np.array([2.0, 0.0]))
    least = lower_envelope([rising, falling])
    assert least.x.tolist() == [0.0, 1.0, 2.0]
    assert least.y.tolist() == [0.0, 1.0, 0.0]
    short = make(np.array([0.0, 1.0]), np.array([-1.0, -1.0]))
    with pytest.raises(UnrepresentableError):
        lower_envelope([rising, short])  # at 1 it drops from -1 to 1
    apart = make(np.array([3.0, 4.0]), np.array([0.0, 0.0]))
    with pytest.raises(UnrepresentableError):
        lower_envelope([rising, apart])  # nothing between 2 and 3


def test_add_and_clip() -> None:
    bent = make(np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 0.0]))
    line = make(np.array([-1.0, 3.0]), np.array([0.0, 4.0]))
    total = add(bent, line)
    np.testing.assert_allclose(total.at(np.array([0.0, 1.0, 2.0])), [1.0, 3.0, 3.0])
    other = make(np.array([0.5, 1.5, 5.0]), np.array([0.0, 1.0, 0.0]))
    both = add(bent, other)
    assert (both.low, both.high) == (0.5, 2.0)
    with pytest.raises(UnrepresentableError):
        add(bent, make(np.array([3.0, 4.0]), np.array([0.0, 0.0])))
    assert bent.clipped(3.0, 4.0) is None
    end = bent.clipped(2.0, 4.0)
    assert end is not None
    assert (end.x.tolist(), end.y.tolist()) == ([2.0], [0.0])
    middle = bent.clipped(0.5, 1.5)
    assert middle is not None
    assert (middle.x.tolist(), middle.y.tolist()) == ([0.5, 1.0, 1.5], [0.5, 1.0, 0.5])
