"""Pylontech CAN decoding on real recorded frames: protocol V1.2 and V1.3 (no bus needed).

tests/fixtures/pylontech_can/setfirelabs_us5000.txt: two real US5000 stacks, one on V1.2 (0x359,
0x35C) and one on V1.3 (0x35A, 0x35F instead), as setfirelabs recorded them.
"""

from __future__ import annotations

from pathlib import Path

import can
import pytest

from custom_components.home_battery.devices.model import Key, OperatingState
from custom_components.home_battery.devices.pylontech_can import (
    PylontechCanConfig,
    PylontechCanDevice,
)

CAPTURE = Path(__file__).parent.parent / "fixtures" / "pylontech_can" / "setfirelabs_us5000.txt"


def frames(stack: str) -> list[tuple[int, bytes]]:
    """Return one stack's frames from the capture."""
    result = []
    for line in CAPTURE.read_text().splitlines():
        if line.startswith(stack + " "):
            _, can_id, data = line.split(maxsplit=2)
            result.append((int(can_id, 16), bytes.fromhex(data)))
    return result


def decoded(stack: str, *extra: tuple[int, bytes]) -> PylontechCanDevice:
    """A device that heard one stack's frames (and `extra` ones after them)."""
    device = PylontechCanDevice(PylontechCanConfig(interface="virtual", channel="recorded"))
    device.clock = lambda: 100.0
    for can_id, data in (*frames(stack), *extra):
        device.handle_frame(can.Message(arbitration_id=can_id, data=data, is_extended_id=False))
    return device


def state_of(device: PylontechCanDevice) -> dict[str, object]:
    return dict(device._state({i: v for i, (_, v) in device._frames.items()}))


def test_v1_2_stack() -> None:
    """V1.2: SOC 88 %, SOH 94 %, 49.86 V, −27.0 A on the wire (discharging), 6 modules."""
    state = state_of(decoded("old"))
    assert (state[Key.STATE_OF_CHARGE], state[Key.STATE_OF_HEALTH]) == (88, 94)
    assert state[Key.BATTERY_VOLTAGE] == 49.86
    assert state[Key.BATTERY_CURRENT] == 27.0
    assert state[Key.OPERATING_STATE] == OperatingState.DISCHARGING
    assert state["module_count"] == 6
    assert isinstance(state["module_count"], int)
    assert state["charge_allowed"] is True  # 0x35C C0: charge and discharge enabled
    assert state["discharge_allowed"] is True
    assert state[Key.ALARM] is False


def test_v1_3_stack_has_alarms_and_permissions() -> None:
    """V1.3: no 0x359/0x35C, yet alarms (0x35A, all clear) and permissions (CCL, DCL > 0)."""
    device = decoded("new")
    state = state_of(device)
    assert (state[Key.STATE_OF_CHARGE], state[Key.STATE_OF_HEALTH]) == (84, 96)
    assert state[Key.BATTERY_VOLTAGE] == 49.87
    assert state[Key.BATTERY_CURRENT] == 27.9
    assert state[Key.CHARGE_CURRENT_LIMIT] == 480.0  # a stack: 0x12C0 × 0.1 A
    for key in ("high_voltage_alarm", "low_voltage_alarm", "system_error", Key.ALARM):
        assert state[key] is False, key
    assert state["charge_allowed"] is True
    assert state["discharge_allowed"] is True
    info = device._frames[0x35F][1]
    assert info == {"chemistry": "LI", "version_major": 1, "version_minor": 3}


@pytest.mark.parametrize(
    ("alarms", "key", "fault"),
    [
        ("04 00 00 00 00 00 00 00", "high_voltage_alarm", True),  # byte 0 bits 2–3 = 01
        ("00 00 00 00 10 00 00 00", "low_voltage_alarm", False),  # a warning (byte 4)
        ("00 00 40 00 00 00 00 00", "system_error", True),  # BMS internal (byte 2 bits 6–7)
        ("00 40 00 00 00 00 00 00", "high_current_alarm", True),  # discharge current
        ("00 00 00 00 00 01 00 00", "low_temperature_alarm", False),  # warning, byte 5
    ],
)
def test_v1_3_alarm_bits(alarms: str, key: str, fault: bool) -> None:
    """0x35A: two bits per condition, 01 active; an alarm (bytes 0–3) is the BMS acting."""
    state = state_of(decoded("new", (0x35A, bytes.fromhex(alarms))))
    assert state[key] is True
    assert state[Key.ALARM] is True
    assert (state[Key.OPERATING_STATE] == OperatingState.FAULT) is fault


def test_ok_and_unsupported_codes_are_not_alarms() -> None:
    """10 (OK) and 11 (not supported) in every field: nothing raised."""
    state = state_of(decoded("new", (0x35A, bytes.fromhex("AA AA AA AA FF FF FF FF"))))
    assert state[Key.ALARM] is False


def test_zero_charge_limit_means_charging_not_allowed() -> None:
    """A V1.3 BMS stops charging by sending CCL 0 in 0x351."""
    state = state_of(decoded("new", (0x351, bytes.fromhex("10 02 00 00 C0 12 C2 01"))))
    assert state["charge_allowed"] is False
    assert state["discharge_allowed"] is True


def test_zero_current_is_not_negative_zero() -> None:
    """0 A on the wire: 0.0 A and 0.0 W, never −0.0."""
    state = state_of(decoded("new", (0x356, bytes.fromhex("7B 13 00 00 6B 01"))))
    assert str(state[Key.BATTERY_CURRENT]) == "0.0"
    assert str(state[Key.BATTERY_POWER]) == "0.0"
