"""A real MQTT broker (amqtt) on loopback, behind a small TCP proxy that can misbehave.

Clients that should see faults (Home Assistant) connect to the proxy's port; the simulated
battery connects to the broker directly, so it keeps running through the faults. REFUSE closes
the proxy's port and its connections (the broker is down, as far as Home Assistant can tell);
DROP accepts connections and closes them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from amqtt.broker import Broker

from .faults import Fault

LOOPBACK = "127.0.0.1"
_CHUNK = 65536


class MqttBroker:
    """An amqtt broker on a free loopback port, with anonymous access."""

    def __init__(self) -> None:
        """Prepare the broker; nothing listens until `start`."""
        self._broker: Broker | None = None
        self.port = 0

    async def start(self) -> None:
        """Listen on a free loopback port."""
        # amqtt logs every connection at INFO; the tests' log assertions are about ours.
        logging.getLogger("amqtt").setLevel(logging.WARNING)
        logging.getLogger("transitions").setLevel(logging.WARNING)  # amqtt's state machines
        self._broker = Broker(
            {
                "listeners": {"default": {"type": "tcp", "bind": f"{LOOPBACK}:0"}},
                "plugins": {
                    "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
                },
            }
        )
        await self._broker.start()
        # amqtt tells the port it bound only through its server object.
        server = self._broker._servers["default"].instance
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Shut the broker down."""
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None


class FaultProxy:
    """Forwards TCP connections to the broker; can refuse or drop them on purpose."""

    def __init__(self, target_port: int) -> None:
        """Forward to `target_port` on loopback once started."""
        self.target_port = target_port
        self.port = 0
        self.fault = Fault.NONE
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        # Connections over which the broker has answered (a CONNACK passed): live sessions.
        self.sessions = 0

    async def start(self) -> None:
        """Listen (again) on the proxy's port; the first start picks a free port."""
        self._server = await asyncio.start_server(
            self._accept, LOOPBACK, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def set_fault(self, fault: Fault) -> None:
        """REFUSE: close the port and every connection; DROP: close every connection."""
        self.fault = fault
        if fault in (Fault.REFUSE, Fault.DROP):
            await self._close_connections()
        if fault is Fault.REFUSE and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if fault is not Fault.REFUSE and self._server is None:
            await self.start()

    async def stop(self) -> None:
        """Close the port and every connection."""
        await self._close_connections()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _close_connections(self) -> None:
        for writer in list(self._writers):
            writer.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.fault is not Fault.NONE:
            writer.close()
            return
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(LOOPBACK, self.target_port)
        except OSError:
            writer.close()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        answered = asyncio.Event()
        pipes = {
            asyncio.create_task(self._pipe(reader, up_writer, None)),
            asyncio.create_task(self._pipe(up_reader, writer, answered)),
        }
        self._pipes |= pipes
        waiter = asyncio.ensure_future(answered.wait())
        counted = False
        try:
            await asyncio.wait({waiter, *pipes}, return_when=asyncio.FIRST_COMPLETED)
            if answered.is_set() and not any(task.done() for task in pipes):
                self.sessions, counted = self.sessions + 1, True
                await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            self.sessions -= counted
            for task in pipes:
                task.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            self._pipes -= pipes
            for end in (writer, up_writer):
                end.close()
                self._writers.discard(end)

    @staticmethod
    async def _pipe(
        source: asyncio.StreamReader, sink: asyncio.StreamWriter, answered: asyncio.Event | None
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await source.read(_CHUNK):
                sink.write(data)
                await sink.drain()
                if answered is not None:
                    answered.set()
