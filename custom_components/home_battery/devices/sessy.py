"""Sessy home battery over its dongle's local REST API (`http://<host>/api/v1/`, basic auth).

Sources: Sessy's OpenAPI `api_docs_dongle` 1.1.0 (copy in JanJaapKo/SessyBattery
`openAPI/Sessy_api_docs.yaml`: endpoints, fields, signs, strategies, the setpoint's behaviour),
gruijter/nl.sessy `sessy_local.js` (real captures of fw 5.1.1 and older firmware, upper-case
user name), PimDoos/sessypy `const.py` (system states, `/api/v1/system/settings`).

The username is the dongle's serial number (sent upper-case, as the Homey app does) and the
password the dongle password, both printed on its sticker. State comes from `/power/status`
(state of charge as a fraction, power + while generating, pack voltage in mV) and the mode from
`/power/active_strategy`. The setpoint limits come from `/system/settings` (`max_power`, 50–2200 W
set by the owner, e.g. 1700 W); a dongle without that endpoint gets the inverter's 2200 W.

Control (issue 12): a setpoint only acts under the API strategy ("Only works when the power
strategy is set to POWER_STRATEGY_API"), so a setpoint switches to it (read back), POSTs
`/power/setpoint` with the common sign (on the wire too: negative charges, positive generates)
and reads `power_setpoint` back: the dongle may clamp it to its own limits, which is accepted
when the sign is kept and the value is not larger (the clamped value is what is reported); 0 W
holds the battery. Every answer must be `{"status": "ok"}` with 2xx, else it is an error. Before
the first write the user's own strategy (and, under API, their setpoint) is read; release restores
exactly them. The strategy the dongle is really in is read back every poll.

Crash bound: none that ends the API strategy. The OpenAPI says only "If the network connection is
lost, set setpoint will be set to 0": a dongle that loses its network holds the battery (0 W),
still in API strategy. If Home Assistant stops while the dongle stays online, the last setpoint
stays; the stored control record releases it at Home Assistant's next start.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
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
    ControlBlockedError,
    DeviceConnectionError,
    DeviceIdentity,
    DeviceRejectedError,
    Key,
    Mode,
    OperatingState,
    UnsupportedError,
    WriteNotAcceptedError,
)

API = "/api/v1/power"
SETTINGS = "/api/v1/system/settings"
# The Sessy's inverter is rated 2.2 kW both ways [Sessy OpenAPI settings range 50–2200]; the
# owner's `max_power` in the settings is the actual limit.
MAX_POWER = 2200.0
# Beyond these a value is a glitch, not a reading (the Sessy is a 2.2 kW battery).
MAX_PLAUSIBLE_POWER_W = 20_000.0
MAX_PLAUSIBLE_PACK_MV = 200_000.0
# A setpoint just written may show in `power_setpoint` a moment later: one more look after this.
READ_BACK_DELAY = 0.5

# Modes by Sessy strategy. ECO is spelled POWER_STRATEGY_ECO by the OpenAPI 1.1.0 and sessypy,
# POWER_STRATEGY_SESSY_ECO in one Homey comment: both are read, the first is written.
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
STRATEGY = "strategy"
USER_SETPOINT = "setpoint"

_PREFIX = "SYSTEM_STATE_"
_FAULT_STATES = {"ERROR", "OVERRIDE_BATTERY_UNDERVOLTAGE"}
_OFFLINE_STATES = {"DISCONNECT", "RECONNECT"}
_RUNNING_STATES = {"RUNNING_SAFE", "BATTERY_FULL", "BATTERY_EMPTY"}
# What every firmware sends in "sessy" (fw 5.1.1 lacks pack_voltage): missing ones are reported.
_SESSY_KEYS = ("state_of_charge", "power", "power_setpoint", "system_state", "pack_voltage")


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
        rated_power=MAX_POWER,
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
            credentials=(config.username.upper(), config.password),
            timeout=config.timeout,
            close_session=close_session,
        )
        self._system_state = ""
        self._first_read = True
        self._applied: float | None = None  # the setpoint the dongle reports after a clamp

    @property
    def missing_data(self) -> list[str]:
        """Return the endpoints and fields this model lacked at the first poll (diagnostics)."""
        return sorted(self.http.missing)

    async def connect(self) -> DeviceIdentity:
        """Check the credentials on the battery's own endpoint; read the owner's power limits."""
        async with self.http.lock:
            await self._strategy()
            settings = await self.http.get_optional(SETTINGS)
        if settings is not None:
            limit = number(settings, "max_power", limit=MAX_POWER) or MAX_POWER
            self.capabilities = replace(
                self.capabilities, max_charge_power=limit, max_discharge_power=limit
            )
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
        if self._first_read:
            self._first_read = False
            self.http.missing.update(
                f"{API}/status#sessy.{key}" for key in _SESSY_KEYS if key not in sessy
            )
        what = f"GET {API}/status"
        self._system_state = str(sessy.get("system_state", "")).removeprefix(_PREFIX)
        power = required_number(sessy, "power", what, limit=MAX_PLAUSIBLE_POWER_W)
        fraction = required_number(sessy, "state_of_charge", what, limit=1.0)
        state: BatteryState = {}
        soc = None if fraction is None else round(fraction * 100, 1)
        put_present(state, Key.STATE_OF_CHARGE, soc)
        put_present(state, Key.BATTERY_POWER, power)
        voltage = number(sessy, "pack_voltage", limit=MAX_PLAUSIBLE_PACK_MV)
        put_present(state, Key.BATTERY_VOLTAGE, voltage / 1000 if voltage is not None else None)
        put_present(state, Key.PV_POWER, _pv_power(status))
        state[Key.OPERATING_STATE] = _operating_state(self._system_state, power)
        state["system_error"] = self._system_state == "ERROR"
        state["low_voltage_alarm"] = self._system_state == "OVERRIDE_BATTERY_UNDERVOLTAGE"
        state[Key.ALARM] = self._system_state in _FAULT_STATES
        # A strategy without a mode here shows as unknown, not as the last mode set.
        state[Key.OPERATING_MODE] = _MODES_BY_STRATEGY.get(strategy, strategy)
        put_present(state, Key.MAX_CHARGE_POWER, self.capabilities.max_charge_power)
        put_present(state, Key.MAX_DISCHARGE_POWER, self.capabilities.max_discharge_power)
        return state

    async def _strategy(self) -> str:
        """GET the active strategy; the caller holds the lock."""
        answer = await self.http.get_object(f"{API}/active_strategy")
        strategy = answer.get(STRATEGY)
        if not isinstance(strategy, str):
            raise DeviceConnectionError(f"GET {API}/active_strategy: the answer lacks strategy")
        return strategy

    async def _setpoint_read_back(self) -> float | None:
        sessy = _section(await self.http.get_object(f"{API}/status"), "sessy")
        return number(sessy, "power_setpoint", limit=MAX_PLAUSIBLE_POWER_W)

    # --- control --------------------------------------------------------------------------------

    async def set_power_setpoint(self, watts: float) -> None:
        """Hold the battery at `watts`; report what the dongle applied when it clamped it."""
        self._applied = None
        await super().set_power_setpoint(watts)
        if self._applied is not None and self._applied != self._setpoint:
            self._setpoint = self._applied
            await self._record_changed()

    async def _check_control(self, mode: str, watts: float | None) -> None:
        if self._system_state == "ERROR":
            raise ControlBlockedError(
                "sessy_error_state", "the Sessy reports SYSTEM_STATE_ERROR and follows no control"
            )

    async def _read_user_settings(self) -> dict[str, Any]:
        """Read the user's strategy (and their setpoint under the API strategy)."""
        async with self.http.lock:
            strategy = await self._strategy()
            saved: dict[str, Any] = {STRATEGY: strategy}
            if strategy == _STRATEGIES[Mode.MANUAL]:
                saved[USER_SETPOINT] = await self._setpoint_read_back()
        return saved

    async def _post(self, path: str, body: dict[str, Any]) -> None:
        """POST a command; Sessy answers `{"status": "ok"}` when it took it."""
        answer = json_object(await self.http.write("POST", path, body), f"POST {path}")
        if answer.get("status") != "ok":
            raise DeviceRejectedError(f"POST {path}: the battery answered {answer}")

    async def _set_strategy(self, wanted: str) -> None:
        """Switch strategy and read it back; the caller holds the lock."""
        await self._post(f"{API}/active_strategy", {STRATEGY: wanted})
        if (active := await self._strategy()) != wanted:
            raise WriteNotAcceptedError(STRATEGY, wanted, active)

    async def _post_setpoint(self, setpoint: int) -> float:
        """POST a setpoint and return what the dongle applied; the caller holds the lock."""
        await self._post(f"{API}/setpoint", {"setpoint": setpoint})
        read_back = await self._setpoint_read_back()
        if not _applied(setpoint, read_back):
            await asyncio.sleep(READ_BACK_DELAY)
            read_back = await self._setpoint_read_back()
        if read_back is None or not _applied(setpoint, read_back):
            raise WriteNotAcceptedError(Key.POWER_SETPOINT, setpoint, read_back)
        return read_back

    async def _write_setpoint(self, watts: float) -> None:
        async with self.http.lock:
            if self.mode != Mode.MANUAL or await self._strategy() != _STRATEGIES[Mode.MANUAL]:
                await self._set_strategy(_STRATEGIES[Mode.MANUAL])
            self._applied = await self._post_setpoint(round(watts))

    async def _write_mode(self, mode: str) -> None:
        if mode not in _STRATEGIES:
            raise UnsupportedError(f"mode {mode} is not offered by this device")
        async with self.http.lock:
            await self._set_strategy(_STRATEGIES[mode])

    async def _write_release(self) -> None:
        """Restore the user's own strategy (NOM if none was saved), and their API setpoint."""
        saved = self.saved_user_settings or {}
        strategy = str(saved.get(STRATEGY) or _STRATEGIES[Mode.AUTO])
        async with self.http.lock:
            await self._set_strategy(strategy)
            user_setpoint = saved.get(USER_SETPOINT)
            if strategy == _STRATEGIES[Mode.MANUAL] and isinstance(user_setpoint, (int, float)):
                await self._post_setpoint(round(user_setpoint))

    async def close(self) -> None:
        """Close the client's own session, if it has one."""
        await self.http.close()


def _applied(written: int, read_back: float | None) -> bool:
    """Return True when the dongle took the setpoint: exactly, or clamped with the same sign."""
    if read_back is None:
        return False
    if abs(read_back - written) <= 1:
        return True
    return read_back * written > 0 and abs(read_back) < abs(written)


def _section(status: dict[str, Any], name: str) -> dict[str, Any]:
    return json_object(status.get(name), f"GET {API}/status: {name}")


def _pv_power(status: dict[str, Any]) -> float | None:
    """Sum the PV input phases the Sessy meters; None when it reports none."""
    phases = [status.get(f"renewable_energy_phase{n}") for n in (1, 2, 3)]
    powers = [
        number(p, "power", limit=MAX_PLAUSIBLE_POWER_W) for p in phases if isinstance(p, dict)
    ]
    present = [p for p in powers if p is not None]
    return sum(present) if present else None


def _operating_state(system_state: str, power: float | None) -> str:
    if system_state in _FAULT_STATES:
        return OperatingState.FAULT
    if system_state in _OFFLINE_STATES:
        return OperatingState.OFFLINE
    if system_state not in _RUNNING_STATES or power is None:
        return OperatingState.STANDBY
    if power > 10:
        return OperatingState.DISCHARGING
    if power < -10:
        return OperatingState.CHARGING
    return OperatingState.IDLE
