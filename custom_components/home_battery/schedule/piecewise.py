"""Continuous piecewise-linear functions of one variable on a closed interval, in numpy arrays.

The exact dynamic programme of ``dynamic.py`` works on these: a function is its breakpoints
``x`` (increasing) and its values ``y`` there; outside ``[x[0], x[-1]]`` it is infinite. Every
operation returns the exact result (up to round-off). Where a result would not be one such
function (it would jump, be empty, or be too large), :class:`UnrepresentableError` is raised,
and the caller solves the problem another way.
"""

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from .grid import FloatArray

#: Breakpoints closer than this (kWh) are one point.
MERGE = 1e-10
#: A function may jump by this much (round-off) and still count as continuous.
JUMP = 1e-9
#: Most cells one convolution may hold in its arrays (16 MB of floats): they grow with the
#: square of the cost to go's breakpoints (about 20 on real data). Beyond it, the MILP decides.
MAX_CELLS = 2_000_000
#: A breakpoint this close (relative) to the line between its neighbours is dropped.
FLAT = 1e-12


class UnrepresentableError(ArithmeticError):
    """These functions cannot represent the result: it would jump, be empty, or be too large."""


@dataclass(frozen=True, slots=True)
class Piecewise:
    """A continuous piecewise-linear function: values ``y`` at breakpoints ``x``."""

    x: FloatArray
    y: FloatArray

    @property
    def low(self) -> float:
        """Left end of the domain."""
        return float(self.x[0])

    @property
    def high(self) -> float:
        """Right end of the domain."""
        return float(self.x[-1])

    def at(self, points: FloatArray) -> FloatArray:
        """Values at ``points``; infinite outside the domain."""
        inside = (points >= self.low - MERGE) & (points <= self.high + MERGE)
        if self.x.size == 1:
            return np.where(inside, self.y[0], np.inf)
        return np.where(inside, np.interp(points, self.x, self.y), np.inf)

    def clipped(self, low: float, high: float) -> "Piecewise | None":
        """Return the function on ``[low, high]`` only; None where that leaves nothing."""
        low, high = max(low, self.low), min(high, self.high)
        if low > high + MERGE:
            return None
        if high - low <= MERGE:
            point = np.array([min(low, high)])
            return Piecewise(point, self.at(point))
        inner = (self.x > low) & (self.x < high)
        x = np.concatenate(([low], self.x[inner], [high]))
        return Piecewise(x, np.interp(x, self.x, self.y))


def make(x: FloatArray, y: FloatArray) -> Piecewise:
    """Return the function through points (sorted, merged, without collinear breakpoints).

    A breakpoint goes where it lies on the line between its neighbours (within FLAT): dropping
    it moves the function by that distance at most. A run of such points goes at once where
    every one of them lies on the line between the points that stay on either side of it;
    otherwise every other point of each run goes, and the rest are looked at again (a bend
    next to a very short segment lies close to both of its lines, but is a bend).
    """
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    keep = _distinct(x)
    x, y = x[keep], y[keep]
    while x.size > 2:
        inner = slice(1, -1)
        tolerance = FLAT * (1 + np.abs(y[inner]))
        flat = _off_line(x, y, np.arange(x.size - 2), np.arange(2, x.size)) <= tolerance
        if not flat.any():
            break
        index = np.arange(x.size)
        stays = np.concatenate(([True], ~flat, [True]))
        before = np.maximum.accumulate(np.where(stays, index, 0))[inner]
        after = np.minimum.accumulate(np.where(stays, index, x.size - 1)[::-1])[::-1][inner]
        whole = _off_line(x, y, np.minimum(before, index[inner] - 1), after) <= tolerance
        if np.all(whole[flat]):
            drop = flat
        else:  # in each run drop the first, third, ... point: never two neighbours
            starts = flat & ~np.concatenate(([False], flat[:-1]))
            run_start = np.maximum.accumulate(np.where(starts, index[inner], 0))
            drop = flat & ((index[inner] - run_start) % 2 == 1)
        keep = np.concatenate(([True], ~drop, [True]))
        x, y = x[keep], y[keep]
    return Piecewise(x, y)


def _off_line(
    x: FloatArray, y: FloatArray, left: npt.NDArray[np.intp], right: npt.NDArray[np.intp]
) -> FloatArray:
    """How far each inner point lies from the line through points ``left`` and ``right``."""
    share = (x[1:-1] - x[left]) / (x[right] - x[left])
    distance: FloatArray = np.abs(y[1:-1] - y[left] - share * (y[right] - y[left]))
    return distance


@dataclass(frozen=True, slots=True)
class Lines:
    """Functions that are linear between the points of a grid, at those points (last axis).

    ``values[i, ..., k]`` is function i at point k, infinite where it is not defined; each is
    defined on an interval, so it runs between two points where it is defined at both.
    """

    values: FloatArray

    @property
    def start(self) -> FloatArray:
        """Each function at the start of each interval it runs on (else infinite)."""
        return np.where(self._runs, self.values[..., :-1], np.inf)

    @property
    def end(self) -> FloatArray:
        """Each function at the end of each interval it runs on (else infinite)."""
        return np.where(self._runs, self.values[..., 1:], np.inf)

    @property
    def _runs(self) -> npt.NDArray[np.bool_]:
        finite = np.isfinite(self.values)
        runs: npt.NDArray[np.bool_] = finite[..., :-1] & finite[..., 1:]
        return runs

    def least(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Return the least value at each point, and its limits from the left and the right."""
        value = self.values.min(axis=0)
        infinite = np.full(value.shape[:-1] + (1,), np.inf)
        left = np.concatenate((infinite, self.end.min(axis=0)), axis=-1)
        right = np.concatenate((self.start.min(axis=0), infinite), axis=-1)
        return value, left, right


def jumps(value: FloatArray, left: FloatArray, right: FloatArray) -> npt.NDArray[np.bool_]:
    """Points where the least function jumps: a finite limit above its value there."""
    with np.errstate(invalid="ignore"):
        return (np.isfinite(left) & (left - value > JUMP)) | (
            np.isfinite(right) & (right - value > JUMP)
        )


def gaps(value: FloatArray, left: FloatArray, right: FloatArray) -> npt.NDArray[np.bool_]:
    """Whether the points where something is defined fail to be one interval (per row)."""
    defined = np.isfinite(value)
    count = defined.sum(axis=-1)
    first = np.argmax(defined, axis=-1)
    last = defined.shape[-1] - 1 - np.argmax(defined[..., ::-1], axis=-1)
    gap: npt.NDArray[np.bool_] = (count > 0) & (last - first + 1 != count)
    # two defined points with nothing running between them
    apart = defined[..., :-1] & defined[..., 1:] & ~np.isfinite(right[..., :-1])
    gap |= apart.any(axis=-1)
    return gap


def lower_envelope(functions: list[Piecewise]) -> Piecewise:
    """Return the pointwise minimum of continuous functions; UnrepresentableError if it jumps."""
    if len(functions) == 1:
        return functions[0]
    grid = np.unique(np.concatenate([f.x for f in functions]))
    lines = Lines(np.array([f.at(grid) for f in functions]))
    value, left, right = lines.least()
    if jumps(value, left, right).any() or gaps(value, left, right).any():
        raise UnrepresentableError("the least of the functions jumps")
    return _envelope(grid, value, lines.start, lines.end)


def convolve(to_go: Piecewise, cost: Piecewise, low: float, high: float) -> Piecewise:
    """``e -> min over d of cost(d) + to_go(e + d)`` for ``e`` in ``[low, high]``.

    For one ``e`` the sum is piecewise linear in ``d``, so its minimum lies at a breakpoint of
    ``cost`` or where ``e + d`` is a breakpoint of ``to_go``. Between two points of the grid
    (each breakpoint of ``to_go`` less each of ``cost``) the candidates of the first kind are
    linear in ``e``; those of the second kind are too, and for the breakpoints inside one
    segment of ``cost`` they share that segment's slope, so the least of them is one line.
    The result is the least of these lines, which bends only where two of them cross.
    """
    x, v = to_go.x, to_go.y
    d, c = cost.x, cost.y
    low, high = max(low, x[0] - d[-1]), min(high, x[-1] - d[0])
    if low > high + MERGE:
        raise UnrepresentableError("no stored energy can reach the next slot's")
    if high - low <= MERGE:
        e = np.array([low])
        return Piecewise(e, _least(to_go, cost, e))
    if d.size == 1:  # one change only: the cost to go, shifted
        shifted = Piecewise(x - d[0], v + c[0]).clipped(low, high)
        if shifted is None:  # pragma: no cover - the domains meet (checked above)
            raise UnrepresentableError("no stored energy can reach the next slot's")
        return shifted
    if x.size**2 * d.size**2 > MAX_CELLS:
        raise UnrepresentableError("the cost to go has too many breakpoints")
    grid = _merged(np.concatenate(((x[:, None] - d).ravel(), [low, high])))
    grid = grid[(grid >= low - MERGE) & (grid <= high + MERGE)]
    middle = (grid[:-1] + grid[1:]) / 2
    # candidates d = cost's breakpoints: to_go(e + d_i) + c_i, where e + d_i is in its domain
    at_points = np.interp(grid[None, :] + d[:, None], x, v) + c[:, None]
    reach = middle[None, :] + d[:, None]
    valid = (reach >= x[0]) & (reach <= x[-1])
    first_start = np.where(valid, at_points[:, :-1], np.inf)
    first_end = np.where(valid, at_points[:, 1:], np.inf)
    # candidates e + d = x_j with d inside segment m: slope_m (x_j - e - d_m) + c_m + v_j
    slopes = np.diff(c) / np.diff(d)
    offset = x[None, None, :] - middle[None, :, None]
    inside = (offset >= d[:-1, None, None]) & (offset <= d[1:, None, None])
    lowest = np.where(inside, v + slopes[:, None, None] * x, np.inf).min(axis=2)
    base = lowest + (c[:-1] - slopes * d[:-1])[:, None]
    second_start = base - slopes[:, None] * grid[None, :-1]
    second_end = base - slopes[:, None] * grid[None, 1:]
    start = np.vstack((first_start, second_start))
    end = np.vstack((first_end, second_end))
    # the result is continuous: at a grid point it is its limit from the interval after it
    value = np.append(start.min(axis=0), end[:, -1].min())
    return _envelope(grid, value, start, end)


def least_change(to_go: Piecewise, cost: Piecewise, energy: float) -> tuple[float, float]:
    """Return the change ``d`` minimising ``cost(d) + to_go(energy + d)``, and that minimum."""
    change = np.concatenate((cost.x, to_go.x - energy))
    values = cost.at(change) + to_go.at(energy + change)
    index = int(np.argmin(values))
    return float(change[index]), float(values[index])


def _least(to_go: Piecewise, cost: Piecewise, energies: FloatArray) -> FloatArray:
    """``min over d of cost(d) + to_go(e + d)`` at a few points ``e``."""
    return np.array([least_change(to_go, cost, float(e))[1] for e in energies])


def add(function: Piecewise, other: Piecewise) -> Piecewise:
    """Sum of two functions on the common part of their domains."""
    low, high = max(function.low, other.low), min(function.high, other.high)
    if low > high + MERGE:
        raise UnrepresentableError("the domains do not meet")
    if other.x.size == 2 and function.low >= other.low and function.high <= other.high:
        return Piecewise(function.x, function.y + np.interp(function.x, other.x, other.y))
    x = np.concatenate((function.x, other.x, [low, high]))
    x = x[(x >= low) & (x <= high)]
    return make(x, function.at(x) + other.at(x))


@cache
def _pairs(count: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Every pair ``i < j`` of ``count`` functions (kept: numpy builds it slowly)."""
    first, second = np.triu_indices(count, 1)
    return first, second


def _merged(points: FloatArray) -> FloatArray:
    """Sorted points with those closer than MERGE to the one before dropped."""
    points = np.sort(points)
    merged: FloatArray = points[_distinct(points)]
    return merged


def _distinct(points: FloatArray) -> npt.NDArray[np.bool_]:
    """Which of sorted points lie further than MERGE from the one before (the first does)."""
    distinct: npt.NDArray[np.bool_] = np.concatenate(([True], np.diff(points) > MERGE))
    return distinct


def _envelope(grid: FloatArray, value: FloatArray, start: FloatArray, end: FloatArray) -> Piecewise:
    """Return the least of functions linear between grid points, given its value on the grid.

    ``start[i]`` and ``end[i]`` hold function i at the start and the end of each interval
    (infinite where it is not defined).
    """
    interval, share, least = crossings(start, end)
    (index,) = interval
    x = np.concatenate((grid, grid[index] + share * (grid[index + 1] - grid[index])))
    y = np.concatenate((value, least))
    finite = np.isfinite(y)
    return make(x[finite], y[finite])


def crossings(
    start: FloatArray, end: FloatArray
) -> tuple[tuple[npt.NDArray[np.intp], ...], FloatArray, FloatArray]:
    """Where two of several linear functions cross inside an interval, and the least value there.

    ``start[i, ...]`` and ``end[i, ...]`` hold function i at the start and the end of each
    interval (any further axes), infinite where it is not defined. The least of linear
    functions bends only where two of them cross. Returns the crossings' intervals (indexes
    into the further axes), their position as a share of the interval, and the least value of
    all functions there.
    """
    first, second = _pairs(start.shape[0])
    with np.errstate(invalid="ignore"):
        left = start[first] - start[second]
        right = end[first] - end[second]
        cross = np.isfinite(left) & np.isfinite(right) & (left * right < 0)
    found = np.nonzero(cross)
    interval = found[1:]  # found[0] is the pair
    share = left[found] / (left[found] - right[found])
    lines_start = start[(slice(None), *interval)]
    lines_end = end[(slice(None), *interval)]
    with np.errstate(invalid="ignore"):
        least = np.where(
            np.isfinite(lines_start) & np.isfinite(lines_end),
            lines_start + share * (lines_end - lines_start),
            np.inf,
        ).min(axis=0, initial=np.inf)
    return interval, share, least
