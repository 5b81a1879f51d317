"""Plasmatronics expectations for the shared family suite: a PL60 (48 V) behind a serial server.

The simulator's regulator: 52.4 V, solar (internal charge) 30 A, external charge shunt 2 A, own
load output 5 A, external load shunt 3 A, 78 %, 400 Ah. Charge 32 A and load 8 A make the battery
current −24 A (charging) and the power −24 A × 52.4 V = −1257.6 W.
"""

from __future__ import annotations

from typing import Any

from homeassistant.const import CONF_DEVICE

from custom_components.home_battery.const import CONF_FAMILY

from ..simulators.faults import Fault
from ..simulators.pli import PliSimulator
from . import FamilyCase


def entry_data(sim: PliSimulator) -> dict[str, Any]:
    """Config data pointing at the simulator's serial server."""
    return {CONF_FAMILY: "plasmatronics", CONF_DEVICE: sim.url}


CASE = FamilyCase(
    key="plasmatronics",
    title="Plasmatronics",
    # No serial number on the regulator: its own settings identify it (wherever it is plugged in).
    serial=lambda sim: sim.regulator_id,
    make_simulator=PliSimulator,
    entry_data=entry_data,
    expected={
        "sensor.plasmatronics_state_of_charge": (78, "%"),
        "sensor.plasmatronics_battery_voltage": (52.4, "V"),
        "sensor.plasmatronics_battery_current": (-24.0, "A"),
        "sensor.plasmatronics_battery_power": (-1257.6, "W"),
        "sensor.plasmatronics_solar_power": (1572.0, "W"),  # internal charge 30 A × 52.4 V
        "sensor.plasmatronics_house_consumption": (419.2, "W"),  # (5 + 3) A × 52.4 V
        "sensor.plasmatronics_capacity": (19.2, "kWh"),  # 400 Ah × 48 V
        "sensor.plasmatronics_stored_energy": (14.98, "kWh"),
        "sensor.plasmatronics_energy_charged": (0.0, "kWh"),
        "sensor.plasmatronics_energy_discharged": (0.0, "kWh"),
        "sensor.plasmatronics_operating_state": ("charging", None),
    },
    faults=(Fault.REFUSE, Fault.DROP, Fault.STALL, Fault.GARBAGE, Fault.EXCEPTION),
)
