"""SMA Sunny Island / Sunny Boy Storage expectations for the shared family suite."""

from __future__ import annotations

from typing import Any

from homeassistant.const import CONF_HOST, CONF_PORT

from custom_components.home_battery.const import CONF_FAMILY
from custom_components.home_battery.devices.sma import FALLBACK_TIMEOUT
from custom_components.home_battery.families.sma import CONF_UNIT_ID

from ..simulators.sma import SERIAL, UNIT_ID, SmaSimulator
from . import FamilyCase
from .variants import variant


def entry_data(sim: SmaSimulator) -> dict[str, Any]:
    """Config data pointing at the simulator."""
    return {CONF_FAMILY: "sma", CONF_HOST: "127.0.0.1", CONF_PORT: sim.port, CONF_UNIT_ID: UNIT_ID}


CASE = FamilyCase(
    key="sma",
    title="SMA",
    serial=str(SERIAL),
    make_simulator=SmaSimulator,
    entry_data=entry_data,
    expected={
        "sensor.sma_state_of_charge": (72, "%"),
        # SMA's own sign is the common one: + discharging.
        "sensor.sma_battery_power": (-3680, "W"),
        "sensor.sma_battery_current": (-70.32, "A"),
        "sensor.sma_battery_voltage": (52.33, "V"),
        "sensor.sma_battery_temperature": (24.7, "°C"),
        # 220 W fed in (30867) and nothing drawn (30865).
        "sensor.sma_grid_power": (-220, "W"),
        "sensor.sma_energy_charged": (4321.0, "kWh"),
        "sensor.sma_energy_discharged": (3876.5, "kWh"),
        "sensor.sma_maximum_charge_power": (3680, "W"),
        "sensor.sma_maximum_discharge_power": (3680, "W"),
        "sensor.sma_operating_state": ("charging", None),
        "select.sma_operating_mode": ("auto", None),
        "binary_sensor.sma_alarm": ("off", None),
    },
    setpoint=2000,
    out_of_range=-5000,  # the inverter is rated 3680 W
    commanded_power=lambda sim: sim.commanded_power(),
    released=lambda sim: not sim.control_active,
    modbus=True,
    forced=lambda sim: sim.forced(),
    # The fallback timeout control sets in 41195 (devices/sma.py): the setpoint lapses after it.
    crash_bound=FALLBACK_TIMEOUT,
    advance=lambda sim, seconds: sim.advance(seconds),
    invalid_writes=lambda sim: sim.bank.invalid_writes,
)

# Models the shared suite can run too: a Sunny Island (counters 30595/30597), and a model
# without 30231 that refuses any block touching it (limits then from the options).
VARIANTS = [
    variant(CASE, "SMA Sunny Island", make_simulator=lambda: SmaSimulator(model="si")),
    variant(
        CASE,
        "SMA without rating",
        make_simulator=lambda: SmaSimulator(max_power=False, strict_missing=True),
        drop=("_maximum_charge_power", "_maximum_discharge_power"),
        options={"max_charge_power": 3000, "max_discharge_power": 3000},
    ),
]
