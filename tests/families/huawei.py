"""Huawei SUN2000 with LUNA2000 expectations for the shared family suite."""

from __future__ import annotations

from typing import Any

from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT

from custom_components.home_battery.const import CONF_FAMILY
from custom_components.home_battery.devices.huawei import CONTROL_EXPIRY_SECONDS
from custom_components.home_battery.families.huawei import CONF_UNIT_ID

from ..simulators.huawei import PASSWORD, SERIAL, HuaweiSimulator
from . import FamilyCase
from .variants import variant


def entry_data(sim: HuaweiSimulator) -> dict[str, Any]:
    """Config data pointing at the simulator (through an SDongle: unit id 1), with the installer
    password the simulator wants for battery settings."""
    return {
        CONF_FAMILY: "huawei",
        CONF_HOST: "127.0.0.1",
        CONF_PORT: sim.port,
        CONF_UNIT_ID: 1,
        CONF_PASSWORD: PASSWORD,
    }


async def advance(sim: HuaweiSimulator, seconds: float) -> None:
    """Move the inverter's own clock on (forcible periods, the login's expiry)."""
    sim.advance(seconds)


CASE = FamilyCase(
    key="huawei",
    title="Huawei SUN2000",
    serial=SERIAL,
    make_simulator=HuaweiSimulator,
    entry_data=entry_data,
    expected={
        "sensor.huawei_sun2000_state_of_charge": (55.0, "%"),
        # The inverter reports +2500 (+ = charging on the wire): charging is negative here.
        "sensor.huawei_sun2000_battery_power": (-2500, "W"),
        "sensor.huawei_sun2000_battery_voltage": (450.0, "V"),
        "sensor.huawei_sun2000_battery_current": (-5.6, "A"),
        "sensor.huawei_sun2000_battery_temperature": (25.3, "°C"),
        # The meter reports +400 (+ = exporting on the wire): exporting is negative here.
        "sensor.huawei_sun2000_grid_power": (-400, "W"),
        "sensor.huawei_sun2000_solar_power": (3500, "W"),
        # Inverter output 1000 W − 400 W exported.
        "sensor.huawei_sun2000_house_consumption": (600, "W"),
        "sensor.huawei_sun2000_grid_energy_imported": (5432.1, "kWh"),
        "sensor.huawei_sun2000_grid_energy_exported": (3210.98, "kWh"),
        "sensor.huawei_sun2000_energy_charged": (1234.56, "kWh"),
        "sensor.huawei_sun2000_energy_discharged": (1100.12, "kWh"),
        "sensor.huawei_sun2000_capacity": (10.0, "kWh"),
        "sensor.huawei_sun2000_stored_energy": (5.5, "kWh"),
        "sensor.huawei_sun2000_maximum_charge_power": (2500, "W"),
        "sensor.huawei_sun2000_maximum_discharge_power": (5000, "W"),
        "sensor.huawei_sun2000_operating_state": ("charging", None),
        "select.huawei_sun2000_operating_mode": ("auto", None),
        "binary_sensor.huawei_sun2000_alarm": ("off", None),
    },
    setpoint=2000,
    out_of_range=-3000,  # the battery charges at 2500 W at most
    commanded_power=lambda sim: sim.forcible_power(),
    released=lambda sim: not sim.forced,
    modbus=True,
    # The inverter ends a forcible command by itself after its period (47083, 5 minutes).
    forced=lambda sim: sim.forced,
    crash_bound=CONTROL_EXPIRY_SECONDS,
    advance=advance,
    invalid_writes=lambda sim: sim.invalid_writes,
)


def _negative_export() -> HuaweiSimulator:
    sim = HuaweiSimulator()
    sim.export_sign = -1  # a meter that reports the exported energy negative [HSI #54]
    return sim


# Models the shared suite can run too: without a power meter, without unit 1's registers (the
# battery temperature), and a meter that counts the exported energy negative (shown positive).
VARIANTS = [
    variant(
        CASE,
        "Huawei without meter",
        make_simulator=lambda: HuaweiSimulator(meter=False),
        drop=("_grid_power", "_grid_energy_imported", "_grid_energy_exported", "_consumption"),
    ),
    variant(
        CASE,
        "Huawei without unit 1",
        make_simulator=lambda: HuaweiSimulator(unit_temperature=False),
        drop=("_battery_temperature",),
    ),
    variant(CASE, "Huawei negative export", make_simulator=_negative_export),
]
