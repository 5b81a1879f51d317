"""The Modbus toolkit: decoding, encoding, block planning and probing, pymodbus's log lines, and
energy integration."""

from __future__ import annotations

from collections.abc import AsyncGenerator
import logging
import math

import pytest

from custom_components.home_battery.devices.energy import EnergyIntegrator
from custom_components.home_battery.devices.modbus import (
    DataType,
    ModbusTcpTransport,
    Register,
    RegisterDevice,
    plan_blocks,
    quiet_pymodbus,
)
from custom_components.home_battery.devices.model import DeviceError, DeviceRejectedError

from ..simulators.faults import Fault
from ..simulators.modbus_server import ModbusPeer, RegisterBank


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


# --- probing optional blocks, against a Modbus peer on loopback ----------------------------------


def _table() -> list[Register]:
    return [
        Register(key="a", address=10),
        Register(key="b", address=11),
        Register(key="opt", address=12, optional=True),
        Register(key="pair_lo", address=20, optional=True, group="pair"),
        Register(key="pair_hi", address=21, optional=True, group="pair"),
        Register(key="far", address=30, unit="other", optional=True),
    ]


@pytest.fixture
async def peer(socket_enabled: None) -> AsyncGenerator[ModbusPeer]:
    """A device with registers 10, 11, 20, 21 on unit 1 and no unit 2."""
    bank = RegisterBank()
    for address, value in ((10, 1), (11, 2), (20, 5), (21, 6)):
        bank.set_u16(address, value)
    server = ModbusPeer({1: bank})
    await server.start()
    yield server
    await server.stop()


def _device(peer: ModbusPeer, registers: list[Register], **kwargs: int) -> RegisterDevice:
    transport = ModbusTcpTransport(host="127.0.0.1", port=peer.port, timeout=1.0)
    return RegisterDevice(transport, {"main": 1, "other": 2}, registers, **kwargs)


async def test_probe_leaves_out_what_the_device_refused(peer: ModbusPeer) -> None:
    """A missing optional register and a missing unit (0x0B) are left out of the poll plan; the
    plan then costs no request more than the device's own registers need."""
    device = _device(peer, _table(), max_gap=10)
    await device.probe()
    assert device.refused == {"opt": 2, "far": 0x0B}
    report = device.probe_report()
    assert report == {
        "refused": {
            "opt": {"unit": "main", "addresses": [12], "exception_code": 2},
            "far": {"unit": "other", "addresses": [30], "exception_code": 0x0B},
        },
        "poll": [["main", 10, 2], ["main", 20, 2]],
    }
    before = len(peer.requests)
    values = await device.read_polled()
    assert len(peer.requests) - before == 2
    assert values == {"a": 1, "b": 2, "pair_lo": 5, "pair_hi": 6}
    assert await device.read_keys("a", "opt") == {"a": 1, "opt": None}
    assert not device.has("opt")
    await device.transport.close()


async def test_probe_splits_a_block_across_an_address_the_device_does_not_serve(
    peer: ModbusPeer,
) -> None:
    """Registers that answer one by one but not together: the block is split at the gap."""
    device = _device(
        peer, [Register(key="a", address=10), Register(key="c", address=20)], max_gap=10
    )
    assert [(b.address, b.count) for b in device.blocks] == [(10, 11)]
    await device.probe()
    assert device.refused == {}
    assert [(b.address, b.count) for b in device.blocks] == [(10, 1), (20, 1)]
    assert await device.read_polled() == {"a": 1, "c": 5}
    await device.transport.close()


async def test_a_missing_required_register_fails_the_probe(peer: ModbusPeer) -> None:
    device = _device(peer, [Register(key="a", address=10), Register(key="gone", address=12)])
    with pytest.raises(DeviceRejectedError) as err:
        await device.probe()
    assert err.value.code == 2
    await device.transport.close()


async def test_an_optional_block_refused_later_reads_unknown(peer: ModbusPeer) -> None:
    """Once probed, a block of optional registers that stops answering only makes its values
    unknown; a required block that fails still fails the poll."""
    device = _device(peer, _table()[:5])
    await device.probe()
    peer.banks[1].words.pop(21)
    values = await device.read_polled()
    assert values["pair_lo"] is None
    assert values["a"] == 1
    peer.banks[1].words.pop(10)
    with pytest.raises(DeviceRejectedError):
        await device.read_polled()
    await device.transport.close()


def test_decoded_values_are_finite_and_never_negative_zero() -> None:
    assert str(Register(key="a", address=0, scale=0.1, sign=-1).decode([0])) == "0.0"
    assert Register(key="a", address=0, data_type=DataType.I16, sign=-1).decode([0]) == 0
    with pytest.raises(ValueError, match="does not fit"):
        Register(key="a", address=0).encode(math.nan)


# --- pymodbus's own log lines during an outage ---------------------------------------------


async def _fail_polls(device: RegisterDevice, polls: int) -> None:
    for _ in range(polls):
        with pytest.raises(DeviceError):
            await device.read_polled()


@pytest.mark.parametrize("fault", [Fault.REFUSE, Fault.GARBAGE, Fault.EXCEPTION])
async def test_pymodbus_lines_of_our_requests_are_debug_only(
    peer: ModbusPeer, fault: Fault, caplog: pytest.LogCaptureFixture
) -> None:
    """Six failed polls (a minute at the shortest interval) leave no pymodbus warning or error:
    they are debug records, shown only when the pymodbus logger is set to debug."""
    device = _device(peer, _table()[:2])
    await device.read_polled()
    await peer.set_fault(fault)
    pymodbus = logging.getLogger("pymodbus")
    level = pymodbus.level
    try:
        pymodbus.setLevel(logging.INFO)
        caplog.clear()
        await _fail_polls(device, 6)
        assert not [r for r in caplog.records if r.name.startswith("pymodbus")]
        pymodbus.setLevel(logging.DEBUG)
        caplog.clear()
        await _fail_polls(device, 1)
    finally:
        pymodbus.setLevel(level)
    shown = [r for r in caplog.records if r.name.startswith("pymodbus")]
    assert shown
    assert {r.levelno for r in shown} == {logging.DEBUG}
    await device.transport.close()


def test_pymodbus_lines_of_other_users_keep_their_level(caplog: pytest.LogCaptureFixture) -> None:
    """Home Assistant's own Modbus integration shares pymodbus: its lines are left alone."""
    quiet_pymodbus()
    logging.getLogger("pymodbus.logging").warning("a warning of another pymodbus user")
    assert [r.levelno for r in caplog.records if r.name == "pymodbus.logging"] == [logging.WARNING]
