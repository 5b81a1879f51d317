"""Victron GX (Venus OS) with ESS, over Modbus TCP.

Three Modbus units: the system service (unit 100, which also serves the settings and the hub4
service), the VE.Bus inverter/charger and the battery monitor (ids configurable: the GX assigns
them). Every register row below names its row in Victron's register list 3.66
(`CCGX-Modbus-TCP-register-list-3.66.xlsx`, as text in sfstar/hass-victron `resources/`, cited
"VIC366 @address").

What the GX does not have: dbus-modbustcp answers 0 for a path the service does not publish
(victronenergy/dbus_modbustcp `mappings.cpp` `getValue`: `if (!dbusValue.isValid()) return 0`).
The list marks state of health and the BMS limits 304-308 "Not supported by all Victron products.
Supported by third-party CAN.Bus batteries and Lynx NG" (VIC366 @304-308): a BMV or SmartShunt
reads 0 there, and 0 °C without a temperature sensor. So 0 is "not available" for the state of
health, the charge voltage limit, the low-voltage limit and the temperature (a true 0.0 °C reads
unknown for that poll; (unconfirmed) no other signal tells them apart); the charge and discharge
current limits, where 0 A is a real BMS request, count as not available when the charge voltage
limit is (a BMS publishes its /Info/ limits together).

Control: the volatile AC grid setpoint 2716 (hub4 /Overrides/Setpoint, int32, "volatile, in
memory", Venus 3.50 and later: VIC366 @2716; victronenergy/dbus_modbustcp attributes.csv, commit
e5d3cbb). ESS regulates the grid to it, so writing `load − PV − P` makes the battery deliver P
(VIC366 @2700: "the control-loop will increase/decrease the Multi charge/discharge power to get the
grid reading to this setpoint"); hold (0 W) is `load − PV`. It is recomputed from fresh readings
on every refresh. No source documents an expiry of 2716: after a crash of Home Assistant ESS keeps
regulating to the last value until the GX reboots (it is volatile) or Home Assistant starts again
and releases it from the stored control record. Modbus cannot clear the override (Victron's own
Dynamic ESS writes None: dbus-systemcalc-py delegates/dynamicess.py), so release writes back the
value 2716 held before control began. Refused before anything is written: a GX without 2716
(Venus older than 3.50, or no ESS), ESS mode 3 "external control" (2902; VIC366 @2902, and
community.victronenergy.com/t/24829: 2716 has no effect there), Dynamic ESS active (5400; VIC366
@2716 "can not be used together with DynamicEss", openWB skips control while 5400 = 1) and
BatteryLife "keep batteries charged" (2900 = 9; VIC366 @2900).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    DevicePermissionError,
    DeviceRejectedError,
    Key,
    Mode,
    OperatingState,
    StateValue,
)

SYSTEM_UNIT_ID = 100  # VIC366 row 1: "Use unit-id 100 for the com.victronenergy.system data"
DEFAULT_VEBUS_UNIT_ID = 227
DEFAULT_BATTERY_UNIT_ID = 225
DEFAULT_PORT = 502
# 2716 has no documented expiry: refreshed so that it follows load and PV within 10 s.
CONTROL_REFRESH_SECONDS = 10.0
# The GX serves any run of mapped registers in one read (2701-2703, 32-33, 260, 263-265 and
# 270-271 are mapped but unused here); a read across an unmapped address is refused
# (dbus_modbustcp mappings.cpp DataIterator), which the setup probe finds and splits there.
MAX_GAP = 3

ESS_EXTERNAL_CONTROL = 3  # 2902: 3 = "Disabled/External Control" (VIC366 @2902)
KEEP_BATTERIES_CHARGED = 9  # 2900 (VIC366 @2900)
DYNAMIC_ESS_ACTIVE = 1  # 5400: 0 = Off, 1 = Active (VIC366 @5400)
ILLEGAL_ADDRESS = 2  # also a write refused by the GX's "read-only" Modbus setting (MBTCP)
READ_ONLY = "victron_modbus_read_only"  # the permission error's reason

_VEBUS_ALARM = {0: "ok", 1: "warning", 2: "alarm"}  # VIC366 @34-36
_BATTERY_ALARM = {0: "ok", 2: "alarm"}  # VIC366 @268-274: 0 = No alarm, 2 = Alarm
_NOT_AVAILABLE = frozenset({0})  # an invalid dbus path reads 0 (MBTCP getValue)
_SYS, _VEBUS, _BAT = "system", "vebus", "battery"


def _phases(prefix: str, first: int, data_type: DataType) -> list[Register]:
    return [
        Register(key=f"{prefix}_l{i + 1}", address=first + i, unit=_SYS, data_type=data_type)
        for i in range(3)
    ]


def _battery_alarm(key: str, address: int) -> Register:
    return Register(key=key, address=address, unit=_BAT, options=_BATTERY_ALARM)


REGISTERS: tuple[Register, ...] = (
    # VIC366 @800 string[6], the GX's MAC address.
    Register(key="serial", address=800, unit=_SYS, data_type=DataType.STRING, length=6, poll=False),
    *_phases("pv_ac_out", 808, DataType.U16),  # VIC366 @808-810, uint16 W
    *_phases("pv_ac_in", 811, DataType.U16),  # VIC366 @811-813
    *_phases("pv_ac_genset", 814, DataType.U16),  # VIC366 @814-816
    *_phases("consumption", 817, DataType.U16),  # VIC366 @817-819, "supplied by system to loads"
    *_phases("grid", 820, DataType.I16),  # VIC366 @820-822, int16, "supplied by Grid" (+ import)
    # VIC366 @834/835: GX firmware major version ("render in hexadecimal") and beta release.
    Register(key="firmware", address=834, unit=_SYS, poll=False, optional=True, group="firmware"),
    Register(
        key="firmware_beta", address=835, unit=_SYS, poll=False, optional=True, group="firmware"
    ),
    Register(key="system_voltage", address=840, unit=_SYS, scale=0.1),  # VIC366 @840 uint16 /10
    # VIC366 @842 int16 W, "Positive: battery being charged": flipped to + discharging.
    Register(key=Key.BATTERY_POWER, address=842, unit=_SYS, data_type=DataType.I16, sign=-1),
    Register(key="system_soc", address=843, unit=_SYS),  # VIC366 @843 uint16 %
    Register(
        key="battery_state",  # VIC366 @844: 0 idle, 1 charging, 2 discharging
        address=844,
        unit=_SYS,
        options={0: OperatingState.IDLE, 1: OperatingState.CHARGING, 2: OperatingState.DISCHARGING},
    ),
    Register(key="pv_dc", address=850, unit=_SYS),  # VIC366 @850 uint16 W
    # VIC366 @2700 int16 W: the ESS grid setpoint (persistent setting; read, never written).
    Register(key="ess_grid_setpoint", address=2700, unit=_SYS, data_type=DataType.I16),
    # VIC366 @2704 int16, scalefactor 0.1 (W = raw × 10), MaxDischargePower; −1: no limit.
    Register(
        key=Key.MAX_DISCHARGE_POWER, address=2704, unit=_SYS, data_type=DataType.I16, scale=10
    ),
    # VIC366 @2705 int16 A, DVCC max charge current; −1 disables.
    Register(key="dvcc_max_charge_current", address=2705, unit=_SYS, data_type=DataType.I16),
    # VIC366 @2716 int32 W, hub4 /Overrides/Setpoint, volatile; Venus 3.50+ only (VIC350, ATTR).
    Register(
        key="grid_setpoint_override",
        address=2716,
        unit=_SYS,
        data_type=DataType.I32,
        poll=False,
        optional=True,
    ),
    Register(key="battery_life_state", address=2900, unit=_SYS),  # VIC366 @2900
    Register(key=Key.MIN_STATE_OF_CHARGE, address=2901, unit=_SYS, scale=0.1),  # VIC366 @2901
    Register(key="ess_mode", address=2902, unit=_SYS),  # VIC366 @2902: 1/2 ESS, 3 external
    # VIC366 @5400 Dynamic ESS state, 0 Off / 1 Active (not on older Venus versions).
    Register(key="dynamic_ess", address=5400, unit=_SYS, optional=True),
    Register(key="vebus_state", address=31, unit=_VEBUS),  # VIC366 @31, 2 = Fault
    # VIC366 @34-36: /Alarms/HighTemperature, /Alarms/LowBattery, /Alarms/Overload.
    Register(key="vebus_temperature_alarm", address=34, unit=_VEBUS, options=_VEBUS_ALARM),
    Register(key="vebus_low_battery_alarm", address=35, unit=_VEBUS, options=_VEBUS_ALARM),
    Register(key="vebus_overload_alarm", address=36, unit=_VEBUS, options=_VEBUS_ALARM),
    Register(key=Key.BATTERY_VOLTAGE, address=259, unit=_BAT, scale=0.01),  # VIC366 @259 /100
    # VIC366 @261 int16 A /10, "Positive: battery being charged": flipped.
    Register(
        key=Key.BATTERY_CURRENT, address=261, unit=_BAT, data_type=DataType.I16, scale=0.1, sign=-1
    ),
    # VIC366 @262 int16 °C /10; 0 without a sensor (see the module docstring).
    Register(
        key=Key.BATTERY_TEMPERATURE,
        address=262,
        unit=_BAT,
        data_type=DataType.I16,
        scale=0.1,
        nan=_NOT_AVAILABLE,
    ),
    Register(key=Key.STATE_OF_CHARGE, address=266, unit=_BAT, scale=0.1),  # VIC366 @266 /10
    # VIC366 @267: "/Alarms/Alarm … Deprecated for CCGX. Value is always 0": not used.
    _battery_alarm("battery_low_voltage_alarm", 268),  # VIC366 @268 Low voltage alarm
    _battery_alarm("battery_high_voltage_alarm", 269),  # VIC366 @269 High voltage alarm
    _battery_alarm("low_soc_alarm", 272),  # VIC366 @272 Low State-of-charge alarm
    _battery_alarm("battery_low_temperature_alarm", 273),  # VIC366 @273 Low temperature alarm
    _battery_alarm("battery_high_temperature_alarm", 274),  # VIC366 @274 High temperature alarm
    # VIC366 @304-308, uint16 scalefactor 10; 0 where the monitor has none (module docstring).
    Register(key=Key.STATE_OF_HEALTH, address=304, unit=_BAT, scale=0.1, nan=_NOT_AVAILABLE),
    Register(key=Key.CHARGE_VOLTAGE_LIMIT, address=305, unit=_BAT, scale=0.1, nan=_NOT_AVAILABLE),
    Register(key="discharge_voltage_limit", address=306, unit=_BAT, scale=0.1, nan=_NOT_AVAILABLE),
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
    Key.MIN_STATE_OF_CHARGE,
)
_PV = tuple(f"pv_ac_{where}_l{i}" for where in ("out", "in", "genset") for i in (1, 2, 3))
_LOAD = ("consumption_l1", "consumption_l2", "consumption_l3")
_ALARMS = {
    "low_voltage_alarm": ("battery_low_voltage_alarm", "vebus_low_battery_alarm"),
    "high_voltage_alarm": ("battery_high_voltage_alarm",),
    "low_temperature_alarm": ("battery_low_temperature_alarm",),
    "high_temperature_alarm": ("battery_high_temperature_alarm", "vebus_temperature_alarm"),
    "overload_alarm": ("vebus_overload_alarm",),
}


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


def _firmware(major: StateValue | None, beta: StateValue | None) -> str | None:
    """Return the GX firmware as Venus shows it: 834 = 0x0350 is v3.50 (VIC366 @834/835)."""
    if not isinstance(major, int) or major == 0:
        return None
    version = f"v{major >> 8:x}.{major & 0xFF:02x}"
    return f"{version}~{beta}" if isinstance(beta, int) and beta else version


class VictronDevice(RegisterBatteryDevice):
    """A Victron GX running ESS."""

    capabilities = Capabilities(
        power_setpoint=True,
        modes=(Mode.AUTO, Mode.MANUAL),
        min_state_of_charge=True,
        control_refresh_interval=CONTROL_REFRESH_SECONDS,
        # No documented expiry of 2716 (module docstring): none to state.
        control_expiry=None,
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
            max_gap=MAX_GAP,
        )
        self._last: dict[str, StateValue | None] = {}

    async def connect(self) -> DeviceIdentity:
        """Read the GX's serial and firmware, and probe what this GX has.

        Every configured unit id must answer (a wrong one fails here, with its id); 2716,
        Dynamic ESS and the firmware registers are optional.
        """
        async with self.transport.lock:
            await self.registers.probe()
            values = await self.registers.read_keys("serial", "firmware", "firmware_beta")
        self.identity = DeviceIdentity(
            serial_number=str(values["serial"]),
            manufacturer="Victron Energy",
            model="GX device (ESS)",
            sw_version=_firmware(values["firmware"], values["firmware_beta"]),
        )
        return self.identity

    async def read(self) -> BatteryState:
        """Read every polled block and map it onto the common model."""
        async with self.transport.lock:
            values = await self.registers.read_polled()
        self._last = values
        self._update_limits(values)
        state: BatteryState = {k: v for k in _COPIED if (v := values.get(k)) is not None}
        if Key.CHARGE_VOLTAGE_LIMIT in state:  # the BMS limits come together (docstring)
            for key in (Key.CHARGE_CURRENT_LIMIT, Key.DISCHARGE_CURRENT_LIMIT):
                if (limit := values.get(key)) is not None:
                    state[key] = limit
        state[Key.GRID_POWER] = _num(values, "grid_l1", "grid_l2", "grid_l3")
        state[Key.LOAD_POWER] = _num(values, *_LOAD)
        state[Key.PV_POWER] = _num(values, *_PV, "pv_dc")
        state[Key.OPERATING_STATE] = (
            OperatingState.FAULT
            if values.get("vebus_state") == 2
            else str(values.get("battery_state"))
        )
        for alarm, sources in _ALARMS.items():
            state[alarm] = any(values.get(s) == "alarm" for s in sources)
        state[Key.ALARM] = any(state[k] for k in _ALARMS) or values.get("low_soc_alarm") == "alarm"
        for bound, limit in (
            (Key.MAX_CHARGE_POWER, self.capabilities.max_charge_power),
            (Key.MAX_DISCHARGE_POWER, self.capabilities.max_discharge_power),
        ):
            if limit is not None:
                state[bound] = limit
        return state

    def _update_limits(self, values: dict[str, StateValue | None]) -> None:
        """Take the setpoint bounds from the ESS settings: max discharge W, DVCC charge A × V.

        −1 in either means "no limit" (VIC366 @2704, @2705): the user's options bound the setpoint
        then (`power_limits`).
        """
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
            else None,
            max_charge_power=charge,
        )

    # --- control ----------------------------------------------------------------------------

    async def _check_control(self, mode: str, watts: float | None) -> None:
        """Refuse, before writing, a GX whose ESS would ignore the grid setpoint override.

        Decided on the last poll's ESS settings (the coordinator polls before it offers control).
        """
        if not self.registers.has("grid_setpoint_override"):
            code = self.registers.refused.get("grid_setpoint_override")
            if code == ILLEGAL_ADDRESS:
                raise ControlBlockedError(
                    "victron_firmware_too_old",
                    "this GX has no register 2716 (Venus OS older than v3.50)",
                )
            raise ControlBlockedError(
                "victron_no_ess", "this GX runs no ESS: the grid setpoint register is missing"
            )
        values = self._last  # polled: at most one poll interval old, and no request here
        if values.get("ess_mode") == ESS_EXTERNAL_CONTROL:
            raise ControlBlockedError(
                "victron_ess_mode_3", "ESS mode 3 (external control) ignores the grid setpoint"
            )
        if values.get("dynamic_ess") == DYNAMIC_ESS_ACTIVE:
            raise ControlBlockedError(
                "victron_dynamic_ess", "Dynamic ESS is active and overrides the grid setpoint"
            )
        if values.get("battery_life_state") == KEEP_BATTERIES_CHARGED:
            raise ControlBlockedError(
                "victron_keep_batteries_charged",
                "ESS is set to keep the batteries charged and ignores the grid setpoint",
            )

    async def _read_user_settings(self) -> dict[str, Any]:
        """Keep the value 2716 holds before the first write: release writes it back."""
        async with self.transport.lock:
            values = await self.registers.read_keys("grid_setpoint_override")
        return {"grid_setpoint_override": values["grid_setpoint_override"]}

    async def _write_setpoint(self, watts: float) -> None:
        async with self.transport.lock:
            fresh = await self.registers.read_keys(*_LOAD, *_PV, "pv_dc")
            load, pv = _num(fresh, *_LOAD), _num(fresh, *_PV, "pv_dc")
            await self._write_override(round(load - pv - watts))

    async def _write_soc_limit(self, key: str, percent: float) -> None:
        async with self.transport.lock:
            await self.registers.write_key(Key.MIN_STATE_OF_CHARGE, percent)

    async def _write_release(self) -> None:
        """Write back what 2716 held before control began.

        Without a saved value (a record from an older version), ESS's own setpoint 2700 is the
        nearest to the user's operation.
        """
        saved = self.saved_user_settings or {}
        value = saved.get("grid_setpoint_override")
        async with self.transport.lock:
            if not isinstance(value, (int, float)):
                value = (await self.registers.read_keys("ess_grid_setpoint"))["ess_grid_setpoint"]
            await self._write_override(float(value) if isinstance(value, (int, float)) else 0.0)

    async def _write_override(self, watts: float) -> None:
        """Write 2716 and read it back; the caller holds the lock."""
        try:
            await self.registers.write_key("grid_setpoint_override", watts)
        except DeviceRejectedError as err:
            if err.code == ILLEGAL_ADDRESS:  # 2716 reads: only writes are refused
                raise DevicePermissionError(
                    "the GX refuses writes: its Modbus TCP server is set to read-only",
                    reason=READ_ONLY,
                    unit_id=err.unit_id,
                    code=err.code,
                ) from err
            raise

    async def close(self) -> None:
        """Close the Modbus connection."""
        await self.transport.close()
