"""A Sessy battery's dongle API (`/api/v1/power/...`, `/api/v1/system/settings`, basic auth).

Dynamics (Sessy OpenAPI 1.1.0): under NOM ("null on the meter") the battery cancels the house's
net demand within its limit; under the API strategy it follows the last setpoint (on the wire
− charge, + generate), clamped by the dongle to the owner's `max_power` from the settings
(50–2200 W); IDLE, ROI (no prices here) and the others hold 0 W. A setpoint POSTed under another
strategy is refused with 500 and an error message (the real answer is not documented). "If the
network connection is lost, set setpoint will be set to 0" (`lose_network`): nothing else ends
the API strategy. The state of charge (a fraction on the wire) follows the power.

Firmware variants: `old_firmware` answers like the older dongle in gruijter/nl.sessy's captures
(state of charge 1 when full, an integer; no pack_voltage, no inverter_current_ma, no settings
endpoint: 404). `read_back_lag` keeps the old `power_setpoint` for that many status reads after a
setpoint, as a dongle that updates it a moment later. Values are written here by hand,
independently of the client: pack voltage in mV, frequency in mHz.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from aiohttp import web

from .base import PeerSimulator
from .http_server import HttpPeer, json_response

SERIAL = "DXK4R7TQ"  # the dongle's serial: also its username
PASSWORD = "HJ7XWQ2P"
MAX_POWER = 2200
API, NOM = "POWER_STRATEGY_API", "POWER_STRATEGY_NOM"
STRATEGIES = (
    NOM,
    API,
    "POWER_STRATEGY_ROI",
    "POWER_STRATEGY_IDLE",
    "POWER_STRATEGY_ECO",
    "POWER_STRATEGY_SESSY_CONNECT",
)


class SessySimulator(PeerSimulator):
    """The dongle's API plus a physics tick."""

    def __init__(
        self,
        *,
        username: str = SERIAL,
        password: str = PASSWORD,
        tick: float = 0.1,
        time_scale: float = 1.0,
        max_power: int = MAX_POWER,
        old_firmware: bool = False,
    ) -> None:
        self.username = username
        self.password = password
        self.tick = tick
        self.time_scale = time_scale
        self.capacity_wh = 5_000.0
        self.soc = 0.64  # fraction, as on the wire
        self.house_w = -400.0  # net demand behind the meter (− = solar surplus)
        self.pv_w = 1250.0  # the PV input the Sessy meters itself
        self.strategy = NOM
        self.setpoint = 0  # W on the wire: + discharge
        self.system_state = "SYSTEM_STATE_RUNNING_SAFE"
        self.ignore_setpoints = False  # answers "ok" but keeps the old setpoint
        self.max_power = max_power  # the owner's setting; the dongle clamps setpoints to it
        self.old_firmware = old_firmware
        self.read_back_lag = 0  # status reads that still show the previous setpoint
        self._lagging: tuple[int, int] | None = None  # (reads left, the setpoint shown)
        self.user_strategy = NOM  # the owner's own strategy: not forced
        self.invalid_writes = 0  # writes it cannot take (unknown strategy, beyond max power)
        self.overrides: dict[str, Any] = {}  # "sessy" fields replaced by hostile values
        self.omitted: set[str] = set()  # fields of "sessy" left out
        self.peer = HttpPeer(
            [
                ("GET", "/api/v1/power/status", self._status),
                ("GET", "/api/v1/power/active_strategy", self._get_strategy),
                ("POST", "/api/v1/power/active_strategy", self._post_strategy),
                ("POST", "/api/v1/power/setpoint", self._post_setpoint),
                ("GET", "/api/v1/system/settings", self._settings),
            ],
            authorized=self._authorized,
        )

    # --- what the shared suite and the benchmarks use -------------------------------------------

    # --- physics --------------------------------------------------------------------------------

    def battery_power(self) -> float:
        """Battery power, + discharging (the wire's sign too)."""
        if self.strategy == NOM:
            wanted = self.house_w
        elif self.strategy == API:
            wanted = float(self.setpoint)
        else:
            wanted = 0.0
        if self.soc <= 0:
            wanted = min(wanted, 0.0)
        if self.soc >= 1:
            wanted = max(wanted, 0.0)
        return max(-self.max_power, min(self.max_power, wanted))

    def update(self, dt: float) -> None:
        power = self.battery_power()
        self.soc = min(
            1.0, max(0.0, self.soc - power * dt * self.time_scale / 3600 / self.capacity_wh)
        )

    @property
    def forced(self) -> bool:
        """Return True while the dongle runs another strategy than its owner's."""
        return self.strategy != self.user_strategy

    async def advance(self, seconds: float) -> None:
        """Time changes nothing here: no strategy or setpoint of the Sessy expires."""

    def lose_network(self) -> None:
        """The dongle's network drops: its setpoint becomes 0 (the strategy stays)."""
        self.setpoint = 0

    # --- the API --------------------------------------------------------------------------------

    def _authorized(self, request: web.BaseRequest) -> bool:
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    def status(self) -> dict[str, Any]:
        power = round(self.battery_power())
        shown_setpoint = self.setpoint if self.strategy == API else power
        if self._lagging is not None:
            reads, shown_setpoint = self._lagging
            self._lagging = (reads - 1, shown_setpoint) if reads > 1 else None
        sessy: dict[str, Any] = {
            "state_of_charge": round(self.soc, 3),
            "power": power,
            "power_setpoint": shown_setpoint,
            "system_state": self.system_state,
            "system_state_details": "",
            "frequency": 50012,
            "inverter_current_ma": round(power / 0.23),
            "strategy_overridden": False,
            "external_power": 0,
            "pack_voltage": 51800,
        }
        if self.old_firmware:  # gruijter/nl.sessy's "Discover response": 1 for full, fewer fields
            soc = round(self.soc, 3)
            sessy["state_of_charge"] = int(soc) if soc == int(soc) else soc
            del sessy["pack_voltage"], sessy["inverter_current_ma"]
        sessy |= self.overrides
        phase1 = {
            "voltage_rms": 231400,
            "current_rms": round(self.pv_w / 0.2314),
            "power": round(self.pv_w),
        }
        idle_phase = {"voltage_rms": 0, "current_rms": 0, "power": 0}
        return {
            "status": "ok",
            "sessy": {k: v for k, v in sessy.items() if k not in self.omitted},
            "renewable_energy_phase1": phase1,
            "renewable_energy_phase2": idle_phase,
            "renewable_energy_phase3": idle_phase,
        }

    async def _status(
        self, _request: web.BaseRequest, _match: re.Match[str], _body: Any
    ) -> web.Response:
        return json_response(self.status())

    async def _get_strategy(
        self, _request: web.BaseRequest, _match: re.Match[str], _body: Any
    ) -> web.Response:
        return json_response({"status": "ok", "strategy": self.strategy})

    async def _post_strategy(
        self, _request: web.BaseRequest, _match: re.Match[str], body: Any
    ) -> web.Response:
        strategy = body.get("strategy") if isinstance(body, dict) else None
        if strategy not in STRATEGIES:
            self.invalid_writes += 1
            return json_response({"status": "error", "error": "invalid strategy"}, status=500)
        if strategy != self.strategy:
            self.setpoint = 0
        self.strategy = strategy
        return json_response({"status": "ok"})

    async def _post_setpoint(
        self, _request: web.BaseRequest, _match: re.Match[str], body: Any
    ) -> web.Response:
        setpoint = body.get("setpoint") if isinstance(body, dict) else None
        if not isinstance(setpoint, int):
            self.invalid_writes += 1
            return json_response({"status": "error", "error": "invalid setpoint"}, status=500)
        if self.strategy != API:
            return json_response(
                {"status": "error", "error": "setpoint requires POWER_STRATEGY_API"}, status=500
            )
        if abs(setpoint) > MAX_POWER:
            self.invalid_writes += 1
        if not self.ignore_setpoints:
            if self.read_back_lag:
                self._lagging = (self.read_back_lag, self.setpoint)
            self.setpoint = max(-self.max_power, min(self.max_power, setpoint))
        return json_response({"status": "ok"})

    async def _settings(
        self, _request: web.BaseRequest, _match: re.Match[str], _body: Any
    ) -> web.Response:
        if self.old_firmware:
            return web.Response(status=404, text="Not found")
        return json_response(
            {
                "status": "ok",
                "min_power": 50,
                "max_power": self.max_power,
                "enabled_time": "00:00-23:59",
            }
        )
