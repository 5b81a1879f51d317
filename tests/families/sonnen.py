"""sonnenBatterie expectations for the shared family suite."""

from __future__ import annotations

import math
from typing import Any

import aiohttp
from homeassistant.const import CONF_API_TOKEN, CONF_HOST

from custom_components.home_battery.const import CONF_FAMILY
from custom_components.home_battery.devices.base import BatteryDevice
from custom_components.home_battery.devices.sonnen import SonnenConfig, SonnenDevice
from custom_components.home_battery.families.sonnen import CONF_SERIAL_NUMBER

from ..simulators.faults import Fault
from ..simulators.sonnen import SELF_CONSUMPTION, SERIAL, TOKEN, SonnenSimulator
from . import FamilyCase


def entry_data(sim: SonnenSimulator) -> dict[str, Any]:
    """Config data pointing at the simulator (the host field takes `host:port`)."""
    return {
        CONF_FAMILY: "sonnen",
        CONF_HOST: f"127.0.0.1:{sim.port}",
        CONF_API_TOKEN: TOKEN,
        CONF_SERIAL_NUMBER: SERIAL,
    }


def make_device(sim: SonnenSimulator) -> BatteryDevice:
    """The device with its own aiohttp session, for the benchmarks (no Home Assistant)."""
    return SonnenDevice(
        aiohttp.ClientSession(),
        SonnenConfig(host=f"127.0.0.1:{sim.port}", api_token=TOKEN, serial_number=SERIAL),
        close_session=True,
    )


CASE = FamilyCase(
    key="sonnen",
    title="sonnenBatterie",
    serial=SERIAL,
    make_simulator=SonnenSimulator,
    entry_data=entry_data,
    expected={
        "sensor.sonnenbatterie_state_of_charge": (72, "%"),
        # Pac_total_W −3300 (charging), GridFeedIn_W +1000 (exporting): grid −1000 here.
        "sensor.sonnenbatterie_battery_power": (-3300, "W"),
        "sensor.sonnenbatterie_grid_power": (-1000, "W"),
        "sensor.sonnenbatterie_solar_power": (5200, "W"),
        "sensor.sonnenbatterie_house_consumption": (900, "W"),
        "sensor.sonnenbatterie_battery_voltage": (211, "V"),
        "sensor.sonnenbatterie_stored_energy": (7.2, "kWh"),
        "sensor.sonnenbatterie_capacity": (10.0, "kWh"),
        "sensor.sonnenbatterie_maximum_charge_power": (4600, "W"),
        "sensor.sonnenbatterie_maximum_discharge_power": (4600, "W"),
        "sensor.sonnenbatterie_energy_charged": (0.0, "kWh"),
        "sensor.sonnenbatterie_energy_discharged": (0.0, "kWh"),
        "sensor.sonnenbatterie_operating_state": ("charging", None),
        "number.sonnenbatterie_minimum_state_of_charge": (10, "%"),
        "select.sonnenbatterie_operating_mode": ("auto", None),
        "binary_sensor.sonnenbatterie_alarm": ("off", None),
        "binary_sensor.sonnenbatterie_system_error": ("off", None),
    },
    setpoint=-2500,  # charging: POST /setpoint/charge/2500
    out_of_range=5000,
    commanded_power=lambda sim: sim.setpoint_w if sim.setpoint_active else None,
    released=lambda sim: sim.mode == SELF_CONSUMPTION,
    # A wrong token is not an outage: it starts reauth (tests/test_sonnen.py); a stall is
    # tested there too, with a short timeout.
    faults=(Fault.REFUSE, Fault.DROP, Fault.EXCEPTION, Fault.GARBAGE),
    make_device=make_device,
    # Manual mode is kept until a new value arrives (sonnen's API doc): no device-side bound;
    # a battery left forced is released at the next start (tests/test_sonnen.py).
    forced=lambda sim: sim.forced,
    crash_bound=math.inf,  # no device-side bound: see the device module docstring
    advance=lambda sim, seconds: sim.advance(seconds),
    invalid_writes=lambda sim: sim.invalid_writes,
)
