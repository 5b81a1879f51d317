"""What every simulated battery shares: a physics tick, and the peer's counters and faults."""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
import contextlib
from typing import Any

from .faults import Fault


class PhysicsLoop:
    """Calls `update(dt)` every `tick` seconds of loop time while started."""

    tick: float = 0.1
    _task: asyncio.Task[None] | None = None

    def update(self, dt: float) -> None:
        """Advance the simulated battery by `dt` seconds."""
        raise NotImplementedError

    @property
    def running(self) -> bool:
        """Return True while the physics runs (the loop's clock is meaningful then)."""
        return self._task is not None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.tick)
            now = loop.time()
            self.update(now - last)
            last = now

    def start_physics(self) -> None:
        """Start the tick."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop_physics(self) -> None:
        """Stop the tick."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class WriteFailures:
    """Fail chosen writes on purpose, for the all-or-nothing tests of control actions.

    `fail_write(n)` makes the n-th write from now (0: the next) answer with the protocol's error
    (a Modbus exception, HTTP 500) without being applied; `write_failed()` is asked by the peer
    for every write it receives.
    """

    def __init__(self) -> None:
        self._failing: set[int] = set()
        self._seen = 0

    def fail_write(self, index: int | None = 0) -> None:
        """Fail the index-th write from now; None: fail nothing more."""
        if index is None:
            self._failing.clear()
        else:
            self._failing.add(self._seen + index)

    def write_failed(self) -> bool:
        """Count one write; return True when this one is to fail."""
        seen, self._seen = self._seen, self._seen + 1
        if seen in self._failing:
            self._failing.discard(seen)
            return True
        return False


class TcpPeer(ABC):
    """A protocol peer listening on 127.0.0.1: the server's life cycle, its connections and the
    REFUSE fault, shared by every TCP peer (Modbus, Solarman V5, PLI serial servers).

    A subclass speaks its protocol in `handle`; the connection is closed when `handle` returns.
    """

    def __init__(self) -> None:
        self.port = 0  # 0 until started: the system picks a free port, kept across restarts
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the port and every connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        await self.drop_connections()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def drop_connections(self) -> None:
        """Close every open connection (the port stays open)."""
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def refuse(self, refused: bool) -> None:
        """Close the port (connections are refused), or open it again."""
        if refused:
            await self.stop()
        elif self._server is None:
            await self.start()

    def on_connect(self, writer: asyncio.StreamWriter) -> None:  # noqa: B027 - optional hook
        """Called for each new connection before it is served (e.g. drop older clients)."""

    @abstractmethod
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one connection until the client goes or the peer drops it."""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.on_connect(writer)
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            await self.handle(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class PeerDevice:
    """A simulated device behind one protocol peer (Modbus, HTTP, Solarman): what the shared
    suite, the demo and the benchmarks need of it."""

    peer: Any  # has start(), stop(), set_fault(), port, requests, writes

    @property
    def port(self) -> int:
        return int(self.peer.port)

    @property
    def write_count(self) -> int:
        return len(self.peer.writes)

    @property
    def request_count(self) -> int:
        return len(self.peer.requests)

    async def set_fault(self, fault: Fault) -> None:
        await self.peer.set_fault(fault)

    def fail_write(self, index: int | None = 0) -> None:
        """Make the index-th write from now fail with the protocol's error, unapplied (None:
        fail nothing more)."""
        self.peer.write_failures.fail_write(index)

    async def start(self) -> None:
        await self.peer.start()

    async def stop(self) -> None:
        await self.peer.stop()


class PeerSimulator(PeerDevice, PhysicsLoop):
    """A simulated battery behind one peer, with its physics ticking while it runs."""

    async def start(self) -> None:
        await super().start()
        self.start_physics()

    async def stop(self) -> None:
        await self.stop_physics()
        await super().stop()
