"""A Deye hybrid inverter's holding registers (0-730), behind Modbus TCP or a Solarman logger.

Raw values are set here by hand from protocols.md §3.2-3.4, independently of the client's
tables. Three layouts: three-phase LV (SG04LP3), three-phase HV (SG01HP3: power ×10, battery
voltage /10) and single-phase (SG0xLP1, the settings 102 registers higher).

Dynamics, as far as the tests need them: with time of use off the battery does what the house
needs (charging 600 W from solar). With time of use on, the active program decides: charge from
the grid towards its SOC target when its source is the grid and grid charging is enabled, at
most its power and the max charge / grid charge currents × battery voltage; otherwise
discharge towards its SOC target at most its power and the max discharge current × voltage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .base import PeerDevice
from .modbus_server import ModbusPeer, RegisterBank
from .solarman import SolarmanPeer

SERIAL = "2305178123"
LOGGER_SERIAL = 2712345678
UNIT_ID = 1


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
    load: int
    pv: int
    total_charged: int
    power_scale: float  # W per raw unit (battery, PV, program power)
    settings: int  # battery max charge current; the other settings follow at fixed offsets


LAYOUTS = {
    "three_phase": Addresses(5, 586, 587, 0.01, 588, 590, 591, 625, 653, 672, 516, 1.0, 108),
    "three_phase_hv": Addresses(6, 586, 587, 0.1, 588, 590, 591, 625, 653, 672, 516, 10.0, 108),
    "single_phase": Addresses(3, 182, 183, 0.01, 184, 190, 191, 169, 178, 186, 72, 1.0, 210),
}


class DeyeInverter:
    """The register bank and the little physics the control tests need."""

    def __init__(self, profile: str = "three_phase", serial: str = SERIAL) -> None:
        self.profile = profile
        self.at = LAYOUTS[profile]
        self.bank = RegisterBank(on_write=self._written)
        self.bank.define(0, 731)
        self.bank.writable.update(range(60, 500))  # Deye: 60-499 are the read-write settings
        self.ignored: set[int] = set()  # settings the inverter silently refuses to change
        self.soc = 65
        self.voltage = 419.6 if profile == "three_phase_hv" else 52.3
        self.natural_power = -600.0  # charging from the solar surplus
        self.pv = (1200.0, 300.0)
        self.load = 1050.0
        self.bank.set_u16(0, self.at.device_type)
        self.bank.set_string(3, serial, 5)
        self.bank.set_32(self.at.total_charged, 12345, low_word_first=True)  # 1234.5 kWh
        self.bank.set_32(self.at.total_charged + 2, 11000, low_word_first=True)  # 1100.0 kWh
        self.bank.set_u16(self.at.temperature, 1000 + 235)  # 23.5 °C
        self.bank.set_u16(self.at.soc, self.soc)
        self._settings()
        self.initial_settings = self.settings_block()
        self._update()

    def setting(self, offset: int) -> int:
        return self.bank.get_u16(self.at.settings + offset)

    def settings_block(self) -> list[int]:
        """Max charge current .. program 6 charge source: what control may touch."""
        return self.bank.read(self.at.settings, 70)

    def _settings(self) -> None:
        hv = self.profile == "three_phase_hv"
        amps = 25 if hv else 100
        values = {0: amps, 1: amps, 20: 40, 22: 1, 38: 0}  # currents, grid charge, TOU off
        times = (0, 500, 900, 1600, 2100, 2300)
        socs = (30, 30, 40, 40, 30, 30)
        sources = (1, 0, 0, 0, 0, 1)  # grid charging at night
        for i in range(6):
            values[40 + i] = times[i]
            values[46 + i] = int(5000 / self.at.power_scale)
            values[52 + i] = 4900 if not hv else 4000
            values[58 + i] = socs[i]
            values[64 + i] = sources[i]
        for offset, value in values.items():
            self.bank.set_u16(self.at.settings + offset, value)

    def _written(self, address: int, values: list[int]) -> None:
        for offset in range(len(values)):
            if (a := address + offset) in self.ignored:
                self.bank.set_u16(a, self.initial_settings[a - self.at.settings])
        self._update()

    # --- what the inverter does ----------------------------------------------------------------

    def active_program(self, now: datetime | None = None) -> int:
        """The program whose start time is the latest not after now (ties: the later one)."""
        now = now or datetime.now()
        hhmm = now.hour * 100 + now.minute
        starts = [self.setting(40 + i) for i in range(6)]
        candidates = [i for i in range(6) if starts[i] <= hhmm]
        pool = candidates or range(6)
        return max(pool, key=lambda i: (starts[i], i))

    def tou_power(self) -> float | None:
        """Battery power (W, + discharge) the time-of-use program commands; None when it is off."""
        if not self.setting(38) & 1:
            return None
        i = self.active_program()
        power = self.setting(46 + i) * self.at.power_scale
        target = self.setting(58 + i)
        grid_charge = self.setting(64 + i) & 1 and self.setting(22)
        if grid_charge and self.soc < target:
            return -min(power, self.setting(0) * self.voltage, self.setting(20) * self.voltage)
        if self.soc > target:
            return min(power, self.setting(1) * self.voltage)
        return 0.0

    def battery_power(self) -> float:
        commanded = self.tou_power()
        return self.natural_power if commanded is None else commanded

    def released(self) -> bool:
        return self.settings_block() == self.initial_settings

    def _update(self) -> None:
        at, power = self.at, self.battery_power()
        pv1, pv2 = self.pv
        grid = self.load - pv1 - pv2 - power
        self.bank.set_u16(at.voltage, round(self.voltage / at.voltage_scale))
        self.bank.set_u16(at.soc, self.soc)
        self.bank.set_i16(at.battery_power, round(power / at.power_scale))
        self.bank.set_i16(at.battery_current, round(power / self.voltage * 100))
        self.bank.set_i16(at.grid, round(grid))
        self.bank.set_i16(at.load, round(self.load))
        self.bank.set_u16(at.pv, round(pv1 / at.power_scale))
        self.bank.set_u16(at.pv + 1, round(pv2 / at.power_scale))

    def set_flows(self, *, pv: float | None = None, load: float | None = None) -> None:
        """Move solar and house power (the demo's animation); the grid balances."""
        if pv is not None:
            self.pv = (pv * 0.8, pv * 0.2)
        if load is not None:
            self.load = load
        self.natural_power = max(-3000.0, min(3000.0, self.load - sum(self.pv)))
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
    ) -> None:
        self.inverter = DeyeInverter(profile, serial)
        banks = {UNIT_ID: self.inverter.bank}
        self.logger: SolarmanPeer | None = SolarmanPeer(banks, logger_serial) if solarman else None
        self.peer: Any = self.logger or ModbusPeer(banks)
