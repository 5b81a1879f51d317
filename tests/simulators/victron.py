"""A Victron GX running ESS, as seen over Modbus TCP: system (100), VE.Bus and battery units.

What the GX does, from its sources (VIC366 = Victron's register list 3.66 in sfstar/hass-victron
`resources/`; MBTCP = victronenergy/dbus_modbustcp):
- Only mapped addresses can be read; a read that touches an unmapped one is refused with
  exception 2, an unknown unit id with 0x0B (MBTCP mappings.cpp DataIterator, backend.cpp
  getExceptionCode). The mapped ranges below follow VIC366.
- A path the service does not publish reads 0 (MBTCP mappings.cpp getValue): a BMV/SmartShunt
  (`monitor="smartshunt"`) reads 0 for state of health and the BMS limits 304-308, and 0 °C
  without a temperature sensor ("Not supported by all Victron products", VIC366 @304-308).
- Venus older than v3.50 has no 2716/2717 (`firmware=0x0340`; VIC350/VIC364 changelog "Add
  register 2716"); 834 is the firmware in hexadecimal (VIC366 @834).
- ESS regulates the grid to its setpoint: 2700, or the volatile override 2716 once written, which
  has no documented expiry and holds until the GX reboots (`reboot()`; VIC366 @2716 "volatile,
  in memory"). Its unset value reads 0 (getValue). The battery delivers `load − PV − setpoint`
  within its limits and the min SOC (VIC366 @2700).
- ESS mode 3 (2902 = 3) ignores 2700/2716 (community.victronenergy.com/t/24829); Dynamic ESS
  (5400 = 1) drives the override itself (VIC366 @2716 "can not be used together with
  DynamicEss"); "keep batteries charged" (2900 = 9) charges and never discharges (VIC366 @2900).
- With the GX's Modbus server set to read-only, every write is refused with exception 2 (MBTCP
  mappings.cpp handleRequest, `mReadWrite`).
Raw register values are written here by hand, independently of the client's register table.
"""

from __future__ import annotations

import math

from .base import PeerSimulator
from .modbus_server import ILLEGAL_ADDRESS, ModbusError, ModbusPeer, RegisterBank

SYSTEM = 100
SERIAL = "c0619ab1c2d3"
VENUS_3_66 = 0x0366  # 834: "render in hexadecimal" (VIC366 @834)
DYNAMIC_ESS_OVERRIDE = 0  # the grid setpoint Dynamic ESS drives while active in this model
MULTI_RATING_W = 8000  # what the inverter/charger can do when ESS sets no limit

# Mapped system-unit ranges (first, count) per VIC366; 2716-2718 only on Venus 3.50+.
_SYSTEM_MAPPED = ((800, 27), (830, 6), (840, 7), (850, 2), (855, 1), (860, 1), (865, 2))
_SETTINGS_MAPPED = ((2700, 16), (2900, 4))
_OVERRIDE_MAPPED = ((2716, 3),)
_DYNAMIC_ESS_MAPPED = ((5400, 8),)


class GxBank(RegisterBank):
    """A unit of the GX: its own mapping, and the global read-only switch on writes."""

    def __init__(self, gx: VictronSimulator) -> None:
        super().__init__()
        self.gx = gx

    def write(self, address: int, values: list[int]) -> None:
        if self.gx.read_only:
            raise ModbusError(ILLEGAL_ADDRESS)
        super().write(address, values)


class VictronSimulator(PeerSimulator):
    """Three register banks plus a physics tick."""

    def __init__(
        self,
        *,
        vebus_unit: int = 227,
        battery_unit: int = 225,
        firmware: int = VENUS_3_66,
        monitor: str = "can_bms",
        dynamic_ess_available: bool = True,
        tick: float = 0.1,
        time_scale: float = 1.0,
        serial: str = SERIAL,
    ) -> None:
        self.system, self.vebus, self.battery = GxBank(self), GxBank(self), GxBank(self)
        self.peer = ModbusPeer(
            {SYSTEM: self.system, vebus_unit: self.vebus, battery_unit: self.battery}
        )
        self.firmware = firmware
        self.monitor = monitor  # "can_bms" (SOH, limits, temperature) or "smartshunt"
        self.dynamic_ess_available = dynamic_ess_available
        self.read_only = False
        self.tick = tick
        self.time_scale = time_scale  # > 1 makes the state of charge move faster
        self.capacity_wh = 10_000.0
        self.soc = 65.0
        self.load_w = 900.0
        self.pv_dc_w = 1500.0
        self.pv_ac_w = 0.0
        # None: no temperature sensor on the monitor (it then reads 0: getValue).
        self.temperature: float | None = 23.5 if monitor == "can_bms" else None
        self.serial = serial
        self.override_set = False  # 2716 written since the last reboot
        self._define()

    @property
    def has_override(self) -> bool:
        return self.firmware >= 0x0350

    def _define(self) -> None:
        sysb, vebus, bat = self.system, self.vebus, self.battery
        ranges = [*_SYSTEM_MAPPED, *_SETTINGS_MAPPED]
        if self.has_override:
            ranges += _OVERRIDE_MAPPED
        if self.dynamic_ess_available:
            ranges += _DYNAMIC_ESS_MAPPED
        for first, count in ranges:
            sysb.define(first, count)
        sysb.set_string(800, self.serial, 6)
        sysb.set_u16(834, self.firmware)
        sysb.writable.update(range(2700, 2716))
        sysb.writable.update({2900, 2901, 2902})
        if self.has_override:
            sysb.writable.update({2716, 2717, 2718})
        sysb.set_i16(2700, 0)  # ESS grid setpoint
        sysb.set_u16(2704, 500)  # max discharge power: 5000 W (raw × 10)
        sysb.set_i16(2705, 100)  # DVCC max charge current: 100 A
        sysb.set_u16(2900, 2)  # BatteryLife: self-consumption
        sysb.set_u16(2901, 100)  # min SOC 10.0 %
        sysb.set_u16(2902, 1)  # ESS with phase compensation
        sysb.on_write = self._on_system_write
        vebus.define(3, 107)  # VIC366 @3-109
        vebus.writable.update({33, 37, 38, 39, 40, 41})
        vebus.set_u16(31, 3)  # bulk
        vebus.set_u16(33, 3)  # on
        bat.define(256, 54)  # VIC366 @256-309
        bat.define(318, 13)  # VIC366 @318-330
        bat.define(1282, 14)  # VIC366 @1282-1295
        bat.set_u16(1282, 9)  # running
        self._battery_info()
        self.update(0.0)

    def _battery_info(self) -> None:
        """SOH and the BMS limits: what a CAN-bus BMS publishes; 0 on a BMV/SmartShunt."""
        can = self.monitor == "can_bms"
        for address, value in ((304, 990), (305, 568), (306, 440), (307, 1000), (308, 1500)):
            self.battery.set_u16(address, value if can else 0)
        self.battery.set_u16(309, 2000)

    def reboot(self) -> None:
        """Restart the GX: the volatile override is gone (VIC366 @2716)."""
        self.override_set = False
        if self.has_override:
            self.system.set_32(2716, 0)
        self.update(0.0)

    def _on_system_write(self, address: int, _values: list[int]) -> None:
        if address in (2716, 2717):
            self.override_set = True
        self.update(0.0)

    # --- what ESS does -----------------------------------------------------------------------

    @property
    def ess_mode(self) -> int:
        return self.system.get_u16(2902)

    @property
    def dynamic_ess_active(self) -> bool:
        return self.dynamic_ess_available and self.system.get_u16(5400) == 1

    @property
    def keep_charged(self) -> bool:
        return self.system.get_u16(2900) == 9

    @property
    def grid_setpoint(self) -> int:
        """The setpoint ESS regulates to now: Dynamic ESS's, the override once set, else 2700."""
        if self.dynamic_ess_active:
            return DYNAMIC_ESS_OVERRIDE
        if self.override_set:
            return self.system.get_32(2716)
        return self.system.get_i16(2700)

    @property
    def override_active(self) -> bool:
        """True while a written override is what ESS regulates to."""
        return (
            self.override_set
            and not self.dynamic_ess_active
            and not self.keep_charged
            and self.ess_mode != 3
        )

    def forced(self) -> bool:
        """The battery follows an override that differs from the user's own ESS setpoint."""
        return self.override_active and self.grid_setpoint != self.system.get_i16(2700)

    def battery_power(self) -> float:
        """Battery power, + discharging, as ESS would deliver it."""
        # −1 in 2704/2705: no limit (VIC366 @2704, @2705); the Multi's own rating then.
        discharge_limit, charge_limit = self.system.get_i16(2704), self.system.get_i16(2705)
        max_discharge = discharge_limit * 10 if discharge_limit >= 0 else MULTI_RATING_W
        max_charge = charge_limit * self.voltage if charge_limit >= 0 else MULTI_RATING_W
        if self.soc <= self.system.get_u16(2901) / 10:
            max_discharge = 0
        if self.soc >= 100:
            max_charge = 0
        if self.ess_mode == 3:  # external control: the Multi follows its own setpoints (none)
            return 0.0
        if self.keep_charged:
            return -max_charge
        wanted = self.load_w - self.pv_dc_w - self.pv_ac_w - self.grid_setpoint
        return max(-max_charge, min(max_discharge, wanted))

    @property
    def voltage(self) -> float:
        return 48.0 + 6.0 * self.soc / 100

    async def advance(self, seconds: float) -> None:
        """Move the simulated time on (ESS has no expiry to run out: only the battery moves;
        "for ever" moves nothing)."""
        if math.isfinite(seconds):
            self.update(seconds)

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
        bat.set_i16(262, 0 if self.temperature is None else round(self.temperature * 10))
        bat.set_u16(266, round(self.soc * 10))
