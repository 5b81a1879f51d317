"""A Huawei SUN2000 inverter with a LUNA2000 battery, as its SDongle serves it over Modbus TCP.

What the device does, with its sources (HSL = wlcrs/huawei-solar-lib, HSI = wlcrs/huawei_solar):
- one client at a time: a new connection drops the older one [HSI README]; requests in the first
  second of a connection go unanswered [HSL `WAIT_ON_CONNECT`];
- battery settings (47xxx) and the heartbeat (49999) are refused with exception 0x80 until the
  installer logs in with function code 0x41 (challenge 0x24, keyed answer 0x25: HMAC-SHA256 keyed
  with the SHA-256 of the password) [HSI README L97-106; HSL `modbus_pdu.py`]; the login holds
  for its TCP connection only [HSI #28] and ends `session_timeout` seconds after the login or the
  last heartbeat (the length is not documented: unconfirmed); five wrong passwords within two
  minutes each lock the account for ten minutes [Huawei SUN2000 User Manual, §7];
- `busy_rate` of the requests (seeded) are answered "slave device busy" (0x06), unapplied
  [HSL retries them: `RESPONSE_RETRY_STRATEGY`];
- a forcible charge/discharge command (47100) with time mode (47246 = 0) runs for 47083 minutes
  on the simulator's own clock, then the inverter ends it by itself [HSL register 47083 "min",
  47246 "time"; HSI `forcible_charge`]; the command's power is capped by the maximum charging /
  discharging power 47075 / 47077 [predbat #1962: a forcible charge does nothing while the
  maximum charging power is 0] and by the storage's maxima 37046 / 37048;
- forcible powers above the storage's maximum are set to the maximum [evcc PR #12449: "values
  above the maximum charging power are set to the maximum by Huawei"]; 47075 / 47077 likewise
  (unconfirmed); values outside a register's range (47083 0-1440 [HSI `DURATION_SCHEMA`, its
  `stop_forcible_charge` writes 0], 47086 0-5, 47100 0-2, 47246 0-1 [HSL `register_values`]) and
  a write of half a 32-bit value are refused with 0x03 (unconfirmed);
- in "maximise self-consumption" (47086 = 2) the battery covers load − PV within 47075 / 47077
  [HSI #574, evcc: 47077 = 0 stops discharging]; in the other working modes it rests here
  (a simplification: their schedules are not simulated).
Raw register values are written here by hand, independently of the client's register table.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import secrets

from .base import PeerSimulator
from .faults import Fault
from .modbus_server import (
    ILLEGAL_FUNCTION,
    ILLEGAL_VALUE,
    ModbusError,
    ModbusPeer,
    RegisterBank,
    Request,
)

SERIAL = "HV2260012345"
MODEL = "SUN2000-6KTL-M1"
PASSWORD = "00000a"  # the initial installer password [Huawei SUN2000 User Manual, §7]
USER = "installer"
PERMISSION_DENIED = 0x80
BUSY = 0x06
SELF_CONSUMPTION, FULLY_FED_TO_GRID, TIME_OF_USE_LUNA2000 = 2, 4, 5
STOP, CHARGE, DISCHARGE = 0, 1, 2
LUNA2000 = 2  # 47000 storage product model: 0 none, 1 LG RESU, 2 LUNA2000 [HSL register_values]
SESSION_TIMEOUT = 60.0  # s without a heartbeat (unconfirmed)
LOCKOUT_ATTEMPTS, LOCKOUT_WINDOW, LOCKOUT = 5, 120.0, 600.0  # [Huawei SUN2000 User Manual, §7]

HEARTBEAT = 49999
MAX_CHARGE, MAX_DISCHARGE = 47075, 47077  # U32, W
PERIOD, WORKING_MODE, COMMAND, FORCIBLE_MODE = 47083, 47086, 47100, 47246
CHARGE_POWER, DISCHARGE_POWER = 47247, 47249  # U32, W
_PAIRS = (MAX_CHARGE, MAX_DISCHARGE, CHARGE_POWER, DISCHARGE_POWER)  # 32-bit values
_RANGES = {PERIOD: (0, 1440), WORKING_MODE: (0, 5), COMMAND: (0, 2), FORCIBLE_MODE: (0, 1)}


class HuaweiBank(RegisterBank):
    """The inverter's registers; writes go through the simulator's checks first."""

    sim: HuaweiSimulator

    def write(self, address: int, values: list[int]) -> None:
        values = self.sim.check_write(address, values)
        super().write(address, values)


class HuaweiPeer(ModbusPeer):
    """The SDongle's Modbus TCP server: function codes 3, 6, 16 and Huawei's login (0x41)."""

    sim: HuaweiSimulator

    def _answer(self, unit_id: int, pdu: bytes) -> bytes:
        sim = self.sim
        if unit_id in self.banks and sim.busy():
            self.requests.append(Request(unit_id, pdu[0], -1, []))
            return bytes([pdu[0] | 0x80, BUSY])
        if pdu[0] == 0x41 and unit_id in self.banks:
            self.requests.append(Request(unit_id, 0x41, pdu[1] if len(pdu) > 1 else -1, []))
            try:
                return bytes([0x41]) + sim.login_exchange(pdu[1:])
            except ModbusError as err:
                return bytes([0xC1, err.code])
        answer = super()._answer(unit_id, pdu)
        if pdu[0] in (6, 16) and sim.lose_answer_at == int.from_bytes(pdu[1:3]):
            # The write is applied, but the link breaks before its answer goes out (and, with
            # `fault_after_lost_answer`, stays broken).
            sim.lose_answer_at = None
            self.fault = sim.fault_after_lost_answer
            for writer in list(self._writers):
                writer.close()
        return answer


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
        password: str = PASSWORD,
        require_login: bool = True,
        busy_rate: float = 0.0,
        seed: int = 14,
        battery: bool = True,
        meter: bool = True,
        unit_temperature: bool = True,
    ) -> None:
        self.bank = HuaweiBank()
        self.bank.sim = self
        self.peer = HuaweiPeer(
            {0: self.bank, 1: self.bank}, single_client=True, startup_silence=startup_silence
        )
        self.peer.sim = self
        self.tick = tick
        self.time_scale = time_scale  # > 1 makes the state of charge move faster
        self.seconds_per_minute = seconds_per_minute  # < 60 makes forcible periods end sooner
        self.serial = serial
        # Model variants: an inverter without a battery (no 37000-37799 storage registers and no
        # 47xxx battery settings; huawei-solar-lib reads them only with a battery), without a
        # power meter (37100-37139), or with the battery's registers but not unit 1's (37000-37045).
        self.battery, self.meter = battery, meter
        self.unit_temperature = battery and unit_temperature
        self.password = password
        self.require_login = require_login
        self.login_supported = True  # False: 0x41 is an unknown function (a serial gateway)
        # Modbus TCP "restricted" on the dongle: settings stay read-only even after the login
        # (evcc's requirements text recommends "unrestricted"; the answer code is unconfirmed).
        self.restricted = False
        self.busy_rate = busy_rate
        self.lose_answer_at: int | None = None  # a write to this address is applied, unanswered
        self.fault_after_lost_answer = Fault.NONE
        self._random = random.Random(seed)
        self._busy_next = 0
        self.capacity_wh = 10_000.0
        self.soc = 55.0
        self.min_soc = 5.0
        self.load_w = 600.0
        self.pv_w = 3500.0
        self.max_charge_w = 2500
        self.max_discharge_w = 5000
        self.voltage = 450.0  # a LUNA2000 runs at a high voltage
        self.temperature = 25.3
        self.running_status = 2  # 0 offline, 1 standby, 2 running, 3 fault, 4 sleep
        self.export_sign = 1  # -1: a meter that reports the exported energy negative [HSI #54]
        self.charged_kwh, self.discharged_kwh = 1234.56, 1100.12
        self.imported_kwh, self.exported_kwh = 5432.1, 3210.98
        # What the user set in the FusionSolar app: the battery is forced while they differ.
        self.user: dict[int, int] = {
            WORKING_MODE: SELF_CONSUMPTION,
            MAX_CHARGE: 2500,
            MAX_DISCHARGE: 5000,
        }
        self.forcible_until: float | None = None
        self.invalid_writes = 0
        self.logins = 0
        self.heartbeats = 0
        self.offset = 0.0  # seconds the simulator's own clock is ahead of the loop's
        self._session: tuple[int, float] | None = None  # (connection, ends at)
        self._challenge: tuple[int, bytes] | None = None
        self._failures: list[float] = []
        self._locked_until = 0.0
        self._others: list[asyncio.StreamWriter] = []
        self._define()

    # --- the simulator's own clock ---------------------------------------------------------------

    def now(self) -> float:
        """Return the simulator's clock (s): the loop's time while running, plus `advance`."""
        return (asyncio.get_running_loop().time() if self.running else 0.0) + self.offset

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock on: forcible periods and sessions end as they would."""
        self.offset += seconds
        self.update(0.0)

    # --- the login --------------------------------------------------------------------------

    @property
    def logged_in(self) -> bool:
        """Return True while the current connection carries a valid installer login."""
        return (
            self._session is not None
            and self._session[0] == self.peer.connections
            and self.now() < self._session[1]
        )

    def login_exchange(self, request: bytes) -> bytes:
        """Answer a 0x41 request (the bytes after the function code) [HSL `modbus_pdu.py`]."""
        if not self.login_supported or not request:
            raise ModbusError(ILLEGAL_FUNCTION)
        if request[0] == 0x24:  # the challenge: 17 bytes of content, 16 of them the challenge
            challenge = secrets.token_bytes(16)
            self._challenge = (self.peer.connections, challenge)
            return bytes([0x24, 17, *challenge, 0])
        if request[0] != 0x25:
            raise ModbusError(ILLEGAL_FUNCTION)
        ours, user, mac = _parse_login(request)
        challenge = self._challenge
        self._challenge = None
        key = hashlib.sha256(self.password.encode()).digest()
        accepted = (
            challenge is not None
            and challenge[0] == self.peer.connections
            and user == USER
            and hmac.compare_digest(mac, hmac.digest(key, challenge[1], "sha256"))
            and self.now() >= self._locked_until
        )
        if not accepted:
            self._refused_login()
            return bytes([0x25, 2, 1, 0])
        self._failures.clear()
        self.logins += 1
        self._session = (self.peer.connections, self.now() + SESSION_TIMEOUT)
        proof = hmac.digest(key, ours, "sha256")
        return bytes([0x25, 2 + len(proof) + 2, 0, len(proof), *proof, 0, 0])

    def _refused_login(self) -> None:
        now = self.now()
        self._failures = [t for t in self._failures if now - t < LOCKOUT_WINDOW] + [now]
        if len(self._failures) >= LOCKOUT_ATTEMPTS:
            self._locked_until = now + LOCKOUT
            self._failures.clear()

    @property
    def locked_out(self) -> bool:
        """Return True while wrong passwords keep the installer account locked."""
        return self.now() < self._locked_until

    # --- requests -------------------------------------------------------------------------------

    def busy(self) -> bool:
        """Return True when this request is answered "slave device busy"."""
        if self._busy_next:
            self._busy_next -= 1
            return True
        return self.busy_rate > 0 and self._random.random() < self.busy_rate

    def busy_next(self, count: int) -> None:
        """Answer the next `count` requests "busy"."""
        self._busy_next = count

    def check_write(self, address: int, values: list[int]) -> list[int]:
        """Refuse what the inverter refuses; return the words it stores (clamped)."""
        settings = 47000 <= address < 48000
        if (address == HEARTBEAT or settings) and self.require_login and not self.logged_in:
            raise ModbusError(PERMISSION_DENIED)
        if settings and self.restricted:
            raise ModbusError(PERMISSION_DENIED)
        if address == HEARTBEAT:
            if values != [1]:
                self._invalid(ILLEGAL_VALUE)
            self.heartbeats += 1
            session = self._session
            if session is not None:
                self._session = (session[0], self.now() + SESSION_TIMEOUT)
            return values
        stored = list(values)
        end = address + len(values)
        for first in _PAIRS:  # a 32-bit value is written whole, or not at all
            if (address <= first < end) != (address <= first + 1 < end):
                self._invalid(ILLEGAL_VALUE)
            if address <= first < end:
                offset = first - address
                raw = (values[offset] << 16) | values[offset + 1]
                ceiling = self._ceiling(first)
                if raw > ceiling:  # the inverter takes its maximum instead [evcc #12449]
                    self.invalid_writes += 1
                    stored[offset : offset + 2] = [ceiling >> 16, ceiling & 0xFFFF]
        for register, (low, high) in _RANGES.items():
            if address <= register < end and not low <= values[register - address] <= high:
                self._invalid(ILLEGAL_VALUE)
        return stored

    def _ceiling(self, register: int) -> int:
        return self.max_charge_w if register in (MAX_CHARGE, CHARGE_POWER) else self.max_discharge_w

    def _invalid(self, code: int) -> None:
        self.invalid_writes += 1
        raise ModbusError(code)

    # --- what the user does in the FusionSolar app --------------------------------------------

    def user_sets(self, register: int, value: int) -> None:
        """Change a setting as the user would in the app (it becomes the user's own)."""
        if register in _PAIRS:
            self.bank.set_32(register, value)
        else:
            self.bank.set_u16(register, value)
        if register in self.user:
            self.user[register] = value
        self.update(0.0)

    # --- device-side truth ----------------------------------------------------------------------

    @property
    def forcible_active(self) -> bool:
        """Return True while a forcible charge/discharge command runs."""
        return self.forcible_until is not None and self.bank.get_u16(COMMAND) != STOP

    def forcible_power(self) -> float | None:
        """The commanded battery power (W, + discharge), None without a forcible command."""
        if not self.forcible_active:
            return None
        if self.bank.get_u16(COMMAND) == DISCHARGE:
            return float(self.bank.get_32(DISCHARGE_POWER, signed=False))
        return -float(self.bank.get_32(CHARGE_POWER, signed=False))

    @property
    def forced(self) -> bool:
        """Return True while the battery is not in the user's own operation."""
        return self.forcible_active or any(
            self._setting(register) != value for register, value in self.user.items()
        )

    def _setting(self, register: int) -> int:
        if register in _PAIRS:
            return self.bank.get_32(register, signed=False)
        return self.bank.get_u16(register)

    @property
    def held(self) -> bool:
        """Return True while the battery may neither charge nor discharge (47075 = 47077 = 0)."""
        return self._setting(MAX_CHARGE) == 0 and self._setting(MAX_DISCHARGE) == 0

    def battery_power(self) -> float:
        """Battery power, + discharging, as the inverter would deliver it."""
        if not self.battery:
            return 0.0
        commanded = self.forcible_power()
        if commanded is not None:
            wanted = commanded
        elif self.bank.get_u16(WORKING_MODE) == SELF_CONSUMPTION:
            wanted = self.load_w - self.pv_w
        else:  # fully fed to grid, time of use outside its periods: the battery rests
            wanted = 0.0
        max_discharge = min(self.max_discharge_w, self._setting(MAX_DISCHARGE))
        max_charge = min(self.max_charge_w, self._setting(MAX_CHARGE))
        if self.soc <= self.min_soc:
            max_discharge = 0
        if self.soc >= 100:
            max_charge = 0
        return max(-max_charge, min(max_discharge, wanted))

    # --- the register map and its dynamics ----------------------------------------------------

    def _define(self) -> None:
        bank = self.bank
        ranges = [(30000, 80), (32000, 120)]
        ranges += [(37000, 46)] if self.unit_temperature else []  # unit 1 [HSL STORAGE_UNIT_1_*]
        ranges += [(37100, 40)] if self.meter else []
        ranges += [(37046, 54), (37700, 100), (47000, 300)] if self.battery else []
        for first, count in ranges:
            bank.define(first, count)
        bank.define(HEARTBEAT)
        bank.set_string(30000, MODEL, 15)
        bank.set_string(30015, self.serial, 10)
        bank.writable.update(
            {HEARTBEAT, *range(MAX_CHARGE, MAX_CHARGE + 4), PERIOD, WORKING_MODE, COMMAND}
        )
        bank.writable.update(range(FORCIBLE_MODE, FORCIBLE_MODE + 5))
        self._set(37046, self.max_charge_w, 2)
        self._set(37048, self.max_discharge_w, 2)
        self._set(37758, round(self.capacity_wh), 2)
        self._set(47000, LUNA2000)
        for register, value in self.user.items():
            self._set(register, value, 2 if register in _PAIRS else 1)
        if not self.battery:
            self.user.clear()
        bank.on_write = self._on_write
        self.update(0.0)

    def _on_write(self, address: int, _values: list[int]) -> None:
        if address == COMMAND:
            command = self.bank.get_u16(COMMAND)
            timed = self.bank.get_u16(FORCIBLE_MODE) == 0
            minutes = self.bank.get_u16(PERIOD)
            self.forcible_until = (
                self.now() + minutes * self.seconds_per_minute
                if command != STOP and timed
                else None
            )
        self.update(0.0)

    def _expire(self) -> None:
        if self.forcible_until is not None and self.now() >= self.forcible_until:
            self.forcible_until = None
            self.bank.set_u16(COMMAND, STOP)  # the period is over: the inverter ends the command

    def update(self, dt: float) -> None:
        self._expire()
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
        for address, value, width in (
            (32064, round(self.pv_w), 2),
            (32080, round(self.pv_w + power), 2),  # the inverter's AC output
            (37022, round(self.temperature * 10), 1),
            (37113, round(-grid), 2),  # + = exporting on the wire
            (37119, round(self.exported_kwh * 100) * self.export_sign, 2),
            (37121, round(self.imported_kwh * 100), 2),
            (37760, round(self.soc * 10), 1),
            (37762, self.running_status, 1),
            (37763, round(self.voltage * 10), 1),
            (37764, round(-power / self.voltage * 10), 1),  # + = charging on the wire
            (37765, round(-power), 2),  # + = charging on the wire
            (37780, round(self.charged_kwh * 100), 2),
            (37782, round(self.discharged_kwh * 100), 2),
        ):
            self._set(address, value, width)

    def _set(self, address: int, value: int, width: int = 1) -> None:
        """Set a register this model has (16 or 32 bits); others stay undefined."""
        if address not in self.bank.words:
            return
        if width == 2:
            self.bank.set_32(address, value)
        else:
            self.bank.set_u16(address, value)

    # --- clients ------------------------------------------------------------------------------

    async def connect_other_client(self) -> None:
        """Connect as another client would (FusionSolar tools, a second integration)."""
        _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._others.append(writer)
        await asyncio.sleep(0.05)  # let the peer drop the older connection

    async def stop(self) -> None:
        await self.stop_physics()
        for writer in self._others:
            writer.close()
        await self.peer.stop()


def _parse_login(request: bytes) -> tuple[bytes, str, bytes]:
    """Split a login request (after the function code): our challenge, the user, the answer."""
    try:
        ours = request[2:18]
        user_length = request[18]
        user = request[19 : 19 + user_length].decode()
        mac_length = request[19 + user_length]
        mac = request[20 + user_length : 20 + user_length + mac_length]
    except (IndexError, UnicodeDecodeError) as err:
        raise ModbusError(ILLEGAL_VALUE) from err
    if len(ours) != 16 or len(mac) != mac_length or request[1] != len(request) - 2:
        raise ModbusError(ILLEGAL_VALUE)
    return ours, user, mac
