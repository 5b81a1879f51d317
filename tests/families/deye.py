"""Deye expectations for the shared family suite: over Modbus TCP and through a Solarman logger."""

from __future__ import annotations

from typing import Any

from homeassistant.const import CONF_HOST, CONF_PORT

from custom_components.home_battery.const import CONF_FAMILY
from custom_components.home_battery.devices.deye import CONTROL_EXPIRY_SECONDS
from custom_components.home_battery.families.deye import (
    CONF_LOGGER_SERIAL,
    CONF_PROFILE,
    CONF_UNIT_ID,
)

from ..simulators.deye import LOGGER_SERIAL, SERIAL, DeyeSimulator
from . import FamilyCase
from .variants import variant


def entry_data(sim: DeyeSimulator) -> dict[str, Any]:
    """Config data pointing at the simulator (Modbus TCP)."""
    return {
        CONF_FAMILY: "deye",
        CONF_HOST: "127.0.0.1",
        CONF_PORT: sim.port,
        CONF_UNIT_ID: 1,
        CONF_PROFILE: "auto",
    }


def solarman_entry_data(sim: DeyeSimulator) -> dict[str, Any]:
    """Config data pointing at the simulated logger."""
    return {
        CONF_FAMILY: "deye_solarman",
        CONF_HOST: "127.0.0.1",
        CONF_PORT: sim.port,
        CONF_LOGGER_SERIAL: LOGGER_SERIAL,
        CONF_UNIT_ID: 1,
        CONF_PROFILE: "auto",
    }


def _expected(slug: str) -> dict[str, tuple[float | str, str | None]]:
    return {
        f"sensor.{slug}_state_of_charge": (65, "%"),
        # −600 on the wire (+ = discharging there too): charging.
        f"sensor.{slug}_battery_power": (-600, "W"),
        f"sensor.{slug}_battery_voltage": (52.3, "V"),
        f"sensor.{slug}_battery_current": (-11.47, "A"),
        f"sensor.{slug}_battery_temperature": (23.5, "°C"),  # raw 1235: (raw − 1000) / 10
        f"sensor.{slug}_grid_power": (150, "W"),  # + import
        f"sensor.{slug}_solar_power": (1500, "W"),
        f"sensor.{slug}_house_consumption": (1050, "W"),
        # The inverter's own counters (U32 low word first, raw / 10).
        f"sensor.{slug}_energy_charged": (1234.5, "kWh"),
        f"sensor.{slug}_energy_discharged": (1100.0, "kWh"),
        # The user's max charge / discharge current (100 A) × 52.3 V.
        f"sensor.{slug}_maximum_charge_power": (5230, "W"),
        f"sensor.{slug}_maximum_discharge_power": (5230, "W"),
        f"sensor.{slug}_operating_state": ("charging", None),
        f"select.{slug}_operating_mode": ("auto", None),
    }


SOLARMAN_SERIAL = "2305170042"

# Control safety, read from the simulated inverter: our program window ends at most 15 minutes
# after the last refresh (devices/deye_program.py), on the inverter's own clock.
_SAFETY: dict[str, Any] = {
    "forced": lambda sim: sim.forced(),
    "crash_bound": CONTROL_EXPIRY_SECONDS,
    "advance": lambda sim, seconds: sim.advance(seconds),
    "invalid_writes": lambda sim: sim.invalid_writes(),
}

CASE = FamilyCase(
    key="deye",
    title="Deye",
    serial=SERIAL,
    make_simulator=DeyeSimulator,
    entry_data=entry_data,
    expected=_expected("deye"),
    tolerance=0.011,
    # A charge: the simulated inverter is in a zero-export work mode, where a discharge setpoint
    # is refused (tests/test_deye.py covers discharging in the selling-first mode).
    setpoint=-1500,
    out_of_range=-20000,
    # What the time-of-use program the client wrote makes the simulated inverter do.
    commanded_power=lambda sim: sim.inverter.tou_power(),
    released=lambda sim: sim.inverter.released(),
    modbus=True,
    **_SAFETY,
)

SOLARMAN_CASE = FamilyCase(
    key="deye_solarman",
    title="Deye (Solarman)",
    serial=SOLARMAN_SERIAL,
    # Another inverter than the Modbus case's, so that both can run side by side in the demo.
    make_simulator=lambda: DeyeSimulator(solarman=True, serial=SOLARMAN_SERIAL),
    entry_data=solarman_entry_data,
    expected=_expected("deye_solarman"),
    tolerance=0.011,
    setpoint=-2000,
    out_of_range=6000,
    commanded_power=lambda sim: sim.inverter.tou_power(),
    released=lambda sim: sim.inverter.released(),
    **_SAFETY,
    # Outages are ridden out for 120 s and reconnects back off up to 60 s: with 61 s per poll the
    # second failed poll makes the entities unavailable, and every poll is past the backoff.
    poll_clock_step=61.0,
)

# Models the shared suite can run too: a 16 kW single-phase (grid ×10), an HV inverter with two
# batteries, and an HV model of device type 0x0601 (20-50 kW).
VARIANTS = [
    variant(CASE, "Deye 16 kW", make_simulator=lambda: DeyeSimulator(profile="single_phase_16kw")),
    variant(
        CASE,
        "Deye HV two batteries",
        make_simulator=lambda: DeyeSimulator(profile="three_phase_hv", second_battery=True),
        drop=(
            "_battery_voltage",
            "_battery_current",
            "_battery_temperature",
            "_maximum_charge_power",
            "_maximum_discharge_power",
        ),
    ),
    variant(
        CASE,
        "Deye HV 0x0601",
        make_simulator=lambda: DeyeSimulator(profile="three_phase_hv", device_type=0x0601),
        drop=(
            "_battery_voltage",
            "_battery_current",
            "_maximum_charge_power",
            "_maximum_discharge_power",
        ),
    ),
]
