"""Deye hybrid inverters (single-phase SG0xLP1, three-phase SG04LP3 and its HV variants).

One adapter over two transports: Modbus TCP (the inverter's own port or an RS485 gateway) and a
Solarman stick logger speaking V5 (devices/solarman.py); both carry the same register tables.

Control has no volatile setpoint on a Deye, so it goes through the inverter's time-of-use
program, which lives in flash: all six programs get the same power, SOC target and charge
source (their start times stay the user's, so whichever program is active does the same), the
time-of-use switch is turned on for every day, and the battery's max charge current and the
grid-charge settings are set to match. A register is written only when its value differs from
what the inverter holds, read in one request before every control action. The values these
registers had when control was first taken are kept and written back on release.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
import math

from .base import BatteryDevice
from .modbus import (
    DataType,
    ModbusTcpTransport,
    Register,
    RegisterDevice,
    RegisterTransport,
    plan_blocks,
)
from .model import (
    BatteryState,
    Capabilities,
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
# The SOC a discharge setpoint may take the battery down to (the programs' SOC target).
DISCHARGE_FLOOR_SOC = 10
IDLE_WATTS = 20  # below this the battery counts as idle
TOU_EVERY_DAY = 0x00FF  # bit 0: time of use on; bits 1-7: every weekday (both bit orders)
CHARGE_FROM_GRID = 1  # program charge source: bit 0 grid, bit 1 generator
PROGRAMS = 6


class Profile(StrEnum):
    """Register layout: chosen from the inverter's device type, or by hand."""

    AUTO = "auto"
    SINGLE_PHASE = "single_phase"
    THREE_PHASE = "three_phase"
    THREE_PHASE_HV = "three_phase_hv"


# Register 0, the device type [SOL-DR deye_p3.yaml "Device"]: hybrids only.
DEVICE_TYPES: dict[int, Profile] = {
    0x0003: Profile.SINGLE_PHASE,
    0x0300: Profile.SINGLE_PHASE,
    0x0005: Profile.THREE_PHASE,
    0x0500: Profile.THREE_PHASE,
    0x0006: Profile.THREE_PHASE_HV,
}

# Device type and serial number (registers 3-7, ten ASCII characters, high byte first), as in
# the Solarman inverter definitions [SOL-DR deye_p3.yaml "Device Serial Number", rule 5].
IDENTITY: tuple[Register, ...] = (
    Register(key="device_type", address=0, poll=False),
    Register(key="serial", address=3, data_type=DataType.STRING, length=5, poll=False),
)


@dataclass(frozen=True, kw_only=True)
class ControlMap:
    """The battery and time-of-use settings, at fixed offsets from the max charge current."""

    base: int  # battery max charge current (A)
    power_scale: float  # W per raw unit of a program's power (HV models count in 10 W)

    SPAN = 70  # base .. last program's charge source: one read

    @property
    def max_charge_current(self) -> int:
        return self.base

    @property
    def max_discharge_current(self) -> int:
        return self.base + 1

    @property
    def grid_charge_current(self) -> int:
        return self.base + 20

    @property
    def grid_charge_enable(self) -> int:
        return self.base + 22

    @property
    def time_of_use(self) -> int:
        return self.base + 38

    def program(self, field: str, index: int) -> int:
        """Return the address of a program (`index` 0-5): time, power, voltage, soc or source."""
        first = {"time": 40, "power": 46, "voltage": 52, "soc": 58, "source": 64}[field]
        return self.base + first + index

    @property
    def touched(self) -> tuple[int, ...]:
        """Every register control may change (and release restores)."""
        return (
            self.max_charge_current,
            self.grid_charge_current,
            self.grid_charge_enable,
            self.time_of_use,
            *(self.program(f, i) for f in ("power", "soc", "source") for i in range(PROGRAMS)),
        )

    def name(self, address: int) -> str:
        """Name a control register for error messages."""
        names = {
            self.max_charge_current: "max charge current",
            self.max_discharge_current: "max discharge current",
            self.grid_charge_current: "grid charge current",
            self.grid_charge_enable: "grid charge",
            self.time_of_use: "time of use",
        }
        for field in ("power", "soc", "source"):
            for i in range(PROGRAMS):
                names[self.program(field, i)] = f"time-of-use program {i + 1} {field}"
        return names.get(address, f"register {address}")

    def targets(
        self, watts: float, voltage: float, current: dict[int, int], original: dict[int, int]
    ) -> dict[int, int]:
        """Return the raw values that make the inverter hold `watts` (+ discharge, − charge).

        Discharge: programs at `watts` down to the floor SOC, no charging. Hold (0): programs at
        0 W with a 100 % target (nothing to discharge to), no charging. Charge: programs at
        `watts` charging from the grid up to 100 %, with the max charge current and the grid
        charge current at watts / battery voltage (rounded up, capped at the user's own max
        charge current; a value set before that is at most 1 A higher is kept). The program
        power limits the rate precisely; the currents keep the battery from charging otherwise.
        """
        charging = watts < 0
        amps = 0
        if charging:
            needed = min(math.ceil(-watts / voltage), original[self.max_charge_current])
            live = current.get(self.max_charge_current, -1)
            amps = live if needed <= live <= needed + 1 else needed
        soc = DISCHARGE_FLOOR_SOC if watts > 0 else 100
        targets = {
            self.time_of_use: TOU_EVERY_DAY,
            self.max_charge_current: amps,
            self.grid_charge_enable: 1 if charging else original[self.grid_charge_enable],
            self.grid_charge_current: amps if charging else original[self.grid_charge_current],
        }
        for i in range(PROGRAMS):
            targets[self.program("power", i)] = round(abs(watts) / self.power_scale)
            targets[self.program("soc", i)] = soc
            targets[self.program("source", i)] = CHARGE_FROM_GRID if charging else 0
        return targets


@dataclass(frozen=True, kw_only=True)
class Layout:
    """What one profile reads and where its settings are."""

    model: str
    registers: tuple[Register, ...]
    pv: tuple[str, ...]
    control: ControlMap


def _pv(first: int, count: int, scale: float = 1.0) -> tuple[Register, ...]:
    return tuple(
        Register(key=f"pv{i + 1}_power", address=first + i, scale=scale) for i in range(count)
    )


def _counters(charged: int) -> tuple[Register, ...]:
    """Lifetime battery charge and discharge: U32, low word first, raw/10 kWh."""
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


def _three_phase(*, hv: bool) -> Layout:
    """SG04LP3 (LV battery) and SG01HP3 (HV: power ×10, battery voltage /10) [§3.2]."""
    power = 10.0 if hv else 1.0
    return Layout(
        model="SG01HP3 three-phase hybrid (HV)" if hv else "SG04LP3 three-phase hybrid",
        registers=(
            *_counters(516),
            Register(key=Key.BATTERY_TEMPERATURE, address=586, scale=0.1, offset=-100),
            Register(key=Key.BATTERY_VOLTAGE, address=587, scale=0.1 if hv else 0.01),
            Register(key=Key.STATE_OF_CHARGE, address=588),
            # + discharging on the wire already, as in the common model.
            Register(key=Key.BATTERY_POWER, address=590, data_type=DataType.I16, scale=power),
            Register(key=Key.BATTERY_CURRENT, address=591, data_type=DataType.I16, scale=0.01),
            Register(key=Key.GRID_POWER, address=625, data_type=DataType.I16),  # + import
            Register(key=Key.LOAD_POWER, address=653, data_type=DataType.I16),
            *_pv(672, 4, power),
        ),
        pv=("pv1_power", "pv2_power", "pv3_power", "pv4_power"),
        control=ControlMap(base=108, power_scale=power),
    )


# SG0xLP1 [§3.4, SOL-DR deye_hybrid.yaml]. PV3/PV4 are left out: 189 is PV4 on some models and the
# battery status on others.
SINGLE_PHASE = Layout(
    model="SG0xLP1 single-phase hybrid",
    registers=(
        *_counters(72),
        Register(key=Key.GRID_POWER, address=169, data_type=DataType.I16),  # + import
        Register(key=Key.LOAD_POWER, address=178, data_type=DataType.I16),
        Register(key=Key.BATTERY_TEMPERATURE, address=182, scale=0.1, offset=-100),
        Register(key=Key.BATTERY_VOLTAGE, address=183, scale=0.01),
        Register(key=Key.STATE_OF_CHARGE, address=184),
        *_pv(186, 2),
        Register(key=Key.BATTERY_POWER, address=190, data_type=DataType.I16),
        Register(key=Key.BATTERY_CURRENT, address=191, data_type=DataType.I16, scale=0.01),
    ),
    pv=("pv1_power", "pv2_power"),
    control=ControlMap(base=210, power_scale=1.0),
)

LAYOUTS: dict[Profile, Layout] = {
    Profile.SINGLE_PHASE: SINGLE_PHASE,
    Profile.THREE_PHASE: _three_phase(hv=False),
    Profile.THREE_PHASE_HV: _three_phase(hv=True),
}

# Deye answers reads across unused addresses, so nearby values share one request.
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


class DeyeDevice(BatteryDevice):
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
            energy_counters=frozenset({Key.ENERGY_CHARGED, Key.ENERGY_DISCHARGED}),
            unavailable_after=SOLARMAN_UNAVAILABLE_AFTER if config.logger_serial else 0.0,
        )
        self.layout: Layout | None = None
        self.registers = RegisterDevice(self.transport, {"main": config.unit_id}, IDENTITY)
        self._voltage: float | None = None
        self._user_currents: tuple[int, int] | None = None  # max charge / discharge current, A
        self._original: dict[int, int] | None = None  # control registers before control began

    @property
    def control_active(self) -> bool:
        """Return True also after a failed control write: settings may have been changed."""
        return super().control_active or self._original is not None

    # --- reading ----------------------------------------------------------------------------

    async def connect(self) -> DeviceIdentity:
        """Read the device type and serial number, pick the layout, read the user's settings."""
        async with self.transport.lock:
            values = await self.registers.read_blocks(plan_blocks(IDENTITY, max_gap=MAX_GAP))
            device_type = values["device_type"]
            profile = self.config.profile
            if profile is Profile.AUTO:
                if not isinstance(device_type, int) or device_type not in DEVICE_TYPES:
                    raise UnsupportedError(
                        f"device type {device_type!r} is not a known Deye hybrid; "
                        "choose the profile by hand"
                    )
                profile = DEVICE_TYPES[device_type]
            self.layout = LAYOUTS[profile]
            self.registers = RegisterDevice(
                self.transport,
                {"main": self.config.unit_id},
                (*IDENTITY, *self.layout.registers),
                max_gap=MAX_GAP,
            )
            self._remember_user_currents(await self._read_control())
        if not values["serial"]:
            raise UnsupportedError("the inverter reports no serial number in registers 3-7")
        self.identity = DeviceIdentity(
            serial_number=str(values["serial"]), manufacturer="Deye", model=self.layout.model
        )
        return self.identity

    async def read(self) -> BatteryState:
        """Read every polled block and map it onto the common model."""
        layout = self._layout()
        async with self.transport.lock:
            values = await self.registers.read_blocks(self.registers.blocks)
        state: BatteryState = {k: v for k in _COPIED if (v := values.get(k)) is not None}
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
        for key, limit in (
            (Key.MAX_CHARGE_POWER, self.capabilities.max_charge_power),
            (Key.MAX_DISCHARGE_POWER, self.capabilities.max_discharge_power),
        ):
            if limit is not None:
                state[key] = limit
        state[Key.OPERATING_MODE] = self.mode
        if self.setpoint is not None:
            state[Key.POWER_SETPOINT] = self.setpoint
        return state

    def _layout(self) -> Layout:
        if self.layout is None:
            raise UnsupportedError("not connected: the register layout is not known yet")
        return self.layout

    async def _read_control(self) -> dict[int, int]:
        """Read the whole settings block in one request; the caller holds the lock."""
        control = self._layout().control
        words = await self.transport.read(self.config.unit_id, control.base, control.SPAN)
        return {control.base + i: word for i, word in enumerate(words)}

    def _remember_user_currents(self, words: dict[int, int]) -> None:
        """Keep the user's own current limits; while in control, those from before it began."""
        control = self._layout().control
        source = self._original or words
        self._user_currents = (
            source[control.max_charge_current],
            words[control.max_discharge_current],  # never changed by control
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

    async def _write_setpoint(self, watts: float) -> None:
        control = self._layout().control
        if not self._voltage:  # the coordinator polls before it offers control
            raise UnsupportedError("the battery voltage is unknown; cannot size the current")
        async with self.transport.lock:
            current = await self._read_control()
            if self._original is None:
                self._original = {a: current[a] for a in control.touched}
            await self._write_changes(
                current, control.targets(watts, self._voltage, current, self._original)
            )

    async def _write_release(self) -> None:
        """Write back the settings from before control began (only those that differ)."""
        if self._original is None:
            return
        async with self.transport.lock:
            current = await self._read_control()
            await self._write_changes(current, self._original)
        self._original = None

    async def _write_changes(self, current: dict[int, int], targets: dict[int, int]) -> None:
        """Write the registers whose value differs, in contiguous runs, then read them back."""
        control = self._layout().control
        changed = sorted(a for a, v in targets.items() if current.get(a) != v)
        if not changed:
            return
        for run in _runs(changed):
            await self.transport.write(self.config.unit_id, run[0], [targets[a] for a in run])
        read_back = await self._read_control()
        for address in changed:
            if read_back[address] != targets[address]:
                raise WriteNotAcceptedError(
                    control.name(address), targets[address], read_back[address]
                )
        self._remember_user_currents(read_back)

    async def close(self) -> None:
        """Close the connection."""
        await self.transport.close()


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
