"""Huawei SUN2000 hybrid inverter with a LUNA2000 battery, over Modbus TCP.

The inverter (or its SDongle) serves one Modbus TCP client at a time and closes the older
connection when another client connects; it ignores requests for about a second after a
connection opens and wants a short pause between requests [HSL `WAIT_ON_CONNECT = 1500`,
`DEFAULT_COOLDOWN_TIME = 0.05`]. So the client keeps one long-lived connection, waits after
connecting and between requests, and counts how often its idle connection was taken (the Home
Assistant layer turns repeated takeovers into a repair issue). Writes need the installer login on
most network connections: `huawei_login.HuaweiSession` logs in, keeps the login alive while
control is active and tries busy requests again.

Control [HSI `services.py` `forcible_charge`; HSI #574; evcc `huawei-sun2000.yaml`]:
- a charge or discharge setpoint is a forcible command for a period: power (47247 / 47249), the
  period (47083, minutes), time mode (47246 ← 0), then the command (47100 ← 1 charge, 2
  discharge), written again every `CONTROL_REFRESH_SECONDS`. The inverter ends the command by
  itself when the period is over, so a Home Assistant that disappears leaves it forced for
  `FORCIBLE_PERIOD_MINUTES` at most;
- hold (0 W) sets the maximum discharging power 47077 to 0 (the huawei_solar maintainer in HSI
  #574, evcc's "hold"), and the maximum charging power 47075 to 0 so that PV does not charge it
  either [HSI #1030]. These settings do not expire: after a crash they stay until Home Assistant
  starts again and restores the user's values from its stored record;
- the modes `time_of_use` and `fully_fed_to_grid` set the storage working mode 47086 (kept by the
  inverter: no expiry either);
- before the first write the user's own values of every register control writes are read, and
  releasing restores exactly them (`auto` never writes a fixed working mode over the user's).
The mode is read back every poll (`_mode_on_device`): an inverter back in the user's own
operation is `auto`, and the integration follows it.

References: HSL = wlcrs/huawei-solar-lib `registers.py` / `register_values.py` @40bf666, HSI =
wlcrs/huawei_solar, evcc = evcc-io/evcc `templates/definition/meter/huawei-sun2000.yaml`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import contextlib
from dataclasses import dataclass, field
import logging
from typing import Any

from .huawei_login import BUSY_PAUSES, HEARTBEAT_INTERVAL, HuaweiSession
from .modbus import (
    DataType,
    ModbusTcpTransport,
    Register,
    RegisterBatteryDevice,
    RegisterDevice,
)
from .model import (
    BatteryState,
    Capabilities,
    ControlBlockedError,
    DeviceError,
    DeviceIdentity,
    DeviceRejectedError,
    Key,
    Mode,
    OperatingState,
    StateValue,
)

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORT = 502  # some firmware serves 6607 instead [HSI README]
DEFAULT_UNIT_ID = 1  # 1 through an SDongle, 0 through the inverter's own access point [HSI]
CONNECT_DELAY = 1.5  # s [HSL `WAIT_ON_CONNECT`]; evcc waits 1 s
REQUEST_PAUSE = 0.05  # s [HSL `DEFAULT_COOLDOWN_TIME`]
TIMEOUT = 5.0  # the SDongle can answer slowly
MAX_REGISTERS_PER_READ = 64  # [HSL `const.py`]
MAX_GAP = 16  # unused registers between two values that still go into one read [HSL]

# A forcible command runs for this long unless written again (47083: minutes, 1-1440 [HSI
# `DURATION_SCHEMA`]); it is written again well within it.
FORCIBLE_PERIOD_MINUTES = 5
CONTROL_REFRESH_SECONDS = 60.0
CONTROL_EXPIRY_SECONDS = FORCIBLE_PERIOD_MINUTES * 60.0

TIME_OF_USE = "time_of_use"
FULLY_FED_TO_GRID = "fully_fed_to_grid"

# 47086 storage working mode [HSL `StorageWorkingModesC`]: 0 adaptive, 1 fixed periods, 2 maximise
# self-consumption, 3 time of use (LG RESU), 4 fully fed to grid, 5 time of use (LUNA2000).
_FULLY_FED_TO_GRID = 4
# 47000 / 47089 storage product model [HSL `StorageProductModel`]: 0 none, 1 LG RESU, 2 LUNA2000;
# time of use is 3 for LG RESU batteries and 5 for LUNA2000.
_NO_BATTERY, _LG_RESU = 0, 1
_TIME_OF_USE = {_LG_RESU: 3}
_TIME_OF_USE_LUNA2000 = 5

_STOP, _CHARGE, _DISCHARGE = 0, 1, 2  # 47100 [HSL `StorageForcibleChargeDischarge`]
_TIME_MODE = 0  # 47246: the command lasts 47083 minutes [HSL `...TargetMode`]

_RUNNING_STATUS = {0: "offline", 1: "standby", 2: "running", 3: "fault", 4: "sleep"}
_OPERATING_STATE = {
    "offline": OperatingState.OFFLINE,
    "standby": OperatingState.STANDBY,
    "sleep": OperatingState.STANDBY,
    "fault": OperatingState.FAULT,
}
IDLE_BELOW_W = 10

# Every row: HSL `registers.py` @40bf666 unless noted (name in brackets). What an inverter may
# lack is optional, probed once at setup, and then left out of the poll (its entities with it):
# huawei-solar-lib reads the storage registers only with a battery, the meter's only with a meter
# (HSL `bridge.py` `update`: ENERGY_STORAGE_REGISTERS, POWER_METER_REGISTERS).
_BATTERY, _UNIT_1, _METER, _SETTINGS = "battery", "battery_unit_1", "meter", "battery_settings"


def _storage(key: str, address: int, group: str = _BATTERY, **fields: Any) -> Register:
    return Register(key=key, address=address, optional=True, group=group, **fields)


REGISTERS: tuple[Register, ...] = (
    Register(key="model", address=30000, data_type=DataType.STRING, length=15, poll=False),
    Register(key="serial", address=30015, data_type=DataType.STRING, length=10, poll=False),
    Register(key=Key.PV_POWER, address=32064, data_type=DataType.I32),  # [INPUT_POWER]
    Register(key="active_power", address=32080, data_type=DataType.I32),  # [ACTIVE_POWER]
    # [STORAGE_UNIT_1_BATTERY_TEMPERATURE] I16, °C, gain 10.
    _storage(Key.BATTERY_TEMPERATURE, 37022, _UNIT_1, data_type=DataType.I16, scale=0.1),
    _storage(Key.MAX_CHARGE_POWER, 37046, data_type=DataType.U32),
    _storage(Key.MAX_DISCHARGE_POWER, 37048, data_type=DataType.U32),
    # [POWER_METER_ACTIVE_POWER]: + while exporting on the wire (evcc `scale: -1`).
    _storage(Key.GRID_POWER, 37113, _METER, data_type=DataType.I32, sign=-1),
    # [GRID_EXPORTED_ENERGY] is an I32AbsoluteValueRegister: some meters report it negative
    # (HSI #54); `read` takes its magnitude.
    _storage(Key.GRID_ENERGY_EXPORTED, 37119, _METER, data_type=DataType.I32, scale=0.01),
    _storage(Key.GRID_ENERGY_IMPORTED, 37121, _METER, data_type=DataType.I32, scale=0.01),
    _storage(Key.CAPACITY, 37758, data_type=DataType.U32, scale=0.001),  # Wh
    _storage(Key.STATE_OF_CHARGE, 37760, scale=0.1),
    _storage("running_status", 37762, options=_RUNNING_STATUS),
    _storage(Key.BATTERY_VOLTAGE, 37763, scale=0.1),
    # Power is + while charging on the wire (HSI #115); the current is assumed to be signed like
    # it (unconfirmed).
    _storage(Key.BATTERY_CURRENT, 37764, data_type=DataType.I16, scale=0.1, sign=-1),
    _storage(Key.BATTERY_POWER, 37765, data_type=DataType.I32, sign=-1),
    _storage(Key.ENERGY_CHARGED, 37780, data_type=DataType.U32, scale=0.01),
    _storage(Key.ENERGY_DISCHARGED, 37782, data_type=DataType.U32, scale=0.01),
    # [STORAGE_UNIT_1_PRODUCT_MODEL], [STORAGE_UNIT_2_PRODUCT_MODEL]
    _storage("battery_model", 47000, "battery_model", poll=False),
    _storage("battery_2_model", 47089, "battery_2_model", poll=False),
    # RW settings control changes, and restores [STORAGE_MAXIMUM_(DIS)CHARGING_POWER, W].
    _storage("max_charging_power", 47075, _SETTINGS, data_type=DataType.U32),
    _storage("max_discharging_power", 47077, _SETTINGS, data_type=DataType.U32),
    _storage("forcible_period", 47083, _SETTINGS, poll=False),  # minutes
    _storage("working_mode", 47086, _SETTINGS),
    _storage("forcible_command", 47100, _SETTINGS),
    _storage("forcible_mode", 47246, _SETTINGS, poll=False),
    _storage("forcible_charge_power", 47247, _SETTINGS, data_type=DataType.U32, poll=False),
    _storage("forcible_discharge_power", 47249, _SETTINGS, data_type=DataType.U32, poll=False),
)

# The user's own values of everything control writes, read before its first write.
_USER_SETTINGS = (
    "max_charging_power",
    "max_discharging_power",
    "working_mode",
    "forcible_charge_power",
    "forcible_discharge_power",
    "forcible_period",
    "forcible_mode",
)
_CAPS = ("max_charging_power", "max_discharging_power")
# A forcible command is written whole every time, in this order [HSI `forcible_charge`].
_COMMAND = ("forcible_period", "forcible_mode", "forcible_command")

_COPIED = (
    Key.STATE_OF_CHARGE,
    Key.BATTERY_POWER,
    Key.BATTERY_VOLTAGE,
    Key.BATTERY_CURRENT,
    Key.BATTERY_TEMPERATURE,
    Key.PV_POWER,
    Key.GRID_POWER,
    Key.GRID_ENERGY_IMPORTED,
    Key.CAPACITY,
    Key.ENERGY_CHARGED,
    Key.ENERGY_DISCHARGED,
    Key.MAX_CHARGE_POWER,
    Key.MAX_DISCHARGE_POWER,
)


@dataclass(frozen=True, kw_only=True)
class HuaweiConfig:
    """Where the inverter (or its SDongle) is, and the installer password if there is one."""

    host: str
    port: int = DEFAULT_PORT
    unit_id: int = DEFAULT_UNIT_ID
    timeout: float = TIMEOUT
    password: str | None = field(default=None, repr=False)
    heartbeat_interval: float = HEARTBEAT_INTERVAL
    busy_pauses: tuple[float, ...] = BUSY_PAUSES


class HuaweiDevice(RegisterBatteryDevice):
    """A SUN2000 inverter with a LUNA2000 battery."""

    capabilities = Capabilities(
        power_setpoint=True,
        modes=(Mode.AUTO, Mode.MANUAL, TIME_OF_USE, FULLY_FED_TO_GRID),
        control_refresh_interval=CONTROL_REFRESH_SECONDS,
        control_expiry=CONTROL_EXPIRY_SECONDS,
        energy_counters=frozenset({Key.ENERGY_CHARGED, Key.ENERGY_DISCHARGED}),
    )

    def __init__(self, config: HuaweiConfig) -> None:
        """Prepare the register plan; nothing is sent until `connect`."""
        super().__init__()
        self.config = config
        self.transport = ModbusTcpTransport(
            host=config.host,
            port=config.port,
            timeout=config.timeout,
            connect_delay=CONNECT_DELAY,
            request_pause=REQUEST_PAUSE,
        )
        self.session = HuaweiSession(
            self.transport, config.unit_id, config.password, busy_pauses=config.busy_pauses
        )
        self.registers = RegisterDevice(
            self.session,
            {"main": config.unit_id},
            REGISTERS,
            max_count=MAX_REGISTERS_PER_READ,
            max_gap=MAX_GAP,
        )
        self._battery_model: int | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def connection_takeovers(self) -> int:
        """Return how often another client took the inverter's only Modbus connection."""
        return self.transport.idle_drops

    async def connect(self) -> DeviceIdentity:
        """Read the identity, probe what this inverter has, log in when a password is set.

        A refused password raises `DeviceAuthError` (Home Assistant then asks for it again).
        """
        async with self.session.lock:
            values = await self.registers.read_keys("model", "serial")
            serial, model = str(values["serial"] or ""), str(values["model"] or "")
            if not serial:
                raise DeviceRejectedError(
                    "the inverter reports no serial number", unit_id=self.config.unit_id
                )
            await self.registers.probe()
            await self.session.login()
        self.identity = DeviceIdentity(
            serial_number=serial, manufacturer="Huawei", model=model or "SUN2000"
        )
        return self.identity

    async def read(self) -> BatteryState:
        """Read every polled block and map it onto the common model."""
        async with self.session.lock:
            values = await self.registers.read_polled()
        self._update_power_limits(*self._setpoint_limits(values))
        state: BatteryState = {k: v for k in _COPIED if (v := values.get(k)) is not None}
        exported = values.get(Key.GRID_ENERGY_EXPORTED)
        if isinstance(exported, (int, float)):
            state[Key.GRID_ENERGY_EXPORTED] = abs(exported)
        active, grid = values.get("active_power"), state.get(Key.GRID_POWER)
        if isinstance(active, int) and isinstance(grid, (int, float)):
            # What the inverter delivers plus what the grid brings is what the house uses.
            state[Key.LOAD_POWER] = active + grid
        capacity, soc = state.get(Key.CAPACITY), state.get(Key.STATE_OF_CHARGE)
        if isinstance(capacity, (int, float)) and isinstance(soc, (int, float)):
            state[Key.STORED_ENERGY] = round(capacity * soc / 100, 3)
        status = values.get("running_status")
        state[Key.OPERATING_STATE] = _operating_state(status, state.get(Key.BATTERY_POWER))
        state[Key.ALARM] = status == "fault"
        state[Key.OPERATING_MODE] = self._mode_on_device(values)
        return state

    def _mode_on_device(self, values: Mapping[str, StateValue | None]) -> str:
        """Return the mode the inverter is really in.

        Not under this integration's control: `manual` while a forcible command runs or both
        maxima are 0 (someone else's), otherwise `auto`. Under its control: `auto` once the
        inverter is back in the user's own operation (the command's period ended, the user put
        their settings back), so that the integration follows it; while anything still differs
        from the user's own settings, the mode set here, so that a half-done action (a write whose
        answer was lost) stays known and is released.
        """
        forcible = values.get("forcible_command") in (_CHARGE, _DISCHARGE)
        if not self.control_active:
            held = all(values.get(cap) == 0 for cap in _CAPS)
            return Mode.MANUAL if forcible or held else Mode.AUTO
        saved = self.saved_user_settings or {}
        own = all(values.get(k) == saved.get(k, values.get(k)) for k in (*_CAPS, "working_mode"))
        return Mode.AUTO if own and not forcible else self.mode

    def _setpoint_limits(self, values: Mapping[str, StateValue | None]) -> tuple[object, object]:
        """Return the setpoint bounds: the storage's maxima, within the user's own maxima."""
        saved = self.saved_user_settings or {}
        limits = []
        for storage, cap in zip(
            (Key.MAX_CHARGE_POWER, Key.MAX_DISCHARGE_POWER), _CAPS, strict=True
        ):
            maximum, user = values.get(storage), saved.get(cap, values.get(cap))
            if isinstance(maximum, int) and isinstance(user, int) and user > 0:
                maximum = min(maximum, user)
            limits.append(maximum)
        return limits[0], limits[1]

    # --- control --------------------------------------------------------------------------------

    async def _check_control(self, mode: str, watts: float | None) -> None:
        """Refuse control of an inverter without a battery, or a direction its maximum forbids."""
        async with self.session.lock:
            if self._battery_model is None:
                self._battery_model = await self._read_battery_model()
            if self._battery_model == _NO_BATTERY or not self.registers.has("working_mode"):
                raise ControlBlockedError(
                    "huawei_no_battery",
                    "the inverter reports no battery (47000 and 47089 are 0, or refused)",
                )
            if watts:
                caps = self.saved_user_settings or await self.registers.read_keys(*_CAPS)
                cap = caps.get(_CAPS[0] if watts < 0 else _CAPS[1])
                if cap == 0:
                    raise ControlBlockedError(
                        "huawei_power_limit_zero",
                        "the battery's maximum charging or discharging power is set to 0 W",
                    )

    async def _read_battery_model(self) -> int:
        """Return the battery's product model; a model without the registers has no battery."""
        for key in ("battery_model", "battery_2_model"):
            if (model := _int((await self.registers.read_keys(key))[key])) > _NO_BATTERY:
                return model
        return _NO_BATTERY

    async def _read_user_settings(self) -> dict[str, Any]:
        async with self.session.lock:
            values = await self.registers.read_keys(*_USER_SETTINGS)
        return {key: _int(values[key]) for key in _USER_SETTINGS}  # unsigned registers

    async def _write_setpoint(self, watts: float) -> None:
        if watts == 0:
            # Hold: no forcible command, both maxima 0 [HSI #574, evcc "hold"].
            target = {"forcible_command": _STOP, **self._user(("working_mode",))}
            target |= dict.fromkeys(_CAPS, 0)
            await self._apply(target)
        else:
            charge = watts < 0
            power = "forcible_charge_power" if charge else "forcible_discharge_power"
            target = {
                **self._user((*_CAPS, "working_mode")),
                power: round(abs(watts)),
                "forcible_period": FORCIBLE_PERIOD_MINUTES,
                "forcible_mode": _TIME_MODE,
                "forcible_command": _CHARGE if charge else _DISCHARGE,
            }
            await self._apply(target, always=(power, *_COMMAND))
        self._keep_session()

    async def _write_mode(self, mode: str) -> None:
        if mode == TIME_OF_USE:
            value = _TIME_OF_USE.get(self._battery_model or 0, _TIME_OF_USE_LUNA2000)
        else:
            value = _FULLY_FED_TO_GRID
        target = {"forcible_command": _STOP, **self._user(_CAPS), "working_mode": value}
        await self._apply(target)
        self._keep_session()

    async def _write_release(self) -> None:
        """Stop the forcible command and restore every setting of the user's that differs."""
        await self._apply({"forcible_command": _STOP, **self._user(_USER_SETTINGS)})
        self._stop_heartbeat()

    def _user(self, keys: tuple[str, ...]) -> dict[str, int]:
        """Return the user's own values of `keys` (those saved before the first write)."""
        saved = self.saved_user_settings or {}
        return {key: int(saved[key]) for key in keys if key in saved}

    async def _apply(self, target: Mapping[str, int], *, always: tuple[str, ...] = ()) -> None:
        """Write, in order, the registers of `target` that differ (and those in `always`).

        Writing only what differs spares the inverter's settings needless writes; each write is
        read back (a refused or ignored one raises, and the base class rolls back).
        """
        async with self.session.lock:
            current = await self.registers.read_keys(*target)
            writes = {k: v for k, v in target.items() if k in always or current[k] != v}
            if writes:
                await self.registers.write_keys(writes)

    # --- the installer session's heartbeat ----------------------------------------------------

    def _keep_session(self) -> None:
        """Keep the installer login open while control is active (a heartbeat every 15 s)."""
        if self.config.password and (self._heartbeat is None or self._heartbeat.done()):
            self._heartbeat = asyncio.get_running_loop().create_task(
                self._beat(), name="huawei installer heartbeat"
            )

    async def _beat(self) -> None:
        while self.control_active:
            await asyncio.sleep(self.config.heartbeat_interval)
            if not self.control_active:
                return
            try:
                async with self.session.lock:
                    await self.session.heartbeat()
            except DeviceError as err:
                # The next write logs in again; the poll reports a lost link.
                _LOGGER.debug("Heartbeat of the installer login failed: %s", err)

    def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None

    async def close(self) -> None:
        """Stop the heartbeat and close the Modbus connection."""
        task, self._heartbeat = self._heartbeat, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.session.close()


def _int(value: StateValue | None) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def _operating_state(status: StateValue | None, power: StateValue | None) -> str:
    """Map the storage running status, and while running the power's direction."""
    if isinstance(status, str) and status in _OPERATING_STATE:
        return _OPERATING_STATE[status]
    if not isinstance(power, (int, float)) or abs(power) < IDLE_BELOW_W:
        return OperatingState.IDLE
    return OperatingState.DISCHARGING if power > 0 else OperatingState.CHARGING
