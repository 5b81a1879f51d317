"""An SMA Sunny Boy Storage / Sunny Island as seen over Modbus TCP (unit id 3).

SMA's rules, as the Modbus documentation describes them: 32-bit values, high word first, written
whole (two registers with function code 16); registers inside a read block that the device does
not have read as NaN, a block with none it has is refused; values the device cannot provide
right now are NaN (`unavailable`). Control: 40149 (setpoint, W, + discharge) is only obeyed
after 40151 = 802, and control lapses unless 40151/40149 keep being written; 40151 = 803 ends
it. Both are write-only. Without control the battery covers load − PV within its limits.
Raw register values are written here by hand, independently of the client's register table.
"""

from __future__ import annotations

import asyncio

from .base import PeerSimulator
from .modbus_server import ILLEGAL_ADDRESS, ILLEGAL_VALUE, ModbusError, ModbusPeer, RegisterBank

UNIT_ID = 3
SERIAL = 2120012345
DEVICE_TYPE = 9356  # Sunny Boy Storage 3.7
CONTROL_ACTIVE, CONTROL_INACTIVE = 802, 803
NAN_S32, NAN_U32, NAN_STATUS = 0x80000000, 0xFFFFFFFF, 0x00FFFFFD
SIGNED = {30775, 30843, 30849, 30865, 30867, 40149}
STATUS = {30201, 30955}
WRITE_ONLY = {40149, 40150, 40151, 40152}


class SmaBank(RegisterBank):
    """Registers with SMA's read and write rules."""

    def read(self, address: int, count: int) -> list[int]:
        span = range(address, address + count)
        if any(a in WRITE_ONLY for a in span) or not any(a in self.words for a in span):
            raise ModbusError(ILLEGAL_ADDRESS)
        return [self.words.get(a, 0xFFFF) for a in span]

    def write(self, address: int, values: list[int]) -> None:
        if len(values) % 2:
            raise ModbusError(ILLEGAL_VALUE)  # half a 32-bit value
        super().write(address, values)


class SmaSimulator(PeerSimulator):
    """One register bank plus a physics tick."""

    def __init__(
        self, *, tick: float = 0.1, time_scale: float = 1.0, watchdog: float = 30.0
    ) -> None:
        self.bank = SmaBank()
        self.peer = ModbusPeer({UNIT_ID: self.bank})
        self.tick = tick
        self.time_scale = time_scale  # > 1 makes the state of charge move faster
        self.watchdog = watchdog  # seconds control lasts without a new command
        self.capacity_wh = 10_000.0
        self.soc = 72.2
        self.load_w = 700.0
        self.pv_w = 4600.0
        self.max_power_w = 3680
        self.temperature = 24.7
        self.condition = 307  # ok; 35 fault, 303 off, 455 warning
        self.charged_wh, self.discharged_wh = 4_321_000.0, 3_876_500.0
        self.unavailable: set[int] = set()  # addresses served as NaN
        self.control_enabled = False
        self.last_command: float | None = None
        # False: 40151 = 802 is acknowledged but has no effect, as on an inverter whose
        # settings do not allow control through communication.
        self.obey_control = True
        self._define()

    def _define(self) -> None:
        bank = self.bank
        for address in (30053, 30057, 30201, 30231, 30595, 30597, 30775, 30843, 30845, 30849):
            bank.define(address, 2)
        for address in (30851, 30865, 30867, 30955):
            bank.define(address, 2)
        bank.writable.update(WRITE_ONLY)
        bank.on_write = self._on_write
        self.update(0.0)

    def _now(self) -> float:
        return asyncio.get_running_loop().time() if self.running else 0.0

    def _on_write(self, address: int, _values: list[int]) -> None:
        if address == 40151:
            enable = self.bank.get_32(40151, signed=False) == CONTROL_ACTIVE
            self.control_enabled = enable and self.obey_control
            self.last_command = self._now() if self.control_enabled else None
        elif address == 40149 and self.control_enabled:
            self.last_command = self._now()
        elif address == 40149:  # not enabled: the setpoint is dropped
            del self.bank.words[40149], self.bank.words[40150]
        self.update(0.0)

    @property
    def control_active(self) -> bool:
        """Return True while the inverter follows 40149."""
        if self.last_command is not None and self._now() - self.last_command > self.watchdog:
            self.control_enabled, self.last_command = False, None  # lapsed: not refreshed
        return self.control_enabled and 40149 in self.bank.words

    def commanded_power(self) -> float | None:
        """The setpoint the inverter follows (W, + discharge), None without control."""
        return float(self.bank.get_32(40149)) if self.control_active else None

    def battery_power(self) -> float:
        """Battery power, + discharging."""
        commanded = self.commanded_power()
        wanted = self.load_w - self.pv_w if commanded is None else commanded
        max_discharge = 0 if self.soc <= 0 else self.max_power_w
        max_charge = 0 if self.soc >= 100 else self.max_power_w
        return max(-max_charge, min(max_discharge, wanted))

    @property
    def voltage(self) -> float:
        return 48.0 + 6.0 * self.soc / 100

    def _set(self, address: int, value: int) -> None:
        if address in self.unavailable:
            value = NAN_STATUS if address in STATUS else NAN_S32 if address in SIGNED else NAN_U32
        self.bank.set_32(address, value)

    def update(self, dt: float) -> None:
        power = self.battery_power()
        hours = dt * self.time_scale / 3600
        self.soc = min(100.0, max(0.0, self.soc - power * hours / self.capacity_wh * 100))
        if power > 0:
            self.discharged_wh += power * hours
        else:
            self.charged_wh -= power * hours
        grid = self.load_w - self.pv_w - power  # + import
        status = 2291 if abs(power) < 10 else 2293 if power > 0 else 2292
        for address, value in (
            (30053, DEVICE_TYPE),
            (30057, SERIAL),
            (30201, self.condition),
            (30231, self.max_power_w),
            (30595, round(self.charged_wh)),
            (30597, round(self.discharged_wh)),
            (30775, round(power)),  # + = discharging on the wire
            (30843, round(power / self.voltage * 1000)),  # mA, + = discharging
            (30845, round(self.soc)),
            (30849, round(self.temperature * 10)),
            (30851, round(self.voltage * 100)),
            (30865, round(max(grid, 0))),
            (30867, round(max(-grid, 0))),
            (30955, status),
        ):
            self._set(address, value)
