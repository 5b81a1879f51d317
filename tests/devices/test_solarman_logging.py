"""pysolarmanv5's debug lines, through our adapter: every frame, but never the logger's serial."""

from __future__ import annotations

import logging

import pytest

from custom_components.home_battery.devices.deye import DeyeConfig, DeyeDevice
from custom_components.home_battery.devices.solarman import (
    REDACTED,
    RedactingLogger,
    frame_serial,
)

from ..simulators.deye import LOGGER_SERIAL, DeyeSimulator


def test_adapter_replaces_every_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="test.solarman")
    logger = RedactingLogger(logging.getLogger("test.solarman"), "2712345678", "4e 1c ab a1", "")
    logger.debug("[%s] SENT: a5 17 00 10 45 01 00 %s 02", 2712345678, "4e 1c ab a1")
    try:
        raise OSError("cannot reach 2712345678")
    except OSError:
        logger.debug("failed", exc_info=True)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == f"[{REDACTED}] SENT: a5 17 00 10 45 01 00 {REDACTED} 02"
    assert "2712345678" not in messages[1]
    assert "OSError" in messages[1]


async def test_frames_logged_without_the_serial(
    socket_enabled: None, caplog: pytest.LogCaptureFixture
) -> None:
    """With debug logging on, a poll through the logger shows its frames, with neither the
    logger's serial number (as text or in the frame) nor the host."""
    sim = DeyeSimulator(solarman=True)
    await sim.start()
    device = DeyeDevice(DeyeConfig(host="127.0.0.1", port=sim.port, logger_serial=LOGGER_SERIAL))
    caplog.set_level(logging.DEBUG, logger="custom_components.home_battery.devices.solarman")
    try:
        await device.connect()
        await device.read()
    finally:
        await device.close()
        await sim.stop()
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "custom_components.home_battery.devices.solarman"
    ]
    assert any("SENT" in line for line in lines)
    for line in lines:
        assert str(LOGGER_SERIAL) not in line
        assert frame_serial(LOGGER_SERIAL) not in line
        assert "127.0.0.1" not in line
