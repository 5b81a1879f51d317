"""CAN frames the pylontech_can family decodes on this machine, and what they cost.

1. The decode path alone: `PylontechCanDevice.handle_frame`, which the reader thread's frames go
   through on the event loop, over a large batch of the BMS's six frames; wall and CPU time.
2. End to end: the slcan peer on a pty floods frames as fast as it can write them; how many the
   device decodes per second through python-can's slcan reader, its thread and the loop (the
   peer runs in the same process, so its CPU time is in that figure too).
3. Listening to a BMS at its real pace (one broadcast a second): the CPU share of one core.

For scale: a 500 kbit/s bus carries at most about 4,000 frames a second; a Pylontech BMS sends 6.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import can

from custom_components.home_battery.devices.pylontech_can import (
    PylontechCanConfig,
    PylontechCanDevice,
)

from ..simulators.pylontech_can import BmsValues, PylontechCanSimulator

BATCH = 120_000
FLOOD_SECONDS = 3.0
IDLE_SECONDS = 5.0


def _decode_path() -> list[tuple[str, str]]:
    device = PylontechCanDevice(PylontechCanConfig())
    frames = [
        can.Message(arbitration_id=can_id, data=data, is_extended_id=False)
        for can_id, data in BmsValues().frames()
    ]
    batch = frames * (BATCH // len(frames))
    for message in batch[:6000]:  # warm up
        device.handle_frame(message)
    wall, cpu = time.perf_counter(), time.process_time()
    for message in batch:
        device.handle_frame(message)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return [
        ("pylontech_can: decode path, frames per CPU second", f"{len(batch) / cpu:,.0f}"),
        ("pylontech_can: decode path, frames per wall second", f"{len(batch) / wall:,.0f}"),
        ("pylontech_can: decode path, CPU per 1,000 frames", f"{cpu / len(batch) * 1e6:.2f} ms"),
    ]


async def _snapshot_read() -> list[tuple[str, str]]:
    """Median cost of read(): the poll only turns the latest frames into the model."""
    sim = PylontechCanSimulator(period=0.1)
    await sim.start()
    device = PylontechCanDevice(PylontechCanConfig(interface="slcan", channel=str(sim.link)))
    try:
        await device.connect()
        durations = []
        for _ in range(2000):
            started = time.perf_counter()
            await device.read()
            durations.append(time.perf_counter() - started)
    finally:
        await device.close()
        await sim.stop()
    median_us = statistics.median(durations) * 1e6
    return [("pylontech_can: read() of the latest frames (median)", f"{median_us:.1f} µs")]


async def _end_to_end() -> list[tuple[str, str]]:
    sim = PylontechCanSimulator(period=0.01, burst=50)  # offers 30,000 frames a second
    await sim.start()
    device = PylontechCanDevice(PylontechCanConfig(interface="slcan", channel=str(sim.link)))
    decoded = 0
    decode = device.handle_frame

    def counting(message: can.Message) -> None:
        nonlocal decoded
        decoded += 1
        decode(message)

    device.handle_frame = counting  # type: ignore[method-assign]
    try:
        await device.connect()
        start_count, sent = decoded, sim.frames_sent
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.sleep(FLOOD_SECONDS)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        count, sent = decoded - start_count, sim.frames_sent - sent
    finally:
        await device.close()
        await sim.stop()
    return [
        ("pylontech_can: slcan on a pty, frames decoded per second", f"{count / wall:,.0f}"),
        (
            "pylontech_can: slcan on a pty, process CPU per 1,000 frames",
            f"{cpu / max(count, 1) * 1e6:.1f} ms (peer included)",
        ),
        ("pylontech_can: slcan on a pty, frames the peer wrote per second", f"{sent / wall:,.0f}"),
    ]


async def _idle() -> list[tuple[str, str]]:
    """CPU the process spends while a real-speed BMS (one broadcast a second) is heard."""
    sim = PylontechCanSimulator(period=1.0)
    await sim.start()
    device = PylontechCanDevice(PylontechCanConfig(interface="slcan", channel=str(sim.link)))
    try:
        await device.connect()
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.sleep(IDLE_SECONDS)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await device.close()
        await sim.stop()
    return [
        ("pylontech_can: listening to a 1 Hz BMS, CPU share of a core", f"{cpu / wall:.2%}"),
    ]


def run() -> list[tuple[str, str]]:
    """Measure and return (figure, value) pairs."""
    return (
        _decode_path()
        + asyncio.run(_snapshot_read())
        + asyncio.run(_end_to_end())
        + asyncio.run(_idle())
    )
