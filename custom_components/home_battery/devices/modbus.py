"""Modbus toolkit: declarative register tables, a block-read planner and one guarded connection.

A family describes its registers as a table of `Register`s; `plan_blocks` merges them into the
fewest block reads the device allows, `decode_blocks` turns the answers into engineering values,
and a `RegisterTransport` (Modbus TCP here, Solarman V5 elsewhere) carries the requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
import inspect
import logging
import time
from typing import Any, Protocol

from .model import (
    DeviceConnectionError,
    DeviceRejectedError,
    StateValue,
    WriteNotAcceptedError,
)

_LOGGER = logging.getLogger(__name__)

MAX_REGISTERS_PER_READ = 125  # the Modbus limit for function code 3


class DataType(StrEnum):
    """How a value is laid out in 16-bit registers."""

    U16 = "u16"
    I16 = "i16"
    U32 = "u32"
    I32 = "i32"
    U64 = "u64"
    STRING = "string"


_WIDTH = {DataType.U16: 1, DataType.I16: 1, DataType.U32: 2, DataType.I32: 2, DataType.U64: 4}


@dataclass(frozen=True, kw_only=True)
class Register:
    """One value in a device's register map.

    The engineering value is `raw * scale * sign + offset`; `sign` converts the device's own
    sign convention to the common one. Raw values listed in `nan` mean "not available" and decode
    to None, never to a number. `options` maps enumerated raw values to state names.
    """

    key: str
    address: int
    unit: str = "main"
    data_type: DataType = DataType.U16
    scale: float = 1.0
    sign: int = 1
    offset: float = 0.0
    length: int = 1  # registers, for strings only
    low_word_first: bool = False
    nan: frozenset[int] = frozenset()
    options: Mapping[int, str] | None = None
    poll: bool = True  # False: read on demand only (identity, control read-back)

    @property
    def count(self) -> int:
        """Return the number of registers the value occupies."""
        return self.length if self.data_type is DataType.STRING else _WIDTH[self.data_type]

    def decode(self, words: Sequence[int]) -> StateValue | None:
        """Turn this register's words into its engineering value."""
        if self.data_type is DataType.STRING:
            text = b"".join(w.to_bytes(2, "big") for w in words).decode("ascii", "ignore")
            return text.replace("\x00", "").strip()
        ordered = list(reversed(words)) if self.low_word_first else list(words)
        raw = 0
        for word in ordered:
            raw = (raw << 16) | word
        if raw in self.nan:
            return None
        if self.data_type in (DataType.I16, DataType.I32):
            bits = 16 * len(words)
            if raw >= 1 << (bits - 1):
                raw -= 1 << bits
        if self.options is not None:
            return self.options.get(raw, str(raw))
        value = raw * self.scale * self.sign + self.offset
        return int(value) if self.scale == 1 and self.offset == 0 else round(value, 6)

    def encode(self, value: float) -> list[int]:
        """Turn an engineering value into the words to write, checking that it fits."""
        raw = round((value - self.offset) / (self.scale * self.sign))
        bits = 16 * self.count
        signed = self.data_type in (DataType.I16, DataType.I32)
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if not low <= raw <= high:
            raise ValueError(f"{value} does not fit register {self.address} ({self.data_type})")
        raw &= (1 << bits) - 1
        words = [(raw >> (16 * i)) & 0xFFFF for i in reversed(range(self.count))]
        return list(reversed(words)) if self.low_word_first else words


@dataclass(frozen=True)
class ReadBlock:
    """One read request: a contiguous range of one unit's registers."""

    unit: str
    address: int
    count: int
    registers: tuple[Register, ...]


def plan_blocks(
    registers: Iterable[Register], *, max_count: int = MAX_REGISTERS_PER_READ, max_gap: int = 0
) -> list[ReadBlock]:
    """Merge registers into the fewest block reads the device allows.

    Registers of the same unit are merged while the block stays within `max_count` registers and
    the unused stretch between two neighbours is at most `max_gap` registers (devices that answer
    a read touching an undefined address with an exception need 0).
    """
    blocks: list[ReadBlock] = []
    by_unit: dict[str, list[Register]] = {}
    for register in registers:
        by_unit.setdefault(register.unit, []).append(register)
    for unit, members in by_unit.items():
        members.sort(key=lambda r: r.address)
        start, end = members[0].address, members[0].address + members[0].count
        current: list[Register] = []
        for register in members:
            reg_end = register.address + register.count
            if current and (
                register.address - end > max_gap or max(end, reg_end) - start > max_count
            ):
                blocks.append(ReadBlock(unit, start, end - start, tuple(current)))
                start, end, current = register.address, reg_end, []
            current.append(register)
            end = max(end, reg_end)
        blocks.append(ReadBlock(unit, start, end - start, tuple(current)))
    return blocks


def decode_blocks(
    blocks: Sequence[ReadBlock], answers: Sequence[Sequence[int]]
) -> dict[str, StateValue | None]:
    """Decode every register of the planned blocks from the words each read returned."""
    values: dict[str, StateValue | None] = {}
    for block, words in zip(blocks, answers, strict=True):
        for register in block.registers:
            offset = register.address - block.address
            values[register.key] = register.decode(words[offset : offset + register.count])
    return values


class RegisterTransport(Protocol):
    """Carries register reads and writes to one device (Modbus TCP, Solarman V5, ...)."""

    lock: asyncio.Lock

    async def read(self, unit_id: int, address: int, count: int) -> list[int]:
        """Read holding registers."""

    async def write(self, unit_id: int, address: int, values: Sequence[int]) -> None:
        """Write holding registers."""

    async def close(self) -> None:
        """Close the connection."""


def _unit_keyword() -> str:
    """Return the name pymodbus uses for the unit id: `slave` up to 3.9, `device_id` after."""
    from pymodbus.client import AsyncModbusTcpClient

    params = inspect.signature(AsyncModbusTcpClient.read_holding_registers).parameters
    return "device_id" if "device_id" in params else "slave"


@cache
def _vendor_pdu_class(function_code: int) -> type[Any]:
    """Return a pymodbus PDU class carrying raw bytes under a vendor's function code.

    pymodbus decodes an answer by its function code with the class registered for it; this one
    keeps the bytes after the code as they came (`payload`). Built once per code, lazily, so that
    pymodbus is imported only when a transport is used.
    """
    from pymodbus.pdu import ModbusPDU

    class VendorPdu(ModbusPDU):
        payload: bytes = b""

        def encode(self) -> bytes:
            return self.payload

        def decode(self, data: bytes) -> None:
            self.payload = bytes(data)

    VendorPdu.function_code = function_code
    VendorPdu.__name__ = VendorPdu.__qualname__ = f"VendorPdu{function_code:02X}"
    return VendorPdu


@dataclass(kw_only=True)
class ModbusTcpTransport:
    """One long-lived Modbus TCP connection behind one lock, reconnecting when it breaks.

    Callers hold `lock` around a whole operation (a poll, or a write with its read-back) so that
    requests of different operations never interleave on the wire.
    """

    host: str
    port: int
    timeout: float = 3.0
    connect_delay: float = 0.0  # some devices ignore requests right after connecting
    request_pause: float = 0.0  # and need a pause between requests
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    requests: int = 0  # counted for the benchmarks
    # TCP connections opened so far: a device that keeps a login per connection (Huawei) logs in
    # again when this moves on.
    connections: int = 0
    # Times the device closed our idle connection and at once accepted a new one. On devices
    # that serve one client at a time this means another client took the connection.
    idle_drops: int = 0
    _client: object | None = None
    _last_request: float = 0.0
    _unit_kw: str = ""

    async def _ensure_connected(self) -> object:
        from pymodbus.client import AsyncModbusTcpClient

        client = self._client
        if client is not None and getattr(client, "connected", False):
            return client
        # We forget the client whenever we close it ourselves: one still here was closed by the
        # device (or the network) while idle.
        dropped_while_idle = client is not None
        await self.close()
        if not self._unit_kw:
            self._unit_kw = _unit_keyword()
        client = AsyncModbusTcpClient(
            self.host, port=self.port, timeout=self.timeout, retries=0, reconnect_delay=0
        )
        try:
            async with asyncio.timeout(self.timeout):
                connected = await client.connect()
        except (TimeoutError, OSError) as err:
            client.close()
            raise DeviceConnectionError(f"cannot connect to {self.host}:{self.port}") from err
        if not connected:
            client.close()
            raise DeviceConnectionError(f"cannot connect to {self.host}:{self.port}")
        self._client = client
        self.connections += 1
        if dropped_while_idle:
            self.idle_drops += 1
        if self.connect_delay:
            await asyncio.sleep(self.connect_delay)
        return client

    async def _call(self, method: str, unit_id: int, *args: object, **kwargs: object) -> object:
        def send(client: Any) -> Awaitable[Any]:
            return getattr(client, method)(*args, **kwargs, **{self._unit_kw: unit_id})  # type: ignore[no-any-return]

        return await self._exchange(method, unit_id, send)

    async def _exchange(
        self, method: str, unit_id: int, send: Callable[[Any], Awaitable[Any]]
    ) -> Any:
        """Send one request over the connection (opened if needed) and return the answer."""
        from pymodbus.exceptions import ModbusException

        client = await self._ensure_connected()
        if self.request_pause:
            wait = self._last_request + self.request_pause - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        self.requests += 1
        try:
            async with asyncio.timeout(self.timeout):
                response = await send(client)
        except (TimeoutError, ModbusException, OSError) as err:
            await self.close()
            raise DeviceConnectionError(f"{method} on unit {unit_id} failed: {err!r}") from err
        finally:
            self._last_request = time.monotonic()
        if response.isError():
            code = getattr(response, "exception_code", None)
            raise DeviceRejectedError(
                f"unit {unit_id} answered {method} with exception code {code}",
                unit_id=unit_id,
                code=code,
            )
        return response

    async def read(self, unit_id: int, address: int, count: int) -> list[int]:
        """Read holding registers (function code 3)."""
        response = await self._call("read_holding_registers", unit_id, address, count=count)
        words = list(response.registers)  # type: ignore[attr-defined]
        if len(words) != count:
            await self.close()
            raise DeviceConnectionError(f"asked {count} registers at {address}, got {len(words)}")
        return words

    async def write(self, unit_id: int, address: int, values: Sequence[int]) -> None:
        """Write holding registers (function code 16)."""
        await self._call("write_registers", unit_id, address, list(values))

    async def write_single(self, unit_id: int, address: int, value: int) -> None:
        """Write one holding register with function code 6, for devices that want it."""
        await self._call("write_register", unit_id, address, value)

    async def execute_vendor(self, unit_id: int, function_code: int, payload: bytes) -> bytes:
        """Send a request with a vendor's own function code; return the answer after the code.

        `payload` is the request's data after the function code. An exception answer raises
        `DeviceRejectedError` with its code, like every other request.
        """
        pdu_class = _vendor_pdu_class(function_code)

        def send(client: Any) -> Awaitable[Any]:
            client.register(pdu_class)
            request = pdu_class(dev_id=unit_id)
            request.payload = payload
            return client.execute(False, request)  # type: ignore[no-any-return]

        response = await self._exchange(f"function {function_code:#04x}", unit_id, send)
        return bytes(getattr(response, "payload", b""))

    async def close(self) -> None:
        """Close the connection; the next request opens a new one."""
        client, self._client = self._client, None
        if client is not None:
            client.close()  # type: ignore[attr-defined]


class RegisterDevice:
    """Reads a register table and writes single registers with read-back, over one transport."""

    def __init__(
        self,
        transport: RegisterTransport,
        unit_ids: Mapping[str, int],
        registers: Sequence[Register],
        *,
        max_count: int = MAX_REGISTERS_PER_READ,
        max_gap: int = 0,
    ) -> None:
        """Plan the table's polled registers once; the plan is reused on every poll."""
        self.transport = transport
        self.unit_ids = dict(unit_ids)
        self.registers = {r.key: r for r in registers}
        self.blocks = plan_blocks(
            (r for r in registers if r.poll), max_count=max_count, max_gap=max_gap
        )
        self._max_count = max_count
        self._max_gap = max_gap

    async def read_blocks(self, blocks: Sequence[ReadBlock]) -> dict[str, StateValue | None]:
        """Read the given blocks; the caller holds the transport's lock."""
        answers = [
            await self.transport.read(self.unit_ids[b.unit], b.address, b.count) for b in blocks
        ]
        return decode_blocks(blocks, answers)

    async def read_keys(self, *keys: str) -> dict[str, StateValue | None]:
        """Read some registers by key; the caller holds the transport's lock."""
        registers = [self.registers[k] for k in keys]
        return await self.read_blocks(
            plan_blocks(registers, max_count=self._max_count, max_gap=self._max_gap)
        )

    async def write_key(self, key: str, value: float, *, verify: bool = True) -> None:
        """Write one register and read it back; the caller holds the transport's lock."""
        await self.write_keys({key: value}, verify=verify)

    async def write_keys(self, values: Mapping[str, float], *, verify: bool = True) -> None:
        """Write registers in order, then read them all back; the caller holds the lock."""
        for key, value in values.items():
            register = self.registers[key]
            await self.transport.write(
                self.unit_ids[register.unit], register.address, register.encode(value)
            )
        if not verify:
            return
        read_back = await self.read_keys(*values)
        for key, value in values.items():
            found = read_back[key]
            scale = abs(self.registers[key].scale)
            if not isinstance(found, (int, float)) or abs(found - value) > scale:
                _LOGGER.warning("%s: wrote %s, the device reports %s", key, value, found)
                raise WriteNotAcceptedError(
                    key, value, found if isinstance(found, (int, float)) else None
                )
