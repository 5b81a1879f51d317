"""SMA Sunny Island and Sunny Boy Storage battery inverters, over Modbus TCP (unit id 3).

Values are 32-bit, high word first. SMA marks values it does not have with NaN patterns
(0x80000000 for S32, 0xFFFFFFFF for U32, and 0xFFFFFD for status tags); they decode to "not
available", never to a number.

Control: 40151 ← 802 enables active power control through communication, 40149 takes the
setpoint (W, + discharge); both are written again while manual mode lasts, because the inverter
falls back to its own operation when they stop coming. 40151 ← 803 releases. Both registers
are write-only on the real device, so nothing can be read back: instead the battery power
(30775) must move towards the setpoint within a few seconds of the first write, or the write
counts as not applied and control is released at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
import time

from .base import BatteryDevice
from .modbus import DataType, ModbusTcpTransport, Register, RegisterDevice
from .model import (
    BatteryState,
    Capabilities,
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
# How long the inverter keeps a setpoint is not documented; refresh as often as we poll.
CONTROL_REFRESH_SECONDS = 10.0
# After the first write, the battery power must head for the setpoint within this time.
FOLLOW_TIMEOUT = 5.0
FOLLOW_CHECK_EVERY = 0.5
FOLLOW_TOLERANCE_W = 100.0

CONTROL_ACTIVE, CONTROL_INACTIVE = 802, 803  # 40151

_NAN_S32 = frozenset({0x80000000})
_NAN_U32 = frozenset({0xFFFFFFFF})
_NAN_STATUS = frozenset({0xFFFFFFFF, 0xFFFFFD})  # status tags use the lower 24 bits

_CONDITION = {35: "fault", 303: "off", 307: "ok", 455: "warning"}
_BATTERY_STATUS = {
    2291: OperatingState.IDLE,
    2292: OperatingState.CHARGING,
    2293: OperatingState.DISCHARGING,
}
# 30053 device type tags we know a name for; others are shown with their number.
_MODELS = {9326: "Sunny Boy Storage 2.5", 9356: "Sunny Boy Storage 3.7"}


def _u32(key: str, address: int, *, scale: float = 1.0, poll: bool = True) -> Register:
    return Register(
        key=key, address=address, data_type=DataType.U32, nan=_NAN_U32, scale=scale, poll=poll
    )


def _s32(key: str, address: int, *, scale: float = 1.0, poll: bool = True) -> Register:
    return Register(
        key=key, address=address, data_type=DataType.I32, nan=_NAN_S32, scale=scale, poll=poll
    )


def _status(key: str, address: int, options: Mapping[int, str]) -> Register:
    return Register(
        key=key, address=address, data_type=DataType.U32, nan=_NAN_STATUS, options=options
    )


REGISTERS: tuple[Register, ...] = (
    Register(key="device_type", address=30053, data_type=DataType.U32, nan=_NAN_STATUS, poll=False),
    Register(key="serial", address=30057, data_type=DataType.U32, nan=_NAN_U32, poll=False),
    _status("condition", 30201, _CONDITION),
    _u32("max_power", 30231),
    _u32(Key.ENERGY_CHARGED, 30595, scale=0.001),  # Wh on the wire
    _u32(Key.ENERGY_DISCHARGED, 30597, scale=0.001),
    _s32(Key.BATTERY_POWER, 30775),  # + discharging on the wire too
    # SMA documents + as "current from the battery" (discharging) for the Sunny Island.
    _s32(Key.BATTERY_CURRENT, 30843, scale=0.001),
    _u32(Key.STATE_OF_CHARGE, 30845),
    _s32(Key.BATTERY_TEMPERATURE, 30849, scale=0.1),
    _u32(Key.BATTERY_VOLTAGE, 30851, scale=0.01),
    _s32("grid_import", 30865),
    _s32("grid_export", 30867),
    _status("battery_status", 30955, _BATTERY_STATUS),
    # Write-only: reading them is refused by the inverter.
    _s32("setpoint", 40149, poll=False),
    _u32("control", 40151, poll=False),
)

_COPIED = (
    Key.STATE_OF_CHARGE,
    Key.BATTERY_POWER,
    Key.BATTERY_CURRENT,
    Key.BATTERY_TEMPERATURE,
    Key.BATTERY_VOLTAGE,
    Key.ENERGY_CHARGED,
    Key.ENERGY_DISCHARGED,
)


@dataclass(frozen=True, kw_only=True)
class SmaConfig:
    """Where the inverter is."""

    host: str
    port: int = DEFAULT_PORT
    unit_id: int = DEFAULT_UNIT_ID
    timeout: float = 3.0


class SmaDevice(BatteryDevice):
    """A Sunny Island or Sunny Boy Storage."""

    capabilities = Capabilities(
        power_setpoint=True,
        modes=(Mode.AUTO, Mode.MANUAL),
        control_refresh_interval=CONTROL_REFRESH_SECONDS,
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

    async def connect(self) -> DeviceIdentity:
        """Read the serial number and the device type."""
        async with self.transport.lock:
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
            values = await self.registers.read_blocks(self.registers.blocks)
        max_power = values.get("max_power")
        self._update_power_limits(max_power, max_power)
        state: BatteryState = {k: v for k in _COPIED if (v := values.get(k)) is not None}
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
        state[Key.OPERATING_MODE] = self.mode
        if self.setpoint is not None:
            state[Key.POWER_SETPOINT] = self.setpoint
        return state

    async def refresh_control(self) -> None:
        """Write the active setpoint again; the first write was checked already."""
        if self.setpoint is not None:
            await self._command(self.setpoint)

    async def _write_setpoint(self, watts: float) -> None:
        async with self.transport.lock:
            before = (await self.registers.read_keys(Key.BATTERY_POWER))[Key.BATTERY_POWER]
        await self._command(watts)
        try:
            await self._wait_for_power(watts, before)
        except WriteNotAcceptedError:
            # Not held in a mode the integration would not show: hand control back first.
            await self._write_release()
            raise

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
        async with self.transport.lock:
            await self.registers.write_keys({"control": CONTROL_INACTIVE}, verify=False)

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
