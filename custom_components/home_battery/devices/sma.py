"""SMA Sunny Island and Sunny Boy Storage battery inverters, over Modbus TCP (unit id 3).

Sources, cited per row: SMA-SI = SMA's own list "MODBUS-HTML_SI44M-80H-13_32009R_V10" (Sunny Island
4.4M/6.0H/8.0H, in michischatz/smarthomeng-smamodbus `specs/`); SBS-V13 = the Sunny Boy Storage
3.7/5.0/6.0 list "(V13)" as transcribed in the field audit; OWB-SMA = openWB/core
`packages/modules/devices/sma/` (sunny_island and sunny_boy bat.py); EDMM = SMA's Data Manager
manual, "Fallback Behavior" (manuals.sma.de/EDMM-10/en-US/11870861067.html).

Values are 32-bit, high word first. SMA marks values it does not have with NaN patterns
(0x80000000 for S32, 0xFFFFFFFF for U32, 0xFFFFFFFFFFFFFFFF for U64 and 0xFFFFFD for status tags,
SMA-SI TAGLIST "16777213: Information not available"); they decode to "not available", never to a
number. Registers a model does not have (30231 on some; the Sunny Island's counters 30595/30597 on
a Sunny Boy Storage, which has 31397/31401 instead) are probed once at setup and left out.

Control: 40151 ← 802 enables active power control through communication, 40149 takes the
setpoint (W, + discharge, − charge; hold = 0 W). Both are write-only, so nothing can be read
back: the battery power (30775) must move towards the setpoint within a few seconds of the first
write, or the write counts as not applied. What the inverter does when the setpoint stops coming
is set by 41193 (2506 "values maintained" keeps the last setpoint forever; 2507 "apply fallback
values") and 41195 (the timeout, s) (SMA-SI, SBS-V13; EDMM: "either the last communicated values
are kept or predefined fallback values are taken … fallback times should be set at a ratio of
1:3"). Before the first write the user's 41193/41195 are read and kept; control then sets 2507
and a 30 s timeout (three times the 10 s refresh), so a crashed Home Assistant leaves the
setpoint in force for at most 30 s; release writes 803 and puts the user's values back. A device
without 41193/41195 is refused control (no bound), as is one that reports 31061 "battery charging
control via communication available" = No (1130; SMA-SI @31061 Bat.ChaCtlComAval).
(unconfirmed) Which fallback values apply to a battery inverter: the tests model "its own
operation".
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
import time
from typing import Any

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
    DeviceIdentity,
    DeviceRejectedError,
    Key,
    Mode,
    OperatingState,
    StateValue,
    WriteNotAcceptedError,
)

DEFAULT_PORT = 502
DEFAULT_UNIT_ID = 3  # SMA's default device unit id
MAX_GAP = 16
CONTROL_REFRESH_SECONDS = 10.0
FALLBACK_TIMEOUT = 30  # s in 41195: 1:3 with the refresh (EDMM)
# After the first write, the battery power must head for the setpoint within this time.
FOLLOW_TIMEOUT = 5.0
FOLLOW_CHECK_EVERY = 0.5
FOLLOW_TOLERANCE_W = 100.0

CONTROL_ACTIVE, CONTROL_INACTIVE = 802, 803  # 40151 (SMA-SI, SBS-V13)
APPLY_FALLBACK = 2507  # 41193: 2506 values maintained, 2507 apply fallback values (SMA-SI)
CONTROL_NOT_AVAILABLE = 1130  # 31061: 1129 Yes, 1130 No (SMA-SI @31061)

_NAN_S32 = frozenset({0x80000000})
_NAN_U32 = frozenset({0xFFFFFFFF})
_NAN_U64 = frozenset({0xFFFFFFFFFFFFFFFF})
_NAN_STATUS = frozenset({0xFFFFFFFF, 0xFFFFFD})  # status tags use the lower 24 bits

_CONDITION = {35: "fault", 303: "off", 307: "ok", 455: "warning"}  # SMA-SI @30201
_BATTERY_STATUS = {  # SMA-SI @30955
    2291: OperatingState.IDLE,
    2292: OperatingState.CHARGING,
    2293: OperatingState.DISCHARGING,
}
# 30053 device type tags: SBS names from third-party tables (field audit §3); the Sunny Island
# tags of SMA-SI's list. Others are shown with their number.
_MODELS = {
    9326: "Sunny Boy Storage 2.5",
    9356: "Sunny Boy Storage 3.7",
    9358: "Sunny Boy Storage 5.0",
    9359: "Sunny Boy Storage 6.0",
    **dict.fromkeys((9331, 9332, 9333, 9334, 9474, 9475, 9476, 9486), "Sunny Island"),
}


def _u32(key: str, address: int, **kwargs: Any) -> Register:
    return Register(key=key, address=address, data_type=DataType.U32, nan=_NAN_U32, **kwargs)


def _s32(key: str, address: int, **kwargs: Any) -> Register:
    return Register(key=key, address=address, data_type=DataType.I32, nan=_NAN_S32, **kwargs)


def _u64(key: str, address: int, **kwargs: Any) -> Register:
    return Register(key=key, address=address, data_type=DataType.U64, nan=_NAN_U64, **kwargs)


def _status(key: str, address: int, options: Mapping[int, str], **kwargs: Any) -> Register:
    return Register(
        key=key,
        address=address,
        data_type=DataType.U32,
        nan=_NAN_STATUS,
        options=options,
        **kwargs,
    )


REGISTERS: tuple[Register, ...] = (
    # SMA-SI @30053 U32 TAGLIST device type; @30057 U32 RAW serial number.
    Register(key="device_type", address=30053, data_type=DataType.U32, nan=_NAN_STATUS, poll=False),
    _u32("serial", 30057, poll=False),
    _status("condition", 30201, _CONDITION),  # SMA-SI @30201: 35 fault, 303 off, 307 ok
    _u32("max_power", 30231, optional=True),  # SMA-SI @30231 WMaxOutRtg W; missing on some
    # SMA-SI @30595/30597 U32 Wh "Absorbed/Released energy" (Sunny Island only, not in SBS-V13).
    _u32("charged_si", 30595, scale=0.001, optional=True, group="counters_si"),
    _u32("discharged_si", 30597, scale=0.001, optional=True, group="counters_si"),
    _s32(Key.BATTERY_POWER, 30775),  # SMA-SI @30775 S32 W, + discharging (OWB-SMA negates it)
    # SMA-SI @30843 S32 FIX3 A (Bat.Amp); + = discharging as in the SI 2012 manual (unconfirmed
    # for the current generation).
    _s32(Key.BATTERY_CURRENT, 30843, scale=0.001),
    _u32(Key.STATE_OF_CHARGE, 30845),  # SMA-SI @30845 U32 FIX0 %
    _s32(Key.BATTERY_TEMPERATURE, 30849, scale=0.1),  # SMA-SI @30849 S32 TEMP (/10)
    _u32(Key.BATTERY_VOLTAGE, 30851, scale=0.01),  # SMA-SI @30851 U32 FIX2 V
    _s32("grid_import", 30865),  # SMA-SI @30865 "Power drawn", S32 W (NaN without a meter)
    _s32("grid_export", 30867),  # SMA-SI @30867 "Power grid feed-in", S32 W
    _status("battery_status", 30955, _BATTERY_STATUS),  # SMA-SI @30955
    # SMA-SI @31061 Bat.ChaCtlComAval: 1129 Yes, 1130 No.
    Register(
        key="control_available",
        address=31061,
        data_type=DataType.U32,
        nan=_NAN_STATUS,
        poll=False,
        optional=True,
    ),
    # SBS-V13 / OWB-SMA: the Sunny Boy Storage's counters, U64 Wh.
    _u64("charged_sbs", 31397, scale=0.001, optional=True, group="counters_sbs"),
    _u64("discharged_sbs", 31401, scale=0.001, optional=True, group="counters_sbs"),
    # SMA-SI / SBS-V13: 40149 S32 W setpoint and 40151 U32 802/803, both write-only.
    _s32("setpoint", 40149, poll=False, write_only=True),
    _u32("control", 40151, poll=False, write_only=True),
    # SMA-SI / SBS-V13: fallback behaviour (2506/2507) and timeout (s) of the setpoint.
    _u32("fallback_mode", 41193, poll=False, optional=True, group="fallback"),
    _u32("fallback_timeout", 41195, poll=False, optional=True, group="fallback"),
)

_COPIED = (
    Key.STATE_OF_CHARGE,
    Key.BATTERY_POWER,
    Key.BATTERY_CURRENT,
    Key.BATTERY_TEMPERATURE,
    Key.BATTERY_VOLTAGE,
)
_FALLBACK = ("fallback_mode", "fallback_timeout")


@dataclass(frozen=True, kw_only=True)
class SmaConfig:
    """Where the inverter is."""

    host: str
    port: int = DEFAULT_PORT
    unit_id: int = DEFAULT_UNIT_ID
    timeout: float = 3.0


class SmaDevice(RegisterBatteryDevice):
    """A Sunny Island or Sunny Boy Storage."""

    capabilities = Capabilities(
        power_setpoint=True,
        modes=(Mode.AUTO, Mode.MANUAL),
        control_refresh_interval=CONTROL_REFRESH_SECONDS,
        control_expiry=float(FALLBACK_TIMEOUT),
        energy_counters=frozenset({Key.ENERGY_CHARGED, Key.ENERGY_DISCHARGED}),
    )

    def __init__(self, config: SmaConfig) -> None:
        """Prepare the register plan; nothing is sent until `connect`."""
        super().__init__()
        self.config = config
        self.transport = ModbusTcpTransport(
            host=config.host, port=config.port, timeout=config.timeout
        )
        self.registers = RegisterDevice(
            self.transport, {"main": config.unit_id}, REGISTERS, max_gap=MAX_GAP
        )
        self._fallback_set = False  # 41193/41195 are ours in this control session

    async def connect(self) -> DeviceIdentity:
        """Read the serial number and the device type, and probe what this model has."""
        async with self.transport.lock:
            await self.registers.probe()
            values = await self.registers.read_keys("device_type", "serial")
        serial, device_type = values["serial"], values["device_type"]
        if not isinstance(serial, int):
            raise DeviceRejectedError(
                "the inverter reports no serial number", unit_id=self.config.unit_id
            )
        model = (
            _MODELS.get(device_type, f"Sunny Island / Sunny Boy Storage (type {device_type})")
            if isinstance(device_type, int)
            else "Sunny Island / Sunny Boy Storage"
        )
        self.identity = DeviceIdentity(serial_number=str(serial), manufacturer="SMA", model=model)
        return self.identity

    async def read(self) -> BatteryState:
        """Read every polled block and map it onto the common model."""
        async with self.transport.lock:
            values = await self.registers.read_polled()
        max_power = values.get("max_power")
        self._update_power_limits(max_power, max_power)
        state: BatteryState = {k: v for k in _COPIED if (v := values.get(k)) is not None}
        for key, first, second in (
            (Key.ENERGY_CHARGED, "charged_si", "charged_sbs"),
            (Key.ENERGY_DISCHARGED, "discharged_si", "discharged_sbs"),
        ):
            counter = values.get(first)
            counter = values.get(second) if counter is None else counter
            if counter is not None:
                state[key] = counter
        grid_import, grid_export = values.get("grid_import"), values.get("grid_export")
        if isinstance(grid_import, int) and isinstance(grid_export, int):
            state[Key.GRID_POWER] = grid_import - grid_export
        if self.capabilities.max_charge_power is not None:
            state[Key.MAX_CHARGE_POWER] = self.capabilities.max_charge_power
        if self.capabilities.max_discharge_power is not None:
            state[Key.MAX_DISCHARGE_POWER] = self.capabilities.max_discharge_power
        condition = values.get("condition")
        state[Key.OPERATING_STATE] = _operating_state(
            condition, values.get("battery_status"), state.get(Key.BATTERY_POWER)
        )
        if condition is not None:
            state[Key.ALARM] = condition == "fault"
        return state

    # --- control ----------------------------------------------------------------------------

    async def _check_control(self, mode: str, watts: float | None) -> None:
        """Refuse control without a fallback to bound it, or where SMA says it is unavailable."""
        if not self.registers.has("fallback_mode"):
            raise ControlBlockedError(
                "sma_fallback_unavailable",
                "the inverter has no fallback setting for the setpoint (41193/41195)",
            )
        if self.control_active:
            return  # checked when this control session began
        async with self.transport.lock:
            available = (await self.registers.read_keys("control_available"))["control_available"]
        if available == CONTROL_NOT_AVAILABLE:
            raise ControlBlockedError(
                "sma_no_control_via_communication",
                "the inverter reports that battery control via communication is not available",
            )

    async def _read_user_settings(self) -> dict[str, Any]:
        """Keep the user's fallback behaviour and timeout: release writes them back."""
        async with self.transport.lock:
            return dict(await self.registers.read_keys(*_FALLBACK))

    async def _write_setpoint(self, watts: float) -> None:
        if self._fallback_set:  # a refresh: the first write was checked already
            await self._command(watts)
            return
        async with self.transport.lock:
            await self._write_changed(
                {"fallback_mode": APPLY_FALLBACK, "fallback_timeout": FALLBACK_TIMEOUT}
            )
            self._fallback_set = True
            before = (await self.registers.read_keys(Key.BATTERY_POWER))[Key.BATTERY_POWER]
        await self._command(watts)
        await self._wait_for_power(watts, before)

    async def _write_changed(self, values: Mapping[str, float]) -> None:
        """Write (and read back) the settings whose value differs; the caller holds the lock."""
        current = await self.registers.read_keys(*values)
        changed = {k: v for k, v in values.items() if current[k] != v}
        if changed:
            await self.registers.write_keys(changed)

    async def _command(self, watts: float) -> None:
        async with self.transport.lock:
            # 40149/40151 cannot be read back on the real inverter.
            await self.registers.write_keys(
                {"control": CONTROL_ACTIVE, "setpoint": watts}, verify=False
            )

    async def _wait_for_power(self, watts: float, before: StateValue | None) -> None:
        """Wait until the battery power reaches the setpoint or covers half the way to it."""
        tolerance = max(FOLLOW_TOLERANCE_W, abs(watts) * 0.05)
        start = float(before) if isinstance(before, (int, float)) else None
        deadline = time.monotonic() + FOLLOW_TIMEOUT
        power: StateValue | None = None
        while True:
            async with self.transport.lock:
                power = (await self.registers.read_keys(Key.BATTERY_POWER))[Key.BATTERY_POWER]
            if isinstance(power, (int, float)) and (
                abs(power - watts) <= tolerance
                or (start is not None and abs(power - watts) <= abs(start - watts) / 2)
            ):
                return
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(FOLLOW_CHECK_EVERY)
        raise WriteNotAcceptedError(
            Key.BATTERY_POWER, watts, power if isinstance(power, (int, float)) else None
        )

    async def _write_release(self) -> None:
        """Stop control (803), then put the user's fallback behaviour and timeout back."""
        async with self.transport.lock:
            await self.registers.write_keys({"control": CONTROL_INACTIVE}, verify=False)
            saved = self.saved_user_settings or {}
            user = {k: v for k in _FALLBACK if isinstance(v := saved.get(k), (int, float))}
            if user and self.registers.has("fallback_mode"):
                await self._write_changed(user)
        self._fallback_set = False

    async def close(self) -> None:
        """Close the Modbus connection."""
        await self.transport.close()


def _operating_state(
    condition: StateValue | None, battery_status: StateValue | None, power: StateValue | None
) -> str:
    """Fault and off from the condition, else the battery status, else the power's direction."""
    if condition == "fault":
        return OperatingState.FAULT
    if condition == "off":
        return OperatingState.STANDBY
    if isinstance(battery_status, str) and battery_status in set(_BATTERY_STATUS.values()):
        return battery_status
    if not isinstance(power, (int, float)) or abs(power) < 10:
        return OperatingState.IDLE
    return OperatingState.DISCHARGING if power > 0 else OperatingState.CHARGING
