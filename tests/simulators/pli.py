"""A Plasmatronics regulator behind a PLI: on a TCP serial server, an RFC 2217 server or a pty.

`REAL_PL80` are the settings of a real PL80 (mlandauer/solar-battery-monitoring docs/settings.md,
28 Jan 2020: 24 V, program 0, 880 Ah): `PliSimulator(**REAL_PL80)`.

The peer serves a 256-byte RAM through 4-byte PLI frames `[command, address, data, 255 − command]`:
it checks the complement byte (error 130 on a mismatch), answers unknown commands with 131, reads
with `[200, value]` and a loopback with `[128]`. What the PLI answers to writes is not documented;
this peer echoes `[200, data]`. Raw RAM bytes are computed here from physical values (volts, amps,
state of charge) with the regulator's own step sizes, independently of the client's decoding.

Dynamics: the state of charge follows the net battery current. Faults (`set_fault`, or one-shot
`inject` for the next requests): STALL and, on a pty, REFUSE and DROP: requests are read and never
answered; REFUSE on TCP closes the port, DROP closes the connection; GARBAGE: bytes that are no PLI
reply; EXCEPTION: the error byte `error_code` (133: the regulator did not reply to the PLI).
"""

from __future__ import annotations

import asyncio
from collections import deque
import os
import time
import tty
from types import SimpleNamespace
from typing import Literal

from serial.rfc2217 import PortManager

from .base import PhysicsLoop, TcpPeer
from .faults import Fault

# Software versions per model (address 0) and amps per step of the internal currents.
VERSIONS = {"PL20": 100, "PL40": 150, "PL60": 200, "PL80": 230}
CHARGE_STEP = {"PL20": 0.1, "PL40": 0.2, "PL60": 0.4, "PL80": 0.4}
LOAD_STEP = {"PL20": 0.1, "PL40": 0.1, "PL60": 0.2, "PL80": 0.2}
SYSTEM_CODES = {12: 0, 24: 1, 32: 2, 36: 3, 48: 4}
GARBAGE = b"\x17\x42\x99\x00"
REAL_PL80 = {"model": "PL80", "system_volts": 24, "program": 0, "capacity_ah": 880}
FRAME_GAP = 0.05  # seconds of silence after which a partial frame is forgotten, as a UART would


class _Framer:
    """Cuts a byte stream into 4-byte frames, forgetting a partial frame after a pause."""

    def __init__(self) -> None:
        self._partial = bytearray()
        self._last = 0.0

    def feed(self, data: bytes) -> list[bytes]:
        now = time.monotonic()
        if now - self._last > FRAME_GAP:
            self._partial.clear()
        self._last = now
        self._partial += data
        frames = []
        while len(self._partial) >= 4:
            frames.append(bytes(self._partial[:4]))
            del self._partial[:4]
        return frames


_DROP = object()
type Answer = bytes | None | object


class PliSimulator(PhysicsLoop):
    """A PL regulator with a PLI; `link` chooses a raw TCP or RFC 2217 serial server, or a pty."""

    def __init__(
        self,
        *,
        link: Literal["tcp", "rfc2217", "pty"] = "tcp",
        model: str = "PL60",
        system_volts: int = 48,
        capacity_ah: int = 400,
        program: int = 1,
        tick: float = 0.5,
        time_scale: float = 1.0,
    ) -> None:
        self.link = link
        self.model = model
        self.system_volts = system_volts
        self.tick = tick
        self.time_scale = time_scale  # > 1 makes the state of charge move faster (the demo)
        self.ram = bytearray(256)
        self.eeprom = bytearray(256)
        # Physical values; `update` turns them into RAM bytes.
        self.soc = 78.0
        self.battery_volts = 52.4
        self.solar_amps = 30.0
        self.load_amps = 5.0
        self.external_charge_amps: float | None = 2.0  # 0.1 A steps; None: no shunt fitted
        self.external_load_amps: float | None = 3.0  # whole-amp steps; None: no shunt fitted
        self.capacity_ah = capacity_ah  # the owner's setting (address 94, 20 Ah steps)
        self.program = program  # the owner's charge program (address 93, high nibble)
        self.charge_stage = 0  # boost
        self.fault = Fault.NONE
        self.error_code = 133
        self.glitches: deque[Fault | int] = deque()
        self.frames: list[bytes] = []
        self.writes: list[bytes] = []
        self.server = _SerialServer(self)
        self._master: int | None = None
        self._slave: int | None = None
        self._pty_framer = _Framer()
        self.update(0.0)

    # --- what the shared suite and the benchmarks use ----------------------------------------

    @property
    def url(self) -> str:
        """The port the client opens: `socket://` or `rfc2217://127.0.0.1:port`, or a pty path."""
        if self.link == "tcp":
            return f"socket://127.0.0.1:{self.server.port}"
        if self.link == "rfc2217":
            return f"rfc2217://127.0.0.1:{self.server.port}"
        assert self._slave is not None
        return os.ttyname(self._slave)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def regulator_id(self) -> str:
        """The identity its settings give the regulator: model, software, volts, program, Ah."""
        version = VERSIONS[self.model]
        return (
            f"{self.model}-sw{version}-{self.system_volts}V-prog{self.program}-{self.capacity_ah}Ah"
        )

    @property
    def connections(self) -> int:
        return self.server.connections

    @property
    def request_count(self) -> int:
        return len(self.frames)

    @property
    def write_count(self) -> int:
        return len(self.writes)

    async def start(self) -> None:
        if self.link == "pty":
            self._open_pty()
        else:
            await self.server.start()
        self.start_physics()

    async def stop(self) -> None:
        await self.stop_physics()
        await self.server.stop()
        self._close_pty()

    async def set_fault(self, fault: Fault) -> None:
        """Switch a fault on (`Fault.NONE`: off); REFUSE on a server closes the port."""
        self.fault = fault
        if self.link != "pty":
            await self.server.refuse(fault is Fault.REFUSE)

    def inject(self, *glitches: Fault | int) -> None:
        """Misbehave on the next requests only, one glitch each: a fault or a PLI error code."""
        self.glitches.extend(glitches)

    # --- the regulator ---------------------------------------------------------------------

    def update(self, dt: float) -> None:
        """Move the state of charge by the net current and write every value into RAM."""
        charge = self.solar_amps + (self.external_charge_amps or 0.0)
        load = self.load_amps + (self.external_load_amps or 0.0)
        percent_per_amp_second = 100 / 3600 / self.capacity_ah
        self.soc += (charge - load) * dt * self.time_scale * percent_per_amp_second
        self.soc = min(100.0, max(0.0, self.soc))
        ram = self.ram
        ram[0] = VERSIONS[self.model]
        now = time.localtime()
        ram[46], ram[47] = now.tm_sec // 2, now.tm_min % 6
        ram[48] = now.tm_hour * 10 + now.tm_min // 6  # tenths of an hour
        ram[50] = _byte(self.battery_volts / (0.1 * self.system_volts / 12))
        ram[93] = self.program << 4 | SYSTEM_CODES[self.system_volts]
        ram[94] = _byte(self.capacity_ah / 20)
        ram[101] = self.charge_stage
        ram[181] = _byte(self.soc)
        flags = 0
        if self.external_charge_amps is not None:
            flags |= 4
            ram[205] = _byte(self.external_charge_amps * 10)
        if self.external_load_amps is not None:
            flags |= 8 | 2
            ram[206] = _byte(self.external_load_amps)
        ram[207] = flags
        ram[213] = _byte(self.solar_amps / CHARGE_STEP[self.model])
        ram[217] = _byte(self.load_amps / LOAD_STEP[self.model])

    def battery_power(self) -> float:
        """Battery power in W, + discharging, as the regulator measures it."""
        charge = self.solar_amps + (self.external_charge_amps or 0.0)
        load = self.load_amps + (self.external_load_amps or 0.0)
        return (load - charge) * self.battery_volts

    def answer(self, frame: bytes) -> Answer:
        """Return the reply to one frame: bytes, None for no answer, or `_DROP`."""
        self.frames.append(frame)
        fault: Fault | int = self.glitches.popleft() if self.glitches else self.fault
        if isinstance(fault, int) and not isinstance(fault, Fault):
            return bytes([fault])
        if fault is Fault.STALL or (self.link == "pty" and fault in (Fault.REFUSE, Fault.DROP)):
            return None
        if fault is Fault.DROP:
            return _DROP
        if fault is Fault.GARBAGE:
            return GARBAGE
        if fault is Fault.EXCEPTION:
            return bytes([self.error_code])
        command, address, data, check = frame
        if check != 255 - command:
            return bytes([130])
        if command == 20:
            return bytes([200, self.ram[address]])
        if command == 72:
            return bytes([200, self.eeprom[address]])
        if command in (152, 202):
            self.writes.append(frame)
            (self.ram if command == 152 else self.eeprom)[address] = data
            return bytes([200, data])
        if command == 187:
            return bytes([128])
        return bytes([131])

    # --- pseudo-terminal --------------------------------------------------------------------

    def _open_pty(self) -> None:
        self._master, self._slave = os.openpty()
        # Raw, so the line discipline neither echoes nor translates bytes; the peer keeps the
        # slave open so that the pty survives the client closing and reopening it.
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        asyncio.get_running_loop().add_reader(self._master, self._pty_readable)

    def _pty_readable(self) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, 256)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # EIO while no one has the slave open
        for frame in self._pty_framer.feed(data):
            reply = self.answer(frame)
            if isinstance(reply, bytes):
                os.write(self._master, reply)

    def _close_pty(self) -> None:
        if self._master is not None:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            self._master = None
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None


class _SerialServer(TcpPeer):
    """The regulator behind a TCP serial server: raw (socket://) or RFC 2217 (telnet with serial
    port options)."""

    def __init__(self, regulator: PliSimulator) -> None:
        super().__init__()
        self.regulator = regulator

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        framer = _Framer()
        # pyserial's server side of RFC 2217 negotiates the options and unwraps the data bytes.
        rfc2217 = self.regulator.link == "rfc2217"
        telnet = PortManager(_SerialSettings(), writer) if rfc2217 else None
        while data := await reader.read(256):
            if telnet is not None:
                data = b"".join(telnet.filter(data))
            for frame in framer.feed(data):
                reply = self.regulator.answer(frame)
                if reply is _DROP:
                    return
                if isinstance(reply, bytes):
                    writer.write(b"".join(telnet.escape(reply)) if telnet else reply)
            await writer.drain()


class _SerialSettings(SimpleNamespace):
    """The port settings an RFC 2217 client may set; no modem lines, nothing to purge."""

    def __init__(self) -> None:
        super().__init__(
            baudrate=9600,
            bytesize=8,
            parity="N",
            stopbits=1,
            xonxoff=False,
            rtscts=False,
            dtr=True,
            rts=True,
            break_condition=False,
            cts=False,
            dsr=False,
            ri=False,
            cd=False,
        )

    def reset_input_buffer(self) -> None:
        pass

    def reset_output_buffer(self) -> None:
        pass


def _byte(value: float) -> int:
    return max(0, min(255, round(value)))
