"""The Pylontech CAN device without Home Assistant, on python-can's in-process `virtual` bus.

A peer bus on the same virtual channel plays the BMS; a third bus listens to everything on the
channel, so anything the device sent would show up there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator
import itertools
import logging

import can
import pytest

from custom_components.home_battery.devices.model import (
    DeviceConnectionError,
    DeviceSilentError,
    Key,
    OperatingState,
)
from custom_components.home_battery.devices.pylontech_can import (
    PylontechCanConfig,
    PylontechCanDevice,
)

from ..simulators.pylontech_can import BmsValues

_channels = itertools.count()
# The example frames of protocols.md §7 (little-endian).
LIMITS = bytes.fromhex("1402E402E402CC01")  # 53.2 V, 74.0 A, 74.0 A, 46.0 V
MEASUREMENTS = bytes.fromhex("5A1485FFFA00")  # 52.10 V, −12.3 A (discharging), 25.0 °C


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def channel() -> str:
    """A virtual channel of its own for each test."""
    return f"pylontech-test-{next(_channels)}"


@pytest.fixture
def bms(channel: str) -> Generator[can.BusABC]:
    """The BMS's side of the bus."""
    bus = can.Bus(interface="virtual", channel=channel)
    yield bus
    bus.shutdown()


@pytest.fixture
def listener(channel: str) -> Generator[can.BusABC]:
    """A bystander that sees every frame on the bus."""
    bus = can.Bus(interface="virtual", channel=channel)
    yield bus
    bus.shutdown()


@pytest.fixture
async def device(channel: str) -> AsyncGenerator[PylontechCanDevice]:
    """The device under test, on a clock the test moves; closed afterwards."""
    dev = PylontechCanDevice(
        PylontechCanConfig(interface="virtual", channel=channel, silence_timeout=1.0)
    )
    dev.clock = Clock()
    yield dev
    await dev.close()


def send(bus: can.BusABC, can_id: int, data: bytes) -> None:
    bus.send(can.Message(arbitration_id=can_id, data=data, is_extended_id=False))


def broadcast(bus: can.BusABC, values: BmsValues | None = None) -> None:
    for can_id, data in (values or BmsValues()).frames():
        send(bus, can_id, data)


async def heard(device: PylontechCanDevice) -> None:
    """Give the reader thread time to hand what was sent to the loop."""
    for _ in range(50):
        await asyncio.sleep(0.01)
        try:
            await device.read()
        except DeviceSilentError:
            continue
        return


async def connected(device: PylontechCanDevice, bms: can.BusABC) -> None:
    """Connect while the BMS broadcasts."""
    task = asyncio.create_task(device.connect())
    while not task.done():
        broadcast(bms)
        await asyncio.sleep(0.05)
    await task
    await asyncio.sleep(0.1)  # the last broadcast in flight arrives before the test moves time


async def test_decodes_the_reference_frames(device: PylontechCanDevice, bms: can.BusABC) -> None:
    """The example frames decode as protocols.md computes them, signs converted at the edge."""
    await connected(device, bms)
    send(bms, 0x351, LIMITS)
    send(bms, 0x356, MEASUREMENTS)
    await asyncio.sleep(0.1)
    state = await device.read()
    assert state[Key.CHARGE_VOLTAGE_LIMIT] == 53.2
    assert state[Key.CHARGE_CURRENT_LIMIT] == 74.0
    assert state[Key.DISCHARGE_CURRENT_LIMIT] == 74.0
    assert state["discharge_voltage_limit"] == 46.0
    assert state[Key.BATTERY_VOLTAGE] == 52.1
    assert state[Key.BATTERY_CURRENT] == 12.3  # −12.3 A on the wire: discharging
    assert state[Key.BATTERY_POWER] == pytest.approx(640.8, abs=0.1)
    assert state[Key.BATTERY_TEMPERATURE] == 25.0
    assert state[Key.OPERATING_STATE] == OperatingState.DISCHARGING
    assert device.identity is not None
    assert device.identity.manufacturer == "Pylontech"
    assert device.identity.serial_number == f"virtual:{device.config.channel}"


async def test_charging_is_negative(device: PylontechCanDevice, bms: can.BusABC) -> None:
    """+20 A on the wire is charging: −20 A and negative power in the common model."""
    await connected(device, bms)
    broadcast(bms, BmsValues(current=20.0))
    await asyncio.sleep(0.1)
    state = await device.read()
    assert state[Key.BATTERY_CURRENT] == -20.0
    assert state[Key.BATTERY_POWER] == pytest.approx(-1042.0)
    assert state[Key.OPERATING_STATE] == OperatingState.CHARGING


async def test_nothing_is_sent(
    device: PylontechCanDevice, bms: can.BusABC, listener: can.BusABC
) -> None:
    """Connecting, reading and closing put no frame on the bus: the bystander sees only the BMS."""
    await connected(device, bms)
    for _ in range(3):
        await device.read()
    await device.close()
    seen = []
    while (message := listener.recv(0.05)) is not None:
        seen.append(message.arbitration_id)
    assert seen  # the BMS's broadcasts
    assert set(seen) <= {0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E}


async def test_silence_timeout_then_recovery(device: PylontechCanDevice, bms: can.BusABC) -> None:
    """No frame for longer than the timeout: DeviceSilentError; the next broadcast recovers."""
    await connected(device, bms)
    clock = device.clock
    assert isinstance(clock, Clock)
    clock.now += 1.5
    with pytest.raises(DeviceSilentError, match="nothing heard"):
        await device.read()
    broadcast(bms)
    await heard(device)
    assert (await device.read())[Key.STATE_OF_CHARGE] == 76


async def test_stale_frame_drops_its_values(device: PylontechCanDevice, bms: can.BusABC) -> None:
    """A frame that stopped (the limits) drops its values; the others stay."""
    await connected(device, bms)
    clock = device.clock
    assert isinstance(clock, Clock)
    clock.now += 1.5
    for can_id, data in BmsValues().frames():
        if can_id != 0x351:
            send(bms, can_id, data)
    await heard(device)
    state = await device.read()
    assert Key.CHARGE_VOLTAGE_LIMIT not in state
    assert state[Key.STATE_OF_CHARGE] == 76


async def test_truncated_and_impossible_frames_are_ignored(
    device: PylontechCanDevice, bms: can.BusABC
) -> None:
    """Short frames and impossible values never reach the state; silence names them."""
    await connected(device, bms)
    send(bms, 0x356, bytes.fromhex("5A14"))  # 2 of 6 bytes
    send(bms, 0x355, bytes.fromhex("C800"))  # 200 %
    await asyncio.sleep(0.1)
    state = await device.read()
    assert state[Key.BATTERY_VOLTAGE] == 52.1
    assert state[Key.STATE_OF_CHARGE] == 76
    clock = device.clock
    assert isinstance(clock, Clock)
    clock.now += 1.5
    with pytest.raises(DeviceSilentError, match="2 frames too short or out of range"):
        await device.read()


async def test_protection_and_warning_flags(device: PylontechCanDevice, bms: can.BusABC) -> None:
    """Protection bits (bytes 0–1) and warnings (bytes 2–3) raise the same keys; protection is a
    fault, a warning only an alarm."""
    await connected(device, bms)
    broadcast(bms, BmsValues(alarms=(0x08, 0)))  # high temperature warning
    await asyncio.sleep(0.1)
    state = await device.read()
    assert state["high_temperature_alarm"] is True
    assert state[Key.ALARM] is True
    assert state[Key.OPERATING_STATE] == OperatingState.DISCHARGING
    broadcast(bms, BmsValues(protection=(0x04, 0x08)))  # under-voltage, system error
    await asyncio.sleep(0.1)
    state = await device.read()
    assert state["low_voltage_alarm"] is True
    assert state["system_error"] is True
    assert state["high_temperature_alarm"] is False
    assert state[Key.OPERATING_STATE] == OperatingState.FAULT
    broadcast(bms, BmsValues(protection=(0, 0x01), requests=0x60))  # charge over-current
    await asyncio.sleep(0.1)
    state = await device.read()
    assert state["high_current_alarm"] is True
    assert state["charge_allowed"] is False
    assert state["discharge_allowed"] is True
    assert state["force_charge_request"] is True


async def test_decivolt_bms_is_corrected(
    device: PylontechCanDevice, bms: can.BusABC, caplog: pytest.LogCaptureFixture
) -> None:
    """A BMS sending 0x356 in 0.1 V (Battery-Emulator) is recognised against 0x351's limit."""
    caplog.set_level(logging.WARNING)
    task = asyncio.create_task(device.connect())
    while not task.done():
        broadcast(bms, BmsValues(voltage_unit=0.1))
        await asyncio.sleep(0.05)
    await task
    for _ in range(3):
        assert (await device.read())[Key.BATTERY_VOLTAGE] == 52.1
    assert len([r for r in caplog.records if "0.1 V units" in r.getMessage()]) == 1


async def test_connect_silent_bus(device: PylontechCanDevice) -> None:
    """Nothing on the bus: DeviceSilentError after the timeout, and the bus is closed again."""
    with pytest.raises(DeviceSilentError, match="nothing heard"):
        await device.connect()
    assert device._link is None


async def test_connect_unknown_interface() -> None:
    """An interface python-can does not have cannot be opened."""
    dev = PylontechCanDevice(PylontechCanConfig(interface="no_such_can", channel="x"))
    with pytest.raises(DeviceConnectionError, match="cannot open"):
        await dev.connect()


def test_decode_cost_is_table_driven() -> None:
    """handle_frame, the reader's path, decodes without a bus (what the benchmark measures)."""
    dev = PylontechCanDevice(PylontechCanConfig())
    for can_id, data in BmsValues().frames():
        dev.handle_frame(can.Message(arbitration_id=can_id, data=data, is_extended_id=False))
    dev.handle_frame(can.Message(arbitration_id=0x356, data=b"\x01", is_extended_id=False))
    dev.handle_frame(can.Message(arbitration_id=0x18FF50E5, data=b"\x01" * 8))  # extended: not ours
    assert dev._rejected == 1
    assert set(dev._frames) == {0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E}
