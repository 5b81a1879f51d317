"""PLI decoding and MQTT payload reading on documented and real values (no Home Assistant).

tests/fixtures/pli/documented.json: the PLI manual's values as public projects quote them and a
real PL80's settings; tests/fixtures/mqtt/payloads.json: real payload shapes (Venus OS, ESPHome,
Home Assistant text states). Sources are in each file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from custom_components.home_battery.devices.mqtt import PayloadError, extract
from custom_components.home_battery.devices.plasmatronics import (
    CURRENT_SCALES,
    SYSTEM_VOLTAGES,
    ExternalFlags,
    capacity_ah,
    model_of,
    regulator_id,
)
from custom_components.home_battery.devices.pli import Command, encode_request

FIXTURES = Path(__file__).parent.parent / "fixtures"
PLI = json.loads((FIXTURES / "pli" / "documented.json").read_text())
MQTT = json.loads((FIXTURES / "mqtt" / "payloads.json").read_text())


def _documented(address: int) -> list[dict[str, Any]]:
    return [v for v in PLI["documented_values"] if v["address"] == address]


def test_frames_as_documented() -> None:
    """Read RAM: `[20, address, 0, 235]`; loopback `[187, 0, 0, 68]` (complement byte)."""
    frames = PLI["frames"]
    assert list(encode_request(Command.READ_RAM, 50)) == frames["read_batv_request"]
    assert list(encode_request(Command.LOOPBACK, 0)) == frames["loopback_request"]


@pytest.mark.parametrize("value", _documented(50), ids=lambda v: v["what"])
def test_battery_voltage_scales_with_the_system(value: dict[str, Any]) -> None:
    """batv × 0.1 × (system V / 12)."""
    system = SYSTEM_VOLTAGES[value["system_code"]]
    assert value["raw"] * 0.1 * system / 12 == pytest.approx(value["volts"])


@pytest.mark.parametrize("value", _documented(213) + _documented(217), ids=lambda v: v["what"])
def test_internal_currents_per_model(value: dict[str, Any]) -> None:
    """cint / lint steps: PL20 0.1 A, PL40 0.2/0.1 A, PL60 0.4/0.2 A."""
    scale = CURRENT_SCALES[model_of(value["version"])]
    step = scale.charge if value["address"] == 213 else scale.load
    assert value["raw"] * step == pytest.approx(value["amps"])


@pytest.mark.parametrize("value", _documented(94), ids=lambda v: v["what"])
def test_battery_capacity_steps(value: dict[str, Any]) -> None:
    assert capacity_ah(value["raw"]) == value["amp_hours"]


def test_volt_byte_and_the_real_pl80_identity() -> None:
    """0x31 = program 3 on 24 V; a real PL80 (24 V, program 0, 880 Ah) names itself so."""
    (volt,) = _documented(93)
    assert SYSTEM_VOLTAGES[volt["raw"] & 0x0F] == volt["system_volts"]
    assert volt["raw"] >> 4 == volt["program"]
    real = PLI["real_pl80_settings_2020_01_28"]
    assert (real["VOLT"], real["PROG"], real["BCAP_Ah"]) == ("24V", 0, 880)
    assert regulator_id(model_of(230), 230, 0x01, 44) == "PL80-sw230-24V-prog0-880Ah"
    (flags,) = _documented(207)
    assert (
        ExternalFlags(flags["raw"]) == ExternalFlags.CHARGE_FITTED | ExternalFlags.CHARGE_WHOLE_AMPS
    )


@pytest.mark.parametrize("case", MQTT["cases"], ids=lambda c: c["name"])
def test_real_mqtt_payloads(case: dict[str, Any]) -> None:
    """Numbers are read; null, nan, `unavailable` and booleans are never taken as numbers."""
    payload = (
        bytes.fromhex(case["payload_hex"]) if "payload_hex" in case else case["payload"].encode()
    )
    if isinstance(case["expect"], float):
        assert extract(payload, case["path"]) == case["expect"]
        return
    try:
        value = extract(payload, case["path"])
    except PayloadError:
        return
    assert value is None
