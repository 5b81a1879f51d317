"""Linear models in numpy arrays, and running them through HiGHS.

``highspy`` is imported only by :func:`load_solver`, which :func:`run` calls: importing this module
does not block.

HiGHS is driven through ``highspy._Highs``, the compiled class that ``highspy.Highs`` wraps (it is
listed in highspy's ``__all__``). The wrapper's constructor registers Python callbacks, and that
prints HiGHS' banner ("Running HiGHS 1.16.0 ...") on stdout before any option can be set (issue
15); the compiled class prints nothing, and ``output_flag`` is off before ``run()``.
"""

from dataclasses import dataclass
from importlib import import_module
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from .grid import FloatArray

IntArray = npt.NDArray[np.int64]
#: HiGHS' dual feasibility tolerance, tight enough for the planner's tie-break to count.
DUAL_TOLERANCE = 1e-10
#: Absolute MIP gap (the objective is scaled so that the largest price is 1).
MIP_GAP = 1e-9
#: Largest magnitude of a finite coefficient or bound a model may hold. The planner's inputs are
#: bounded (``limits.py``) and costs are scaled to the largest price, so anything larger is a bug;
#: HiGHS treats 1e20 as infinite and never returns from NaN coefficients (field audit F1).
MAX_COEFFICIENT = 1e12
#: Options of every run: silent, presolve off (these models are small and sparse).
LP_OPTIONS: dict[str, object] = {
    "output_flag": False,
    "presolve": "off",
    "dual_feasibility_tolerance": DUAL_TOLERANCE,
}
#: Options of runs with binaries: exact (no relative gap). The root sub-MIP heuristics (RINS,
#: RENS, root reduced cost) and feasibility jump cost most of the time on these models and find
#: nothing the branch and bound does not; ``mip_heuristic_effort`` 0 alone does not switch them
#: off in HiGHS 1.16 (field audit D1: 196 -> 42 ms). Presolve stays off: on a quiet machine it
#: made the bench's MILP cases 10-60 % slower (sell above buy, 96 slots: 350 -> 136 ms off).
MIP_OPTIONS: dict[str, object] = {
    "mip_rel_gap": 0.0,
    "mip_abs_gap": MIP_GAP,
    "mip_heuristic_effort": 0.0,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_heuristic_run_feasibility_jump": False,
}
_FEASIBLE = 2  # HiGHS' kSolutionStatusFeasible


def load_solver() -> ModuleType:
    """Import highspy (blocking: run it in an executor) and return the module."""
    return import_module("highspy")


@dataclass(frozen=True, slots=True)
class Model:
    """A minimisation model in column-wise (CSC) arrays."""

    cost: FloatArray
    lower: FloatArray
    upper: FloatArray
    row_lower: FloatArray
    row_upper: FloatArray
    rows: IntArray
    cols: IntArray
    values: FloatArray
    integer: IntArray
    """Indexes of the binary columns."""


@dataclass(frozen=True, slots=True)
class Result:
    """Outcome of one solve: a snake_case status and, when one exists, a feasible solution."""

    status: str
    values: FloatArray | None

    @property
    def optimal(self) -> bool:
        """Return whether the solution is proven optimal."""
        return self.status == "optimal"


class InvalidModelError(ValueError):
    """A model holding a number HiGHS must never see (NaN, infinite, huge)."""


class Builder:
    """Collects columns, rows and coefficients in coordinate form."""

    def __init__(self) -> None:
        """Start empty."""
        self.cost: list[FloatArray] = []
        self.lower: list[FloatArray] = []
        self.upper: list[FloatArray] = []
        self.row_lower: list[FloatArray] = []
        self.row_upper: list[FloatArray] = []
        self.rows: list[IntArray] = []
        self.cols: list[IntArray] = []
        self.values: list[FloatArray] = []
        self.num_cols = 0
        self.num_rows = 0

    @classmethod
    def from_model(cls, model: Model) -> "Builder":
        """Start from an existing model (its binaries are not kept)."""
        builder = cls()
        builder.add_columns(model.cost, model.lower, model.upper)
        builder.add_rows(model.row_lower, model.row_upper)
        builder.add_entries(model.rows, model.cols, model.values)
        return builder

    def add_columns(self, cost: FloatArray, lower: FloatArray, upper: FloatArray) -> IntArray:
        """Add columns and return their indexes."""
        index = np.arange(self.num_cols, self.num_cols + len(cost), dtype=np.int64)
        self.cost.append(cost)
        self.lower.append(lower)
        self.upper.append(upper)
        self.num_cols += len(cost)
        return index

    def add_rows(self, lower: FloatArray, upper: FloatArray) -> IntArray:
        """Add rows ``lower <= a x <= upper`` and return their indexes."""
        index = np.arange(self.num_rows, self.num_rows + len(lower), dtype=np.int64)
        self.row_lower.append(lower)
        self.row_upper.append(upper)
        self.num_rows += len(lower)
        return index

    def add_entries(self, rows: IntArray, cols: IntArray, values: npt.ArrayLike) -> None:
        """Add coefficients (a scalar applies to every pair)."""
        self.rows.append(rows)
        self.cols.append(cols)
        self.values.append(np.broadcast_to(np.asarray(values, dtype=np.float64), rows.shape))

    def add_row_terms(
        self, lower: npt.ArrayLike, upper: npt.ArrayLike, *terms: tuple[IntArray, npt.ArrayLike]
    ) -> IntArray:
        """Add rows ``lower <= sum(coefficient * column) <= upper``, one per column of a term.

        Bounds and coefficients may be scalars (the same for every row) or arrays.
        """
        size = terms[0][0].shape
        rows = self.add_rows(
            np.broadcast_to(np.asarray(lower, dtype=np.float64), size),
            np.broadcast_to(np.asarray(upper, dtype=np.float64), size),
        )
        for cols, coefficient in terms:
            self.add_entries(rows, cols, coefficient)
        return rows

    def build(self, integer: IntArray | None = None) -> Model:
        """Return the model in CSC form; ``integer`` lists the binary columns."""
        rows = np.concatenate(self.rows)
        cols = np.concatenate(self.cols)
        order = np.lexsort((rows, cols))
        return Model(
            cost=np.concatenate(self.cost),
            lower=np.concatenate(self.lower),
            upper=np.concatenate(self.upper),
            row_lower=np.concatenate(self.row_lower),
            row_upper=np.concatenate(self.row_upper),
            rows=rows[order],
            cols=cols[order],
            values=np.concatenate(self.values)[order],
            integer=integer if integer is not None else np.zeros(0, dtype=np.int64),
        )


def check_model(model: Model) -> None:
    """Raise InvalidModelError unless every number of the model is finite and bounded.

    Row bounds and column upper bounds may be infinite (one-sided rows, unbounded columns);
    costs, coefficients and column lower bounds may not.
    """
    for name in ("cost", "values", "lower"):
        array: FloatArray = getattr(model, name)
        if not np.all(np.abs(array) <= MAX_COEFFICIENT):  # also False for NaN
            raise InvalidModelError(f"the model's {name} holds a value HiGHS cannot use")
    for name in ("upper", "row_lower", "row_upper"):
        array = getattr(model, name)
        finite = array[np.isfinite(array)]
        if np.isnan(array).any() or not np.all(np.abs(finite) <= MAX_COEFFICIENT):
            raise InvalidModelError(f"the model's {name} holds a value HiGHS cannot use")


def run(model: Model, time_limit: float) -> Result:
    """Solve with HiGHS within ``time_limit`` seconds; raise InvalidModelError for a bad model."""
    check_model(model)
    highspy = load_solver()
    highs: Any = highspy._Highs()  # the silent class, see the module docstring
    num_cols = len(model.cost)
    integrality = np.zeros(num_cols, dtype=np.int32)
    options = dict(LP_OPTIONS)
    if model.integer.size:
        integrality[model.integer] = 1
        options.update(MIP_OPTIONS)
    options["time_limit"] = max(float(time_limit), 0.01)
    for option, value in options.items():
        highs.setOptionValue(option, value)
    start = np.zeros(num_cols + 1, dtype=np.int32)
    np.cumsum(np.bincount(model.cols, minlength=num_cols), out=start[1:])
    passed = highs.passModel(
        num_cols,
        len(model.row_lower),
        len(model.values),
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize),
        0.0,
        model.cost,
        model.lower,
        model.upper,
        model.row_lower,
        model.row_upper,
        start,
        model.rows.astype(np.int32),
        model.values,
        integrality,
    )
    if passed == highspy.HighsStatus.kError:
        return Result("model_error", None)
    highs.run()
    model_status = highs.getModelStatus()
    if model_status == highspy.HighsModelStatus.kOptimal:
        status = "optimal"
    else:
        status = _snake_case(str(highs.modelStatusToString(model_status)))
        if int(highs.getInfo().primal_solution_status) != _FEASIBLE:
            return Result(status, None)
    return Result(status, np.array(highs.getSolution().col_value, dtype=np.float64))


def _snake_case(text: str) -> str:
    """Return HiGHS' status text as a short snake_case name."""
    return "_".join(text.lower().replace("-", " ").split()) or "unknown"
