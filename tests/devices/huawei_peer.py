"""The Huawei simulator and clients of it, for the protocol tests of the Huawei family."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable

import pytest

from custom_components.home_battery.devices.huawei import HuaweiConfig, HuaweiDevice

from ..simulators.huawei import PASSWORD, HuaweiSimulator

FAST_BUSY = (0.01, 0.02)

type Factory = Callable[..., HuaweiDevice]


@pytest.fixture
async def sim(socket_enabled: None) -> AsyncGenerator[HuaweiSimulator]:
    """A SUN2000 that wants the installer login for battery settings, answering at once."""
    simulator = HuaweiSimulator(startup_silence=0)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def make(sim: HuaweiSimulator) -> AsyncGenerator[Factory]:
    """Build clients of the simulator (closed after the test), without the connect delay and the
    pause between requests (the simulator needs neither)."""
    devices: list[HuaweiDevice] = []

    def factory(
        password: str | None = PASSWORD,
        *,
        peer: HuaweiSimulator | None = None,
        heartbeat_interval: float = 15.0,
    ) -> HuaweiDevice:
        config = HuaweiConfig(
            host="127.0.0.1",
            port=(peer or sim).port,
            password=password,
            busy_pauses=FAST_BUSY,
            heartbeat_interval=heartbeat_interval,
            timeout=1.0,  # an unanswered request fails sooner
        )
        device = HuaweiDevice(config)
        device.transport.connect_delay = device.transport.request_pause = 0
        devices.append(device)
        return device

    yield factory
    for device in devices:
        await device.close()


async def ready(device: HuaweiDevice) -> None:
    """Connect (logging in) and poll once: the setpoint bounds come from the poll."""
    await device.connect()
    await device.read()
