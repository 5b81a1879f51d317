"""What every simulated battery shares: a physics tick, and the peer's counters and faults."""

from __future__ import annotations

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
