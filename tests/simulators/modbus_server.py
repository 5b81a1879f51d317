"""A Modbus TCP peer on loopback with switchable faults, for the simulators of every Modbus family.

The server is written on asyncio streams rather than with pymodbus's server classes so that it
behaves identically under every pymodbus version the client is tested with, and so that faults
can be injected at the byte level (a dropped request, a stall, garbage, exception codes).
It speaks MBAP with function codes 3, 4, 6 and 16.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
import struct

from .base import TcpPeer, WriteFailures
from .faults import Fault

ILLEGAL_FUNCTION = 1
ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3
DEVICE_FAILURE = 4
GATEWAY_TARGET_FAILED = 0x0B


class ModbusError(Exception):
    """Raised by a bank to answer with a Modbus exception code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class RegisterBank:
    """The holding registers of one unit id: only defined addresses can be read."""

    words: dict[int, int] = field(default_factory=dict)
    writable: set[int] = field(default_factory=set)
    on_write: Callable[[int, list[int]], None] | None = None
    # Writes the device cannot take (to an address it does not have or that is read-only, or a
    # value out of its range): the shared suite expects none.
    invalid_writes: int = 0

    def define(self, first: int, count: int = 1, value: int = 0) -> None:
        for address in range(first, first + count):
            self.words.setdefault(address, value)

    def set_u16(self, address: int, value: int) -> None:
        self.words[address] = value & 0xFFFF

    def set_i16(self, address: int, value: int) -> None:
        self.words[address] = value & 0xFFFF

    def set_32(self, address: int, value: int, *, low_word_first: bool = False) -> None:
        raw = value & 0xFFFFFFFF
        hi, lo = raw >> 16, raw & 0xFFFF
        self.words[address], self.words[address + 1] = (lo, hi) if low_word_first else (hi, lo)

    def set_64(self, address: int, value: int) -> None:
        raw = value & 0xFFFFFFFFFFFFFFFF
        for i in range(4):
            self.words[address + i] = (raw >> (16 * (3 - i))) & 0xFFFF

    def set_string(self, address: int, text: str, length: int) -> None:
        data = text.encode().ljust(2 * length, b"\x00")
        for i in range(length):
            self.words[address + i] = int.from_bytes(data[2 * i : 2 * i + 2], "big")

    def get_u16(self, address: int) -> int:
        return self.words[address]

    def get_i16(self, address: int) -> int:
        value = self.words[address]
        return value - 0x10000 if value >= 0x8000 else value

    def get_32(self, address: int, *, signed: bool = True, low_word_first: bool = False) -> int:
        hi, lo = self.words[address], self.words[address + 1]
        if low_word_first:
            hi, lo = lo, hi
        raw = (hi << 16) | lo
        return raw - (1 << 32) if signed and raw >= 1 << 31 else raw

    def read(self, address: int, count: int) -> list[int]:
        if any(a not in self.words for a in range(address, address + count)):
            raise ModbusError(ILLEGAL_ADDRESS)
        return [self.words[a] for a in range(address, address + count)]

    def write(self, address: int, values: list[int]) -> None:
        if any(a not in self.writable for a in range(address, address + len(values))):
            self.invalid_writes += 1
            raise ModbusError(ILLEGAL_ADDRESS)
        for offset, value in enumerate(values):
            self.words[address + offset] = value
        if self.on_write is not None:
            self.on_write(address, values)


@dataclass
class Request:
    """One request the peer received, for tests that check what was (not) written."""

    unit_id: int
    function: int
    address: int
    values: list[int]


class ModbusPeer(TcpPeer):
    """A Modbus TCP server on 127.0.0.1 serving one `RegisterBank` per unit id."""

    def __init__(
        self,
        banks: dict[int, RegisterBank],
        *,
        single_client: bool = False,
        startup_silence: float = 0.0,
    ) -> None:
        super().__init__()
        self.banks = banks
        self.single_client = single_client  # a new client drops the older connection (Huawei)
        self.startup_silence = startup_silence  # requests this soon after connecting go unanswered
        self.fault = Fault.NONE
        self.exception_code = DEVICE_FAILURE
        self.requests: list[Request] = []
        self.write_failures = WriteFailures()

    @property
    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.function in (6, 16)]

    async def set_fault(self, fault: Fault) -> None:
        """Switch a fault on (or `Fault.NONE` off); REFUSE closes the port and drops clients."""
        self.fault = fault
        await self.refuse(fault is Fault.REFUSE)

    def on_connect(self, writer: asyncio.StreamWriter) -> None:
        if self.single_client:
            for old in list(self._writers):
                old.close()
            self._writers.clear()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected_at = asyncio.get_running_loop().time()
        while True:
            header = await reader.readexactly(7)
            transaction, _protocol, length, unit_id = struct.unpack(">HHHB", header)
            pdu = await reader.readexactly(length - 1)
            if asyncio.get_running_loop().time() - connected_at < self.startup_silence:
                continue
            if self.fault is Fault.DROP:
                return
            if self.fault is Fault.STALL:
                await asyncio.sleep(3600)
            if self.fault is Fault.GARBAGE:
                writer.write(b"\xde\xad\xbe\xef" * 4)
                await writer.drain()
                continue
            answer = self._answer(unit_id, pdu)
            writer.write(struct.pack(">HHHB", transaction, 0, len(answer) + 1, unit_id) + answer)
            await writer.drain()

    def answer(self, unit_id: int, pdu: bytes) -> bytes:
        """Answer one request PDU, for peers that carry Modbus in other frames (Solarman V5)."""
        return self._answer(unit_id, pdu)

    def _answer(self, unit_id: int, pdu: bytes) -> bytes:
        function = pdu[0]
        try:
            if self.fault is Fault.EXCEPTION:
                raise ModbusError(self.exception_code)
            bank = self.banks.get(unit_id)
            if bank is None:
                raise ModbusError(GATEWAY_TARGET_FAILED)
            if function in (3, 4):
                address, count = struct.unpack(">HH", pdu[1:5])
                self.requests.append(Request(unit_id, function, address, [count]))
                words = bank.read(address, count)
                return bytes([function, 2 * count]) + struct.pack(f">{count}H", *words)
            if function in (6, 16) and self.write_failures.write_failed():
                raise ModbusError(DEVICE_FAILURE)
            if function == 6:
                address, value = struct.unpack(">HH", pdu[1:5])
                self.requests.append(Request(unit_id, function, address, [value]))
                bank.write(address, [value])
                return pdu[:5]
            if function == 16:
                address, count, _ = struct.unpack(">HHB", pdu[1:6])
                values = list(struct.unpack(f">{count}H", pdu[6 : 6 + 2 * count]))
                self.requests.append(Request(unit_id, function, address, values))
                bank.write(address, values)
                return pdu[:5]
            raise ModbusError(ILLEGAL_FUNCTION)
        except ModbusError as err:
            return bytes([function | 0x80, err.code])
