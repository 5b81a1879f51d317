"""A Victron GX running ESS, as seen over Modbus TCP: system (100), VE.Bus and battery units.

Dynamics: ESS regulates the grid to its setpoint (2700, or the volatile override 2716/2717 while
it is being refreshed), so the battery delivers `load − PV − grid setpoint` within its limits;
the state of charge follows the battery power; the override expires after `watchdog` seconds.
Raw register values are written here by hand, independently of the client's register table.
"""

from __future__ import annotations

import asyncio

from .base import PeerSimulator
from .modbus_server import ModbusPeer, RegisterBank

SYSTEM = 100
SERIAL = "c0619ab1c2d3"


class VictronSimulator(PeerSimulator):
    """Three register banks plus a physics tick."""

    def __init__(
        self,
        *,
        vebus_unit: int = 227,
        battery_unit: int = 225,
        watchdog: float = 60.0,
        tick: float = 0.1,
        time_scale: float = 1.0,
        serial: str = SERIAL,
    ) -> None:
        self.system, self.vebus, self.battery = RegisterBank(), RegisterBank(), RegisterBank()
        self.peer = ModbusPeer(
            {SYSTEM: self.system, vebus_unit: self.vebus, battery_unit: self.battery}
        )
        self.watchdog = watchdog
        self.tick = tick
        self.time_scale = time_scale  # > 1 makes the state of charge move faster
        self.capacity_wh = 10_000.0
        self.soc = 65.0
        self.load_w = 900.0
        self.pv_dc_w = 1500.0
        self.pv_ac_w = 0.0
        self.temperature = 23.5
        self.serial = serial
        self.override_at: float | None = None
        self._define()

    def _define(self) -> None:
        sysb, vebus, bat = self.system, self.vebus, self.battery
        for first, count in ((800, 6), (806, 21), (840, 7), (850, 2), (855, 1), (860, 1), (865, 2)):
            sysb.define(first, count)
        sysb.define(2700, 19)
        sysb.define(2900, 4)
        sysb.set_string(800, self.serial, 6)
        sysb.writable.update(range(2700, 2709))
        sysb.writable.update({2716, 2717, 2901, 2902})
        sysb.set_i16(2700, 0)  # ESS grid setpoint
        sysb.set_u16(2704, 500)  # max discharge power: 5000 W (raw × 10)
        sysb.set_i16(2705, 100)  # DVCC max charge current: 100 A
        sysb.set_u16(2901, 100)  # min SOC 10.0 %
        sysb.set_u16(2902, 1)  # ESS with phase compensation
        sysb.on_write = self._on_system_write
        vebus.define(3, 39)
        vebus.define(56, 3)
        vebus.define(61, 1)
        vebus.writable.update({33, 37, 38, 39, 40, 41})
        vebus.set_u16(31, 3)  # bulk
        vebus.set_u16(33, 3)  # on
        bat.define(256, 24)
        bat.define(304, 6)
        bat.define(1282, 1)
        bat.set_u16(304, 990)
        bat.set_u16(305, 568)
        bat.set_u16(306, 440)
        bat.set_u16(307, 1000)
        bat.set_u16(308, 1500)
        bat.set_u16(309, 2000)
        bat.set_u16(1282, 9)
        self.update(0.0)

    def _on_system_write(self, address: int, _values: list[int]) -> None:
        if address in (2716, 2717):
            self.override_at = asyncio.get_running_loop().time()
        self.update(0.0)

    @property
    def grid_setpoint(self) -> int:
        """The setpoint ESS regulates to now: the override while fresh, else 2700."""
        now = asyncio.get_running_loop().time() if self.running else 0.0
        if self.override_at is not None and now - self.override_at <= self.watchdog:
            return self.system.get_32(2716)
        return self.system.get_i16(2700)

    @property
    def override_active(self) -> bool:
        return self.grid_setpoint == self.system.get_32(2716) and self.override_at is not None

    def battery_power(self) -> float:
        """Battery power, + discharging, as ESS would deliver it."""
        wanted = self.load_w - self.pv_dc_w - self.pv_ac_w - self.grid_setpoint
        max_discharge = self.system.get_u16(2704) * 10
        max_charge = self.system.get_i16(2705) * self.voltage
        min_soc = self.system.get_u16(2901) / 10
        if self.soc <= min_soc:
            max_discharge = 0
        if self.soc >= 100:
            max_charge = 0
        return max(-max_charge, min(max_discharge, wanted))

    @property
    def voltage(self) -> float:
        return 48.0 + 6.0 * self.soc / 100

    def update(self, dt: float) -> None:
        power = self.battery_power()
        self.soc = min(
            100.0, max(0.0, self.soc - power * dt * self.time_scale / 3600 / self.capacity_wh * 100)
        )
        grid = self.load_w - self.pv_dc_w - self.pv_ac_w - power
        current = power / self.voltage
        sysb, bat = self.system, self.battery
        sysb.set_u16(808, round(self.pv_ac_w))
        sysb.set_u16(817, round(self.load_w))
        sysb.set_i16(820, round(grid))
        sysb.set_u16(840, round(self.voltage * 10))
        sysb.set_i16(841, round(-current * 10))  # + = charging on the wire
        sysb.set_i16(842, round(-power))  # + = charging on the wire
        sysb.set_u16(843, round(self.soc))
        sysb.set_u16(844, 0 if abs(power) < 10 else (2 if power > 0 else 1))
        sysb.set_u16(850, round(self.pv_dc_w))
        bat.set_u16(259, round(self.voltage * 100))
        bat.set_i16(261, round(-current * 10))
        bat.set_i16(262, round(self.temperature * 10))
        bat.set_u16(266, round(self.soc * 10))
