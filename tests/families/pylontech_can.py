"""Pylontech BMS on CAN expectations for the shared family suite: slcan on a pseudo-terminal.

The simulated BMS: 76 %, 98 % health, 52.10 V, −12.3 A on the wire (+ = charging there, so it is
discharging 12.3 A: +12.3 A here), 25.0 °C, limits 53.2 V / 74 A / 74 A. Power 52.1 V × 12.3 A =
+640.8 W. It broadcasts ten times a second, ten times as often as a real BMS, so that faults show
quickly. The suite moves the device's clock a minute per poll: with a 90 s silence timeout the
second poll of a silent bus finds the data stale, and a poll after the BMS is back finds it fresh.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from custom_components.home_battery.const import CONF_FAMILY
from custom_components.home_battery.families.pylontech_can import (
    CONF_CAN_BITRATE,
    CONF_CAN_CHANNEL,
    CONF_CAN_INTERFACE,
    CONF_SILENCE_TIMEOUT,
)

from ..simulators.faults import Fault
from ..simulators.pylontech_can import PylontechCanSimulator
from . import FamilyCase

SILENCE_TIMEOUT = 90.0  # s
PERIOD = 0.1  # s between broadcasts


def entry_data(sim: PylontechCanSimulator) -> dict[str, Any]:
    """Config data pointing at the simulated adapter's serial port."""
    return {
        CONF_FAMILY: "pylontech_can",
        CONF_CAN_INTERFACE: "slcan",
        CONF_CAN_CHANNEL: str(sim.link),
        CONF_CAN_BITRATE: 500_000,
        CONF_SILENCE_TIMEOUT: SILENCE_TIMEOUT,
    }


CASE = FamilyCase(
    key="pylontech_can",
    title="Pylontech BMS",
    # No serial number on the bus: the interface and channel identify the battery.
    serial=lambda sim: f"slcan:{sim.link}",
    make_simulator=partial(PylontechCanSimulator, period=PERIOD),
    entry_data=entry_data,
    expected={
        "sensor.pylontech_bms_state_of_charge": (76, "%"),
        "sensor.pylontech_bms_state_of_health": (98, "%"),
        "sensor.pylontech_bms_battery_voltage": (52.1, "V"),
        "sensor.pylontech_bms_battery_current": (12.3, "A"),
        "sensor.pylontech_bms_battery_power": (640.8, "W"),
        "sensor.pylontech_bms_battery_temperature": (25.0, "°C"),
        "sensor.pylontech_bms_charge_voltage_limit": (53.2, "V"),
        "sensor.pylontech_bms_charge_current_limit": (74.0, "A"),
        "sensor.pylontech_bms_discharge_current_limit": (74.0, "A"),
        "sensor.pylontech_bms_energy_charged": (0.0, "kWh"),
        "sensor.pylontech_bms_energy_discharged": (0.0, "kWh"),
        "sensor.pylontech_bms_operating_state": ("discharging", None),
        "binary_sensor.pylontech_bms_alarm": ("off", None),
        "binary_sensor.pylontech_bms_high_voltage": ("off", None),
        "binary_sensor.pylontech_bms_low_voltage": ("off", None),
        "binary_sensor.pylontech_bms_high_temperature": ("off", None),
        "binary_sensor.pylontech_bms_low_temperature": ("off", None),
        "binary_sensor.pylontech_bms_high_current": ("off", None),
        "binary_sensor.pylontech_bms_system_error": ("off", None),
        "binary_sensor.pylontech_bms_charging_allowed": ("on", None),
        "binary_sensor.pylontech_bms_discharging_allowed": ("on", None),
        "binary_sensor.pylontech_bms_force_charge_requested": ("off", None),
        "binary_sensor.pylontech_bms_full_charge_requested": ("off", None),
    },
    # REFUSE: the adapter unplugged; STALL: the BMS silent; GARBAGE: truncated frames and lines
    # that are not frames. DROP and EXCEPTION have no meaning for a bus that is only listened to.
    faults=(Fault.REFUSE, Fault.STALL, Fault.GARBAGE),
    poll_clock_step=61.0,  # a silent bus counts as lost once the silence timeout has passed
)

# Protocol V1.3 (current US5000 firmware): alarms from 0x35A, permissions from the current limits,
# no charge requests (0x35C is gone). For the shared suite's table: add it to `CASES`.
V1_3_CASE = replace(
    CASE,
    variant="v1_3",
    key="pylontech_can",
    make_simulator=partial(PylontechCanSimulator, period=PERIOD, protocol="1.3"),
    expected={
        key: value
        for key, value in CASE.expected.items()
        if not key.endswith(("force_charge_requested", "full_charge_requested"))
    },
)
