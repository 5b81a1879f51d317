"""Victron GX expectations for the shared family suite."""

from __future__ import annotations

import math
from typing import Any

from homeassistant.const import CONF_HOST, CONF_PORT
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.home_battery.const import CONF_FAMILY, DOMAIN
from custom_components.home_battery.families.victron import CONF_BATTERY_UNIT_ID, CONF_VEBUS_UNIT_ID

from ..simulators.victron import SERIAL, VictronSimulator
from . import FamilyCase
from .variants import variant


def entry_data(sim: VictronSimulator) -> dict[str, Any]:
    """Config data pointing at the simulator."""
    return {
        CONF_FAMILY: "victron",
        CONF_HOST: "127.0.0.1",
        CONF_PORT: sim.port,
        CONF_VEBUS_UNIT_ID: 227,
        CONF_BATTERY_UNIT_ID: 225,
    }


def config_entry(sim: VictronSimulator, options: dict[str, Any]) -> MockConfigEntry:
    """A config entry for the simulated GX ``sim`` with ``options``."""
    return MockConfigEntry(
        domain=DOMAIN, title="Victron GX", data=entry_data(sim), options=options, unique_id=SERIAL
    )


CASE = FamilyCase(
    key="victron",
    title="Victron GX",
    serial=SERIAL,
    make_simulator=VictronSimulator,
    entry_data=entry_data,
    expected={
        "sensor.victron_gx_state_of_charge": (65.0, "%"),
        "sensor.victron_gx_state_of_health": (99.0, "%"),
        # The GX reports +600 (+ = charging on the wire): charging is negative here.
        "sensor.victron_gx_battery_power": (-600, "W"),
        "sensor.victron_gx_battery_voltage": (51.9, "V"),
        "sensor.victron_gx_battery_current": (-11.6, "A"),
        "sensor.victron_gx_battery_temperature": (23.5, "°C"),
        "sensor.victron_gx_grid_power": (0, "W"),
        "sensor.victron_gx_solar_power": (1500, "W"),
        "sensor.victron_gx_house_consumption": (900, "W"),
        "sensor.victron_gx_charge_voltage_limit": (56.8, "V"),
        "sensor.victron_gx_charge_current_limit": (100.0, "A"),
        "sensor.victron_gx_discharge_current_limit": (150.0, "A"),
        "sensor.victron_gx_maximum_discharge_power": (5000, "W"),
        "sensor.victron_gx_maximum_charge_power": (5190, "W"),
        "sensor.victron_gx_energy_charged": (0.0, "kWh"),
        "sensor.victron_gx_energy_discharged": (0.0, "kWh"),
        "sensor.victron_gx_operating_state": ("charging", None),
        "number.victron_gx_minimum_state_of_charge": (10.0, "%"),
        "select.victron_gx_operating_mode": ("auto", None),
        "binary_sensor.victron_gx_alarm": ("off", None),
        "binary_sensor.victron_gx_high_temperature": ("off", None),
    },
    setpoint=2000,
    out_of_range=-6000,
    # ESS turns the grid setpoint into battery power; the simulator models exactly that.
    commanded_power=lambda sim: sim.battery_power() if sim.override_active else None,
    released=lambda sim: sim.grid_setpoint == sim.system.get_i16(2700),
    modbus=True,
    forced=lambda sim: sim.forced(),
    # No documented expiry of the volatile override 2716 (devices/victron.py): a crashed Home
    # Assistant leaves it until the GX reboots or Home Assistant starts again: no device-side
    # bound (as for sonnen).
    crash_bound=math.inf,
    advance=lambda sim, seconds: sim.advance(seconds),
    invalid_writes=lambda sim: sum(b.invalid_writes for b in (sim.system, sim.vebus, sim.battery)),
)

# Models the shared suite can run too: a BMV/SmartShunt (no SOH, BMS limits or temperature).
VARIANTS = [
    variant(
        CASE,
        "Victron GX SmartShunt",
        make_simulator=lambda: VictronSimulator(monitor="smartshunt"),
        drop=(
            "_state_of_health",
            "_battery_temperature",
            "_charge_voltage_limit",
            "_charge_current_limit",
            "_discharge_current_limit",
        ),
    ),
]
