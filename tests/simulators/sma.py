"""An SMA Sunny Boy Storage / Sunny Island as seen over Modbus TCP (unit id 3).

SMA's rules, as its Modbus documentation describes them (SMA-SI = SMA's Sunny Island list
MODBUS-HTML_SI44M-80H-13_32009R_V10; SBS-V13 = the Sunny Boy Storage list; EDMM = SMA's Data
Manager manual, "Fallback Behavior"):
- 32-bit values, high word first, written whole (two registers with function code 16); values
  the device cannot provide right now are NaN. Registers inside a read block that the model does
  not have read as NaN, a block with none it has is refused; `strict_missing` models instead
  refuse any block that touches an address they do not have (exception 2, the behaviour the
  field audit's S2 warns of).
- Models differ: a Sunny Boy Storage (`model="sbs"`) has the energy counters 31397/31401 (U64 Wh)
  and not the Sunny Island's 30595/30597 (SBS-V13; openWB reads 31397/31401 on the SBS); a
  Sunny Island (`model="si"`) the other way round; `max_power=False` leaves out 30231.
- Control: 40149 (setpoint, W, + discharge) is obeyed only after 40151 = 802; both are
  write-only; 40151 = 803 ends it. When no command comes for the timeout 41195, 41193 decides:
  2506 keeps the last setpoint, 2507 applies the fallback (modelled as the battery's own
  operation) (SMA-SI 41193/41195; EDMM). 31061 says whether control via communication is
  available (1129 yes, 1130 no; SMA-SI); with `obey_control=False` it is not, and 802 is
  acknowledged without effect.
- Without control the battery covers load − PV within its limits. The simulator keeps its own
  clock (`advance`) for the fallback timeout.
Raw register values are written here by hand, independently of the client's register table.
"""

from __future__ import annotations

import asyncio

from .base import PeerSimulator
from .modbus_server import ILLEGAL_ADDRESS, ILLEGAL_VALUE, ModbusError, ModbusPeer, RegisterBank

UNIT_ID = 3
SERIAL = 2120012345
DEVICE_TYPES = {"sbs": 9356, "si": 9332}  # Sunny Boy Storage 3.7; a Sunny Island
CONTROL_ACTIVE, CONTROL_INACTIVE = 802, 803
VALUES_MAINTAINED, APPLY_FALLBACK = 2506, 2507
CONTROL_AVAILABLE, CONTROL_NOT_AVAILABLE = 1129, 1130
FALLBACK_TIMEOUT_RANGE = range(1, 1801)  # s (field audit §3: "timeout 1-1800 s")
NAN_S32, NAN_U32, NAN_STATUS, NAN_U64 = 0x80000000, 0xFFFFFFFF, 0x00FFFFFD, (1 << 64) - 1
SIGNED = {30775, 30843, 30849, 30865, 30867, 40149}
STATUS = {30201, 30955, 31061}
WRITE_ONLY = {40149, 40150, 40151, 40152}


class SmaBank(RegisterBank):
    """Registers with SMA's read and write rules."""

    strict_missing = False

    def read(self, address: int, count: int) -> list[int]:
        span = range(address, address + count)
        if any(a in WRITE_ONLY for a in span) or not any(a in self.words for a in span):
            raise ModbusError(ILLEGAL_ADDRESS)
        if self.strict_missing and not all(a in self.words for a in span):
            raise ModbusError(ILLEGAL_ADDRESS)
        return [self.words.get(a, 0xFFFF) for a in span]

    def write(self, address: int, values: list[int]) -> None:
        if len(values) % 2:
            self.invalid_writes += 1
            raise ModbusError(ILLEGAL_VALUE)  # half a 32-bit value
        super().write(address, values)


class SmaSimulator(PeerSimulator):
    """One register bank plus a physics tick."""

    def __init__(
        self,
        *,
        model: str = "sbs",
        max_power: bool = True,
        fallback: bool = True,
        strict_missing: bool = False,
        tick: float = 0.1,
        time_scale: float = 1.0,
    ) -> None:
        self.bank = SmaBank()
        self.bank.strict_missing = strict_missing
        self.peer = ModbusPeer({UNIT_ID: self.bank})
        self.model = model
        self.has_max_power = max_power
        self.has_fallback = fallback
        self.tick = tick
        self.time_scale = time_scale  # > 1 makes the state of charge move faster
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
        self.clock_offset = 0.0  # seconds `advance` moved the inverter's clock on
        # 31061: whether the inverter says battery control via communication is available;
        # `obey_control` False: 802 is acknowledged but the setpoint has no effect.
        self.control_available = True
        self.obey_control = True
        self._define()

    def _define(self) -> None:
        bank = self.bank
        addresses = [30053, 30057, 30201, 30775, 30843, 30845, 30849, 30851, 30865, 30867]
        addresses += [30955, 31061]
        if self.has_max_power:
            addresses.append(30231)
        addresses += [30595, 30597] if self.model == "si" else []
        for address in addresses:
            bank.define(address, 2)
        if self.model == "sbs":
            bank.define(31397, 8)  # two U64 counters
        bank.writable.update(WRITE_ONLY)
        if self.has_fallback:
            bank.define(41193, 4)
            bank.writable.update(range(41193, 41197))
            bank.set_32(41193, VALUES_MAINTAINED)  # the installer's choice, restored on release
            bank.set_32(41195, 600)
        bank.on_write = self._on_write
        self.update(0.0)

    def _now(self) -> float:
        loop_time = asyncio.get_running_loop().time() if self.running else 0.0
        return loop_time + self.clock_offset

    async def advance(self, seconds: float) -> None:
        """Move the inverter's own clock on (the fallback timeout runs on it)."""
        self.clock_offset += seconds
        self.update(0.0)

    @property
    def fallback_mode(self) -> int | None:
        return self.bank.get_32(41193, signed=False) if self.has_fallback else None

    @property
    def fallback_timeout(self) -> int | None:
        return self.bank.get_32(41195, signed=False) if self.has_fallback else None

    def _on_write(self, address: int, _values: list[int]) -> None:
        if address == 40151:
            enable = self.bank.get_32(40151, signed=False) == CONTROL_ACTIVE
            self.control_enabled = enable and self.obey_control and self.control_available
            self.last_command = self._now() if self.control_enabled else None
        elif address == 40149 and self.control_enabled:
            self.last_command = self._now()
        elif address == 40149:  # not enabled: the setpoint is dropped
            del self.bank.words[40149], self.bank.words[40150]
        elif (
            address == 41193 and self.fallback_mode not in (VALUES_MAINTAINED, APPLY_FALLBACK)
        ) or (address == 41195 and self.fallback_timeout not in FALLBACK_TIMEOUT_RANGE):
            self.bank.invalid_writes += 1
        self.update(0.0)

    @property
    def control_active(self) -> bool:
        """Return True while the inverter follows 40149."""
        timeout, mode = self.fallback_timeout, self.fallback_mode
        if (
            self.last_command is not None
            and timeout is not None
            and mode == APPLY_FALLBACK
            and self._now() - self.last_command > timeout
        ):
            self.control_enabled, self.last_command = False, None  # fallback: own operation
        return self.control_enabled and 40149 in self.bank.words

    def forced(self) -> bool:
        """The battery follows an external setpoint right now."""
        return self.control_active

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
        if address not in self.bank.words:
            return  # a register this model does not have
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
            (30053, DEVICE_TYPES[self.model]),
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
            (31061, CONTROL_AVAILABLE if self.control_available else CONTROL_NOT_AVAILABLE),
        ):
            self._set(address, value)
        if self.model == "sbs":
            for address, wh in ((31397, self.charged_wh), (31401, self.discharged_wh)):
                self.bank.set_64(address, NAN_U64 if address in self.unavailable else round(wh))
