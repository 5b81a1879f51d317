"""The Sessy client on real recorded answers and against the dongle simulator (no Home Assistant).

Recorded answers (tests/fixtures/sessy/recorded.json, sources in it) are served over loopback
HTTP; control runs against tests/simulators/sessy.py, which models what Sessy's OpenAPI says the
dongle does (clamping to the owner's max_power, setpoints only under the API strategy, 0 W on a
lost network).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
import json
from pathlib import Path
import re
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.home_battery.devices import sessy as sessy_module
from custom_components.home_battery.devices.model import (
    ControlBlockedError,
    DeviceRejectedError,
    InvalidConfigError,
    Key,
    Mode,
    WriteNotAcceptedError,
)
from custom_components.home_battery.devices.sessy import SessyConfig, SessyDevice

from ..simulators.http_server import HttpPeer, json_response
from ..simulators.sessy import API, NOM, PASSWORD, SERIAL, SessySimulator

pytestmark = pytest.mark.usefixtures("socket_enabled")

RECORDED = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "sessy" / "recorded.json").read_text()
)


@asynccontextmanager
async def connected(port: int, username: str = SERIAL) -> AsyncIterator[SessyDevice]:
    """A client of the dongle on `port`, connected, with its own session."""
    device = SessyDevice(
        aiohttp.ClientSession(),
        SessyConfig(host=f"127.0.0.1:{port}", username=username, password=PASSWORD),
        close_session=True,
    )
    try:
        await device.connect()
        yield device
    finally:
        await device.close()


@pytest.fixture(autouse=True)
def quick_read_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessy_module, "READ_BACK_DELAY", 0.01)


@pytest.mark.parametrize(
    ("name", "soc", "power", "pv", "voltage", "operating_state"),
    [
        ("fw5.1.1_standby", 85.0, 0, 26, None, "standby"),
        ("old_firmware_full", 100.0, 0, 0, None, "standby"),
        ("openapi_1.1.0_example", 60.0, 1000, 3600, 51.2, "discharging"),
    ],
)
async def test_recorded_status(
    name: str,
    soc: float,
    power: float,
    pv: float,
    voltage: float | None,
    operating_state: str,
) -> None:
    """Real fw 5.1.1 and older-firmware answers and the OpenAPI example, as their sources say.

    OpenAPI: `power` + generating / − charging, `pack_voltage` in mV, `state_of_charge` 0..1.
    """
    status = RECORDED[name]

    async def get_status(_r: web.BaseRequest, _m: re.Match[str], _b: Any) -> web.Response:
        return json_response(status)

    async def get_strategy(_r: web.BaseRequest, _m: re.Match[str], _b: Any) -> web.Response:
        return json_response(RECORDED["strategy_api"])

    peer = HttpPeer(
        [
            ("GET", "/api/v1/power/status", get_status),
            ("GET", "/api/v1/power/active_strategy", get_strategy),
        ],
        authorized=lambda _request: True,
    )
    await peer.start()
    try:
        async with connected(peer.port) as device:
            state = await device.read()
            missing = device.missing_data
            limits = device.power_limits()
    finally:
        await peer.stop()
    assert state[Key.STATE_OF_CHARGE] == soc
    assert state[Key.BATTERY_POWER] == power
    assert state[Key.PV_POWER] == pv
    assert state.get(Key.BATTERY_VOLTAGE) == voltage
    assert state[Key.OPERATING_STATE] == operating_state
    assert state[Key.OPERATING_MODE] == Mode.MANUAL  # POWER_STRATEGY_API
    # No /api/v1/system/settings on this peer: the inverter's 2200 W, and it is reported.
    assert limits == (-2200, 2200)
    assert "/api/v1/system/settings" in missing
    if voltage is None:
        assert "/api/v1/power/status#sessy.pack_voltage" in missing


@pytest.fixture
async def sim() -> AsyncGenerator[SessySimulator]:
    simulator = SessySimulator(max_power=1700)
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_limits_from_the_owners_settings(sim: SessySimulator) -> None:
    """max_power 1700 W in /api/v1/system/settings bounds the setpoint, not a fixed 2200 W."""
    async with connected(sim.port, username=SERIAL.lower()) as device:  # sent upper-case
        assert device.power_limits() == (-1700, 1700)
        state = await device.read()
    assert state[Key.MAX_DISCHARGE_POWER] == 1700


async def test_clamp_with_the_same_sign_is_accepted_and_reported(sim: SessySimulator) -> None:
    """A dongle that clamps (its owner lowered max_power since) applies less: that is reported."""
    async with connected(sim.port) as device:
        sim.max_power = 1200
        await device.set_power_setpoint(-1500)
        assert device.setpoint == -1200
        assert device.control_active
        assert sim.setpoint == -1200
        await device.release_control()
    assert sim.strategy == NOM


async def test_lagging_read_back_is_waited_for(sim: SessySimulator) -> None:
    """`power_setpoint` updated a moment later: one more look, then it counts."""
    sim.read_back_lag = 1
    async with connected(sim.port) as device:
        await device.set_power_setpoint(800)
        assert device.setpoint == 800


async def test_ignored_setpoint_rolls_back(sim: SessySimulator) -> None:
    """A setpoint the dongle does not apply: an error, and the owner's strategy is back."""
    sim.ignore_setpoints = True
    async with connected(sim.port) as device:
        with pytest.raises(WriteNotAcceptedError):
            await device.set_power_setpoint(1000)
        assert not device.control_active
    assert sim.strategy == NOM
    assert not sim.forced


@pytest.mark.parametrize("step", [0, 1])
async def test_each_failed_step_leaves_nothing_forced(sim: SessySimulator, step: int) -> None:
    """The strategy POST or the setpoint POST answered 500: all or nothing."""
    async with connected(sim.port) as device:
        sim.fail_write(step)
        with pytest.raises(DeviceRejectedError):
            await device.set_power_setpoint(-1000)
        assert not device.control_active
    assert not sim.forced


async def test_release_restores_the_owners_strategy_and_setpoint(sim: SessySimulator) -> None:
    """An owner running the API strategy at 300 W gets exactly that back, from the record."""
    sim.strategy = sim.user_strategy = API
    sim.setpoint = 300
    async with connected(sim.port) as device:
        await device.set_power_setpoint(0)  # hold
        assert sim.setpoint == 0
        record = json.loads(json.dumps(device.control_record()))
    assert record["saved"] == {"strategy": API, "setpoint": 300}
    async with connected(sim.port) as fresh:
        fresh.adopt_control_record(record)
        await fresh.release_control()
    assert (sim.strategy, sim.setpoint) == (API, 300)
    sim.strategy = sim.user_strategy = "POWER_STRATEGY_ECO"
    async with connected(sim.port) as device:
        await device.set_mode("idle")
        assert sim.strategy == "POWER_STRATEGY_IDLE"
        await device.release_control()
    assert sim.strategy == "POWER_STRATEGY_ECO"


async def test_error_state_blocks_control(sim: SessySimulator) -> None:
    sim.system_state = "SYSTEM_STATE_ERROR"
    async with connected(sim.port) as device:
        await device.read()
        with pytest.raises(ControlBlockedError) as err:
            await device.set_power_setpoint(500)
    assert err.value.reason == "sessy_error_state"
    assert sim.peer.writes == []


async def test_lost_network_holds_at_zero(sim: SessySimulator) -> None:
    """OpenAPI: a lost network sets the setpoint to 0; the strategy stays API (still forced)."""
    async with connected(sim.port) as device:
        await device.set_power_setpoint(1500)
    sim.lose_network()
    assert sim.battery_power() == 0
    assert sim.forced


@pytest.mark.parametrize(
    ("field", "value", "key"),
    [
        ("power", "NaN", Key.BATTERY_POWER),
        ("power", 1e12, Key.BATTERY_POWER),
        ("state_of_charge", "inf", Key.STATE_OF_CHARGE),
        ("state_of_charge", 7.5, Key.STATE_OF_CHARGE),
        ("pack_voltage", "NaN", Key.BATTERY_VOLTAGE),
    ],
)
async def test_hostile_values_are_unknown(
    sim: SessySimulator, field: str, value: Any, key: str
) -> None:
    sim.overrides = {field: value}
    async with connected(sim.port) as device:
        state = await device.read()
    assert key not in state
    assert state[Key.OPERATING_MODE] == Mode.AUTO


@pytest.mark.parametrize(
    ("host", "username", "password", "field"),
    [
        ("127.0.0.1", "DXK:4R7", PASSWORD, "username"),
        ("127.0.0.1", "", PASSWORD, "username"),
        ("127.0.0.1", "DXK4R7TQ", "pässwörd€", "password"),
        ("127.0.0.1", "ДХК", PASSWORD, "username"),
        ("localhost:abc", SERIAL, PASSWORD, "host"),
    ],
)
async def test_hostile_credentials_are_typed_errors(
    host: str, username: str, password: str, field: str
) -> None:
    device = SessyDevice(
        aiohttp.ClientSession(),
        SessyConfig(host=host, username=username, password=password),
        close_session=True,
    )
    try:
        with pytest.raises(InvalidConfigError) as err:
            await device.connect()
    finally:
        await device.close()
    assert err.value.field == field
