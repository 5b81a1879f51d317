"""A sonnenBatterie's JSON API v2 (`/api/v2/...`, header `Auth-Token`), with its energy manager.

Dynamics: in self-consumption (mode 2) and time-of-use (10, no schedule here) the battery covers
`consumption − production` within the modules' limit, keeping the backup buffer; in manual mode
(1) it follows the last setpoint. sonnen's API documentation says a setpoint "is kept until the
battery receives a new value": by default it never expires here either (`setpoint_timeout`
None); a timeout can be set to model the field reports of setpoints dropping after ~20 s
(foxriver76/ioBroker.sonnen #118, unconfirmed). Setpoints POSTed outside manual mode are answered
but ignored, as the API documents; in the installer's modes 4 (testing) and 6 (module extension)
nothing follows a setpoint. While the sonnen VPP has priority (`vpp_priority`) a setpoint POST is
answered 403 (mech78/Homey.Sonnen: "Not allowed as SonnenVPP has priority").

Payloads look like the real ones (gok-pi's status capture, sonnen_api_v2's mocks of a real
battery): `Sac2`/`Sac3` null, `RemainingCapacity_Wh` about twice the stored energy, configuration
numbers as ints or strings, no serial number anywhere in the v2 API. `overrides` replaces status
fields by hostile values (`"NaN"`, `"inf"`, 1e12). The state of charge follows the battery power;
the simulator's own clock (`advance`) drives the setpoint timeout. Wire values are written here by
hand, independently of the client: `Pac_total_W` + discharging, `GridFeedIn_W` + exporting.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

from .base import PeerSimulator
from .http_server import HttpPeer, json_response

SERIAL = "206519"  # the type plate's serial, which the user gives: the v2 API has none
TOKEN = "b8c3e5d2-5f0e-4b0f-9e54-6d1c3a7f0a11"
MANUAL, SELF_CONSUMPTION, TIME_OF_USE = "1", "2", "10"
TESTING, MODULE_EXTENSION = "4", "6"


class SonnenSimulator(PeerSimulator):
    """The JSON API plus a physics tick."""

    def __init__(
        self,
        *,
        token: str = TOKEN,
        setpoint_timeout: float | None = None,
        tick: float = 0.1,
        time_scale: float = 1.0,
        legacy_empty_on_bad_token: bool = False,
    ) -> None:
        self.token = token
        self.setpoint_timeout = setpoint_timeout
        self.tick = tick
        self.time_scale = time_scale
        # Older firmware answers a wrong token with `{}` and status 200 instead of 401.
        self.legacy_empty_on_bad_token = legacy_empty_on_bad_token
        self.capacity_wh = 10_000.0
        self.soc = 72.0
        self.production_w = 5200.0
        self.consumption_w = 900.0
        self.inverter_max_w = 4600  # what the configuration reports, and the setpoint limit
        self.battery_max_w = 3300.0  # what the battery modules take or give
        self.backup_buffer = 10
        self.mode = SELF_CONSUMPTION
        self.setpoint_w: float | None = None  # + discharge, as the battery was told
        self.setpoint_at = 0.0
        self.omitted: set[str] = set()  # status fields left out, for "missing field" tests
        self.shutdown_reasons: set[str] = set()
        self.ignore_configuration = False  # echoes the old values and changes nothing
        self.vpp_priority = False  # setpoint POSTs answered 403
        self.answer_false = False  # setpoint POSTs answered `false` (python_sonnenbatterie)
        self.overrides: dict[str, Any] = {}  # status fields replaced by hostile values
        self.latestdata_missing = False  # a model without /latestdata: 404
        self.full_charge_capacity: float | None = None  # None: the capacity; 0 while starting
        self.user_mode = SELF_CONSUMPTION  # the mode the owner chose: not forced
        self.invalid_writes = 0  # writes it cannot take (unknown key, bad value, beyond limits)
        self._clock_offset = 0.0
        self.peer = HttpPeer(
            [
                ("GET", "/api/v2/status", self._status),
                ("GET", "/api/v2/latestdata", self._latest),
                ("GET", "/api/v2/configurations", self._configurations),
                ("GET", "/api/v2/configurations/(?P<key>\\w+)", self._configuration),
                ("PUT", "/api/v2/configurations", self._put_configurations),
                (
                    "POST",
                    "/api/v2/setpoint/(?P<direction>charge|discharge)/(?P<watts>\\d+)",
                    self._setpoint,
                ),
            ],
            authorized=lambda request: request.headers.get("Auth-Token") == self.token,
            unauthorized=self._unauthorized,
        )

    # --- what the shared suite and the benchmarks use -------------------------------------------

    # --- physics --------------------------------------------------------------------------------

    def _now(self) -> float:
        return asyncio.get_running_loop().time() + self._clock_offset

    async def advance(self, seconds: float) -> None:
        """Move the battery's own clock on (its setpoint timeout, when one is set)."""
        self._clock_offset += seconds

    @property
    def forced(self) -> bool:
        """Return True while the battery is out of its owner's mode (manual, or another mode)."""
        return self.mode != self.user_mode

    @property
    def setpoint_active(self) -> bool:
        """A setpoint acts in manual mode (until it times out, when a timeout is modelled)."""
        return (
            self.mode == MANUAL
            and self.setpoint_w is not None
            and (
                self.setpoint_timeout is None
                or self._now() - self.setpoint_at <= self.setpoint_timeout
            )
        )

    def battery_power(self) -> float:
        """Battery power, + discharging, as the energy manager makes it."""
        if self.mode == MANUAL:
            wanted = self.setpoint_w if self.setpoint_active and self.setpoint_w else 0.0
        elif self.mode in (TESTING, MODULE_EXTENSION):
            wanted = 0.0
        else:
            wanted = self.consumption_w - self.production_w
            if self.soc <= self.backup_buffer:
                wanted = min(wanted, 0.0)
        if self.soc <= 0:
            wanted = min(wanted, 0.0)
        if self.soc >= 100:
            wanted = max(wanted, 0.0)
        return max(-self.battery_max_w, min(self.battery_max_w, wanted))

    def update(self, dt: float) -> None:
        power = self.battery_power()
        delta = power * dt * self.time_scale / 3600 / self.capacity_wh * 100
        self.soc = min(100.0, max(0.0, self.soc - delta))

    # --- the API --------------------------------------------------------------------------------

    def _unauthorized(self) -> web.Response:
        if self.legacy_empty_on_bad_token:
            return json_response({})
        return web.Response(status=401, text="Unauthorized")

    def status(self) -> dict[str, Any]:
        power = round(self.battery_power())
        feed_in = round(self.production_w - self.consumption_w + power)
        data: dict[str, Any] = {
            "Apparent_output": abs(power),
            "BackupBuffer": str(self.backup_buffer),
            "BatteryCharging": power < -10,
            "BatteryDischarging": power > 10,
            "Consumption_Avg": round(self.consumption_w),
            "Consumption_W": round(self.consumption_w),
            "Fac": 50.01,
            "FlowConsumptionBattery": power > 0,
            "FlowConsumptionGrid": feed_in < 0,
            "FlowConsumptionProduction": self.production_w > 0,
            "FlowGridBattery": False,
            "FlowProductionBattery": power < 0,
            "FlowProductionGrid": feed_in > 0,
            "GridFeedIn_W": feed_in,
            "IsSystemInstalled": 1,
            "OperatingMode": self.mode,
            "Pac_total_W": power,
            "Production_W": round(self.production_w),
            "RSOC": round(self.soc),
            # Real batteries report about twice the stored energy here (gok-pi, sonnen_api_v2).
            "RemainingCapacity_Wh": round(2 * self.capacity_wh * self.soc / 100),
            "Sac1": abs(power),
            "Sac2": None,
            "Sac3": None,
            "SystemStatus": "OnGrid",
            "Timestamp": "2025-05-01 12:00:00",
            "USOC": round(self.soc),
            "Uac": 231,
            "Ubat": 211,
            "dischargeNotAllowed": self.soc <= self.backup_buffer,
            "generator_autostart": False,
        }
        data |= self.overrides
        return {k: v for k, v in data.items() if k not in self.omitted}

    async def _status(
        self, _request: web.BaseRequest, _match: re.Match[str], _body: Any
    ) -> web.Response:
        return json_response(self.status())

    async def _latest(
        self, _request: web.BaseRequest, _match: re.Match[str], _body: Any
    ) -> web.Response:
        if self.latestdata_missing:
            return web.Response(status=404, text="Not found")
        status = self.status()
        shutdown = {
            name: name in self.shutdown_reasons
            for name in (
                "Critical BMS Alarm",
                "HW_Shutdown",
                "Inverter Over Temperature",
                "Manual shutdown by user",
                "Minimum rSOC of System reached",
            )
        }
        return json_response(
            {
                "FullChargeCapacity": (
                    self.capacity_wh
                    if self.full_charge_capacity is None
                    else self.full_charge_capacity
                ),
                "GridFeedIn_W": status.get("GridFeedIn_W"),
                "Production_W": status.get("Production_W"),
                "Consumption_W": status.get("Consumption_W"),
                "Pac_total_W": status.get("Pac_total_W"),
                "RSOC": round(self.soc),
                "SetPoint_W": round(self.setpoint_w or 0),
                "Timestamp": "2025-05-01 12:00:00",
                "USOC": round(self.soc),
                "UTC_Offet": 2,
                "ic_status": {
                    "DC Shutdown Reason": shutdown,
                    "MISC Status Bits": {
                        "Discharge not allowed": self.soc <= self.backup_buffer,
                        "Setpoint Timeout": self.mode == MANUAL and not self.setpoint_active,
                    },
                    "Setpoint Priority": {
                        "BMS": False,
                        "Energy Manager": self.mode != MANUAL,
                        "Full Charge Request": False,
                        "Inverter": False,
                        "Min User SOC": False,
                        "Trickle Charge": False,
                    },
                    "nrbatterymodules": 4,
                    "secondssincefullcharge": 3720,
                    "statebms": "ready",
                    "statecorecontrolmodule": "ongrid",
                    "stateinverter": "running",
                },
            }
        )

    def configurations(self) -> dict[str, Any]:
        # As sonnen_api_v2's mock of a real battery: no serial, EM_USOC an int.
        return {
            "EM_RE_ENABLE_MICROGRID": "1",
            "IC_BatteryModules": 4,
            "EM_ToU_Schedule": [],
            "DE_Software": "1.14.5",
            "EM_Prognosis_Charging": 1,
            "EM_USOC": self.backup_buffer,
            "EM_OperatingMode": self.mode,
            "IC_InverterMaxPower_w": self.inverter_max_w,
            "CM_MarketingModuleCapacity": 2500,
            "CN_CascadingRole": "none",
            "DepthOfDischargeLimit": 93,
        }

    async def _configurations(
        self, _request: web.BaseRequest, _match: re.Match[str], _body: Any
    ) -> web.Response:
        return json_response(self.configurations())

    async def _configuration(
        self, _request: web.BaseRequest, match: re.Match[str], _body: Any
    ) -> web.Response:
        key = match["key"]
        configurations = self.configurations()
        if key not in configurations:
            return web.Response(status=404, text="Not found")
        return json_response({key: configurations[key]})

    async def _put_configurations(
        self, _request: web.BaseRequest, _match: re.Match[str], body: Any
    ) -> web.Response:
        if not isinstance(body, dict):  # the firmware also takes a form: EM_OperatingMode=1
            body = _form(str(body or ""))
        if self.ignore_configuration:
            configurations = self.configurations()
            return json_response({key: configurations.get(key) for key in body})
        written: dict[str, str] = {}
        for key, value in body.items():
            if key == "EM_OperatingMode" and str(value) in (
                MANUAL,
                SELF_CONSUMPTION,
                TIME_OF_USE,
                TESTING,
                MODULE_EXTENSION,
                "11",
            ):
                if str(value) != self.mode:
                    self.setpoint_w = None  # a new mode starts without a manual setpoint
                self.mode = str(value)
            elif key == "EM_USOC" and str(value).isdigit() and 0 <= int(value) <= 100:
                self.backup_buffer = int(value)
            else:
                self.invalid_writes += 1
                return json_response({"error": f"invalid value for {key}"}, status=400)
            written[key] = str(value)
        return json_response(written)

    async def _setpoint(
        self, _request: web.BaseRequest, match: re.Match[str], _body: Any
    ) -> web.Response:
        if self.vpp_priority:
            return web.Response(status=403, text="Not allowed as SonnenVPP has priority")
        if self.answer_false:
            return json_response(False)
        if int(match["watts"]) > self.inverter_max_w:
            self.invalid_writes += 1
        if self.mode == MANUAL:
            watts = min(int(match["watts"]), self.inverter_max_w)
            self.setpoint_w = float(watts if match["direction"] == "discharge" else -watts)
            self.setpoint_at = self._now()
        return json_response(True)


def _form(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split("&") if "=" in part)
