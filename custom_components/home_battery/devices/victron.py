"""Victron GX (Venus OS) with ESS, over Modbus TCP.

Three Modbus units: the system service (unit 100), the VE.Bus inverter/charger and the battery
monitor (ids configurable: the GX assigns them). Control uses the volatile AC grid setpoint
(registers 2716/2717, Venus 3.50+), which does not wear the GX's flash and falls back to the
ESS's own grid setpoint (2700) when it is not written again: ESS then regulates the grid to
`load − PV − P`, which makes the battery deliver P. The setpoint is recomputed from fresh load
and PV readings on every refresh.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .base import BatteryDevice
from .modbus import DataType, ModbusTcpTransport, Register, RegisterDevice
from .model import (
    BatteryState,
    Capabilities,
    DeviceIdentity,
    Key,
    Mode,
    OperatingState,
    StateValue,
)

SYSTEM_UNIT_ID = 100
DEFAULT_VEBUS_UNIT_ID = 227
DEFAULT_BATTERY_UNIT_ID = 225
DEFAULT_PORT = 502
# Victron documents a 60 s fallback for external control, users report ~10 s: refresh well inside.
CONTROL_REFRESH_SECONDS = 10.0

_ALARM = {0: "ok", 1: "warning", 2: "alarm"}
_SYS, _VEBUS, _BAT = "system", "vebus", "battery"


def _phases(prefix: str, first: int) -> list[Register]:
    return [
        Register(key=f"{prefix}_l{i + 1}", address=first + i, unit=_SYS, data_type=DataType.I16)
        for i in range(3)
    ]


REGISTERS: tuple[Register, ...] = (
    Register(key="serial", address=800, unit=_SYS, data_type=DataType.STRING, length=6, poll=False),
    *_phases("pv_ac_out", 808),
    *_phases("pv_ac_in", 811),
    *_phases("pv_ac_genset", 814),
    *_phases("consumption", 817),
    *_phases("grid", 820),
    Register(key="system_voltage", address=840, unit=_SYS, scale=0.1),
    Register(key="system_current", address=841, unit=_SYS, data_type=DataType.I16, scale=0.1),
    Register(key=Key.BATTERY_POWER, address=842, unit=_SYS, data_type=DataType.I16, sign=-1),
    Register(key="system_soc", address=843, unit=_SYS),
    Register(
        key="battery_state",
        address=844,
        unit=_SYS,
        options={0: OperatingState.IDLE, 1: OperatingState.CHARGING, 2: OperatingState.DISCHARGING},
    ),
    Register(key="pv_dc", address=850, unit=_SYS),
    Register(key="ess_grid_setpoint", address=2700, unit=_SYS, data_type=DataType.I16),
    Register(key="max_charge_percent", address=2701, unit=_SYS),
    Register(key="max_discharge_percent", address=2702, unit=_SYS),
    Register(
        key="grid_setpoint_hi_res", address=2703, unit=_SYS, data_type=DataType.I16, scale=100
    ),
    Register(
        key=Key.MAX_DISCHARGE_POWER, address=2704, unit=_SYS, data_type=DataType.I16, scale=10
    ),
    Register(key="dvcc_max_charge_current", address=2705, unit=_SYS, data_type=DataType.I16),
    Register(key="grid_setpoint_override", address=2716, unit=_SYS, data_type=DataType.I32),
    Register(key=Key.MIN_STATE_OF_CHARGE, address=2901, unit=_SYS, scale=0.1),
    Register(key="ess_mode", address=2902, unit=_SYS),
    Register(key="vebus_state", address=31, unit=_VEBUS),
    Register(key="vebus_error", address=32, unit=_VEBUS),
    Register(key="vebus_switch", address=33, unit=_VEBUS),
    Register(key="vebus_temperature_alarm", address=34, unit=_VEBUS, options=_ALARM),
    Register(key="vebus_low_battery_alarm", address=35, unit=_VEBUS, options=_ALARM),
    Register(key="overload", address=36, unit=_VEBUS, options=_ALARM),
    Register(key=Key.BATTERY_VOLTAGE, address=259, unit=_BAT, scale=0.01),
    Register(key="starter_voltage", address=260, unit=_BAT, scale=0.01),
    Register(
        key=Key.BATTERY_CURRENT, address=261, unit=_BAT, data_type=DataType.I16, scale=0.1, sign=-1
    ),
    Register(
        key=Key.BATTERY_TEMPERATURE, address=262, unit=_BAT, data_type=DataType.I16, scale=0.1
    ),
    Register(key=Key.STATE_OF_CHARGE, address=266, unit=_BAT, scale=0.1),
    Register(key="low_voltage", address=267, unit=_BAT, options=_ALARM),
    Register(key="high_voltage", address=268, unit=_BAT, options=_ALARM),
    Register(key="low_starter_voltage", address=269, unit=_BAT, options=_ALARM),
    Register(key="high_starter_voltage", address=270, unit=_BAT, options=_ALARM),
    Register(key="low_soc", address=271, unit=_BAT, options=_ALARM),
    Register(key="low_temperature", address=272, unit=_BAT, options=_ALARM),
    Register(key="high_temperature", address=273, unit=_BAT, options=_ALARM),
    Register(key=Key.STATE_OF_HEALTH, address=304, unit=_BAT, scale=0.1),
    Register(key=Key.CHARGE_VOLTAGE_LIMIT, address=305, unit=_BAT, scale=0.1),
    Register(key="discharge_voltage_limit", address=306, unit=_BAT, scale=0.1),
    Register(key=Key.CHARGE_CURRENT_LIMIT, address=307, unit=_BAT, scale=0.1),
    Register(key=Key.DISCHARGE_CURRENT_LIMIT, address=308, unit=_BAT, scale=0.1),
)

_COPIED = (
    Key.STATE_OF_CHARGE,
    Key.STATE_OF_HEALTH,
    Key.BATTERY_POWER,
    Key.BATTERY_VOLTAGE,
    Key.BATTERY_CURRENT,
    Key.BATTERY_TEMPERATURE,
    Key.CHARGE_VOLTAGE_LIMIT,
    Key.CHARGE_CURRENT_LIMIT,
    Key.DISCHARGE_CURRENT_LIMIT,
    Key.MIN_STATE_OF_CHARGE,
)


@dataclass(frozen=True, kw_only=True)
class VictronConfig:
    """Where the GX is and which unit ids its services have."""

    host: str
    port: int = DEFAULT_PORT
    vebus_unit_id: int = DEFAULT_VEBUS_UNIT_ID
    battery_unit_id: int = DEFAULT_BATTERY_UNIT_ID
    timeout: float = 3.0


def _num(values: dict[str, StateValue | None], *keys: str) -> float:
    return float(sum(v for k in keys if isinstance(v := values.get(k), (int, float))))


class VictronDevice(BatteryDevice):
    """A Victron GX running ESS."""

    capabilities = Capabilities(
        power_setpoint=True,
        modes=(Mode.AUTO, Mode.MANUAL),
        min_state_of_charge=True,
        control_refresh_interval=CONTROL_REFRESH_SECONDS,
    )

    def __init__(self, config: VictronConfig) -> None:
        """Prepare the register plan; nothing is sent until `connect`."""
        super().__init__()
        self.config = config
        self.transport = ModbusTcpTransport(
            host=config.host, port=config.port, timeout=config.timeout
        )
        self.registers = RegisterDevice(
            self.transport,
            {_SYS: SYSTEM_UNIT_ID, _VEBUS: config.vebus_unit_id, _BAT: config.battery_unit_id},
            REGISTERS,
        )
        self._last: dict[str, StateValue | None] = {}

    async def connect(self) -> DeviceIdentity:
        """Read the GX's serial and check that every configured unit id answers."""
        async with self.transport.lock:
            serial = (await self.registers.read_keys("serial"))["serial"]
            # One register of each other unit: a wrong unit id fails here, with its id.
            await self.registers.read_keys("vebus_state")
            await self.registers.read_keys(Key.STATE_OF_CHARGE)
        self.identity = DeviceIdentity(
            serial_number=str(serial), manufacturer="Victron Energy", model="GX device (ESS)"
        )
        return self.identity

    async def read(self) -> BatteryState:
        """Read every polled block and map it onto the common model."""
        async with self.transport.lock:
            values = await self.registers.read_blocks(self.registers.blocks)
        self._last = values
        self._update_limits(values)
        state: BatteryState = {k: v for k in _COPIED if (v := values.get(k)) is not None}
        state[Key.GRID_POWER] = _num(values, "grid_l1", "grid_l2", "grid_l3")
        state[Key.LOAD_POWER] = _num(values, "consumption_l1", "consumption_l2", "consumption_l3")
        state[Key.PV_POWER] = _num(
            values,
            *(f"pv_ac_{w}_l{i}" for w in ("out", "in", "genset") for i in (1, 2, 3)),
            "pv_dc",
        )
        state[Key.OPERATING_STATE] = (
            OperatingState.FAULT if values.get("vebus_state") == 2 else str(values["battery_state"])
        )
        alarms = {
            "low_voltage_alarm": ("low_voltage", "vebus_low_battery_alarm"),
            "high_voltage_alarm": ("high_voltage",),
            "low_temperature_alarm": ("low_temperature",),
            "high_temperature_alarm": ("high_temperature", "vebus_temperature_alarm"),
            "overload_alarm": ("overload",),
        }
        for key, sources in alarms.items():
            state[key] = any(values.get(s) == "alarm" for s in sources)
        state[Key.ALARM] = any(state[k] for k in alarms)
        if self.capabilities.max_charge_power is not None:
            state[Key.MAX_CHARGE_POWER] = self.capabilities.max_charge_power
        if (limit := values.get(Key.MAX_DISCHARGE_POWER)) is not None:
            state[Key.MAX_DISCHARGE_POWER] = limit
        state[Key.OPERATING_MODE] = self.mode
        if self.setpoint is not None:
            state[Key.POWER_SETPOINT] = self.setpoint
        return state

    def _update_limits(self, values: dict[str, StateValue | None]) -> None:
        """Take the setpoint bounds from the ESS settings: max discharge W, DVCC charge A × V."""
        discharge = values.get(Key.MAX_DISCHARGE_POWER)
        current, voltage = values.get("dvcc_max_charge_current"), values.get("system_voltage")
        charge = (
            round(current * voltage, -1)
            if isinstance(current, (int, float)) and current > 0 and isinstance(voltage, float)
            else None
        )
        self.capabilities = replace(
            self.capabilities,
            max_discharge_power=float(discharge)
            if isinstance(discharge, (int, float)) and discharge > 0
            else self.capabilities.max_discharge_power,
            max_charge_power=charge if charge is not None else self.capabilities.max_charge_power,
        )

    async def _write_setpoint(self, watts: float) -> None:
        async with self.transport.lock:
            fresh = await self.registers.read_blocks(
                [b for b in self.registers.blocks if b.unit == _SYS and b.address < 900]
            )
            load = _num(fresh, "consumption_l1", "consumption_l2", "consumption_l3")
            pv = _num(
                fresh,
                *(f"pv_ac_{w}_l{i}" for w in ("out", "in", "genset") for i in (1, 2, 3)),
                "pv_dc",
            )
            await self.registers.write_key("grid_setpoint_override", round(load - pv - watts))

    async def _write_soc_limit(self, key: str, percent: float) -> None:
        async with self.transport.lock:
            await self.registers.write_key(Key.MIN_STATE_OF_CHARGE, percent)

    async def _write_release(self) -> None:
        async with self.transport.lock:
            normal = (await self.registers.read_keys("ess_grid_setpoint"))["ess_grid_setpoint"]
            await self.registers.write_key("grid_setpoint_override", float(normal or 0))

    async def close(self) -> None:
        """Close the Modbus connection."""
        await self.transport.close()
