"""A Deye hybrid inverter's holding registers (0-730), behind Modbus TCP or a Solarman logger.

What the inverter does, from its sources (KZ = kellerza/sunsynk `definitions/`; SOL-DR =
davidrapan/ha-solarman `deye_p3.yaml`; DEYE-M = Deye's hybrid user manual, "Time of use" and
"Work mode"):
- 0-59 read-only, 60-499 read-write settings, 500+ read-only (SOL-DR header). Device type at 0
  (SOL-DR "Device": 3 single-phase, 5 LV three-phase, 6/7/0x600/8/0x601 HV three-phase), serial
  3-7, rated power (0.1 W, low word first) at 16-17 (single-phase) or 20-21 (three-phase), and
  the inverter's clock as three packed words at 22-24 or 62-64 (KZ SystemTimeRWSensor). The
  clock is the simulator's own (`advance` moves it); the programs run on it.
- Settings at fixed offsets from the max charge current (108 three-phase, 210 single-phase; KZ):
  work mode ("Load Limit": 0 allow export / selling first, 1 essentials, 2 zero export), battery
  operation mode (three-phase 111: 0 voltage, 1 capacity), battery low capacity, grid charge
  current and switch, time of use (bit 0 on, bits 1-7 Monday … Sunday), and six programs (start
  HHMM rising as a ring, power, voltage, capacity, and a charge word: bits 0-1 grid/generator,
  2-4 mode, 5 sell).
- With time of use off (or not today), the battery follows the house (charging from the solar
  surplus). With it on, the program whose start is the latest not after now decides (DEYE-M):
  it charges from the grid towards its capacity when grid charging is allowed in it and switched
  on, at most its power and the max charge / grid charge currents × battery voltage; above its
  capacity the battery discharges at most its power: into the grid in the selling-first mode
  ("the battery energy also can be sold into grid"), only up to the house load in the zero-export
  modes; at or below its capacity it does not discharge (solar surplus may still charge it).
- HV models report power ×10, battery voltage /10, and a second battery at 589, 593-596
  (`second_battery`; KZ three_phase_hv.py); 16 kW single-phase models report grid power ×10
  (KZ single_phase_16kw.py).
- A write it cannot take (outside 60-499, a start time that is not HHMM, start times that do not
  rise, a capacity above 100) counts in `invalid_writes`.
Raw values are set here by hand, independently of the client's tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from .base import PeerDevice
from .modbus_server import ModbusPeer, RegisterBank
from .solarman import SolarmanPeer

SERIAL = "2305178123"
LOGGER_SERIAL = 2712345678
UNIT_ID = 1
START = datetime(2026, 6, 1, 12, 0, 0)  # a Monday, noon: the inverter's clock at start
SELLING_FIRST, ESSENTIALS, ZERO_EXPORT = 0, 1, 2
PROGRAM_TIMES = (0, 500, 900, 1600, 2100, 2300)


@dataclass(frozen=True)
class Addresses:
    device_type: int
    temperature: int
    voltage: int
    voltage_scale: float  # V per raw unit
    soc: int
    battery_power: int
    battery_current: int
    grid: int
    grid_scale: float  # W per raw unit of grid power
    load: int
    pv: int
    total_charged: int
    power_scale: float  # W per raw unit (battery, PV, program power)
    settings: int  # battery max charge current; the other settings follow at fixed offsets
    rated: int
    clock: int
    rated_w: int


LAYOUTS = {
    "three_phase": Addresses(
        5, 586, 587, 0.01, 588, 590, 591, 625, 1.0, 653, 672, 516, 1.0, 108, 20, 62, 12000
    ),
    "three_phase_hv": Addresses(
        6, 586, 587, 0.1, 588, 590, 591, 625, 1.0, 653, 672, 516, 10.0, 108, 20, 62, 15000
    ),
    "single_phase": Addresses(
        3, 182, 183, 0.01, 184, 190, 191, 169, 1.0, 178, 186, 72, 1.0, 210, 16, 22, 8000
    ),
    "single_phase_16kw": Addresses(
        3, 182, 183, 0.01, 184, 190, 191, 169, 10.0, 178, 186, 72, 1.0, 210, 16, 22, 16000
    ),
}


class DeyeBank(RegisterBank):
    """The register bank; the clock words are refreshed before every read."""

    def __init__(self, inverter: DeyeInverter) -> None:
        super().__init__()
        self.inverter = inverter

    def read(self, address: int, count: int) -> list[int]:
        self.inverter.write_clock()
        return super().read(address, count)


class DeyeInverter:
    """The register bank and the little physics the control tests need."""

    def __init__(
        self,
        profile: str = "three_phase",
        serial: str = SERIAL,
        *,
        device_type: int | None = None,
        work_mode: int = ZERO_EXPORT,
        time_of_use: int = 0,
        second_battery: bool = False,
    ) -> None:
        self.profile = profile
        self.at = LAYOUTS[profile]
        self.bank = DeyeBank(self)
        self.bank.on_write = self._written
        self.bank.define(0, 731)
        self.bank.writable.update(range(60, 500))  # Deye: 60-499 are the read-write settings
        self.ignored: set[int] = set()  # settings the inverter silently refuses to change
        self.now = START
        self.clock_set = True
        self.soc = 65
        self.voltage = 419.6 if "hv" in profile else 52.3
        self.natural_power = -600.0  # charging from the solar surplus
        self.pv = (1200.0, 300.0)
        self.load = 1050.0
        self.second_battery = second_battery
        self.bank.set_u16(0, device_type if device_type is not None else self.at.device_type)
        self.bank.set_string(3, serial, 5)
        self.bank.set_32(self.at.rated, self.at.rated_w * 10, low_word_first=True)
        self.bank.set_32(self.at.total_charged, 12345, low_word_first=True)  # 1234.5 kWh
        self.bank.set_32(self.at.total_charged + 2, 11000, low_word_first=True)  # 1100.0 kWh
        self.bank.set_u16(self.at.temperature, 1000 + 235)  # 23.5 °C
        self.bank.set_u16(self.at.soc, self.soc)
        self._settings(work_mode, time_of_use)
        self.initial_settings = self.settings_block()
        self._update()

    def setting(self, offset: int) -> int:
        return self.bank.get_u16(self.at.settings + offset)

    def settings_block(self) -> list[int]:
        """Max charge current .. program 6 charge word: what control may touch."""
        return [self.bank.words[a] for a in range(self.at.settings, self.at.settings + 70)]

    def _settings(self, work_mode: int, time_of_use: int) -> None:
        hv = "hv" in self.profile
        amps = 25 if hv else 100
        values = {0: amps, 1: amps, 3: 1, 9: 20, 20: 40, 22: 1, 34: work_mode, 38: time_of_use}
        socs = (30, 30, 40, 40, 30, 30)
        # Grid charging at night; every program "General" (mode 1 << 2), the evening one selling.
        charges = (1 | 4, 4, 4, 4, 4 | 0x20, 1 | 4)
        for i in range(6):
            values[40 + i] = PROGRAM_TIMES[i]
            values[46 + i] = int(5000 / self.at.power_scale)
            values[52 + i] = 4900 if not hv else 4000
            values[58 + i] = socs[i]
            values[64 + i] = charges[i]
        for offset, value in values.items():
            self.bank.set_u16(self.at.settings + offset, value)

    def write_clock(self) -> None:
        t = self.now
        words = ((t.year - 2000) << 8 | t.month, t.day << 8 | t.hour, t.minute << 8 | t.second)
        if not self.clock_set:  # an inverter whose clock was never set (no logger, no app)
            words = (0, 0, 0)
        for i, word in enumerate(words):
            self.bank.words[self.at.clock + i] = word

    def _written(self, address: int, values: list[int]) -> None:
        for offset in range(len(values)):
            if (a := address + offset) in self.ignored:
                self.bank.set_u16(a, self.initial_settings[a - self.at.settings])
        if not self._valid_settings():
            self.bank.invalid_writes += 1
        self._update()

    def _valid_settings(self) -> bool:
        times = [self.setting(40 + i) for i in range(6)]
        valid_hhmm = all(t // 100 < 24 and t % 100 < 60 for t in times)
        rising = all(a < b for a, b in pairwise(times))
        return valid_hhmm and rising and all(self.setting(58 + i) <= 100 for i in range(6))

    # --- what the inverter does ----------------------------------------------------------------

    def tou_active(self, block: list[int] | None = None) -> bool:
        tou = (block or self.settings_block())[38]
        return bool(tou & 1 and tou & (1 << (1 + self.now.weekday())))

    def active_program(self, block: list[int] | None = None) -> int:
        """The program whose start time is the latest not after now (a ring)."""
        block = block or self.settings_block()
        hhmm = self.now.hour * 100 + self.now.minute
        started = [i for i in range(6) if block[40 + i] <= hhmm]
        return max(started) if started else 5

    def _program(self, block: list[int]) -> tuple[int, ...] | None:
        """What decides the battery now: the active program's settings, None without one."""
        if not self.tou_active(block):
            return None
        i = self.active_program(block)
        grid = block[64 + i] & 1 and block[22]
        return (block[46 + i], block[58 + i], grid, block[20] if grid else 0, block[34])

    def forced(self) -> bool:
        """The battery does now something else than the user's own settings would make it do."""
        return self.battery_power() != self._battery_power(self.initial_settings)

    def tou_power(self) -> float | None:
        """Battery power (W, + discharge) the time-of-use program commands; None when it is off."""
        return self._tou_power(self.settings_block())

    def _tou_power(self, block: list[int]) -> float | None:
        program = self._program(block)
        if program is None:
            return None
        raw_power, target, grid, grid_amps, work_mode = program
        power = raw_power * self.at.power_scale
        if grid and self.soc < target:
            return -min(power, block[0] * self.voltage, grid_amps * self.voltage)
        if self.soc > target:
            cap = min(power, block[1] * self.voltage)
            if work_mode == SELLING_FIRST:
                return cap  # sold into the grid
            return min(cap, self.natural_power)  # covers the house; a solar surplus charges
        return min(0.0, self.natural_power)  # no discharge; solar surplus still charges

    def battery_power(self) -> float:
        return self._battery_power(self.settings_block())

    def _battery_power(self, block: list[int]) -> float:
        commanded = self._tou_power(block)
        return self.natural_power if commanded is None else commanded

    def released(self) -> bool:
        return self.settings_block() == self.initial_settings

    def _update(self) -> None:
        at, power = self.at, self.battery_power()
        pv1, pv2 = self.pv
        grid = self.load - pv1 - pv2 - power
        share = 2 if self.second_battery else 1  # two equal batteries share the power
        self.bank.set_u16(at.voltage, round(self.voltage / at.voltage_scale))
        self.bank.set_u16(at.soc, self.soc)
        self.bank.set_i16(at.battery_power, round(power / share / at.power_scale))
        self.bank.set_i16(at.battery_current, round(power / share / self.voltage * 100))
        self.bank.set_i16(at.grid, round(grid / at.grid_scale))
        self.bank.set_i16(at.load, round(self.load))
        self.bank.set_u16(at.pv, round(pv1 / at.power_scale))
        self.bank.set_u16(at.pv + 1, round(pv2 / at.power_scale))
        if self.second_battery:
            self.bank.set_u16(589, self.soc)
            self.bank.set_u16(593, round(self.voltage * 10))
            self.bank.set_i16(594, round(power / 2 / self.voltage * 100))
            self.bank.set_i16(595, round(power / 2 / at.power_scale))
            self.bank.set_u16(596, 1000 + 250)  # 25.0 °C

    def set_flows(self, *, pv: float | None = None, load: float | None = None) -> None:
        """Move solar and house power (the demo's animation); the grid balances."""
        if pv is not None:
            self.pv = (pv * 0.8, pv * 0.2)
        if load is not None:
            self.load = load
        self.natural_power = max(-3000.0, min(3000.0, self.load - sum(self.pv)))
        self._update()

    def advance(self, seconds: float) -> None:
        """Move the inverter's clock on; its programs follow."""
        self.now += timedelta(seconds=seconds)
        self._update()


class DeyeSimulator(PeerDevice):
    """The inverter behind Modbus TCP (`solarman=False`) or a Solarman V5 logger."""

    def __init__(
        self,
        *,
        profile: str = "three_phase",
        solarman: bool = False,
        logger_serial: int = LOGGER_SERIAL,
        serial: str = SERIAL,
        **inverter: Any,
    ) -> None:
        self.inverter = DeyeInverter(profile, serial, **inverter)
        banks = {UNIT_ID: self.inverter.bank}
        self.logger: SolarmanPeer | None = SolarmanPeer(banks, logger_serial) if solarman else None
        self.peer: Any = self.logger or ModbusPeer(banks)

    def forced(self) -> bool:
        return self.inverter.forced()

    async def advance(self, seconds: float) -> None:
        self.inverter.advance(seconds)

    def invalid_writes(self) -> int:
        return self.inverter.bank.invalid_writes
