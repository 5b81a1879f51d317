"""An independent formulation of the planning model, used as a test oracle and in the bench.

A MILP with binaries on every slot: one chooses charging or discharging, one importing or
exporting, and the two switches are written as the logical rules of DESIGN.md ("no slot both
charges and imports", "no slot both discharges and exports") with their own binaries. It is
built row by row with plain loops, has no tie-break and values the stored energy at the end
directly, so it shares no code with the solver beyond the Problem it reads.
"""

from dataclasses import dataclass
import time

import highspy
import numpy as np

from custom_components.home_battery.schedule.model import Problem

INF = highspy.kHighsInf


@dataclass(frozen=True)
class OracleResult:
    """Optimum of the oracle: objective = cost - terminal credit (currency)."""

    status: str
    objective: float
    cost: float
    charge: np.ndarray
    discharge: np.ndarray
    grid_import: np.ndarray
    grid_export: np.ndarray
    curtailment: np.ndarray
    energy: np.ndarray
    solve_ms: float


class _Rows:
    def __init__(self) -> None:
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.starts: list[int] = []
        self.index: list[int] = []
        self.value: list[float] = []

    def add(self, lower: float, upper: float, terms: dict[int, float]) -> None:
        self.lower.append(lower)
        self.upper.append(upper)
        self.starts.append(len(self.index))
        for col, coef in terms.items():
            self.index.append(col)
            self.value.append(coef)


def solve_oracle(problem: Problem, *, time_limit: float = 120.0) -> OracleResult:
    """Solve ``problem`` exactly as a MILP with per-slot binaries (soft bounds unsupported)."""
    began = time.perf_counter()
    n = problem.count
    bat = problem.battery
    opt = problem.options
    h = problem.hours
    pc = bat.max_charge_power / 1000
    pd = bat.max_discharge_power / 1000
    e0 = bat.energy
    e_lo, e_hi = bat.min_energy, bat.max_energy
    if not e_lo - 1e-9 <= e0 <= e_hi + 1e-9:
        raise ValueError("the oracle needs a start inside the state-of-charge bounds")
    # per-slot column numbers
    per = 10
    c, d, gi, ge, u, e, b, z, q, r = range(per)
    cost = [0.0] * (n * per)
    lower = [0.0] * (n * per)
    upper = [0.0] * (n * per)
    integer = [0] * (n * per)
    rows = _Rows()
    for t in range(n):
        col = {k: t * per + k for k in range(per)}
        pv, load = float(problem.pv[t]), float(problem.load[t])
        imp_lim = (
            INF if opt.max_import_power is None else max(opt.max_import_power / 1000, load - pv)
        )
        exp_lim = INF if opt.max_export_power is None else opt.max_export_power / 1000
        if opt.max_export_power is not None and not opt.allow_pv_curtailment:
            exp_lim = max(exp_lim, pv - load)
        big_imp = load + pc  # import with export off: load + charge - (pv - u) - d
        big_exp = pv + pd  # export with import off
        bounds = {
            c: pc,
            d: pd,
            gi: min(imp_lim, big_imp),
            ge: min(exp_lim, big_exp),
            u: pv if opt.allow_pv_curtailment else 0.0,
            e: e_hi,
            b: 1.0,
            z: 1.0,
            q: 1.0,
            r: 1.0,
        }
        for k, ub in bounds.items():
            upper[col[k]] = ub
        lower[col[e]] = e_lo
        for k in (b, z, q, r):
            integer[col[k]] = 1
        cost[col[gi]] = float(problem.buy[t]) * h[t]
        cost[col[ge]] = -float(problem.sell[t]) * h[t]
        cost[col[d]] = bat.cycle_cost * h[t]
        # pv - u + d + gi - c - ge = load
        rows.add(load - pv, load - pv, {col[d]: 1, col[gi]: 1, col[c]: -1, col[ge]: -1, col[u]: -1})
        # energy: e_t - e_(t-1) - eta_c h c + h/eta_d d = 0
        terms = {col[e]: 1.0, col[c]: -bat.charge_efficiency * h[t]}
        terms[col[d]] = h[t] / bat.discharge_efficiency
        rhs = e0
        if t > 0:
            terms[(t - 1) * per + e] = -1.0
            rhs = 0.0
        rows.add(rhs, rhs, terms)
        # b = 1: may charge, not discharge; z = 1: may import, not export
        rows.add(-INF, 0.0, {col[c]: 1, col[b]: -pc})
        rows.add(-INF, pd, {col[d]: 1, col[b]: pd})
        rows.add(-INF, 0.0, {col[gi]: 1, col[z]: -bounds[gi]})
        rows.add(-INF, bounds[ge], {col[ge]: 1, col[z]: bounds[ge]})
        if not opt.allow_grid_charge:  # q = 1: charging allowed, importing not
            rows.add(-INF, 0.0, {col[c]: 1, col[q]: -pc})
            rows.add(-INF, bounds[gi], {col[gi]: 1, col[q]: bounds[gi]})
        if not opt.allow_battery_export:  # r = 1: discharging allowed, exporting not
            rows.add(-INF, 0.0, {col[d]: 1, col[r]: -pd})
            rows.add(-INF, bounds[ge], {col[ge]: 1, col[r]: bounds[ge]})
    last_e = (n - 1) * per + e
    cost[last_e] -= problem.terminal_value
    if opt.target_state_of_charge is not None:
        target = min(bat.capacity * opt.target_state_of_charge / 100, e_hi)
        rows.add(target, INF, {last_e: 1.0})

    highs = highspy._Highs()  # silent, like the planner (see schedule/lp.py)
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("time_limit", time_limit)
    highs.setOptionValue("mip_rel_gap", 0.0)
    highs.setOptionValue("mip_abs_gap", 1e-9)
    lp = highspy.HighsLp()
    lp.num_col_ = n * per
    lp.num_row_ = len(rows.lower)
    lp.col_cost_ = np.array(cost)
    lp.col_lower_ = np.array(lower)
    lp.col_upper_ = np.array(upper)
    lp.row_lower_ = np.array(rows.lower)
    lp.row_upper_ = np.array(rows.upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_ = n * per
    lp.a_matrix_.num_row_ = len(rows.lower)
    lp.a_matrix_.start_ = np.array([*rows.starts, len(rows.index)], dtype=np.int32)
    lp.a_matrix_.index_ = np.array(rows.index, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(rows.value)
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
        for flag in integer
    ]
    highs.passModel(lp)
    highs.run()
    status = highs.modelStatusToString(highs.getModelStatus()).lower()
    x = np.array(highs.getSolution().col_value).reshape(n, per)
    charge, discharge = x[:, c], x[:, d]
    grid_import, grid_export = x[:, gi], x[:, ge]
    real_cost = float(
        np.sum(
            h
            * (problem.buy * grid_import - problem.sell * grid_export + bat.cycle_cost * discharge)
        )
    )
    credit = problem.terminal_value * (float(x[-1, e]) - e0)
    return OracleResult(
        status=status,
        objective=real_cost - credit,
        cost=real_cost,
        charge=charge,
        discharge=discharge,
        grid_import=grid_import,
        grid_export=grid_export,
        curtailment=x[:, u],
        energy=x[:, e],
        solve_ms=(time.perf_counter() - began) * 1000,
    )
