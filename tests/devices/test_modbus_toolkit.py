"""The Modbus toolkit without a device: decoding, encoding, block planning, energy integration."""

from __future__ import annotations

import pytest

from custom_components.home_battery.devices.energy import EnergyIntegrator
from custom_components.home_battery.devices.modbus import DataType, Register, plan_blocks


def test_decode_types_signs_and_scales() -> None:
    assert Register(key="a", address=0, scale=0.1).decode([525]) == 52.5
    assert Register(key="a", address=0, data_type=DataType.I16).decode([0xFFFE]) == -2
    assert Register(key="a", address=0, data_type=DataType.I16, sign=-1).decode([100]) == -100
    assert Register(key="a", address=0, data_type=DataType.I32).decode([0xFFFF, 0xFF38]) == -200
    assert Register(key="a", address=0, data_type=DataType.U32).decode([1, 0]) == 65536
    assert (
        Register(key="a", address=0, data_type=DataType.U32, low_word_first=True).decode([0, 1])
        == 65536
    )
    assert Register(key="a", address=0, data_type=DataType.U64).decode([0, 0, 1, 0]) == 65536
    assert Register(key="a", address=0, scale=0.1, offset=-100).decode([1235]) == pytest.approx(
        23.5
    )
    text = Register(key="a", address=0, data_type=DataType.STRING, length=3)
    assert text.decode([0x4142, 0x4300, 0]) == "ABC"


def test_not_available_markers_never_become_numbers() -> None:
    register = Register(key="a", address=0, data_type=DataType.I32, nan=frozenset({0x80000000}))
    assert register.decode([0x8000, 0]) is None
    assert Register(key="a", address=0, options={1: "on"}).decode([1]) == "on"
    assert Register(key="a", address=0, options={1: "on"}).decode([7]) == "7"


def test_encode_round_trips_and_refuses_what_does_not_fit() -> None:
    register = Register(key="a", address=0, data_type=DataType.I32)
    assert register.encode(-2600) == [0xFFFF, 0xF5D8]
    assert register.decode(register.encode(-2600)) == -2600
    assert Register(key="a", address=0, scale=0.1).encode(25) == [250]
    swapped = Register(key="a", address=0, data_type=DataType.U32, low_word_first=True)
    assert swapped.encode(65536) == [0, 1]
    with pytest.raises(ValueError, match="does not fit"):
        Register(key="a", address=0).encode(-1)
    with pytest.raises(ValueError, match="does not fit"):
        Register(key="a", address=0, data_type=DataType.I16).encode(40000)


def test_planner_merges_contiguous_registers_per_unit() -> None:
    registers = [
        Register(key="a", address=10),
        Register(key="b", address=11, data_type=DataType.U32),
        Register(key="c", address=20),
        Register(key="d", address=10, unit="other"),
    ]
    blocks = plan_blocks(registers)
    assert [(b.unit, b.address, b.count) for b in blocks] == [
        ("main", 10, 3),
        ("main", 20, 1),
        ("other", 10, 1),
    ]
    # Allowed gaps merge across unused registers; the block limit splits.
    assert [(b.address, b.count) for b in plan_blocks(registers[:3], max_gap=7)] == [(10, 11)]
    assert [(b.address, b.count) for b in plan_blocks(registers[:3], max_gap=7, max_count=5)] == [
        (10, 3),
        (20, 1),
    ]


def test_energy_integration_splits_at_the_zero_crossing() -> None:
    energy = EnergyIntegrator()
    for minute in range(61):  # charging at 3.6 kW for an hour, sampled every minute
        energy.add(-3600, minute * 60)
    assert energy.charged_kwh == pytest.approx(3.6)
    energy.add(3600, 3600 + 120)  # a linear swing to discharging: one minute each side
    assert energy.charged_kwh == pytest.approx(3.6 + 0.03)
    assert energy.discharged_kwh == pytest.approx(0.03)
    energy.add(3600, 3600 + 120 + 10_000)  # a gap too long to bridge: not counted
    assert energy.discharged_kwh == pytest.approx(0.03)
    energy.restore(charged_kwh=1.0, discharged_kwh=5.0)  # never goes down
    assert energy.charged_kwh == pytest.approx(3.63)
    assert energy.discharged_kwh == 5.0
