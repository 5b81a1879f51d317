"""sonnenBatterie over its local JSON API v2 (`http://<host>/api/v2/`, header `Auth-Token`).

Sources: weltmeyer/python_sonnenbatterie `sonnenbatterie2/` (endpoints, EM_OperatingMode values,
`get_config_item`), MarkusBiggus/sonnen_api_v2 (real-battery mocks of status, latestdata,
configurations, battery; the stored-energy formula), ruslan-hut/gok-pi (control sequence),
evcc `templates/definition/meter/sonnenbatterie.yaml` (signs), weltmeyer/ha_sonnenbatterie
(modes 4 and 11), mech78/Homey.Sonnen (403 while the VPP has priority).

State comes from `/status` (state of charge, powers, mode) and `/latestdata` (full charge
capacity and the inverter's status bits; an endpoint a model lacks only leaves its entities out);
the software version and inverter limit from `/configurations`, read once at connect.
Signs on the wire: `Pac_total_W` is + while discharging (the common sign already),
`GridFeedIn_W` is + while exporting (inverted here: grid + import).

Identity: no endpoint of the v2 API carries a serial number. `DE_Ticket_Number` and
`ERP_HardwareLine` belong to the installer/v1 login API (`/api/system_data` in
python_sonnenbatterie), and none of the real v2 dumps (status, latestdata, configurations,
battery, inverter, powermeter in sonnen_api_v2's mocks) holds a serial. So the unique id is the
serial the user gives (the type plate; the battery's default host name is `sb-<serial>`,
unconfirmed), or taken from such a host name, and only as a last resort the address.

Control (issue 12): a setpoint only acts in manual mode (`EM_OperatingMode` 1), so a setpoint
switches the mode, then POSTs `/setpoint/discharge/{W}` or `/setpoint/charge/{W}`; 0 W
(`/setpoint/discharge/0`, GOK `StopDischarge`) holds the battery. Before the first write the
user's own operating mode is read from `/configurations` and release restores exactly it.
Every step is checked: a PUT whose echo differs, a non-2xx answer or a JSON `false` raise; a 403
on a write means the sonnen VPP has priority (`sonnen_vpp_priority`), never re-authentication.
The mode the battery is really in is read back every poll (`OperatingMode`).

Crash bound: none on the device. sonnen's API documentation says a manual setpoint "is kept until
the battery receives a new value", and manual mode itself never ends; no documented control path
of the v2 API expires. Field reports of setpoints dropping after ~20 s to a minute
(foxriver76/ioBroker.sonnen #118, weltmeyer/ha_sonnenbatterie #92, both with a sonnen tariff/VPP)
are unconfirmed, and the `Setpoint Timeout` status bit has no documented duration. The setpoint
is therefore written again every `CONTROL_REFRESH_SECONDS` (harmless if it never expires), and
a battery left forced is released by Home Assistant at its next start (the stored record).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import re
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
# EM_OperatingMode values: 1 manual, 2 self-consumption, 10 time of use [python_sonnenbatterie
# const.py]; 4 testing, 6 battery-module extension, 11 optimizing [ha_sonnenbatterie].
_MODE_VALUES = {Mode.MANUAL: "1", Mode.AUTO: "2", TIME_OF_USE: "10"}
_MODES_BY_VALUE: dict[str, str] = {value: mode for mode, value in _MODE_VALUES.items()}
_MODES_BY_VALUE |= {"4": "testing", "6": "module_extension", "11": "optimizing"}
# Modes the installer or the battery itself sets, in which setpoints are not followed.
_SERVICE_MODES = frozenset({"4", "6"})
DEFAULT_USER_MODE = _MODE_VALUES[Mode.AUTO]

# A sonnen write answered 403: "Not allowed as SonnenVPP has priority" (mech78/Homey.Sonnen
# locale); 401 on a write with a token that reads: the JSON Write API is off (unconfirmed).
PERMISSION_REASONS = {403: "sonnen_vpp_priority", 401: "sonnen_write_api_disabled"}

# Beyond these a value is a glitch, not a reading (the largest sonnenBatterie is far below).
MAX_PLAUSIBLE_POWER_W = 100_000.0
MAX_PLAUSIBLE_VOLTAGE_V = 1_000.0
MAX_PLAUSIBLE_CAPACITY_WH = 1_000_000.0
# What every v2 model sends; any of them missing at the first poll is reported.
_STATUS_KEYS = ("USOC", "Pac_total_W", "GridFeedIn_W", "Production_W", "Consumption_W", "Ubat")
_LATEST_KEYS = ("FullChargeCapacity", "ic_status")
_SERIAL_HOST = re.compile(r"^sb-(\d{4,})(?:\.|$)", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class SonnenConfig:
    """Where the battery is and the token of its JSON API."""

    host: str  # host name or address, optionally with `:port` (the API listens on 80)
    api_token: str
    serial_number: str = ""  # from the type plate; the unique id survives an address change
    timeout: float = DEFAULT_TIMEOUT


def sonnen_serial(config: SonnenConfig, authority: str) -> str:
    """Return the unique id: the serial given, from an `sb-<serial>` host name, or the address."""
    if serial := config.serial_number.strip():
        return serial
    if match := _SERIAL_HOST.match(config.host.strip()):
        return match[1]
    return f"sonnen-{authority}"


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
            token_header=("Auth-Token", config.api_token),
            permission_reasons=PERMISSION_REASONS,
            timeout=config.timeout,
            close_session=close_session,
        )
        self._reported_mode: str | None = None  # EM_OperatingMode at the last poll
        self._first_read = True

    @property
    def missing_data(self) -> list[str]:
        """Return the endpoints and fields this model lacked at the first poll (diagnostics)."""
        return sorted(self.http.missing)

    async def connect(self) -> DeviceIdentity:
        """Read the configuration (it needs the token): software version and inverter limit."""
        async with self.http.lock:
            configuration = await self.http.get_object(f"{API}/configurations")
        if not configuration:
            # Older firmware answers a wrong token with an empty object instead of 401.
            raise DeviceAuthError("the battery returned no configuration for this token")
        software = configuration.get("DE_Software")
        modules = number(configuration, "IC_BatteryModules")
        self.identity = DeviceIdentity(
            serial_number=sonnen_serial(self.config, self.http.base_url.authority),
            manufacturer="sonnen",
            model=f"sonnenBatterie ({int(modules)} modules)" if modules else "sonnenBatterie",
            sw_version=str(software) if software else None,
        )
        inverter_max = number(configuration, "IC_InverterMaxPower_w", limit=MAX_PLAUSIBLE_POWER_W)
        if inverter_max:
            self.capabilities = replace(
                self.capabilities,
                max_charge_power=inverter_max,
                max_discharge_power=inverter_max,
                rated_power=inverter_max,
            )
        return self.identity

    async def read(self) -> BatteryState:
        """Read `/status` and `/latestdata` and map them onto the common model."""
        async with self.http.lock:
            status = await self.http.get_object(f"{API}/status")
            latest = await self.http.get_optional(f"{API}/latestdata") or {}
        if self._first_read:
            self._first_read = False
            self._note_missing(f"{API}/status", status, _STATUS_KEYS)
            if f"{API}/latestdata" not in self.http.missing:
                self._note_missing(f"{API}/latestdata", latest, _LATEST_KEYS)
        what = f"GET {API}/status"
        power_limit = MAX_PLAUSIBLE_POWER_W
        state: BatteryState = {}
        usoc = required_number(status, "USOC", what, limit=100)
        put_present(state, Key.STATE_OF_CHARGE, usoc)
        power = required_number(status, "Pac_total_W", what, limit=power_limit)
        put_present(state, Key.BATTERY_POWER, power)
        feed_in = number(status, "GridFeedIn_W", limit=power_limit)
        put_present(state, Key.GRID_POWER, 0.0 - feed_in if feed_in is not None else None)
        put_present(state, Key.PV_POWER, number(status, "Production_W", limit=power_limit))
        put_present(state, Key.LOAD_POWER, number(status, "Consumption_W", limit=power_limit))
        put_present(
            state, Key.BATTERY_VOLTAGE, number(status, "Ubat", limit=MAX_PLAUSIBLE_VOLTAGE_V)
        )
        put_present(state, Key.MIN_STATE_OF_CHARGE, number(status, "BackupBuffer", limit=100))
        # FullChargeCapacity 0 (a battery still starting) is unknown, not an empty battery.
        full = number(latest, "FullChargeCapacity", limit=MAX_PLAUSIBLE_CAPACITY_WH) or None
        put_present(state, Key.CAPACITY, round(full / 1000, 2) if full else None)
        # Stored energy = full charge capacity × USOC, as sonnen_api_v2 computes it:
        # `RemainingCapacity_Wh` is about twice the battery on real systems (20 812 Wh at 100 %
        # on a 10 kWh battery in gok-pi's capture, 40 181 Wh at 81 % of 20 187 Wh in the mocks).
        if full and usoc is not None:
            state[Key.STORED_ENERGY] = round(full * usoc / 100 / 1000, 3)
        shutdown = _true_flags(latest, "DC Shutdown Reason")
        state["system_error"] = bool(shutdown)
        state[Key.ALARM] = bool(shutdown)
        state[Key.OPERATING_STATE] = _operating_state(status, faulted=bool(shutdown))
        mode = status.get("OperatingMode")
        self._reported_mode = str(mode) if mode is not None else None
        if mode is not None:
            # A mode without a name here shows as unknown, not as auto.
            state[Key.OPERATING_MODE] = _MODES_BY_VALUE.get(str(mode), f"mode_{mode}")
        caps = self.capabilities
        put_present(state, Key.MAX_CHARGE_POWER, caps.max_charge_power)
        put_present(state, Key.MAX_DISCHARGE_POWER, caps.max_discharge_power)
        return state

    def _note_missing(self, endpoint: str, answer: dict[str, Any], keys: tuple[str, ...]) -> None:
        self.http.missing.update(f"{endpoint}#{key}" for key in keys if key not in answer)

    # --- control --------------------------------------------------------------------------------

    async def _check_control(self, mode: str, watts: float | None) -> None:
        if self._reported_mode in _SERVICE_MODES:
            name = _MODES_BY_VALUE[self._reported_mode]
            raise ControlBlockedError(
                "sonnen_service_mode",
                f"the battery is in its {name} mode, in which it follows no setpoint",
            )

    async def _read_user_settings(self) -> dict[str, Any]:
        """Read the user's operating mode, which control changes and release restores."""
        async with self.http.lock:
            answer = await self.http.get_object(f"{API}/configurations/{OPERATING_MODE}")
        value = answer.get(OPERATING_MODE)
        if value is None:
            raise WriteNotAcceptedError(OPERATING_MODE, "read", None)
        return {OPERATING_MODE: str(value)}

    async def _put_configuration(self, key: str, value: str) -> None:
        """PUT one configuration value and check the echo; the caller holds the lock."""
        path = f"{API}/configurations"
        answer = json_object(await self.http.write("PUT", path, {key: value}), f"PUT {path}")
        echoed = answer.get(key)
        if str(echoed) != value:
            raise WriteNotAcceptedError(key, value, None if echoed is None else str(echoed))

    async def _write_setpoint(self, watts: float) -> None:
        direction = "discharge" if watts >= 0 else "charge"
        async with self.http.lock:
            if self._reported_mode != _MODE_VALUES[Mode.MANUAL] or self.mode != Mode.MANUAL:
                await self._put_configuration(OPERATING_MODE, _MODE_VALUES[Mode.MANUAL])
                self._reported_mode = _MODE_VALUES[Mode.MANUAL]
            await self.http.write("POST", f"{API}/setpoint/{direction}/{round(abs(watts))}")

    async def _write_mode(self, mode: str) -> None:
        if mode not in _MODE_VALUES:
            raise UnsupportedError(f"mode {mode} is not offered by this device")
        async with self.http.lock:
            await self._put_configuration(OPERATING_MODE, _MODE_VALUES[mode])
            self._reported_mode = _MODE_VALUES[mode]

    async def _write_soc_limit(self, key: str, percent: float) -> None:
        if key != Key.MIN_STATE_OF_CHARGE:
            raise UnsupportedError(f"{key} cannot be set on this device")
        async with self.http.lock:
            await self._put_configuration(BACKUP_RESERVE, str(round(percent)))

    async def _write_release(self) -> None:
        """Restore the user's own operating mode (self-consumption if none was saved)."""
        saved = self.saved_user_settings or {}
        user_mode = str(saved.get(OPERATING_MODE) or DEFAULT_USER_MODE)
        async with self.http.lock:
            await self._put_configuration(OPERATING_MODE, user_mode)
            self._reported_mode = user_mode

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
