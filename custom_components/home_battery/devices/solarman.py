"""Solarman V5 transport: Modbus RTU wrapped in V5 frames to a Solarman stick logger (TCP 8899).

The same register tables and block planner as Modbus TCP serve this transport; only the carrier
differs. pysolarmanv5 builds and checks the frames. What this module adds is what the loggers
need in the field: they close idle connections and sometimes refuse new ones for minutes, and
they occasionally send a corrupted frame. So a request on a connection the logger closed is
sent again once on a new connection, a corrupted answer is asked for again once, and after a
refused connection the next attempt waits (5 s, doubling to 60 s) instead of hammering the stick.

pysolarmanv5 logs every frame at debug level with the logger's serial number (as "[serial]" and
inside the frame's hex dump) and the host in some messages; it gets a logger adapter that puts
"**REDACTED**" in their place, since the serial is redacted in the diagnostics too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
import logging
import struct
import time
import traceback
from typing import Any

from .model import DeviceConnectionError, DeviceRejectedError, DeviceSilentError

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORT = 8899
FIRST_BACKOFF = 5.0
MAX_BACKOFF = 60.0

type _Call = Callable[[Any], Awaitable[Any]]


class _RetryError(Exception):
    """A failure worth one more try on a fresh connection."""


REDACTED = "**REDACTED**"


class RedactingLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger for pysolarmanv5 that never prints the logger's serial number or the host.

    The message is formatted here (with its traceback, where one is asked for), the secrets
    replaced, and the result logged as plain text.
    """

    def __init__(self, logger: logging.Logger, *secrets: str) -> None:
        """Redact each of `secrets` (empty ones are ignored) from every record."""
        super().__init__(logger, {})
        self._secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        """Log `msg % args` with the secrets replaced."""
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        exc_info = kwargs.pop("exc_info", None)
        if exc_info:
            error = exc_info if isinstance(exc_info, BaseException) else None
            text += "\n" + "".join(
                traceback.format_exception(error) if error else traceback.format_exc()
            )
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        self.logger.log(level, "%s", text, **kwargs)


def frame_serial(logger_serial: int) -> str:
    """Return the logger serial as it appears in a hex dump of a V5 frame (little endian)."""
    return struct.pack("<I", logger_serial).hex(" ")


@dataclass(kw_only=True)
class SolarmanTransport:
    """One connection to a Solarman logger behind one lock, with reconnects and backoff.

    `clock` measures the backoff; it is the device's clock, so tests that move the coordinator's
    time move the backoff along with it.
    """

    host: str
    logger_serial: int
    port: int = DEFAULT_PORT
    timeout: float = 5.0
    clock: Callable[[], float] = time.monotonic
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    requests: int = 0  # counted for the benchmarks
    _client: Any = None
    _failed_connects: int = 0
    _next_connect: float = 0.0

    async def read(self, unit_id: int, address: int, count: int) -> list[int]:
        """Read holding registers (function code 3)."""
        words = await self._request(
            unit_id,
            f"read {count} at {address}",
            lambda c: c.read_holding_registers(address, count),
        )
        if not isinstance(words, list) or len(words) != count:
            await self.close()
            raise DeviceConnectionError(f"asked {count} registers at {address}, got {words!r}")
        return [int(w) for w in words]

    async def write(self, unit_id: int, address: int, values: Sequence[int]) -> None:
        """Write holding registers (function code 16, which Deye requires for settings)."""
        await self._request(
            unit_id,
            f"write {len(values)} at {address}",
            lambda c: c.write_multiple_holding_registers(address, list(values)),
        )

    async def close(self) -> None:
        """Close the connection; the next request opens a new one."""
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.disconnect()
            except OSError as err:  # the logger may already have gone
                _LOGGER.debug("closing the logger connection: %s", err)

    async def _request(self, unit_id: int, what: str, call: _Call) -> Any:
        try:
            return await self._exchange(await self._connected(), unit_id, call)
        except _RetryError as err:
            await self.close()
            _LOGGER.debug("%s via the logger failed (%s); trying once more", what, err)
        try:
            return await self._exchange(await self._connected(), unit_id, call)
        except _RetryError as err:
            await self.close()
            raise DeviceConnectionError(f"{what} via the logger failed: {err}") from err

    async def _connected(self) -> Any:
        """Return an open client; open one unless the logger refused too recently."""
        from pysolarmanv5 import NoSocketAvailableError, PySolarmanV5Async

        client = self._client
        if client is not None and client.writer is not None and not client.reader_task.done():
            return client
        await self.close()  # the logger closed it: open a new one
        wait = self._next_connect - self.clock()
        if wait > 0:
            raise DeviceConnectionError(
                f"the logger (port {self.port}) refused the connection; "
                f"next attempt in {wait:.0f} s"
            )
        client = PySolarmanV5Async(
            self.host,
            self.logger_serial,
            port=self.port,
            mb_slave_id=1,
            # pysolarmanv5's own timeouts stay longer than ours, so ours decides.
            socket_timeout=self.timeout + 1,
            auto_reconnect=False,
            logger=RedactingLogger(
                _LOGGER,
                str(self.logger_serial),
                frame_serial(self.logger_serial),
                self.host,
            ),
        )
        try:
            async with asyncio.timeout(self.timeout):
                await client.connect()
        except (TimeoutError, NoSocketAvailableError, OSError) as err:
            self._failed_connects += 1
            backoff = min(FIRST_BACKOFF * 2 ** (self._failed_connects - 1), MAX_BACKOFF)
            self._next_connect = self.clock() + backoff
            raise DeviceConnectionError(f"cannot connect to the logger (port {self.port})") from err
        self._failed_connects = 0
        self._next_connect = 0.0
        self._client = client
        return client

    async def _exchange(self, client: Any, unit_id: int, call: _Call) -> Any:
        """Send one request and wait for its answer, or for the logger to close the socket."""
        from pysolarmanv5 import NoSocketAvailableError, V5FrameError
        from umodbus.client.serial.redundancy_check import CRCError
        from umodbus.exceptions import ModbusError

        self.requests += 1
        client.mb_slave_id = unit_id
        request = asyncio.ensure_future(call(client))
        closed: asyncio.Task[None] = client.reader_task
        try:
            async with asyncio.timeout(self.timeout):
                await asyncio.wait({request, closed}, return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError as err:
            await self.close()
            raise DeviceSilentError(
                f"the logger sent no answer within {self.timeout:g} s "
                "(is the logger serial number right?)"
            ) from err
        finally:
            if not request.done():
                request.cancel()
                await asyncio.wait({request})
        if request.cancelled():
            raise _RetryError("the logger closed the connection")
        try:
            return request.result()
        except ModbusError as err:  # the inverter's Modbus exception, carried in a V5 frame
            code = getattr(err, "error_code", None)
            raise DeviceRejectedError(
                f"unit {unit_id} answered with Modbus exception {code}", unit_id=unit_id, code=code
            ) from err
        except V5FrameError as err:
            if "EXCEPTION" in str(err):
                raise DeviceRejectedError(str(err), unit_id=unit_id) from err
            raise _RetryError(str(err)) from err
        except (CRCError, struct.error) as err:
            raise _RetryError(f"malformed Modbus frame: {err}") from err
        except (NoSocketAvailableError, OSError) as err:  # also pysolarmanv5's own timeout
            raise _RetryError(str(err) or type(err).__name__) from err
