"""A Pylontech BMS on a CAN bus, heard through an slcan USB-CAN adapter on a pseudo-terminal.

The client opens the pty's slave side exactly as it would open /dev/ttyACM0: python-can's slcan
interface sends the Lawicel commands (`C`, `S6`, `O`), and this peer answers them with `\\r` and,
while the channel is open, writes the BMS's six frames (`t3518…\\r`) every `period` seconds. Values
are set by hand in engineering units here and packed independently of the client's tables.

The pty is reached through a symlink at a stable path (as /dev/serial/by-id/ is for a real
adapter): the battery's unique id is built from it. Each running simulator holds one of a few
slots (a lock file), so concurrent test runs get different links and a demo keeps the same one.

Faults: REFUSE unplugs the adapter (the pty and its link disappear; clearing the fault plugs a
new one in behind the same link), STALL silences the BMS, GARBAGE replaces its frames with
truncated frames and lines that are not frames. Setting a fault waits three broadcast periods:
the client's reader has then seen the port go, or the last valid frame, or the first new one.
How long the BMS stays quiet is up to the test's clock (the shared suite moves it a minute a poll).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import fcntl
import os
from pathlib import Path
import struct
import tempfile
import tty

from .faults import Fault

SLOT_DIR = Path(tempfile.gettempdir()) / f"home-battery-can-sim-{os.getuid()}"
SLOTS = 32
# What the client writes that would put a frame on the bus (standard, extended, remote, FD).
TRANSMIT_COMMANDS = frozenset("tTrRdDbB")


@dataclass
class BmsValues:
    """What the BMS reports, in engineering units and the wire's signs (+ current = charging)."""

    state_of_charge: int = 76
    state_of_health: int = 98
    voltage: float = 52.10
    current: float = -12.3  # discharging 12.3 A
    temperature: float = 25.0
    charge_voltage_limit: float = 53.2
    charge_current_limit: float = 74.0
    discharge_current_limit: float = 74.0
    discharge_voltage_limit: float = 46.0
    protection: tuple[int, int] = (0, 0)  # 0x359 bytes 0–1
    alarms: tuple[int, int] = (0, 0)  # 0x359 bytes 2–3
    modules: int = 2
    requests: int = 0xC0  # 0x35C: charge and discharge enabled
    manufacturer: str = "PYLON"
    voltage_unit: float = 0.01  # 0.1: a BMS (or emulator) that sends 0x356 in 0.1 V
    # "1.3": current US5000 firmware (setfirelabs' "New Pylontechs"): 0x355 in 6 bytes, 0x35A
    # (alarms and warnings, two bits each, 01 active) and 0x35F ("LI", version 1.3, 572 Ah)
    # instead of 0x359 and 0x35C.
    protocol: str = "1.2"
    alarm_bytes: bytes = bytes(8)  # 0x35A as sent (V1.3)

    def frames(self) -> list[tuple[int, bytes]]:
        """Return the six frames of one broadcast."""
        if self.protocol == "1.3":
            return [
                *self._common_frames(bytes(2)),
                (858, self.alarm_bytes),
                (862, self.manufacturer.encode().ljust(8)),
                (863, bytes.fromhex("4C4901033C02AA00")),
            ]
        return [
            *self._common_frames(b""),
            (857, bytes([*self.protection, *self.alarms, self.modules]) + b"PN"),
            (860, bytes([self.requests, 0])),
            (862, self.manufacturer.encode().ljust(8)),
        ]

    def _common_frames(self, soc_padding: bytes) -> list[tuple[int, bytes]]:
        return [
            (
                0x351,
                struct.pack(
                    "<HhhH",
                    round(self.charge_voltage_limit * 10),
                    round(self.charge_current_limit * 10),
                    round(self.discharge_current_limit * 10),
                    round(self.discharge_voltage_limit * 10),
                ),
            ),
            (
                0x355,
                struct.pack("<HH", self.state_of_charge, self.state_of_health) + soc_padding,
            ),
            (
                0x356,
                struct.pack(
                    "<hhh",
                    round(self.voltage / self.voltage_unit),
                    round(self.current * 10),
                    round(self.temperature * 10),
                ),
            ),
        ]


def slcan_line(can_id: int, data: bytes) -> bytes:
    """Return a standard frame as an slcan adapter reports it."""
    return f"t{can_id:03X}{len(data)}{data.hex().upper()}\r".encode()


GARBAGE = (
    slcan_line(0x356, bytes.fromhex("5A14")),  # truncated: 2 of 6 bytes
    slcan_line(0x355, bytes.fromhex("4C")),  # truncated: 1 of 4 bytes
    b"tZZZ8GGGGGGGGGGGGGGGG\r",  # not hex
    b"t35\r",  # cut short
    b"\xff\xfe\x00garbage\r",  # not text
)


def _claim_slot() -> tuple[Path, int]:
    """Return a free link path and the open lock file that holds it for this simulator."""
    SLOT_DIR.mkdir(mode=0o700, exist_ok=True)
    for slot in range(SLOTS):
        fd = os.open(SLOT_DIR / f"slot{slot}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return SLOT_DIR / f"ttyPYLONTECH{slot}", fd
    raise RuntimeError(f"all {SLOTS} simulator slots in {SLOT_DIR} are taken")


class PylontechCanSimulator:
    """The BMS and the slcan adapter between it and the client."""

    def __init__(self, *, period: float = 1.0, burst: int = 1, protocol: str = "1.2") -> None:
        """Broadcast every `period` seconds, as a real BMS does every second (`burst` broadcasts
        at a time: the benchmark floods the reader), in protocol V1.2 or V1.3."""
        self.bms = BmsValues(protocol=protocol)
        self.period = period
        self.burst = burst
        self.fault = Fault.NONE
        self.commands: list[str] = []  # every command line the client wrote
        self.frames_sent = 0
        self.link = Path()
        self._slot_fd: int | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._buffer = b""
        self._channel_open = False
        self._task: asyncio.Task[None] | None = None

    @property
    def request_count(self) -> int:
        """Return how many command lines the client wrote (opening the adapter only)."""
        return len(self.commands)

    @property
    def write_count(self) -> int:
        """Return how many frames the client tried to put on the bus (must stay 0)."""
        return sum(1 for command in self.commands if command[:1] in TRANSMIT_COMMANDS)

    async def start(self) -> None:
        """Plug the adapter in and start broadcasting."""
        self.link, self._slot_fd = _claim_slot()
        self._plug_in()
        self._task = asyncio.get_running_loop().create_task(self._broadcast())

    async def stop(self) -> None:
        """Stop broadcasting, unplug the adapter and free the slot."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._unplug()
        if self._slot_fd is not None:
            os.close(self._slot_fd)
            self._slot_fd = None

    async def set_fault(self, fault: Fault) -> None:
        """Switch a fault on (or off with NONE); returns once the client can have noticed."""
        previous, self.fault = self.fault, fault
        if fault is Fault.REFUSE:
            self._unplug()
        elif previous is Fault.REFUSE:
            self._plug_in()
        if fault is not previous:
            await asyncio.sleep(3 * self.period)

    # --- the adapter on the pty ---------------------------------------------------------------

    def _plug_in(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR→LF translation: what a USB serial port does
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._channel_open = False
        self._buffer = b""
        staging = self.link.with_suffix(".new")
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
        staging.symlink_to(os.ttyname(slave))
        staging.replace(self.link)
        asyncio.get_running_loop().add_reader(master, self._on_readable)

    def _unplug(self) -> None:
        if self._master is None:
            return
        asyncio.get_running_loop().remove_reader(self._master)
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        self._channel_open = False

    def _on_readable(self) -> None:
        assert self._master is not None
        try:
            self._buffer += os.read(self._master, 4096)
        except (BlockingIOError, OSError):
            return
        *lines, self._buffer = self._buffer.split(b"\r")
        for line in lines:
            self._command(line.decode("ascii", "replace"))

    def _command(self, command: str) -> None:
        """Answer one Lawicel command as an adapter does: `\\r` for OK."""
        self.commands.append(command)
        if command in ("O", "L"):
            self._channel_open = True
        elif command == "C":
            self._channel_open = False
        self._write(b"\r")

    def _write(self, data: bytes) -> None:
        if self._master is None:
            return
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._master, data)  # a full pty (nobody reading) drops, like a bus would

    async def _broadcast(self) -> None:
        while True:
            if self._channel_open and self.fault is Fault.NONE:
                frames = self.bms.frames() * self.burst
                self._write(b"".join(slcan_line(can_id, data) for can_id, data in frames))
                self.frames_sent += len(frames)
            elif self._channel_open and self.fault is Fault.GARBAGE:
                self._write(b"".join(GARBAGE))
            await asyncio.sleep(self.period)
