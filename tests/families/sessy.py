"""Sessy expectations for the shared family suite."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
import math
from typing import Any

import aiohttp
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_USERNAME

from custom_components.home_battery.const import CONF_FAMILY
from custom_components.home_battery.devices.base import BatteryDevice
from custom_components.home_battery.devices.sessy import SessyConfig, SessyDevice

from ..simulators.faults import Fault
from ..simulators.sessy import API, NOM, PASSWORD, SERIAL, SessySimulator
from . import FamilyCase


def entry_data(sim: SessySimulator) -> dict[str, Any]:
    """Config data pointing at the simulator (the host field takes `host:port`)."""
    return {
        CONF_FAMILY: "sessy",
        CONF_HOST: f"127.0.0.1:{sim.port}",
        CONF_USERNAME: SERIAL,
        CONF_PASSWORD: PASSWORD,
    }


def make_device(sim: SessySimulator) -> BatteryDevice:
    """The device with its own aiohttp session, for the benchmarks (no Home Assistant)."""
    return SessyDevice(
        aiohttp.ClientSession(),
        SessyConfig(host=f"127.0.0.1:{sim.port}", username=SERIAL, password=PASSWORD),
        close_session=True,
    )


CASE = FamilyCase(
    key="sessy",
    title="Sessy",
    serial=SERIAL,
    make_simulator=SessySimulator,
    entry_data=entry_data,
    expected={
        "sensor.sessy_state_of_charge": (64.0, "%"),
        # Under NOM the Sessy takes the 400 W surplus: charging, so negative.
        "sensor.sessy_battery_power": (-400, "W"),
        "sensor.sessy_battery_voltage": (51.8, "V"),
        "sensor.sessy_solar_power": (1250, "W"),
        "sensor.sessy_maximum_charge_power": (2200, "W"),
        "sensor.sessy_maximum_discharge_power": (2200, "W"),
        "sensor.sessy_energy_charged": (0.0, "kWh"),
        "sensor.sessy_energy_discharged": (0.0, "kWh"),
        "sensor.sessy_operating_state": ("charging", None),
        "select.sessy_operating_mode": ("auto", None),
        "binary_sensor.sessy_alarm": ("off", None),
        "binary_sensor.sessy_system_error": ("off", None),
        "binary_sensor.sessy_low_voltage": ("off", None),
    },
    setpoint=1500,  # discharging: {"setpoint": 1500} on the wire
    out_of_range=-3000,
    commanded_power=lambda sim: float(sim.setpoint) if sim.strategy == API else None,
    released=lambda sim: sim.strategy == NOM,
    # Wrong credentials start reauth and a stall needs a short timeout: tests/test_sessy.py.
    faults=(Fault.REFUSE, Fault.DROP, Fault.EXCEPTION, Fault.GARBAGE),
    make_device=make_device,
    # Nothing ends the API strategy on the dongle (a lost network only sets the setpoint to 0):
    # no device-side bound; a dongle left forced is released at the next start.
    forced=lambda sim: sim.forced,
    crash_bound=math.inf,  # no device-side bound: see the device module docstring
    advance=lambda sim, seconds: sim.advance(seconds),
    invalid_writes=lambda sim: sim.invalid_writes,
)

# Older dongle firmware (gruijter/nl.sessy's capture: fewer fields, no settings endpoint) on a
# battery whose owner set 1700 W: the limits fall back to the inverter's 2200 W, no voltage.
OLD_FIRMWARE_CASE = replace(
    CASE,
    variant="old_firmware",
    make_simulator=partial(SessySimulator, old_firmware=True),
    expected={k: v for k, v in CASE.expected.items() if k != "sensor.sessy_battery_voltage"},
)
# Current firmware with the owner's max_power 1700 W in /api/v1/system/settings.
LOW_POWER_CASE = replace(
    CASE,
    variant="low_power",
    make_simulator=partial(SessySimulator, max_power=1700),
    expected=CASE.expected
    | {
        "sensor.sessy_maximum_charge_power": (1700, "W"),
        "sensor.sessy_maximum_discharge_power": (1700, "W"),
    },
    out_of_range=-1800,
)
