"""Flows that must not both be positive in one slot, and the binaries that make them exclusive.

Charge/discharge and import/export always; charge/import without grid charging and
discharge/export without battery export. The LP respects these by itself wherever each slot's
cost is convex in the battery's power. Two things make it concave, and the LP then runs both
flows of a pair at once:

* sell above buy: importing and exporting at once earns the difference;
* a price below zero: charging and discharging at once burns energy in the conversion losses,
  and taking energy from the grid is paid.

Slots with sell above buy get a binary before the first solve (:func:`arbitrage_slots`); the
others once a solution shows both flows. Import/export uses the convex hull of its two modes
(import mode: the slot's charge, discharge and curtailment shares balance with the import alone;
export mode: the rest balances with the export), whose LP relaxation is much tighter than bounds
times a binary; the other pairs use the columns' upper bounds as big-M, the hull of two boxes.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .formulation import Layout
from .grid import FloatArray
from .lp import Builder, IntArray, Model

#: Flows below this (kW) count as zero when checking for simultaneous flows.
FLOW_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class Pair:
    """Two per-slot columns that must not both be positive; ``hull`` for import/export."""

    first: IntArray
    second: IntArray
    hull: bool = False


def exclusive_pairs(layout: Layout, *, grid_charge: bool, battery_export: bool) -> list[Pair]:
    """Return the pairs: charge/discharge, import/export, and the two switches' pairs.

    Without grid charging (battery export) the LP bounds charging (export) to the PV surplus,
    which leaves only "disposal" plans (curtail PV, cover it from the grid or the battery) for
    the switches' pairs to catch.
    """
    pairs = [
        Pair(layout.charge, layout.discharge),
        Pair(layout.grid_import, layout.grid_export, hull=True),
    ]
    if not grid_charge:
        pairs.append(Pair(layout.charge, layout.grid_import))
    if not battery_export:
        pairs.append(Pair(layout.discharge, layout.grid_export))
    return pairs


def arbitrage_slots(model: Model, layout: Layout, pairs: list[Pair]) -> list[set[int]]:
    """Slots flagged before the first solve, per pair: import/export where sell exceeds buy.

    There the LP always imports and exports at once, so starting with binaries saves a solve.
    Burning energy (charge and discharge at once) depends on whether the battery has room, so
    those slots are only flagged once a solution shows them: flagging every slot with a negative
    price made the MILP slower than the extra LP costs.
    """
    cost, upper = model.cost, model.upper
    imports, exports = layout.grid_import, layout.grid_export
    arbitrage = (cost[imports] + cost[exports] < 0) & (upper[imports] > 0) & (upper[exports] > 0)
    flagged = [set[int]() for _ in pairs]
    flagged[1] = _slots(arbitrage)
    return flagged


def with_binaries(
    model: Model, layout: Layout, pairs: list[Pair], flagged: list[set[int]]
) -> Model:
    """Add binaries that make each pair of columns exclusive in its flagged slots."""
    if not any(flagged):
        return model
    builder = Builder.from_model(model)
    integer: list[IntArray] = []
    for pair, slots in zip(pairs, flagged, strict=True):
        if not slots:
            continue
        index = np.array(sorted(slots), dtype=np.int64)
        if pair.hull:
            integer.append(_grid_hull(builder, model, layout, index))
        else:
            integer.append(_big_m(builder, model, pair.first[index], pair.second[index]))
    return builder.build(np.concatenate(integer))


def both(first: FloatArray, second: FloatArray) -> set[int]:
    """Return the slots where both flows are above the tolerance."""
    return _slots(np.minimum(first, second) > FLOW_TOLERANCE)


def _big_m(builder: Builder, model: Model, first: IntArray, second: IntArray) -> IntArray:
    """``first <= M1 b`` and ``second <= M2 (1 - b)``, the columns' upper bounds as M."""
    size = first.size
    on = builder.add_columns(np.zeros(size), np.zeros(size), np.ones(size))
    builder.add_row_terms(-np.inf, 0.0, (first, 1.0), (on, -model.upper[first]))
    builder.add_row_terms(-np.inf, model.upper[second], (second, 1.0), (on, model.upper[second]))
    return on


def _grid_hull(builder: Builder, model: Model, layout: Layout, slots: IntArray) -> IntArray:
    """Import or export in ``slots``, as the convex hull of the two modes.

    ``z`` = 1 is import mode. Charge, discharge and curtailment split into an import-mode share
    ``x1 <= X z`` and an export-mode share ``x2 <= X (1 - z)``; the import-mode balance is
    ``gi = (load - pv) z + c1 - d1 + u1``, so the export-mode shares balance with the export
    alone. (Written with both shares as columns, HiGHS closed a 96-slot case at the root where
    the same hull with ``x - x1`` in the rows took 140 nodes.)
    """
    size = slots.size
    upper = model.upper
    zeros = np.zeros(size)
    mode = builder.add_columns(zeros, zeros, np.ones(size))
    shares = []
    for cols in (layout.charge[slots], layout.discharge[slots], layout.curtailment[slots]):
        bound = upper[cols]
        share = builder.add_columns(zeros, zeros, bound)
        rest = builder.add_columns(zeros, zeros, bound)
        builder.add_row_terms(0.0, 0.0, (cols, 1.0), (share, -1.0), (rest, -1.0))
        builder.add_row_terms(-np.inf, 0.0, (share, 1.0), (mode, -bound))
        builder.add_row_terms(-np.inf, bound, (rest, 1.0), (mode, bound))
        shares.append(share)
    charge, discharge, curtail = shares
    imports, exports = layout.grid_import[slots], layout.grid_export[slots]
    builder.add_row_terms(
        0.0,
        0.0,
        (imports, 1.0),
        (charge, -1.0),
        (discharge, 1.0),
        (curtail, -1.0),
        (mode, -layout.net_load[slots]),
    )
    builder.add_row_terms(-np.inf, 0.0, (imports, 1.0), (mode, -upper[imports]))
    builder.add_row_terms(-np.inf, upper[exports], (exports, 1.0), (mode, upper[exports]))
    return mode


def _slots(mask: npt.NDArray[np.bool_]) -> set[int]:
    """Return the indexes where ``mask`` is true."""
    return {int(i) for i in np.flatnonzero(mask)}
