"""sonnenBatterie over its local JSON API v2 (`http://<host>/api/v2/`, header `Auth-Token`).

State comes from `/status` (state of charge, powers, mode) and `/latestdata` (capacity and the
inverter's status bits); identity and limits from `/configurations`, read once at connect.
Signs on the wire: `Pac_total_W` is + while discharging (the common sign already),
`GridFeedIn_W` is + while exporting (inverted here: grid + import).

Control: a setpoint only acts in manual mode (`EM_OperatingMode` 1), so the first setpoint
switches the mode, then POSTs `/setpoint/discharge/{W}` or `/setpoint/charge/{W}`. The setpoint
expires after a while (the inverter reports a "Setpoint Timeout" bit; the duration is not
documented), so it is sent again every `CONTROL_REFRESH_SECONDS`. Releasing returns to
self-consumption (mode 2). Older firmware answers `{}` instead of 401 to a wrong token.
"""

from __future__ import annotations

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
    DeviceAuthError,
    DeviceIdentity,
    Key,
    Mode,
    OperatingState,
    UnsupportedError,
    WriteNotAcceptedError,
)

API = "/api/v2"
CONTROL_REFRESH_SECONDS = 30.0
TIME_OF_USE = "time_of_use"

OPERATING_MODE = "EM_OperatingMode"
BACKUP_RESERVE = "EM_USOC"
# EM_OperatingMode values [python_sonnenbatterie const.py]; 6 (module extension) has no mode here.
_MODE_VALUES = {Mode.MANUAL: "1", Mode.AUTO: "2", TIME_OF_USE: "10"}
_MODES_BY_VALUE = {value: mode for mode, value in _MODE_VALUES.items()}


@dataclass(frozen=True, kw_only=True)
class SonnenConfig:
    """Where the battery is and the token of its JSON API."""

    host: str  # host name or address, optionally with `:port` (the API listens on 80)
    api_token: str
    timeout: float = DEFAULT_TIMEOUT


class SonnenDevice(BatteryDevice):
    """A sonnenBatterie (eco 8/9, 10, hybrid) with the JSON API enabled."""

    capabilities = Capabilities(
        power_setpoint=True,
        modes=(Mode.AUTO, Mode.MANUAL, TIME_OF_USE),
        min_state_of_charge=True,
        control_refresh_interval=CONTROL_REFRESH_SECONDS,
    )

    def __init__(
        self, session: aiohttp.ClientSession, config: SonnenConfig, *, close_session: bool = False
    ) -> None:
        """Prepare the client; nothing is sent until `connect`."""
        super().__init__()
        self.config = config
        self.http = JsonHttpClient(
            session,
            config.host,
            headers={"Auth-Token": config.api_token},
            timeout=config.timeout,
            close_session=close_session,
        )

    async def connect(self) -> DeviceIdentity:
        """Read the configuration (it needs the token): identity and inverter power limit."""
        async with self.http.lock:
            configuration = await self.http.get_object(f"{API}/configurations")
        if not configuration:
            # Older firmware answers a wrong token with an empty object instead of 401.
            raise DeviceAuthError("the battery returned no configuration for this token")
        serial = configuration.get("DE_Ticket_Number")
        if not serial:
            # Not every firmware reports the installation ticket; the address then identifies it.
            serial = f"sonnen-{self.http.base_url.authority}"
        line = configuration.get("ERP_HardwareLine")
        software = configuration.get("DE_Software")
        self.identity = DeviceIdentity(
            serial_number=str(serial),
            manufacturer="sonnen",
            model=f"sonnenBatterie {line}" if line else "sonnenBatterie",
            sw_version=str(software) if software else None,
        )
        inverter_max = number(configuration, "IC_InverterMaxPower_w")
        if inverter_max:
            self.capabilities = replace(
                self.capabilities, max_charge_power=inverter_max, max_discharge_power=inverter_max
            )
        return self.identity

    async def read(self) -> BatteryState:
        """Read `/status` and `/latestdata` and map them onto the common model."""
        async with self.http.lock:
            status = await self.http.get_object(f"{API}/status")
            latest = await self.http.get_object(f"{API}/latestdata")
        what = f"GET {API}/status"
        state: BatteryState = {
            Key.STATE_OF_CHARGE: required_number(status, "USOC", what),
            Key.BATTERY_POWER: required_number(status, "Pac_total_W", what),
        }
        feed_in = number(status, "GridFeedIn_W")
        put_present(state, Key.GRID_POWER, -feed_in if feed_in is not None else None)
        put_present(state, Key.PV_POWER, number(status, "Production_W"))
        put_present(state, Key.LOAD_POWER, number(status, "Consumption_W"))
        put_present(state, Key.BATTERY_VOLTAGE, number(status, "Ubat"))
        put_present(state, Key.MIN_STATE_OF_CHARGE, number(status, "BackupBuffer"))
        remaining = number(status, "RemainingCapacity_Wh")
        put_present(state, Key.STORED_ENERGY, remaining / 1000 if remaining is not None else None)
        full = number(latest, "FullChargeCapacity")
        put_present(state, Key.CAPACITY, round(full / 1000, 2) if full is not None else None)
        shutdown = _true_flags(latest, "DC Shutdown Reason")
        state["system_error"] = bool(shutdown)
        state[Key.ALARM] = bool(shutdown)
        state[Key.OPERATING_STATE] = _operating_state(status, faulted=bool(shutdown))
        if (mode := status.get("OperatingMode")) is not None:
            # A mode without a name here (6: module extension) shows as unknown, not as auto.
            state[Key.OPERATING_MODE] = _MODES_BY_VALUE.get(str(mode), f"mode_{mode}")
        caps = self.capabilities
        put_present(state, Key.MAX_CHARGE_POWER, caps.max_charge_power)
        put_present(state, Key.MAX_DISCHARGE_POWER, caps.max_discharge_power)
        put_present(state, Key.POWER_SETPOINT, self.setpoint)
        return state

    async def _put_configuration(self, key: str, value: str) -> None:
        """PUT one configuration value and check the echo; the caller holds the lock."""
        answer = json_object(
            await self.http.request("PUT", f"{API}/configurations", {key: value}),
            f"PUT {API}/configurations",
        )
        echoed = answer.get(key)
        if str(echoed) != value:
            raise WriteNotAcceptedError(key, float(value), number(answer, key))

    async def _write_setpoint(self, watts: float) -> None:
        direction = "discharge" if watts >= 0 else "charge"
        async with self.http.lock:
            if self.mode != Mode.MANUAL:
                await self._put_configuration(OPERATING_MODE, _MODE_VALUES[Mode.MANUAL])
            await self.http.request("POST", f"{API}/setpoint/{direction}/{round(abs(watts))}")

    async def _write_mode(self, mode: str) -> None:
        if mode not in _MODE_VALUES:
            raise UnsupportedError(f"mode {mode} is not offered by this device")
        async with self.http.lock:
            await self._put_configuration(OPERATING_MODE, _MODE_VALUES[mode])

    async def _write_soc_limit(self, key: str, percent: float) -> None:
        if key != Key.MIN_STATE_OF_CHARGE:
            raise UnsupportedError(f"{key} cannot be set on this device")
        async with self.http.lock:
            await self._put_configuration(BACKUP_RESERVE, str(round(percent)))

    async def _write_release(self) -> None:
        async with self.http.lock:
            await self._put_configuration(OPERATING_MODE, _MODE_VALUES[Mode.AUTO])

    async def close(self) -> None:
        """Close the client's own session, if it has one."""
        await self.http.close()


def _true_flags(latest: dict[str, Any], group: str) -> list[str]:
    """Return the names of the raised flags in one group of `latestdata.ic_status`."""
    status = latest.get("ic_status")
    flags = status.get(group) if isinstance(status, dict) else None
    if not isinstance(flags, dict):
        return []
    return [name for name, raised in flags.items() if raised is True]


def _operating_state(status: dict[str, Any], *, faulted: bool) -> str:
    if faulted or "error" in str(status.get("SystemStatus", "")).lower():
        return OperatingState.FAULT
    if status.get("BatteryCharging") is True:
        return OperatingState.CHARGING
    if status.get("BatteryDischarging") is True:
        return OperatingState.DISCHARGING
    return OperatingState.IDLE
