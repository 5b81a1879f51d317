"""Sessy home battery over its dongle's local REST API (`http://<host>/api/v1/`, basic auth).

The username is the dongle's serial number and the password the dongle password, both printed on
its sticker. State comes from `/power/status` (state of charge as a fraction, power + while
discharging, pack voltage in mV) and the mode from `/power/active_strategy`.

Control: a setpoint only acts under the API strategy, so the first setpoint switches to it, then
POSTs `/power/setpoint` with the common sign (on the wire too: negative charges, positive
discharges) and reads it back from `/power/status`. The other strategies are offered as modes;
releasing returns to Sessy's own "null on the meter" strategy (NOM).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from .base import BatteryDevice
from .http import (
    DEFAULT_TIMEOUT,
    JsonHttpClient,
    json_object,
    number,
    put_present,
    required_number,
)
from .model import (
    BatteryState,
    Capabilities,
    DeviceConnectionError,
    DeviceIdentity,
    Key,
    Mode,
    OperatingState,
    UnsupportedError,
    WriteNotAcceptedError,
)

API = "/api/v1/power"
# The Sessy's inverter is rated 2.2 kW both ways; the API clamps setpoints to it.
MAX_POWER = 2200.0

# Modes by Sessy strategy. ECO is spelled POWER_STRATEGY_ECO by sessypy and the HomeBattery
# package, POWER_STRATEGY_SESSY_ECO in one Homey comment: both are read, the first is written.
_STRATEGIES: dict[str, str] = {
    Mode.AUTO: "POWER_STRATEGY_NOM",
    Mode.MANUAL: "POWER_STRATEGY_API",
    "dynamic": "POWER_STRATEGY_ROI",
    "idle": "POWER_STRATEGY_IDLE",
    "eco": "POWER_STRATEGY_ECO",
    "sessy_connect": "POWER_STRATEGY_SESSY_CONNECT",
}
_MODES_BY_STRATEGY = {strategy: mode for mode, strategy in _STRATEGIES.items()}
_MODES_BY_STRATEGY["POWER_STRATEGY_SESSY_ECO"] = "eco"

_PREFIX = "SYSTEM_STATE_"
_FAULT_STATES = {"ERROR", "OVERRIDE_BATTERY_UNDERVOLTAGE"}
_OFFLINE_STATES = {"DISCONNECT", "RECONNECT"}
_RUNNING_STATES = {"RUNNING_SAFE", "BATTERY_FULL", "BATTERY_EMPTY"}


@dataclass(frozen=True, kw_only=True)
class SessyConfig:
    """Where the dongle is and its credentials."""

    host: str  # host name (sessy-xxxx.local) or address, optionally with `:port`
    username: str
    password: str
    timeout: float = DEFAULT_TIMEOUT


class SessyDevice(BatteryDevice):
    """A Sessy battery (the dongle's local API enabled, which it is by default)."""

    capabilities = Capabilities(
        power_setpoint=True,
        modes=tuple(_STRATEGIES),
        max_charge_power=MAX_POWER,
        max_discharge_power=MAX_POWER,
    )

    def __init__(
        self, session: aiohttp.ClientSession, config: SessyConfig, *, close_session: bool = False
    ) -> None:
        """Prepare the client; nothing is sent until `connect`."""
        super().__init__()
        self.config = config
        self.http = JsonHttpClient(
            session,
            config.host,
            auth=aiohttp.BasicAuth(config.username, config.password),
            timeout=config.timeout,
            close_session=close_session,
        )

    async def connect(self) -> DeviceIdentity:
        """Check the credentials on the battery's own endpoint; the serial is the username."""
        async with self.http.lock:
            await self._strategy()
        self.identity = DeviceIdentity(
            serial_number=self.config.username.strip().upper(),
            manufacturer="Sessy",
            model="Sessy",
        )
        return self.identity

    async def read(self) -> BatteryState:
        """Read the power status and the active strategy."""
        async with self.http.lock:
            status = await self.http.get_object(f"{API}/status")
            strategy = await self._strategy()
        sessy = _section(status, "sessy")
        what = f"GET {API}/status"
        system_state = str(sessy.get("system_state", "")).removeprefix(_PREFIX)
        power = required_number(sessy, "power", what)
        state: BatteryState = {
            Key.STATE_OF_CHARGE: round(required_number(sessy, "state_of_charge", what) * 100, 1),
            Key.BATTERY_POWER: power,
        }
        voltage = number(sessy, "pack_voltage")
        put_present(state, Key.BATTERY_VOLTAGE, voltage / 1000 if voltage is not None else None)
        put_present(state, Key.PV_POWER, _pv_power(status))
        state[Key.OPERATING_STATE] = _operating_state(system_state, power)
        state["system_error"] = system_state == "ERROR"
        state["low_voltage_alarm"] = system_state == "OVERRIDE_BATTERY_UNDERVOLTAGE"
        state[Key.ALARM] = system_state in _FAULT_STATES
        # A strategy without a mode here shows as unknown, not as the last mode set.
        state[Key.OPERATING_MODE] = _MODES_BY_STRATEGY.get(strategy, strategy)
        state[Key.MAX_CHARGE_POWER] = MAX_POWER
        state[Key.MAX_DISCHARGE_POWER] = MAX_POWER
        put_present(state, Key.POWER_SETPOINT, self.setpoint)
        return state

    async def _strategy(self) -> str:
        """GET the active strategy; the caller holds the lock."""
        answer = await self.http.get_object(f"{API}/active_strategy")
        strategy = answer.get("strategy")
        if not isinstance(strategy, str):
            raise DeviceConnectionError(f"GET {API}/active_strategy: the answer lacks strategy")
        return strategy

    async def _post(self, path: str, body: dict[str, Any]) -> None:
        """POST a command; Sessy answers `{"status": "ok"}` when it took it."""
        answer = json_object(await self.http.request("POST", path, body), f"POST {path}")
        if answer.get("status") != "ok":
            raise DeviceConnectionError(f"POST {path}: the battery answered {answer}")

    async def _set_strategy(self, mode: str) -> None:
        """Switch strategy and read it back; the caller holds the lock."""
        wanted = _STRATEGIES[mode]
        await self._post(f"{API}/active_strategy", {"strategy": wanted})
        if (active := await self._strategy()) != wanted:
            raise WriteNotAcceptedError("strategy", wanted, active)

    async def _write_setpoint(self, watts: float) -> None:
        setpoint = round(watts)
        async with self.http.lock:
            if self.mode != Mode.MANUAL:
                await self._set_strategy(Mode.MANUAL)
            await self._post(f"{API}/setpoint", {"setpoint": setpoint})
            sessy = _section(await self.http.get_object(f"{API}/status"), "sessy")
            read_back = number(sessy, "power_setpoint")
        if read_back is None or abs(read_back - setpoint) > 1:
            raise WriteNotAcceptedError(Key.POWER_SETPOINT, setpoint, read_back)

    async def _write_mode(self, mode: str) -> None:
        if mode not in _STRATEGIES:
            raise UnsupportedError(f"mode {mode} is not offered by this device")
        async with self.http.lock:
            await self._set_strategy(mode)

    async def _write_release(self) -> None:
        async with self.http.lock:
            await self._set_strategy(Mode.AUTO)

    async def close(self) -> None:
        """Close the client's own session, if it has one."""
        await self.http.close()


def _section(status: dict[str, Any], name: str) -> dict[str, Any]:
    return json_object(status.get(name), f"GET {API}/status: {name}")


def _pv_power(status: dict[str, Any]) -> float | None:
    """Sum the PV input phases the Sessy meters; None when it reports none."""
    phases = [status.get(f"renewable_energy_phase{n}") for n in (1, 2, 3)]
    powers = [number(p, "power") for p in phases if isinstance(p, dict)]
    present = [p for p in powers if p is not None]
    return sum(present) if present else None


def _operating_state(system_state: str, power: float) -> str:
    if system_state in _FAULT_STATES:
        return OperatingState.FAULT
    if system_state in _OFFLINE_STATES:
        return OperatingState.OFFLINE
    if system_state not in _RUNNING_STATES:
        return OperatingState.STANDBY
    if power > 10:
        return OperatingState.DISCHARGING
    if power < -10:
        return OperatingState.CHARGING
    return OperatingState.IDLE
