"""A Huawei SUN2000 inverter with a LUNA2000 battery, as its SDongle serves it over Modbus TCP.

Like the real device it serves one client at a time (a new connection drops the older one) and
ignores requests during the first second of a connection. Dynamics: in "maximise
self-consumption" the battery covers load − PV within its limits; a forcible charge/discharge
command (47100) holds the battery at the commanded power until its period (47083 minutes)
ends; the state of charge and the energy counters follow the battery power. With
`require_login` every write to a 47xxx register is refused with exception 0x80, as on
connections without the installer login. Raw register values are written here by hand,
independently of the client's register table.
"""

from __future__ import annotations

import asyncio

from .base import PeerSimulator
from .modbus_server import ModbusError, ModbusPeer, RegisterBank

SERIAL = "HV2260012345"
MODEL = "SUN2000-6KTL-M1"
PERMISSION_DENIED = 0x80
SELF_CONSUMPTION, FULLY_FED_TO_GRID = 2, 4
STOP, CHARGE, DISCHARGE = 0, 1, 2


class HuaweiBank(RegisterBank):
    """The inverter's registers; 47xxx writes need the installer login when `locked`."""

    locked: bool = False

    def write(self, address: int, values: list[int]) -> None:
        if self.locked and 47000 <= address < 48000:
            raise ModbusError(PERMISSION_DENIED)
        super().write(address, values)


class HuaweiSimulator(PeerSimulator):
    """One register bank (unit 1 through the SDongle, 0 through the inverter's access point)."""

    def __init__(
        self,
        *,
        tick: float = 0.1,
        time_scale: float = 1.0,
        seconds_per_minute: float = 60.0,
        startup_silence: float = 1.0,
        serial: str = SERIAL,
    ) -> None:
        self.bank = HuaweiBank()
        self.peer = ModbusPeer(
            {0: self.bank, 1: self.bank}, single_client=True, startup_silence=startup_silence
        )
        self.tick = tick
        self.time_scale = time_scale  # > 1 makes the state of charge move faster
        self.seconds_per_minute = seconds_per_minute  # < 60 makes forcible periods end sooner
        self.serial = serial
        self.capacity_wh = 10_000.0
        self.soc = 55.0
        self.min_soc = 5.0
        self.load_w = 600.0
        self.pv_w = 3500.0
        self.max_charge_w = 2500
        self.max_discharge_w = 5000
        self.voltage = 450.0  # a LUNA2000 runs at a high voltage
        self.running_status = 2  # 0 offline, 1 standby, 2 running, 3 fault, 4 sleep
        self.charged_kwh, self.discharged_kwh = 1234.56, 1100.12
        self.imported_kwh, self.exported_kwh = 5432.1, 3210.98
        self.forcible_until: float | None = None
        self._others: list[asyncio.StreamWriter] = []
        self._define()

    @property
    def require_login(self) -> bool:
        return self.bank.locked

    @require_login.setter
    def require_login(self, value: bool) -> None:
        self.bank.locked = value

    async def connect_other_client(self) -> None:
        """Connect as another client would (FusionSolar tools, a second integration)."""
        _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._others.append(writer)
        await asyncio.sleep(0.05)  # let the peer drop the older connection

    def _define(self) -> None:
        bank = self.bank
        for first, count in ((30000, 80), (32000, 120), (37000, 140), (37700, 100), (47000, 300)):
            bank.define(first, count)
        bank.set_string(30000, MODEL, 15)
        bank.set_string(30015, self.serial, 10)
        bank.writable.update({47083, 47086, 47100, *range(47246, 47251)})
        bank.set_32(37046, self.max_charge_w)
        bank.set_32(37048, self.max_discharge_w)
        bank.set_32(37758, round(self.capacity_wh))
        bank.set_u16(47086, SELF_CONSUMPTION)
        bank.on_write = self._on_write
        self.update(0.0)

    def _now(self) -> float:
        return asyncio.get_running_loop().time() if self.running else 0.0

    def _on_write(self, address: int, _values: list[int]) -> None:
        if address == 47100:
            command = self.bank.get_u16(47100)
            minutes = self.bank.get_u16(47083)
            self.forcible_until = (
                self._now() + minutes * self.seconds_per_minute if command != STOP else None
            )
        self.update(0.0)

    @property
    def forcible_active(self) -> bool:
        """Return True while a forcible charge/discharge command runs."""
        if self.forcible_until is not None and self._now() > self.forcible_until:
            self.forcible_until = None
            self.bank.set_u16(47100, STOP)  # the period is over: the inverter ends the command
        return self.forcible_until is not None and self.bank.get_u16(47100) != STOP

    def forcible_power(self) -> float | None:
        """The commanded battery power (W, + discharge), None without a forcible command."""
        if not self.forcible_active:
            return None
        if self.bank.get_u16(47100) == DISCHARGE:
            return float(self.bank.get_32(47249, signed=False))
        return -float(self.bank.get_32(47247, signed=False))

    def battery_power(self) -> float:
        """Battery power, + discharging, as the inverter would deliver it."""
        commanded = self.forcible_power()
        if commanded is not None:
            wanted = commanded
        elif self.bank.get_u16(47086) == SELF_CONSUMPTION:
            wanted = self.load_w - self.pv_w
        else:  # fully fed to grid, time of use outside its periods: the battery rests
            wanted = 0.0
        max_discharge = 0 if self.soc <= self.min_soc else self.max_discharge_w
        max_charge = 0 if self.soc >= 100 else self.max_charge_w
        return max(-max_charge, min(max_discharge, wanted))

    def update(self, dt: float) -> None:
        power = self.battery_power()
        hours = dt * self.time_scale / 3600
        self.soc = min(100.0, max(0.0, self.soc - power * hours / self.capacity_wh * 100))
        grid = self.load_w - self.pv_w - power  # + import
        if power > 0:
            self.discharged_kwh += power * hours / 1000
        else:
            self.charged_kwh -= power * hours / 1000
        if grid > 0:
            self.imported_kwh += grid * hours / 1000
        else:
            self.exported_kwh -= grid * hours / 1000
        bank = self.bank
        bank.set_32(32064, round(self.pv_w))
        bank.set_32(32080, round(self.pv_w + power))  # the inverter's AC output
        bank.set_32(37113, round(-grid))  # + = exporting on the wire
        bank.set_32(37119, round(self.exported_kwh * 100))
        bank.set_32(37121, round(self.imported_kwh * 100))
        bank.set_u16(37760, round(self.soc * 10))
        bank.set_u16(37762, self.running_status)
        bank.set_u16(37763, round(self.voltage * 10))
        bank.set_i16(37764, round(-power / self.voltage * 10))  # + = charging on the wire
        bank.set_32(37765, round(-power))  # + = charging on the wire
        bank.set_32(37780, round(self.charged_kwh * 100))
        bank.set_32(37782, round(self.discharged_kwh * 100))

    async def stop(self) -> None:
        await self.stop_physics()
        for writer in self._others:
            writer.close()
        await self.peer.stop()
