"""The Plasmatronics PLI link: 4-byte frames over a serial port or a serial server, one at a time.

A request is `[command, address, data, 255 − command]`; the last byte is the only check the PLI
makes. The PLI answers `[200, value]`, `[128]` to a loopback, or a single error byte. Replies carry
no check at all, so a first byte that is none of these is garbage (line noise, or a late answer to
an earlier request): the input is flushed and the request sent again, like after a timeout or a
transient PLI error. The link is opened once and kept; a broken one is reopened on the next request.

Device paths (`/dev/ttyUSB0`) and `socket://host:port` serial servers are driven by asyncio
(pyserial-asyncio-fast); other pyserial URLs such as `rfc2217://host:port` have no file
descriptor to watch, so their blocking pyserial port is driven from the executor instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Container
from dataclasses import dataclass, field
from enum import IntEnum
import logging
import threading
from typing import Any, Protocol, cast
from urllib.parse import urlparse

from .model import DeviceConnectionError, DeviceError, DeviceSilentError

_LOGGER = logging.getLogger(__name__)

BAUD_RATE = 9600  # 8N1, no flow control; the PLI's DIP switches allow 9600 at most
OPEN_TIMEOUT = 5.0


class Command(IntEnum):
    """PLI commands."""

    READ_RAM = 20
    READ_EEPROM = 72
    WRITE_RAM = 152
    WRITE_EEPROM = 202
    LOOPBACK = 187


REPLY_OK = 200
REPLY_LOOPBACK = 128

# The PLI's error replies, worded after the PLI manual as quoted by the projects that use it.
ERROR_MESSAGES: dict[int, str] = {
    5: "no or corrupted communication between the PLI and the regulator",
    129: "the PLI timed out waiting for the regulator",
    130: "the PLI received the request with a checksum error",
    131: "the PLI did not recognise the command",
    133: "the regulator's processor did not reply to the PLI",
    134: "the regulator's reply to the PLI was corrupted",
}
CHECKSUM_ERROR = 130
UNKNOWN_COMMAND = 131


def encode_request(command: int, address: int, data: int = 0) -> bytes:
    """Return the 4-byte frame of one request."""
    return bytes((command, address, data, 255 - command))


class PliError(DeviceError):
    """The PLI answered with one of its error codes."""

    def __init__(self, code: int) -> None:
        """Say what the code means."""
        super().__init__(f"PLI error {code}: {ERROR_MESSAGES[code]}")
        self.code = code


class PliRegulatorError(PliError, DeviceSilentError):
    """The PLI is there but could not talk to the regulator behind it (5, 129, 133, 134)."""


class PliChecksumError(PliError, DeviceConnectionError):
    """The request arrived corrupted at the PLI (130): a noisy or misconfigured line."""


class PliCommandError(PliError):
    """The PLI does not know the command (131); sending it again will not help."""


class PliGarbageError(DeviceConnectionError):
    """The reply was not a PLI reply."""


def error_for_code(code: int) -> PliError:
    """Return the typed error of one PLI error code."""
    if code == CHECKSUM_ERROR:
        return PliChecksumError(code)
    if code == UNKNOWN_COMMAND:
        return PliCommandError(code)
    return PliRegulatorError(code)


def check_reply(command: int, reply: bytes, plausible: Container[int] | None = None) -> bytes:
    """Return a successful reply, or raise the typed error it stands for.

    A value outside `plausible` counts as garbage: replies carry no check of their own.
    """
    first = reply[0]
    if len(reply) == 2 and first == REPLY_OK:
        if plausible is not None and reply[1] not in plausible:
            raise PliGarbageError(f"implausible value {reply[1]} in reply to command {command}")
        return reply
    if len(reply) == 1 and first == REPLY_LOOPBACK and command == Command.LOOPBACK:
        return reply
    if len(reply) == 1 and first in ERROR_MESSAGES:
        raise error_for_code(first)
    raise PliGarbageError(f"unexpected reply {reply.hex()} to command {command}")


def reply_length(first_byte: int) -> int:
    """Return how long a reply starting with this byte is: only a success carries a value."""
    return 2 if first_byte == REPLY_OK else 1


class _Channel(Protocol):
    """An open byte channel to the PLI."""

    async def exchange(self, request: bytes, within: float) -> bytes:
        """Flush stale input, send a request and return its reply; TimeoutError on silence."""

    async def close(self) -> None:
        """Close the channel."""


class _StreamChannel(asyncio.Protocol):
    """A serial port or TCP serial server, read by the event loop as bytes arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        # A local serial port is written directly: its transport would report a failed write
        # (an unplugged adapter) to the event loop's exception handler as a fatal error.
        self.serial_port: Any = None
        self._buffer = bytearray()
        self._arrived = asyncio.Event()
        self._lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._arrived.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self._arrived.set()
        if not self._lost.done():
            self._lost.set_result(None)

    async def _take(self, count: int, deadline: float) -> bytes:
        while len(self._buffer) < count:
            if self._lost.done():
                raise ConnectionError("the port was closed")
            self._arrived.clear()
            async with asyncio.timeout_at(deadline):
                await self._arrived.wait()
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    async def exchange(self, request: bytes, within: float) -> bytes:
        if self.transport is None or self._lost.done():
            raise ConnectionError("the port is not open")
        self._buffer.clear()
        self._write(request)
        deadline = asyncio.get_running_loop().time() + within
        first = await self._take(1, deadline)
        return first + await self._take(reply_length(first[0]) - 1, deadline)

    def _write(self, request: bytes) -> None:
        assert self.transport is not None
        if self.serial_port is None:
            self.transport.write(request)
            return
        import serial

        try:
            written = self.serial_port.write(request)
        except serial.SerialException as err:
            raise ConnectionError(str(err)) from err
        if written != len(request):  # 4 bytes that do not fit the driver's buffer: a dead port
            raise ConnectionError(f"only {written} of {len(request)} bytes could be written")

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        # pyserial closes the port in the executor; wait for it so nothing outlives the device.
        try:
            async with asyncio.timeout(OPEN_TIMEOUT):
                await asyncio.shield(self._lost)
        except TimeoutError:
            _LOGGER.debug("The PLI port did not report closing")


class _ExecutorChannel:
    """A pyserial URL without a file descriptor (rfc2217://, …), driven from worker threads."""

    def __init__(self, port: Any) -> None:
        self._port = port
        self._lock = threading.Lock()  # a cancelled exchange may still run in its thread

    def _exchange(self, request: bytes, timeout: float) -> bytes:
        import serial

        with self._lock:
            try:
                if self._port.timeout != timeout:  # setting it reconfigures the port
                    self._port.timeout = timeout
                # Drop stale input locally (rfc2217's reset_input_buffer costs a round trip).
                if waiting := self._port.in_waiting:
                    self._port.read(waiting)
                self._port.write(request)
                first = bytes(self._port.read(1))
                if not first:
                    raise TimeoutError
                rest = bytes(self._port.read(reply_length(first[0]) - 1))
            except serial.SerialException as err:
                raise ConnectionError(str(err)) from err
            if len(rest) < reply_length(first[0]) - 1:
                raise TimeoutError
            return first + rest

    async def exchange(self, request: bytes, within: float) -> bytes:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._exchange, request, within)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._port.close)


def _serial_settings() -> dict[str, Any]:
    return {"baudrate": BAUD_RATE, "bytesize": 8, "parity": "N", "stopbits": 1}


async def _open_channel(url: str) -> _Channel:
    """Open a device path or a pyserial URL; OSError or ValueError when it cannot be opened."""
    scheme = urlparse(url).scheme
    if scheme in ("", "socket"):  # a device path, or a raw TCP serial server
        from serial_asyncio_fast import SerialTransport, create_serial_connection

        loop = asyncio.get_running_loop()
        channel = _StreamChannel()
        transport, _ = await create_serial_connection(
            loop, lambda: channel, url, **_serial_settings()
        )
        channel.transport = cast(asyncio.Transport, transport)
        if isinstance(transport, SerialTransport):
            channel.serial_port = transport.serial
        return channel
    import serial

    port = await asyncio.get_running_loop().run_in_executor(
        None, lambda: serial.serial_for_url(url, **_serial_settings())
    )
    return _ExecutorChannel(port)


@dataclass(kw_only=True)
class PliLink:
    """One PLI, kept open behind one lock: callers hold `lock` around a whole operation."""

    url: str
    timeout: float = 1.0  # per request, as the projects that use the PLI wait
    attempts: int = 3  # per request, for timeouts, garbage and transient PLI errors
    retry_pause: float = 0.1
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    requests: int = 0  # frames sent, counted for the benchmarks
    retries: int = 0
    _channel: _Channel | None = None

    async def _ensure_open(self) -> _Channel:
        if self._channel is not None:
            return self._channel
        try:
            async with asyncio.timeout(OPEN_TIMEOUT):
                self._channel = await _open_channel(self.url)
        except (OSError, TimeoutError, ValueError) as err:
            # pyserial's SerialException is an OSError; ValueError: not a port or URL.
            raise DeviceConnectionError(f"cannot open the PLI port: {err}") from err
        return self._channel

    async def request(
        self, command: int, address: int, data: int = 0, *, plausible: Container[int] | None = None
    ) -> bytes:
        """Send one request and return its checked reply; the caller holds `lock`.

        Timeouts, garbage (including a value outside `plausible`), a broken link and transient
        PLI errors are retried up to `attempts` times; the last failure is raised.
        """
        frame = encode_request(command, address, data)
        failure: DeviceError | None = None
        for attempt in range(self.attempts):
            if attempt:
                self.retries += 1
                _LOGGER.debug("PLI request %s retried after: %s", frame.hex(), failure)
                await asyncio.sleep(self.retry_pause)
            channel = await self._ensure_open()
            self.requests += 1
            try:
                return check_reply(command, await channel.exchange(frame, self.timeout), plausible)
            except TimeoutError:
                failure = DeviceSilentError(
                    f"no answer from the PLI within {self.timeout:g} s (command {command}, "
                    f"address {address})"
                )
            except (ConnectionError, OSError) as err:
                await self._disconnect()
                failure = DeviceConnectionError(f"the link to the PLI broke: {err}")
            except PliCommandError:
                raise
            except DeviceError as err:
                failure = err
        assert failure is not None
        raise failure

    async def read_ram(self, address: int, plausible: Container[int] | None = None) -> int:
        """Read one byte of the regulator's processor RAM; the caller holds `lock`."""
        return (await self.request(Command.READ_RAM, address, plausible=plausible))[1]

    async def close(self) -> None:
        """Close the port once the operation in progress is over; a later request reopens it."""
        async with self.lock:
            await self._disconnect()

    async def _disconnect(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close()
