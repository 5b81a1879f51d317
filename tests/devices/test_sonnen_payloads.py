"""The sonnen client on real recorded payloads, served over loopback HTTP (no Home Assistant).

Each test serves what a real battery answered (tests/fixtures/sonnen/, sources in SOURCES.md) and
checks the values those sources state. Hostile answers (NaN, inf, a 1e12 W spike, a missing
endpoint) are the same payloads with one field changed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
import json
from pathlib import Path
import re
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.home_battery.devices.model import (
    DeviceError,
    DevicePermissionError,
    DeviceRejectedError,
    InvalidConfigError,
    Key,
    Mode,
)
from custom_components.home_battery.devices.sonnen import SonnenConfig, SonnenDevice

from ..simulators.http_server import HttpPeer, json_response

pytestmark = pytest.mark.usefixtures("socket_enabled")

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sonnen"
TOKEN = "t0ken"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


class RecordedSonnen:
    """Serves recorded answers; None for an endpoint answers 404 (a model without it)."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {
            "status": load("mb_charging__status_charging.json"),
            "latestdata": load("mb_charging__latest_charging.json"),
            "configurations": load("mb_charging__configurations.json"),
        }
        self.setpoint_answer: Callable[[], web.Response] = lambda: json_response(True)
        self.peer = HttpPeer(
            [
                ("GET", "/api/v2/(?P<name>\\w+)", self._get),
                ("GET", "/api/v2/configurations/(?P<key>\\w+)", self._get_key),
                ("PUT", "/api/v2/configurations", self._put),
                ("POST", "/api/v2/setpoint/(?P<d>\\w+)/(?P<w>\\d+)", self._setpoint),
            ],
            authorized=lambda request: request.headers.get("Auth-Token") == TOKEN,
        )

    async def _get(self, _r: web.BaseRequest, match: re.Match[str], _b: Any) -> web.Response:
        answer = self.answers.get(match["name"])
        return web.Response(status=404) if answer is None else json_response(answer)

    async def _get_key(self, _r: web.BaseRequest, match: re.Match[str], _b: Any) -> web.Response:
        key = match["key"]
        return json_response({key: self.answers["configurations"][key]})

    async def _put(self, _r: web.BaseRequest, _m: re.Match[str], body: Any) -> web.Response:
        self.answers["configurations"].update(body)
        self.answers["status"]["OperatingMode"] = self.answers["configurations"].get(
            "EM_OperatingMode"
        )
        return json_response(body)

    async def _setpoint(self, _r: web.BaseRequest, _m: re.Match[str], _b: Any) -> web.Response:
        return self.setpoint_answer()


@pytest.fixture
async def recorded() -> AsyncGenerator[RecordedSonnen]:
    server = RecordedSonnen()
    await server.peer.start()
    yield server
    await server.peer.stop()


@asynccontextmanager
async def connected(recorded: RecordedSonnen, token: str = TOKEN) -> AsyncIterator[SonnenDevice]:
    """A client of the recorded battery, connected, with its own session."""
    sonnen = SonnenDevice(
        aiohttp.ClientSession(),
        SonnenConfig(host=f"127.0.0.1:{recorded.peer.port}", api_token=token),
        close_session=True,
    )
    try:
        await sonnen.connect()
        yield sonnen
    finally:
        await sonnen.close()


@pytest.fixture
async def device(recorded: RecordedSonnen) -> AsyncGenerator[SonnenDevice]:
    async with connected(recorded, f"  {TOKEN}\n") as sonnen:  # a pasted token: stripped
        yield sonnen


async def test_real_charging_battery(device: SonnenDevice) -> None:
    """sonnen_api_v2's charging battery: stored energy from FullChargeCapacity × USOC."""
    state = await device.read()
    assert state[Key.STATE_OF_CHARGE] == 81
    assert state[Key.BATTERY_POWER] == -1394  # Pac_total_W − while charging
    assert state[Key.GRID_POWER] == 0.0
    assert str(state[Key.GRID_POWER]) == "0.0"  # GridFeedIn_W 0: no negative zero
    assert state[Key.PV_POWER] == 2972
    assert state[Key.LOAD_POWER] == 1578
    assert state[Key.BATTERY_VOLTAGE] == 212
    assert state[Key.MIN_STATE_OF_CHARGE] == 20
    assert state[Key.CAPACITY] == 20.19
    # 20 187.086 Wh × 81 % (sonnen_api_v2: RemainingCapacity_Wh 40 181 is "incorrect").
    assert state[Key.STORED_ENERGY] == pytest.approx(16.352, abs=0.001)
    assert state[Key.OPERATING_STATE] == "charging"
    assert state[Key.OPERATING_MODE] == Mode.AUTO
    assert state[Key.ALARM] is False
    assert device.identity is not None
    assert device.identity.sw_version == "1.14.5"
    assert device.identity.model == "sonnenBatterie (4 modules)"
    assert device.capabilities.max_discharge_power == 5000  # IC_InverterMaxPower_w
    assert device.missing_data == []


@pytest.mark.parametrize(
    ("status", "latest", "soc", "power", "grid", "state"),
    [
        ("mb_discharging__status_discharging.json", "mb_discharging__latest_discharging.json",
         81, 1438, 0.0, "discharging"),
        ("mb_discharging_offgrid__status_discharging.json",
         "mb_discharging_offgrid__latest_discharging.json", 12, 438, 0.0, "discharging"),
    ],
)  # fmt: skip
async def test_real_discharging_batteries(
    recorded: RecordedSonnen,
    device: SonnenDevice,
    status: str,
    latest: str,
    soc: float,
    power: float,
    grid: float,
    state: str,
) -> None:
    """Discharging and off-grid (not a fault) as sonnen_api_v2's batteries report them."""
    recorded.answers["status"] = load(status)
    recorded.answers["latestdata"] = load(latest)
    read = await device.read()
    assert (read[Key.STATE_OF_CHARGE], read[Key.BATTERY_POWER]) == (soc, power)
    assert read[Key.GRID_POWER] == grid
    assert read[Key.OPERATING_STATE] == state


async def test_gokpi_status_without_latestdata(recorded: RecordedSonnen) -> None:
    """gok-pi's real status; a model without /latestdata keeps polling, its entities absent."""
    recorded.answers["status"] = load("gokpi_status_2024-08-13.json")
    recorded.answers["latestdata"] = None
    async with connected(recorded) as sonnen:
        state = await sonnen.read()
        state = await sonnen.read()  # the missing endpoint is not asked again
    assert state[Key.STATE_OF_CHARGE] == 100
    assert state[Key.BATTERY_POWER] == 30  # Pac_total_W + while discharging
    assert state[Key.GRID_POWER] == 8  # GridFeedIn_W −8: importing
    assert state[Key.MIN_STATE_OF_CHARGE] == 5
    # Not RemainingCapacity_Wh (20 812 Wh on a 10 kWh battery): unknown without latestdata.
    assert Key.STORED_ENERGY not in state
    assert Key.CAPACITY not in state
    assert sonnen.missing_data == ["/api/v2/latestdata"]
    assert [r.path for r in recorded.peer.requests].count("/api/v2/latestdata") == 1


async def test_latestdata_all_zeros(recorded: RecordedSonnen, device: SonnenDevice) -> None:
    """FullChargeCapacity 0 (ioBroker.sonnen #307, a real all-zero latestdata) is unknown."""
    recorded.answers["latestdata"] = {"FullChargeCapacity": 0, "USOC": 0, "ic_status": {}}
    state = await device.read()
    assert Key.CAPACITY not in state
    assert Key.STORED_ENERGY not in state


@pytest.mark.parametrize(
    ("field", "value", "key"),
    [
        ("Pac_total_W", "NaN", Key.BATTERY_POWER),
        ("Pac_total_W", 1e12, Key.BATTERY_POWER),
        ("GridFeedIn_W", "inf", Key.GRID_POWER),
        ("GridFeedIn_W", "-inf", Key.GRID_POWER),
        ("Production_W", None, Key.PV_POWER),
        ("USOC", "NaN", Key.STATE_OF_CHARGE),
        ("USOC", 1e12, Key.STATE_OF_CHARGE),
        ("Ubat", "nan", Key.BATTERY_VOLTAGE),
    ],
)
async def test_hostile_values_are_unknown(
    recorded: RecordedSonnen, device: SonnenDevice, field: str, value: Any, key: str
) -> None:
    """Non-finite and physically impossible values are unknown for that poll, never numbers."""
    recorded.answers["status"][field] = value
    state = await device.read()
    assert key not in state
    assert state[Key.OPERATING_MODE] == Mode.AUTO  # the rest of the poll stands


@pytest.mark.parametrize(
    ("value", "mode"), [("4", "testing"), ("11", "optimizing"), ("10", "time_of_use")]
)
async def test_modes_mapped(
    recorded: RecordedSonnen, device: SonnenDevice, value: str, mode: str
) -> None:
    """ha_sonnenbatterie's modes 4 (testing) and 11 (optimizing) have names."""
    recorded.answers["status"]["OperatingMode"] = value
    assert (await device.read())[Key.OPERATING_MODE] == mode


async def test_setpoint_answers(recorded: RecordedSonnen, device: SonnenDevice) -> None:
    """A 2xx text answer is accepted; `false` and 403 (VPP priority) are refusals, rolled back."""
    await device.read()
    recorded.setpoint_answer = lambda: web.Response(text="<html>ok</html>")
    await device.set_power_setpoint(1000)
    assert device.control_active
    assert device.saved_user_settings == {"EM_OperatingMode": "2"}
    await device.release_control()
    recorded.setpoint_answer = lambda: json_response(False)
    with pytest.raises(DeviceRejectedError):
        await device.set_power_setpoint(1000)
    assert not device.control_active
    assert recorded.answers["configurations"]["EM_OperatingMode"] == "2"
    recorded.setpoint_answer = lambda: web.Response(status=403, text="VPP has priority")
    with pytest.raises(DevicePermissionError) as err:
        await device.set_power_setpoint(-500)
    assert err.value.reason == "sonnen_vpp_priority"
    assert not device.control_active
    assert recorded.answers["configurations"]["EM_OperatingMode"] == "2"


async def test_release_restores_the_users_own_mode(
    recorded: RecordedSonnen, device: SonnenDevice
) -> None:
    """An owner in time-of-use gets time-of-use back, not self-consumption."""
    recorded.answers["configurations"]["EM_OperatingMode"] = "10"
    recorded.answers["status"]["OperatingMode"] = "10"
    await device.read()
    await device.set_power_setpoint(0)  # hold: manual mode, discharge 0
    assert recorded.answers["configurations"]["EM_OperatingMode"] == "1"
    assert [r.path for r in recorded.peer.writes][-1] == "/api/v2/setpoint/discharge/0"
    # A fresh device after a crash releases from the stored record alone.
    record = device.control_record()
    assert record is not None
    async with connected(recorded) as fresh:
        fresh.adopt_control_record(json.loads(json.dumps(record)))
        await fresh.release_control()
    assert recorded.answers["configurations"]["EM_OperatingMode"] == "10"


@pytest.mark.parametrize(
    ("host", "token", "field"),
    [
        ("", TOKEN, "host"),
        ("  ", TOKEN, "host"),
        ("127.0.0.1:99999", TOKEN, "host"),
        ("localhost:abc", TOKEN, "host"),
        ("[::1", TOKEN, "host"),
        ("batt\x00ery", TOKEN, "host"),
        ("127.0.0.1:0", TOKEN, "host"),
        ("127.0.0.1", "line\nbreak", "api_token"),
        ("127.0.0.1", "tøken", "api_token"),
        ("127.0.0.1", " \n", "api_token"),
    ],
)
async def test_hostile_settings_are_typed_errors(host: str, token: str, field: str) -> None:
    """Unusable settings raise `InvalidConfigError(field)` at connect, never ValueError."""
    sonnen = SonnenDevice(
        aiohttp.ClientSession(), SonnenConfig(host=host, api_token=token), close_session=True
    )
    try:
        with pytest.raises(InvalidConfigError) as err:
            await sonnen.connect()
    finally:
        await sonnen.close()
    assert err.value.field == field
    assert isinstance(err.value, DeviceError)
