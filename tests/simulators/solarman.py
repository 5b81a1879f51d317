"""A Solarman V5 stick logger on loopback: Modbus RTU wrapped in V5 frames (protocols.md §3.5).

Written from the frame layout in the reference, not from pysolarmanv5, so the client's framing
is checked against an independent implementation. The logger validates the start and end
bytes, the V5 checksum, the control code, its own serial number and the RTU CRC; a frame that
fails any of these is ignored, as real loggers do (a wrong serial number gets no answer). The
answer echoes the request's sequence byte and carries the logger's own counter.

Besides the shared faults it can send bad V5 checksums or bad RTU CRCs for the next N answers,
append the DEYE "double CRC" (`00 00`) to RTU answers, and send an unsolicited heartbeat frame
before each answer.
"""

from __future__ import annotations

import asyncio
import struct
import time

from .base import TcpPeer, WriteFailures
from .faults import Fault
from .modbus_server import ModbusPeer, RegisterBank, Request

START, END = 0xA5, 0x15
REQUEST, RESPONSE, HEARTBEAT = 0x4510, 0x1510, 0x4710
FRAME_TYPE_INVERTER = 0x02
STATUS_REAL_TIME = 0x01


def modbus_crc(data: bytes) -> bytes:
    """CRC-16/MODBUS (poly 0xA001, init 0xFFFF), low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return struct.pack("<H", crc)


def v5_frame(control: int, seq: int, counter: int, logger_serial: int, payload: bytes) -> bytes:
    """Wrap a payload: header, payload, checksum (sum of bytes 1.. end of payload), end byte."""
    header = struct.pack("<BHHBBI", START, len(payload), control, seq, counter, logger_serial)
    body = header + payload
    return body + bytes([sum(body[1:]) & 0xFF, END])


def v5_request(seq: int, logger_serial: int, rtu: bytes) -> bytes:
    """A client's request frame: frame type, sensor type 0, three zero times, then the RTU."""
    payload = struct.pack("<BHIII", FRAME_TYPE_INVERTER, 0, 0, 0, 0) + rtu
    return v5_frame(REQUEST, seq, 0, logger_serial, payload)


def v5_response(
    seq: int, counter: int, logger_serial: int, rtu: bytes, times: tuple[int, int, int]
) -> bytes:
    """A logger's answer: frame type, status, total working / power-on / offset time, RTU."""
    payload = struct.pack("<BBIII", FRAME_TYPE_INVERTER, STATUS_REAL_TIME, *times) + rtu
    return v5_frame(RESPONSE, seq, counter, logger_serial, payload)


class SolarmanPeer(TcpPeer):
    """A V5 logger in front of Modbus register banks (one per slave id)."""

    def __init__(self, banks: dict[int, RegisterBank], logger_serial: int) -> None:
        super().__init__()
        self.modbus = ModbusPeer(banks)  # answers the RTU requests; never listens itself
        self.logger_serial = logger_serial
        self.fault = Fault.NONE
        self.double_crc = False
        self.heartbeat = False
        self.corrupt_next = 0  # answers still to send with a bad V5 checksum
        self.bad_crc_next = 0  # answers still to send with a bad RTU CRC (in a valid V5 frame)
        self.frames = 0  # V5 requests accepted
        self.ignored = 0  # frames ignored (bad framing, wrong serial)
        self._counter = 0
        self._started = time.monotonic()

    @property
    def requests(self) -> list[Request]:
        return self.modbus.requests

    @property
    def writes(self) -> list[Request]:
        return self.modbus.writes

    @property
    def write_failures(self) -> WriteFailures:
        return self.modbus.write_failures

    async def set_fault(self, fault: Fault) -> None:
        """REFUSE closes the port; EXCEPTION makes the inverter answer Modbus exceptions."""
        self.fault = fault
        self.modbus.fault = Fault.EXCEPTION if fault is Fault.EXCEPTION else Fault.NONE
        await self.refuse(fault is Fault.REFUSE)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readexactly(3)
            if head[0] != START:
                return  # out of step: a logger drops such a client
            (length,) = struct.unpack("<H", head[1:3])
            frame = head + await reader.readexactly(length + 10)
            answer = self._answer(frame)
            if answer is None:
                continue
            if self.fault is Fault.DROP:
                return
            if self.fault is Fault.STALL:
                await asyncio.sleep(3600)
            if self.heartbeat:
                writer.write(self._heartbeat())
                await writer.drain()
                await asyncio.sleep(0.02)  # its own segment, as it comes on its own timer
            writer.write(answer)
            await writer.drain()

    def _answer(self, frame: bytes) -> bytes | None:
        """Unwrap one request and wrap the inverter's answer; None: the frame is ignored."""
        control, seq, _, serial = struct.unpack("<HBBI", frame[3:11])
        if (
            frame[-1] != END
            or frame[-2] != sum(frame[1:-2]) & 0xFF
            or control != REQUEST
            or serial != self.logger_serial
            or frame[11] != FRAME_TYPE_INVERTER
        ):
            self.ignored += 1
            return None
        rtu = frame[26:-2]
        if len(rtu) < 4 or modbus_crc(rtu[:-2]) != rtu[-2:]:
            self.ignored += 1
            return None
        self.frames += 1
        unit_id = rtu[0]
        answer = bytes([unit_id]) + self.modbus.answer(unit_id, rtu[1:-2])
        answer += modbus_crc(answer)
        if self.bad_crc_next > 0:
            self.bad_crc_next -= 1
            answer = answer[:-1] + bytes([answer[-1] ^ 0xFF])
        if self.double_crc:
            answer += modbus_crc(answer)  # the CRC of a frame with its CRC: always 00 00
        self._counter = (self._counter + 1) & 0xFF
        uptime = int(time.monotonic() - self._started)
        response = bytearray(
            v5_response(seq, self._counter, self.logger_serial, answer, (uptime, uptime, 0))
        )
        if self.fault is Fault.GARBAGE or self.corrupt_next > 0:
            self.corrupt_next = max(0, self.corrupt_next - 1)
            response[-2] ^= 0x5A  # a bad V5 checksum
        return bytes(response)

    def _heartbeat(self) -> bytes:
        self._counter = (self._counter + 1) & 0xFF
        return v5_frame(HEARTBEAT, self._counter, 0, self.logger_serial, b"\x00")
