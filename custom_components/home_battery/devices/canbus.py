"""A listen-only CAN link over python-can, for families that read a bus they share with others.

The bus is opened and closed in the executor (python-can's slcan sleeps after opening the port,
and loading an interface reads package metadata). A dedicated reader thread blocks in
`bus.recv()` and hands every frame to the event loop, where the family decodes it; the loop
itself never touches the bus. python-can's `Notifier` is not used: given an event loop it reads
buses that have a file descriptor (socketcan, slcan) on the loop, and without one it keeps
calling a failed bus in a tight loop. Nothing here can send a frame: there is no send method.

Links on the same interface and channel share one open bus: a serial adapter read by two
readers splits its bytes between them, which happens whenever the config flow checks a battery
that is already set up (adding it again, reconfiguring it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
import logging
import os
import threading
from typing import Any

import can

from .model import DeviceConnectionError

_LOGGER = logging.getLogger(__name__)

RECEIVE_TIMEOUT = 0.5  # seconds a recv() blocks, so that closing the bus takes at most this
JOIN_TIMEOUT = 3.0
# Adapters built on an Arduino reset when their port opens and miss commands for about 2 s
# (python-can's default pause). Pseudo-terminals and serial-over-network URLs never reset.
SERIAL_BOOT_DELAY = 2.0
# python-can's slcan reads its port with a 1 ms timeout by default, which wakes the reader a
# thousand times a second on a quiet bus (about 5 % of a core); a byte still ends a read at once.
SERIAL_READ_TIMEOUT = 0.1


@dataclass(frozen=True, kw_only=True)
class CanSettings:
    """Which python-can interface and channel to open, and at what bit rate."""

    interface: str
    channel: str
    bitrate: int
    # Identifier ranges to receive: (id, mask) pairs on 11-bit ids; frames outside are dropped
    # where python-can can filter (in the kernel for socketcan, in the reader for slcan).
    filters: Sequence[tuple[int, int]] = ()


def _boot_delay(channel: str) -> float:
    port = channel.split("@", 1)[0]
    if "://" in port or os.path.realpath(port).startswith("/dev/pts/"):
        return 0.0
    return SERIAL_BOOT_DELAY


def _open_bus(settings: CanSettings) -> can.BusABC:
    """Open the bus (blocking: runs in the executor)."""
    options: dict[str, Any] = {
        "interface": settings.interface,
        "channel": settings.channel,
        "bitrate": settings.bitrate,
        "receive_own_messages": False,
        "can_filters": [
            {"can_id": can_id, "can_mask": mask, "extended": False}
            for can_id, mask in settings.filters
        ]
        or None,
    }
    if settings.interface == "slcan":
        options["sleep_after_open"] = _boot_delay(settings.channel)
        options["timeout"] = SERIAL_READ_TIMEOUT
    return can.Bus(**options)


def _deliver[T](loop: asyncio.AbstractEventLoop, callback: Callable[[T], None], arg: T) -> bool:
    """Run `callback(arg)` on the loop; False once the loop is closed (Home Assistant is gone)."""
    try:
        loop.call_soon_threadsafe(callback, arg)
    except RuntimeError:
        return False
    return True


def _undecodable_line(bus: can.BusABC, err: can.CanOperationError) -> bool:
    """Return True, and drop the line, when slcan could not decode a line as text.

    python-can's slcan reports bytes that are not text (noise, a wrong serial speed) as a read
    error and keeps them in its buffer, so every later line would fail too: its `flush` clears it.
    """
    flush = getattr(bus, "flush", None)
    if not isinstance(err.__cause__, UnicodeDecodeError) or flush is None:
        return False
    flush()
    return True


class _SharedBus:
    """One open bus and the thread that reads it, fanned out to every link on its channel.

    The settings of the first link win (a second link on the same channel is a check of the same
    battery). A failure of the bus (adapter unplugged, interface down) ends the thread; the bus
    leaves the registry so that the next `open` starts afresh.
    """

    def __init__(self, settings: CanSettings, key: tuple[str, str]) -> None:
        self.settings = settings
        self.key = key
        self.links: set[CanLink] = set()
        self.failure: Exception | None = None
        self._bus: can.BusABC | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.started = asyncio.get_running_loop().create_task(self._start())

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        describe = f"{self.settings.interface} {self.settings.channel}"
        try:
            bus = await loop.run_in_executor(None, _open_bus, self.settings)
        except (can.CanError, OSError, ValueError, ImportError, NotImplementedError) as err:
            raise DeviceConnectionError(f"cannot open {describe}: {err}") from err
        if self._stop.is_set():  # every link left while the bus was opening
            await loop.run_in_executor(None, bus.shutdown)
            return
        self._bus = bus
        self._thread = threading.Thread(
            target=self._receive,
            args=(bus, loop),
            name=f"home_battery CAN reader {self.settings.channel}",
            daemon=True,
        )
        self._thread.start()

    def _receive(self, bus: can.BusABC, loop: asyncio.AbstractEventLoop) -> None:
        """Read frames until stopped or the bus fails (runs in the reader thread)."""
        while not self._stop.is_set():
            try:
                message = bus.recv(RECEIVE_TIMEOUT)
            except (ValueError, IndexError) as err:
                # One malformed line from a serial adapter; the next one may be fine.
                if not _deliver(loop, self._bad_line, err):
                    return
                continue
            except can.CanOperationError as err:
                if not _undecodable_line(bus, err):
                    if not self._stop.is_set():
                        _deliver(loop, self._fail, err)
                    return
                if not _deliver(loop, self._bad_line, err):
                    return
                continue
            except Exception as err:  # whatever else the driver raises ends the bus
                if not self._stop.is_set():
                    _deliver(loop, self._fail, err)
                return
            if message is not None and not _deliver(loop, self._frame, message):
                return

    def _frame(self, message: can.Message) -> None:
        for link in list(self.links):
            link.on_frame(message)

    def _bad_line(self, err: Exception) -> None:
        for link in list(self.links):
            link.on_bad_line(err)

    def _fail(self, err: Exception) -> None:
        self.failure = err
        if _SHARED.get(self.key) is self:
            del _SHARED[self.key]

    async def stop(self) -> None:
        """Stop the reader and close the bus."""
        self._stop.set()
        if _SHARED.get(self.key) is self:
            del _SHARED[self.key]
        loop = asyncio.get_running_loop()
        if not self.started.done():
            await asyncio.wait([self.started])
        if (thread := self._thread) is not None:
            self._thread = None
            await loop.run_in_executor(None, thread.join, JOIN_TIMEOUT)
        if (bus := self._bus) is not None:
            self._bus = None
            try:
                await loop.run_in_executor(None, bus.shutdown)
            except (can.CanError, OSError) as err:
                _LOGGER.debug("Closing %s %s: %s", *self.key, err)


# The open buses by (interface, channel); only touched on the event loop.
_SHARED: dict[tuple[str, str], _SharedBus] = {}


class CanLink:
    """A listener on one CAN channel; frames and failures arrive on the event loop.

    `on_frame` receives every frame; `on_bad_line` every line a serial adapter sent that is not a
    frame (python-can's slcan parser raises on those). `failure` holds what ended the bus.
    """

    def __init__(
        self,
        settings: CanSettings,
        *,
        on_frame: Callable[[can.Message], None],
        on_bad_line: Callable[[Exception], None],
    ) -> None:
        """Remember what to open; nothing happens until `open`."""
        self.settings = settings
        self.on_frame = on_frame
        self.on_bad_line = on_bad_line
        self._shared: _SharedBus | None = None

    @property
    def failure(self) -> Exception | None:
        """Return what ended the bus (the adapter unplugged, …), None while it is fine."""
        return self._shared.failure if self._shared is not None else None

    async def open(self) -> None:
        """Start listening; DeviceConnectionError when the bus cannot be opened."""
        key = (self.settings.interface, self.settings.channel)
        shared = _SHARED.get(key)
        if shared is None:
            shared = _SHARED[key] = _SharedBus(self.settings, key)
        shared.links.add(self)
        self._shared = shared
        try:
            await asyncio.shield(shared.started)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop listening; the bus closes with its last listener. Safe to call twice."""
        shared, self._shared = self._shared, None
        if shared is None:
            return
        shared.links.discard(self)
        if not shared.links:
            await shared.stop()
