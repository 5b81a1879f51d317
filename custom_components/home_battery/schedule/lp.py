"""Linear models in numpy arrays, and running them through HiGHS.

``highspy`` is imported only by :func:`load_solver`, which :func:`run` calls: importing this module
does not block.
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


def run(model: Model, time_limit: float) -> Result:
    """Solve with HiGHS (silently, presolve off: these models are small and sparse)."""
    highspy = load_solver()
    highs: Any = highspy.Highs()
    for option, value in (
        ("output_flag", False),
        ("time_limit", max(float(time_limit), 0.01)),
        ("presolve", "off"),
        ("dual_feasibility_tolerance", DUAL_TOLERANCE),
    ):
        highs.setOptionValue(option, value)
    num_cols = len(model.cost)
    integrality = np.zeros(num_cols, dtype=np.int32)
    if model.integer.size:
        integrality[model.integer] = 1
        highs.setOptionValue("mip_rel_gap", 0.0)
        highs.setOptionValue("mip_abs_gap", MIP_GAP)
        highs.setOptionValue("mip_heuristic_effort", 0.0)  # sub-MIP heuristics cost seconds
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
