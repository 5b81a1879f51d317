"""Deye hybrid inverters (single-phase SG0xLP1, three-phase SG04LP3 and the HV SG01HP3 range).

One adapter over two transports: Modbus TCP (the inverter's own port or an RS485 gateway) and a
Solarman stick logger speaking V5 (devices/solarman.py); both carry the same register tables.

Sources, cited per row: KZ = kellerza/sunsynk `src/sunsynk/definitions/` (three_phase_common.py,
three_phase_hv.py, single_phase.py, single_phase_16kw.py, __init__.py); SOL-DR =
davidrapan/ha-solarman `inverter_definitions/deye_p3.yaml` and `deye_hybrid.yaml`; EVCC =
evcc-io/evcc `templates/definition/meter/deye-hybrid-3p.yaml`; KB = kbialek/deye-inverter-mqtt
`docs/metric_group_deye_*`.

Control goes through the time-of-use program (devices/deye_program.py): our values are written
into one program whose window runs from now to at most 15 minutes ahead, moved on by a refresh
every 5 minutes, so that a crash of Home Assistant leaves the battery forced for at most
15 minutes. Only registers whose value differs are written (they live in flash). Charging
allows grid charging in that program (its source bits 0-1 only: the mode and sell bits stay the
user's), with the global grid charge switch on and the grid charge current raised where it is
too low for the setpoint; hold is the program's SOC at 100 % without grid charging, so the
battery does not discharge (EVCC "hold": SOC at max, charge word 0; PV surplus may still charge
it, which no documented per-window setting prevents); discharge is the program's power down to
the user's own battery floor ("Battery Low Capacity", the least a program's capacity may be: KZ).
Refused before writing: a discharge in a zero-export work mode (142/244 = 1 "Essentials" or 2
"Zero Export", KZ "Load Limit"), where the inverter only covers the house load; a three-phase
inverter that manages its battery by voltage or has none (111 ≠ 1, SOL-DR "Battery Operation
Mode": 0 Voltage, 1 Capacity, 2 No Battery), where the programs' SOC is not used; and an
inverter clock that holds no valid time (the windows are in its time of day). The values these
registers had before control began are kept (the control record) and written back on release.
When time of use was off today, the other programs are made neutral while control lasts (the
inverter's power, the battery floor, no grid charging), so that outside our window the battery
works as without time of use; in the selling-first work mode ("Allow Export") there is no such
neutral program (a program above its capacity sells the battery into the grid: Deye's manual,
"the battery energy also can be sold into grid"), so control is refused there while time of use
is off today.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
import math
from typing import Any

from .deye_program import PROGRAMS, Program, Table, to_hhmm, to_minutes
from .modbus import (
    DataType,
    ModbusTcpTransport,
    Register,
    RegisterBatteryDevice,
    RegisterDevice,
    RegisterTransport,
)
from .model import (
    BatteryState,
    Capabilities,
    ControlBlockedError,
    DeviceIdentity,
    Key,
    Mode,
    OperatingState,
    StateValue,
    UnsupportedError,
    WriteNotAcceptedError,
)
from .solarman import DEFAULT_PORT as SOLARMAN_PORT, SolarmanTransport

DEFAULT_PORT = 502
DEFAULT_SOLARMAN_PORT = SOLARMAN_PORT
DEFAULT_UNIT_ID = 1
MODBUS_TIMEOUT = 3.0  # seconds per request; loggers answer slower than a direct Modbus link
SOLARMAN_TIMEOUT = 5.0
# Solarman loggers drop out for a minute or two now and then; ride that out before the entities
# go unavailable (control is still released after the coordinator's 60 s grace period).
SOLARMAN_UNAVAILABLE_AFTER = 120.0
CONTROL_REFRESH_SECONDS = 300.0  # moves the program window on (deye_program.QUANTUM)
CONTROL_EXPIRY_SECONDS = 900.0  # deye_program.WINDOW: what a crash leaves forced at most
IDLE_WATTS = 20  # below this the battery counts as idle
TOU_ON = 0x01  # 146/248 bit 0: time of use on; bits 1-7: Monday … Sunday (KZ "Prog … Enabled")
GRID = 1  # charge source bit 0: grid (KZ PROG_CHARGE_OPTIONS)
CAPACITY_MODE = 1  # 111: battery managed by SOC (SOL-DR "Battery Operation Mode")
ZERO_EXPORT_MODES = frozenset({1, 2})  # 142/244 "Load Limit": 1 Essentials, 2 Zero Export (KZ)
FULL = 100


class Profile(StrEnum):
    """Register layout: chosen from the inverter's device type, or by hand."""

    AUTO = "auto"
    SINGLE_PHASE = "single_phase"
    SINGLE_PHASE_16KW = "single_phase_16kw"
    THREE_PHASE = "three_phase"
    THREE_PHASE_HV = "three_phase_hv"


# Register 0, the device type (SOL-DR deye_p3.yaml "Device"): hybrids only. 0x0007/0x0600 "HV
# 3-Phase Inverter 6-15kw" and 0x0008/0x0601 "HV 3-Phase Inverter 20-50kw" use the HV layout
# ((unconfirmed) for 20-50 kW: SOL-DR covers 5-25 kW).
DEVICE_TYPES: dict[int, Profile] = {
    0x0003: Profile.SINGLE_PHASE,
    0x0300: Profile.SINGLE_PHASE,
    0x0005: Profile.THREE_PHASE,
    0x0500: Profile.THREE_PHASE,
    0x0006: Profile.THREE_PHASE_HV,
    0x0007: Profile.THREE_PHASE_HV,
    0x0600: Profile.THREE_PHASE_HV,
    0x0008: Profile.THREE_PHASE_HV,
    0x0601: Profile.THREE_PHASE_HV,
}
# A single-phase inverter rated this much or more reports grid power ×10 (KZ single_phase_16kw.py
# "Grid power" factor 10); (unconfirmed) the rating that tells the 16 kW models apart.
SIXTEEN_KW = 16_000


def _rated(address: int) -> Register:
    """Rated power: two words, low word first, 0.1 W.

    KZ RATED_POWER; SOL-DR "Device Rated Power" scale 0.1.
    """
    return Register(
        key="rated_power",
        address=address,
        data_type=DataType.U32,
        low_word_first=True,
        scale=0.1,
        poll=False,
    )


# Device type and serial number (registers 3-7, ten ASCII characters, high byte first), as in
# SOL-DR deye_p3.yaml "Device Serial Number" (rule 5); KZ SERIAL_SENSOR (3, 4, 5, 6, 7).
IDENTITY: tuple[Register, ...] = (
    Register(key="device_type", address=0, poll=False),
    Register(key="serial", address=3, data_type=DataType.STRING, length=5, poll=False),
)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The battery and time-of-use settings, at fixed offsets from the max charge current.

    Three-phase base 108 (KZ three_phase_common: 108 max charge A, 109 max discharge A, 111
    battery type, 117 battery low capacity, 128 grid charge A, 130 grid charge on, 142 load
    limit, 146 time of use, 148-153 times, 154-159 power, 160-165 voltage, 166-171 capacity,
    172-177 charge); single-phase base 210 (KZ single_phase: 210, 211, 219, 230, 232, 244, 248,
    250-279; no battery operation mode is known there).
    """

    base: int
    power_scale: float  # W per raw unit of a program's power (HV models count in 10 W)
    clock: int  # the inverter's date and time, three words (KZ SystemTimeRWSensor)
    battery_mode: bool  # whether base + 3 is the battery operation mode

    SPAN = 70  # base .. the last program's charge word: one read

    def at(self, offset: int) -> int:
        return self.base + offset

    @property
    def max_charge_current(self) -> int:
        return self.base

    @property
    def max_discharge_current(self) -> int:
        return self.base + 1

    @property
    def operation_mode(self) -> int:
        return self.base + 3

    @property
    def low_capacity(self) -> int:
        return self.base + 9

    @property
    def grid_charge_current(self) -> int:
        return self.base + 20

    @property
    def grid_charge_enable(self) -> int:
        return self.base + 22

    @property
    def work_mode(self) -> int:
        return self.base + 34

    @property
    def time_of_use(self) -> int:
        return self.base + 38

    def program(self, field: str, index: int) -> int:
        """Return the address of a program (`index` 0-5): time, power, voltage, soc or charge."""
        first = {"time": 40, "power": 46, "voltage": 52, "soc": 58, "charge": 64}[field]
        return self.base + first + index

    @property
    def touched(self) -> tuple[int, ...]:
        """Every register control may change (and release restores)."""
        return (
            self.grid_charge_current,
            self.grid_charge_enable,
            self.time_of_use,
            *(
                self.program(f, i)
                for f in ("time", "power", "soc", "charge")
                for i in range(PROGRAMS)
            ),
        )

    def name(self, address: int) -> str:
        """Name a control register for error messages."""
        names = {
            self.grid_charge_current: "grid charge current",
            self.grid_charge_enable: "grid charge",
            self.time_of_use: "time of use",
        }
        for field in ("time", "power", "soc", "charge"):
            for i in range(PROGRAMS):
                names[self.program(field, i)] = f"time-of-use program {i + 1} {field}"
        return names.get(address, f"register {address}")

    def table(self, words: dict[int, int]) -> Table:
        """Return the time-of-use program held in `words`."""
        return Table(
            tuple(to_minutes(words[self.program("time", i)]) for i in range(PROGRAMS)),
            tuple(
                Program(
                    power=words[self.program("power", i)],
                    soc=words[self.program("soc", i)],
                    charge=words[self.program("charge", i)],
                )
                for i in range(PROGRAMS)
            ),
        )

    def words(self, table: Table) -> dict[int, int]:
        """Return the registers that hold `table`."""
        words: dict[int, int] = {}
        for i, (start, program) in enumerate(zip(table.starts, table.programs, strict=True)):
            words[self.program("time", i)] = to_hhmm(start)
            words[self.program("power", i)] = program.power
            words[self.program("soc", i)] = program.soc
            words[self.program("charge", i)] = program.charge
        return words


@dataclass(frozen=True, kw_only=True)
class Layout:
    """What one profile reads and where its settings are."""

    model: str
    registers: tuple[Register, ...]
    pv: tuple[str, ...]
    settings: Settings
    rated: Register
    second_battery: bool = False


def _pv(first: int, count: int, scale: float = 1.0) -> tuple[Register, ...]:
    return tuple(
        Register(key=f"pv{i + 1}_power", address=first + i, scale=scale) for i in range(count)
    )


def _counters(charged: int) -> tuple[Register, ...]:
    """Lifetime battery charge and discharge: U32, low word first, raw/10 kWh (KZ, KB)."""
    return tuple(
        Register(
            key=key,
            address=charged + 2 * i,
            data_type=DataType.U32,
            low_word_first=True,
            scale=0.1,
        )
        for i, key in enumerate((Key.ENERGY_CHARGED, Key.ENERGY_DISCHARGED))
    )


def _temperature(key: str, address: int) -> Register:
    return Register(key=key, address=address, scale=0.1, offset=-100)  # (raw − 1000) / 10


def _three_phase(*, hv: bool) -> Layout:
    """SG04LP3 (LV battery) and the SG01HP3 range (HV: power ×10, battery voltage /10)."""
    power = 10.0 if hv else 1.0
    battery_2 = (
        # KZ three_phase_hv.py / KB sg01hp3: battery 2 SOC 589, V 593 (/10), I 594 (/100, S16),
        # P 595 (×10, S16), temperature 596.
        Register(key="soc_2", address=589),
        Register(key="voltage_2", address=593, scale=0.1),
        Register(key="current_2", address=594, data_type=DataType.I16, scale=0.01),
        Register(key="power_2", address=595, data_type=DataType.I16, scale=power),
        _temperature("temperature_2", 596),
    )
    return Layout(
        model="SG01HP3 three-phase hybrid (HV)" if hv else "SG04LP3 three-phase hybrid",
        registers=(
            *_counters(516),  # KZ (516, 517)/(518, 519) Total Battery Charge/Discharge
            _temperature(Key.BATTERY_TEMPERATURE, 586),  # KZ 586 TempSensor
            # KZ 587: V /100 (LV), /10 (HV); SOL-DR scale [0.01, 0.1].
            Register(key=Key.BATTERY_VOLTAGE, address=587, scale=0.1 if hv else 0.01),
            Register(key=Key.STATE_OF_CHARGE, address=588),  # KZ 588, EVCC soc
            # KZ 590 S16 W (×10 on HV); + discharging on the wire already (EVCC battery power).
            Register(key=Key.BATTERY_POWER, address=590, data_type=DataType.I16, scale=power),
            Register(key=Key.BATTERY_CURRENT, address=591, data_type=DataType.I16, scale=0.01),
            *(battery_2 if hv else ()),
            # KZ (625, 690) "Grid power" S16 low word, + import (EVCC grid meter 625).
            Register(key=Key.GRID_POWER, address=625, data_type=DataType.I16),
            Register(key=Key.LOAD_POWER, address=653, data_type=DataType.I16),  # KZ (653, 659)
            *_pv(672, 4, power),  # KZ 672-675 (×10 on HV: three_phase_hv.py)
        ),
        pv=("pv1_power", "pv2_power", "pv3_power", "pv4_power"),
        settings=Settings(base=108, power_scale=power, clock=62, battery_mode=True),
        rated=_rated(20),  # KZ three_phase_common RATED_POWER (20, 21)
        second_battery=hv,
    )


def _single_phase(*, grid_scale: float) -> Layout:
    """SG0xLP1 (KZ single_phase.py, SOL-DR deye_hybrid.yaml); 16 kW models count grid ×10."""
    return Layout(
        model="SG0xLP1 single-phase hybrid"
        if grid_scale == 1
        else "SG01LP1 single-phase hybrid (16 kW)",
        registers=(
            *_counters(72),  # KZ (72, 73)/(74, 75)
            # KZ 169 "Grid power" S16, + import; ×10 on the 16 kW models (single_phase_16kw.py).
            Register(key=Key.GRID_POWER, address=169, data_type=DataType.I16, scale=grid_scale),
            Register(key=Key.LOAD_POWER, address=178, data_type=DataType.I16),  # KZ 178
            _temperature(Key.BATTERY_TEMPERATURE, 182),  # KZ 182
            Register(key=Key.BATTERY_VOLTAGE, address=183, scale=0.01),  # KZ 183
            Register(key=Key.STATE_OF_CHARGE, address=184),  # KZ 184
            # KZ 186/187 PV1/PV2. PV3 (188) is left out: 189 is PV4 on some models and the
            # battery status on others (KB deye_hybrid_battery: 189 "Battery Status").
            *_pv(186, 2),
            Register(key=Key.BATTERY_POWER, address=190, data_type=DataType.I16),  # KZ 190
            Register(key=Key.BATTERY_CURRENT, address=191, data_type=DataType.I16, scale=0.01),
        ),
        pv=("pv1_power", "pv2_power"),
        settings=Settings(base=210, power_scale=1.0, clock=22, battery_mode=False),
        rated=_rated(16),  # KZ single_phase RATED_POWER (16, 17)
    )


LAYOUTS: dict[Profile, Layout] = {
    Profile.SINGLE_PHASE: _single_phase(grid_scale=1.0),
    Profile.SINGLE_PHASE_16KW: _single_phase(grid_scale=10.0),
    Profile.THREE_PHASE: _three_phase(hv=False),
    Profile.THREE_PHASE_HV: _three_phase(hv=True),
}

# Deye answers reads across unused addresses (0-59 read, 60-499 read-write, 500-2000 read:
# SOL-DR deye_p3.yaml header), so nearby values share one request.
MAX_GAP = 40

_COPIED = (
    Key.STATE_OF_CHARGE,
    Key.BATTERY_POWER,
    Key.BATTERY_VOLTAGE,
    Key.BATTERY_CURRENT,
    Key.BATTERY_TEMPERATURE,
    Key.GRID_POWER,
    Key.LOAD_POWER,
    Key.ENERGY_CHARGED,
    Key.ENERGY_DISCHARGED,
)


@dataclass(frozen=True, kw_only=True)
class DeyeConfig:
    """Where the inverter is; a logger serial number means: through a Solarman logger."""

    host: str
    port: int = DEFAULT_PORT
    unit_id: int = DEFAULT_UNIT_ID
    profile: Profile = Profile.AUTO
    logger_serial: int | None = None
    timeout: float | None = None  # None: the transport's default


class DeyeDevice(RegisterBatteryDevice):
    """A Deye hybrid inverter with its battery."""

    def __init__(self, config: DeyeConfig) -> None:
        """Choose the transport; the register layout is known after `connect`."""
        super().__init__()
        self.config = config
        self.transport: RegisterTransport
        if config.logger_serial is not None:
            self.transport = SolarmanTransport(
                host=config.host,
                port=config.port,
                logger_serial=config.logger_serial,
                timeout=config.timeout or SOLARMAN_TIMEOUT,
                clock=lambda: self.clock(),
            )
        else:
            self.transport = ModbusTcpTransport(
                host=config.host, port=config.port, timeout=config.timeout or MODBUS_TIMEOUT
            )
        self.capabilities = Capabilities(
            power_setpoint=True,
            modes=(Mode.AUTO, Mode.MANUAL),
            control_refresh_interval=CONTROL_REFRESH_SECONDS,
            control_expiry=CONTROL_EXPIRY_SECONDS,
            energy_counters=frozenset({Key.ENERGY_CHARGED, Key.ENERGY_DISCHARGED}),
            unavailable_after=SOLARMAN_UNAVAILABLE_AFTER if config.logger_serial else 0.0,
        )
        self.layout: Layout | None = None
        self.registers = RegisterDevice(
            self.transport, {"main": config.unit_id}, IDENTITY, max_gap=MAX_GAP
        )
        self._voltage: float | None = None
        self._user_currents: tuple[int, int] | None = None  # max charge / discharge current, A
        self._block: dict[int, int] = {}  # the settings block, as last read
        self._minute = 0  # the inverter's minute of the day and weekday (Monday 0), last read
        self._weekday = 0
        self._written: dict[int, int] | None = None  # what control wrote last (in this run)

    # --- reading ----------------------------------------------------------------------------

    async def connect(self) -> DeviceIdentity:
        """Read the device type, serial number and rating, pick the layout, read the settings."""
        async with self.transport.lock:
            values = await self.registers.read_keys("device_type", "serial")
            device_type = values["device_type"]
            profile = self.config.profile
            if profile is Profile.AUTO:
                if not isinstance(device_type, int) or device_type not in DEVICE_TYPES:
                    raise UnsupportedError(
                        f"device type {device_type!r} is not a known Deye hybrid; "
                        "choose the profile by hand"
                    )
                profile = DEVICE_TYPES[device_type]
            layout = LAYOUTS[profile]
            rated = await self._read_register(layout.rated)
            if (
                profile is Profile.SINGLE_PHASE
                and self.config.profile is Profile.AUTO
                and isinstance(rated, (int, float))
                and rated >= SIXTEEN_KW
            ):
                layout = LAYOUTS[Profile.SINGLE_PHASE_16KW]
            self.layout = layout
            self.registers = RegisterDevice(
                self.transport,
                {"main": self.config.unit_id},
                (*IDENTITY, layout.rated, *layout.registers),
                max_gap=MAX_GAP,
            )
            await self.registers.probe()
            self._remember_user_currents(await self._read_settings())
        if isinstance(rated, (int, float)) and rated > 0:
            self.capabilities = replace(self.capabilities, rated_power=float(rated))
        if not values["serial"]:
            raise UnsupportedError("the inverter reports no serial number in registers 3-7")
        self.identity = DeviceIdentity(
            serial_number=str(values["serial"]), manufacturer="Deye", model=layout.model
        )
        return self.identity

    async def _read_register(self, register: Register) -> StateValue | None:
        words = await self.transport.read(self.config.unit_id, register.address, register.count)
        return register.decode(words)

    async def read(self) -> BatteryState:
        """Read every polled block and map it onto the common model.

        While control is active, the settings are read too: a program changed on the inverter
        (its display, the app) means the user took over, reported as mode `auto`.
        """
        layout = self._layout()
        async with self.transport.lock:
            values = await self.registers.read_polled()
            words = await self._read_settings() if self._written and self.control_active else None
        state: BatteryState = {k: v for k in _COPIED if (v := values.get(k)) is not None}
        if layout.second_battery:
            _add_second_battery(state, values)
        state[Key.PV_POWER] = _sum(values, layout.pv)
        power = state.get(Key.BATTERY_POWER)
        if isinstance(power, (int, float)):
            state[Key.OPERATING_STATE] = (
                OperatingState.DISCHARGING
                if power > IDLE_WATTS
                else OperatingState.CHARGING
                if power < -IDLE_WATTS
                else OperatingState.IDLE
            )
        voltage = values.get(Key.BATTERY_VOLTAGE)
        self._voltage = float(voltage) if isinstance(voltage, (int, float)) else None
        self._update_limits()
        for bound, limit in (
            (Key.MAX_CHARGE_POWER, self.capabilities.max_charge_power),
            (Key.MAX_DISCHARGE_POWER, self.capabilities.max_discharge_power),
        ):
            if limit is not None:
                state[bound] = limit
        if words is not None and self._written is not None:
            ours = all(words.get(a) == v for a, v in self._written.items())
            state[Key.OPERATING_MODE] = self.mode if ours else Mode.AUTO
        return state

    def _layout(self) -> Layout:
        if self.layout is None:
            raise UnsupportedError("not connected: the register layout is not known yet")
        return self.layout

    async def _read_settings(self) -> dict[int, int]:
        """Read the whole settings block in one request; the caller holds the lock."""
        settings = self._layout().settings
        words = await self.transport.read(self.config.unit_id, settings.base, settings.SPAN)
        self._block = {settings.base + i: word for i, word in enumerate(words)}
        return self._block

    async def _read_clock(self) -> None:
        """Read the inverter's time of day (three packed words: KZ SystemTimeRWSensor)."""
        settings = self._layout().settings
        ym, dh, ms = await self.transport.read(self.config.unit_id, settings.clock, 3)
        try:
            now = datetime(2000 + (ym >> 8), ym & 0xFF, dh >> 8, dh & 0xFF, ms >> 8, ms & 0xFF)
        except ValueError as err:
            raise ControlBlockedError(
                "deye_clock_invalid",
                "the inverter's clock holds no valid time; its programs cannot be timed",
            ) from err
        self._minute, self._weekday = now.hour * 60 + now.minute, now.weekday()

    def _remember_user_currents(self, words: dict[int, int]) -> None:
        """Keep the user's max charge / discharge current (control never changes them)."""
        settings = self._layout().settings
        self._user_currents = (
            words[settings.max_charge_current],
            words[settings.max_discharge_current],
        )

    def _update_limits(self) -> None:
        """Setpoint bounds: the user's max charge / discharge current × battery voltage."""
        if self._user_currents is None or not self._voltage:
            return
        charge, discharge = (round(a * self._voltage, -1) for a in self._user_currents)
        self.capabilities = replace(
            self.capabilities, max_charge_power=charge, max_discharge_power=discharge
        )

    # --- control ----------------------------------------------------------------------------

    async def _check_control(self, mode: str, watts: float | None) -> None:
        """Read the settings and the clock; refuse what the inverter would not deliver."""
        settings = self._layout().settings
        async with self.transport.lock:
            words = await self._read_settings()
            await self._read_clock()
        self._remember_user_currents(words)
        if settings.battery_mode and words[settings.operation_mode] != CAPACITY_MODE:
            raise ControlBlockedError(
                "deye_battery_mode",
                "the inverter manages its battery by voltage (or has none): programs by state "
                "of charge do not apply",
            )
        work_mode = words[settings.work_mode]
        if watts is not None and watts > 0 and work_mode in ZERO_EXPORT_MODES:
            raise ControlBlockedError(
                "deye_zero_export",
                "in a zero-export work mode the battery only covers the house load",
            )
        if work_mode not in ZERO_EXPORT_MODES and not self._time_of_use_today(words):
            raise ControlBlockedError(
                "deye_time_of_use_off",
                "in the selling-first work mode with time of use off, no program can stand in "
                "for the inverter's own operation outside the control window",
            )

    def _time_of_use_today(self, words: dict[int, int]) -> bool:
        """Return True when time of use runs today (bit 0 and today's weekday bit)."""
        tou = words[self._layout().settings.time_of_use]
        return bool(tou & TOU_ON and tou & (1 << (1 + self._weekday)))

    async def _read_user_settings(self) -> dict[str, Any]:
        """Keep the registers control may change, as they were (read just before)."""
        touched = self._layout().settings.touched
        return {"words": {str(a): self._block[a] for a in touched}}

    async def _write_setpoint(self, watts: float) -> None:
        if not self._voltage:  # the coordinator polls before it offers control
            raise UnsupportedError("the battery voltage is unknown; cannot size the current")
        targets = self._targets(watts, self._voltage)
        async with self.transport.lock:
            await self._write_changes(self._block, targets)
        self._written = targets

    def _user_words(self) -> dict[int, int]:
        saved = (self.saved_user_settings or {}).get("words")
        if isinstance(saved, dict):
            return {int(a): int(v) for a, v in saved.items()}
        return dict(self._block)  # no record of the user's settings: the inverter's are taken

    def _targets(self, watts: float, voltage: float) -> dict[int, int]:
        """Return the registers that hold the battery at `watts` now (+ discharge, − charge)."""
        settings = self._layout().settings
        user = self._user_words()
        table = settings.table(user)
        today = 1 << (1 + self._weekday)
        tou = user[settings.time_of_use]
        if not self._time_of_use_today(user):  # no program of the user's runs today
            rated = self.capabilities.rated_power or max(p.power for p in table.programs)
            table = table.neutral(
                power=round(rated / settings.power_scale), soc=self._block[settings.low_capacity]
            )
        power = round(abs(watts) / settings.power_scale)
        targets = {
            settings.time_of_use: (tou | TOU_ON | today) if tou & TOU_ON else TOU_ON | today,
            settings.grid_charge_enable: user[settings.grid_charge_enable],
            settings.grid_charge_current: user[settings.grid_charge_current],
        }
        if watts < 0:
            amps = math.ceil(-watts / voltage)
            targets[settings.grid_charge_enable] = 1
            targets[settings.grid_charge_current] = max(amps, user[settings.grid_charge_current])
            window = table.window(self._minute, power=power, soc=FULL, source=GRID)
        elif watts > 0:
            floor = self._block[settings.low_capacity]
            window = table.window(self._minute, power=power, soc=floor, source=0)
        else:
            window = table.window(self._minute, power=0, soc=FULL, source=0)
        return targets | settings.words(window)

    async def _write_release(self) -> None:
        """Write back the registers as they were before control began (only those that differ)."""
        saved = (self.saved_user_settings or {}).get("words")
        self._written = None
        if not isinstance(saved, dict):
            return
        async with self.transport.lock:
            current = await self._read_settings()
            await self._write_changes(current, {int(a): int(v) for a, v in saved.items()})

    async def _write_changes(self, current: dict[int, int], targets: dict[int, int]) -> None:
        """Write the registers whose value differs, in contiguous runs, then read them back."""
        settings = self._layout().settings
        changed = sorted(a for a, v in targets.items() if current.get(a) != v)
        if not changed:
            return
        for run in _runs(changed):
            await self.transport.write(self.config.unit_id, run[0], [targets[a] for a in run])
        read_back = await self._read_settings()
        for address in changed:
            if read_back[address] != targets[address]:
                raise WriteNotAcceptedError(
                    settings.name(address), targets[address], read_back[address]
                )

    async def close(self) -> None:
        """Close the connection."""
        await self.transport.close()


def _add_second_battery(state: BatteryState, values: dict[str, StateValue | None]) -> None:
    """Combine the second HV battery (present when it reports a voltage) with the first.

    Power and current add up; the state of charge is the mean of both, the temperature the
    higher one ((unconfirmed) the registers give no capacities to weigh the SOCs by).
    """
    voltage = values.get("voltage_2")
    if not isinstance(voltage, (int, float)) or voltage <= 0:
        return
    for key, second in (
        (Key.BATTERY_POWER, "power_2"),
        (Key.BATTERY_CURRENT, "current_2"),
    ):
        first, other = state.get(key), values.get(second)
        if isinstance(first, (int, float)) and isinstance(other, (int, float)):
            state[key] = round(first + other, 6)
    soc, soc_2 = state.get(Key.STATE_OF_CHARGE), values.get("soc_2")
    if isinstance(soc, (int, float)) and isinstance(soc_2, (int, float)):
        state[Key.STATE_OF_CHARGE] = (soc + soc_2) / 2
    temperature, temperature_2 = state.get(Key.BATTERY_TEMPERATURE), values.get("temperature_2")
    if isinstance(temperature, (int, float)) and isinstance(temperature_2, (int, float)):
        state[Key.BATTERY_TEMPERATURE] = max(temperature, temperature_2)


def _runs(addresses: list[int]) -> list[list[int]]:
    """Split sorted addresses into runs of neighbours (one write request each)."""
    runs: list[list[int]] = []
    for address in addresses:
        if runs and address == runs[-1][-1] + 1:
            runs[-1].append(address)
        else:
            runs.append([address])
    return runs


def _sum(values: dict[str, StateValue | None], keys: tuple[str, ...]) -> float:
    return float(sum(v for k in keys if isinstance(v := values.get(k), (int, float))))
