"""Pylontech LV batteries, and BMSs that speak their protocol, on the CAN bus to the inverter.

The BMS broadcasts six frames about once a second to the inverter (Studer Xcom-CAN, Victron,
SMA, …) at 500 kbit/s. This device only listens: frames update the latest state as they arrive
(pushed from the reader thread of `CanLink`), `read()` returns that snapshot without touching the
bus, and raises `DeviceSilentError` once the BMS has been quiet for longer than the silence
timeout. Nothing is ever sent onto the bus: it is the BMS's and the inverter's.

Protocol versions: V1.2 BMSs send protection/alarm flags in 0x359 and the charge/discharge
requests in 0x35C; V1.3 (current US5000/US3000C firmware, setfirelabs' capture "New
Pylontechs") and the Victron/SMA-style BMSs (BYD, REC) send neither, but alarms and warnings in
0x35A and battery information in 0x35F ("0x35A is 'Alarms, Warnings', replacing 0x359; 0x35F is
'Battery type, BMS info', replacing 0x35C", setfirelabs). Both are decoded; without 0x35C,
charging (discharging) counts as allowed while the BMS's charge (discharge) current limit in
0x351 is above 0, as Victron's DVCC reads a CAN-BMS (a BMS stops charging by sending CCL 0).

There is no serial number on the bus, so the identity is where the battery is heard:
`<interface>:<channel>` (e.g. `slcan:/dev/serial/by-id/usb-…`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
import contextlib
from dataclasses import dataclass, field
from enum import StrEnum
import logging
import math
import struct

import can

from .base import BatteryDevice
from .canbus import CanLink, CanSettings
from .model import (
    BatteryState,
    Capabilities,
    DeviceConnectionError,
    DeviceIdentity,
    DeviceSilentError,
    Key,
    OperatingState,
    StateValue,
)

_LOGGER = logging.getLogger(__name__)

DEFAULT_INTERFACE = "socketcan"
DEFAULT_CHANNEL = "can0"
DEFAULT_BITRATE = 500_000
DEFAULT_SILENCE_TIMEOUT = 30.0
MODEL = "LV battery (Pylontech CAN protocol)"
# After the measurement frames, how long connect() waits for the rest of the set (the
# manufacturer, the flags) so that their entities exist from the start.
IDENTITY_WAIT = 2.0
# The longest connect() waits for the first frames: the BMS broadcasts every second, so ten
# seconds of nothing means nothing is there, whatever the (longer) silence timeout.
FIRST_FRAMES_WAIT = 10.0
# How long a poll that had to reopen the bus waits for the BMS's frames.
REOPEN_WAIT = 5.0
# Before a poll calls the bus silent, it listens this long for one more broadcast.
LAST_LISTEN = 1.0
IDLE_CURRENT = 0.5  # A; below this the battery counts as idle
# 0x356's voltage is 0.01 V in most sources, 0.1 V in Battery-Emulator; a voltage within this
# share of the charge voltage limit (0x351) is plausible.
PLAUSIBLE_VOLTAGE = (0.6, 1.2)
PROTECTION = "protection"  # any protection flag: the BMS has stopped charging or discharging

STATUS_FRAME = 0x359  # V1.2 protection and alarm flags
ALARM_FRAME = 0x35A  # V1.3 / Victron-style alarms and warnings
REQUEST_FRAME = 0x35C  # V1.2 charge and discharge requests
INFO_FRAME = 0x35F  # V1.3 / SMA-style battery information
REQUIRED_FRAMES = frozenset({0x355, 0x356})  # state of charge and the measurements


class FieldType(StrEnum):
    """How a value is laid out in a frame (little-endian)."""

    U8 = "<B"
    U16 = "<H"
    I16 = "<h"
    TEXT = "text"


@dataclass(frozen=True, kw_only=True)
class Field:
    """One value in a frame: `raw * scale * sign`; `sign` converts the wire's convention."""

    key: str
    offset: int
    kind: FieldType = FieldType.U16
    scale: float = 1.0
    sign: int = 1
    optional: bool = False  # missing from the shorter variant of the frame
    valid: tuple[float, float] | None = None  # a value outside makes the frame invalid
    length: int | None = None  # text: how many bytes (None: what is there)

    @property
    def size(self) -> int:
        """Return the bytes the field needs (text: its length, or 1 when it takes the rest)."""
        if self.kind is FieldType.TEXT:
            return self.length or 1
        return struct.calcsize(self.kind)

    def decode(self, data: bytes | bytearray) -> StateValue:
        """Return the engineering value from the frame's data (a count of U8 as an int)."""
        if self.kind is FieldType.TEXT:
            end = None if self.length is None else self.offset + self.length
            return bytes(data[self.offset : end]).decode("ascii", "ignore").strip(" \x00")
        raw: int = struct.unpack_from(self.kind, data, self.offset)[0]
        if self.kind is FieldType.U8 and self.scale == 1 and self.sign == 1:
            return raw
        return round(raw * self.scale * self.sign, 4) + 0.0  # + 0.0: no negative zero


@dataclass(frozen=True, kw_only=True)
class Flag:
    """A flag in a byte; several flags may share a key (it is on when any of them is).

    One bit (`width` 1, on when 1), or a 2-bit field as in 0x35A (on when it equals `active`).
    """

    key: str
    byte: int
    bit: int
    protection: bool = False  # the BMS has acted (cut off), rather than warned
    width: int = 1
    active: int = 1

    def decode(self, data: bytes | bytearray) -> bool:
        """Return whether the flag is on."""
        return (data[self.byte] >> self.bit) & ((1 << self.width) - 1) == self.active


@dataclass(frozen=True, kw_only=True)
class Frame:
    """One frame of the BMS: its fields and flags."""

    can_id: int
    fields: tuple[Field, ...] = ()
    flags: tuple[Flag, ...] = ()
    min_length: int = field(init=False)

    def __post_init__(self) -> None:
        """Work out the shortest data that still carries every required value."""
        ends = [f.offset + f.size for f in self.fields if not f.optional]
        ends += [flag.byte + 1 for flag in self.flags]
        object.__setattr__(self, "min_length", max(ends))

    def decode(self, data: bytes | bytearray) -> dict[str, StateValue] | None:
        """Return the frame's values; None when it is too short or a value is impossible."""
        if len(data) < self.min_length:
            return None
        values: dict[str, StateValue] = {}
        for item in self.fields:
            if item.offset + item.size > len(data):
                continue  # an optional field of the longer variant
            value = item.decode(data)
            if item.valid is not None and not item.valid[0] <= float(value) <= item.valid[1]:
                return None
            values[item.key] = value
        for flag in self.flags:
            on = flag.decode(data)
            values[flag.key] = on or bool(values.get(flag.key, False))
            if flag.protection:
                values[PROTECTION] = on or bool(values.get(PROTECTION, False))
        return values


def _alarm(key: str, byte: int, bit: int) -> tuple[Flag, Flag]:
    """Return a quantity's protection bit (bytes 0–1 of 0x359) and warning bit (bytes 2–3)."""
    return Flag(key=key, byte=byte, bit=bit, protection=True), Flag(key=key, byte=byte + 2, bit=bit)


def _two_bit_alarm(key: str, byte: int, bit: int) -> tuple[Flag, Flag]:
    """Return a 0x35A alarm (bytes 0–3, the BMS acts) and its warning (the same bits 4 bytes on).

    Each condition is two bits: 01 active, 10 inactive (OK), 00/11 not supported
    (stuartpittaway/diyBMSv4ESP32 `victron_canbus.cpp`: "B10 = Alarm/warning active, B01 =
    inactive", bit-swapped on the wire, so the low bit set is active).
    """
    return (
        Flag(key=key, byte=byte, bit=bit, protection=True, width=2, active=0b01),
        Flag(key=key, byte=byte + 4, bit=bit, width=2, active=0b01),
    )


# Sources: protocols.md §7 (diyBMS pylon_canbus.cpp, Battery-Emulator PYLON-LV-CAN, Stallaini);
# 0x35A's layout: Victron's CAN-bus BMS protocol as diyBMSv4ESP32 `victron_canbus.cpp` sends it
# (byte 0: general, high voltage, low voltage, high temperature; byte 1: low temperature, high and
# low temperature while charging, high discharge current; byte 2: high charge current,
# contactor, short circuit, BMS internal; bytes 4–7 the warnings), the same order as TinyBMS's
# documentation of 0x35A; 0x35F: setfirelabs' V1.3 capture `4C 49 01 03 …` = "LI", version 1.3
# (the byte meanings after the chemistry are unconfirmed).
FRAMES: dict[int, Frame] = {
    frame.can_id: frame
    for frame in (
        Frame(
            can_id=0x351,
            fields=(
                Field(key=Key.CHARGE_VOLTAGE_LIMIT, offset=0, scale=0.1),
                Field(key=Key.CHARGE_CURRENT_LIMIT, offset=2, kind=FieldType.I16, scale=0.1),
                Field(key=Key.DISCHARGE_CURRENT_LIMIT, offset=4, kind=FieldType.I16, scale=0.1),
                Field(key="discharge_voltage_limit", offset=6, scale=0.1, optional=True),
            ),
        ),
        Frame(
            can_id=0x355,
            fields=(
                Field(key=Key.STATE_OF_CHARGE, offset=0, valid=(0, 100)),
                Field(key=Key.STATE_OF_HEALTH, offset=2, valid=(0, 100), optional=True),
            ),
        ),
        Frame(
            can_id=0x356,
            fields=(
                # 0.01 V as most sources have it; read() corrects a 0.1 V BMS (see _voltage).
                Field(key=Key.BATTERY_VOLTAGE, offset=0, kind=FieldType.I16, scale=0.01),
                # + is charging on the wire; + is discharging in the common model.
                Field(key=Key.BATTERY_CURRENT, offset=2, kind=FieldType.I16, scale=0.1, sign=-1),
                Field(
                    key=Key.BATTERY_TEMPERATURE,
                    offset=4,
                    kind=FieldType.I16,
                    scale=0.1,
                    valid=(-50, 120),
                ),
            ),
        ),
        Frame(
            can_id=STATUS_FRAME,
            fields=(Field(key="module_count", offset=4, kind=FieldType.U8, optional=True),),
            flags=(
                *_alarm("high_voltage_alarm", 0, 1),
                *_alarm("low_voltage_alarm", 0, 2),
                *_alarm("high_temperature_alarm", 0, 3),
                *_alarm("low_temperature_alarm", 0, 4),
                *_alarm("high_current_alarm", 0, 7),  # discharge over-current
                *_alarm("high_current_alarm", 1, 0),  # charge over-current
                *_alarm("system_error", 1, 3),  # BMS internal error / communication fail
            ),
        ),
        Frame(
            can_id=ALARM_FRAME,
            flags=(
                *_two_bit_alarm(Key.ALARM, 0, 0),  # general alarm
                *_two_bit_alarm("high_voltage_alarm", 0, 2),
                *_two_bit_alarm("low_voltage_alarm", 0, 4),
                *_two_bit_alarm("high_temperature_alarm", 0, 6),
                *_two_bit_alarm("low_temperature_alarm", 1, 0),
                *_two_bit_alarm("high_temperature_alarm", 1, 2),  # while charging
                *_two_bit_alarm("low_temperature_alarm", 1, 4),  # while charging
                *_two_bit_alarm("high_current_alarm", 1, 6),  # discharge current
                *_two_bit_alarm("high_current_alarm", 2, 0),  # charge current
                *_two_bit_alarm("system_error", 2, 2),  # contactor
                *_two_bit_alarm("high_current_alarm", 2, 4),  # short circuit
                *_two_bit_alarm("system_error", 2, 6),  # BMS internal
            ),
        ),
        Frame(
            can_id=INFO_FRAME,
            fields=(
                Field(key="chemistry", offset=0, kind=FieldType.TEXT, length=2),
                Field(key="version_major", offset=2, kind=FieldType.U8, optional=True),
                Field(key="version_minor", offset=3, kind=FieldType.U8, optional=True),
            ),
        ),
        Frame(
            can_id=REQUEST_FRAME,
            flags=(
                Flag(key="charge_allowed", byte=0, bit=7),
                Flag(key="discharge_allowed", byte=0, bit=6),
                Flag(key="force_charge_request", byte=0, bit=5),
                Flag(key="force_charge_request", byte=0, bit=4),
                Flag(key="full_charge_request", byte=0, bit=3),
            ),
        ),
        Frame(can_id=0x35E, fields=(Field(key="manufacturer", offset=0, kind=FieldType.TEXT),)),
    )
}
# The BMS's frames all lie in 0x350–0x35F: one acceptance filter.
CAN_FILTERS = ((0x350, 0x7F0),)
ALARM_FRAMES = (STATUS_FRAME, ALARM_FRAME)
ALARM_FLAG_KEYS = tuple(
    dict.fromkeys(flag.key for can_id in ALARM_FRAMES for flag in FRAMES[can_id].flags)
)
_MANUFACTURERS = {"PYLON": "Pylontech"}
_COPIED = (
    Key.STATE_OF_CHARGE,
    Key.STATE_OF_HEALTH,
    Key.BATTERY_CURRENT,
    Key.BATTERY_TEMPERATURE,
    Key.CHARGE_VOLTAGE_LIMIT,
    Key.CHARGE_CURRENT_LIMIT,
    Key.DISCHARGE_CURRENT_LIMIT,
    "discharge_voltage_limit",
    "module_count",
    "charge_allowed",
    "discharge_allowed",
    "force_charge_request",
    "full_charge_request",
)


@dataclass(frozen=True, kw_only=True)
class PylontechCanConfig:
    """Where the BMS is heard, and how long a quiet bus is tolerated."""

    interface: str = DEFAULT_INTERFACE
    channel: str = DEFAULT_CHANNEL
    bitrate: int = DEFAULT_BITRATE
    silence_timeout: float = DEFAULT_SILENCE_TIMEOUT


def _plausible(voltage: float, charge_voltage_limit: float) -> bool:
    low, high = PLAUSIBLE_VOLTAGE
    return low * charge_voltage_limit <= voltage <= high * charge_voltage_limit


class PylontechCanDevice(BatteryDevice):
    """A BMS heard on the CAN bus; monitoring only."""

    capabilities = Capabilities()

    def __init__(self, config: PylontechCanConfig) -> None:
        """Prepare; the bus is opened by `connect`."""
        super().__init__()
        self.config = config
        self._settings = CanSettings(
            interface=config.interface,
            channel=config.channel,
            bitrate=config.bitrate,
            filters=CAN_FILTERS,
        )
        self._link: CanLink | None = None
        # Per frame id: when it was last heard and what it said.
        self._frames: dict[int, tuple[float, dict[str, StateValue]]] = {}
        self._heard = asyncio.Event()
        self._rejected = 0  # frames too short or impossible, in all
        self._bad_lines = 0  # lines from a serial adapter that were not frames, in all
        self._invalid_at_last_frame = (0, 0)  # both counts when the last valid frame came
        self._voltage_factor: float | None = None  # 1, or 10 for a BMS that sends 0.1 V

    @property
    def unique_id(self) -> str:
        """Return the stable id of this battery: where it is heard."""
        return f"{self.config.interface}:{self.config.channel}"

    # --- frames, pushed from the reader thread onto the event loop ---------------------------

    def handle_frame(self, message: can.Message) -> None:
        """Decode one frame into the latest state."""
        if message.is_extended_id or message.is_remote_frame or message.is_error_frame:
            return
        frame = FRAMES.get(message.arbitration_id)
        if frame is None:
            return  # another device's frame in the same id range
        values = frame.decode(message.data)
        if values is None:
            self._rejected += 1
            _LOGGER.debug("Ignoring frame %03X [%s]", frame.can_id, message.data.hex(" "))
            return
        self._frames[frame.can_id] = (self.clock(), values)
        self._invalid_at_last_frame = (self._rejected, self._bad_lines)
        self._heard.set()

    def _bad_line(self, err: Exception) -> None:
        self._bad_lines += 1
        _LOGGER.debug("Ignoring a line from %s that is not a frame: %s", self.unique_id, err)

    # --- the BatteryDevice interface ---------------------------------------------------------

    async def connect(self) -> DeviceIdentity:
        """Open the bus and wait for the BMS's frames; DeviceSilentError if none come."""
        wait = min(self.config.silence_timeout, FIRST_FRAMES_WAIT)
        try:
            since = await self._open()
            if not await self._wait_for(REQUIRED_FRAMES, wait, since):
                raise DeviceSilentError(self._silence(f"within {wait:g} s"))
            await self._wait_for(FRAMES, IDENTITY_WAIT, since)
        except BaseException:
            await self.close()
            raise
        manufacturer = str(self._frames.get(0x35E, (0, {}))[1].get("manufacturer") or "")
        info = self._frames.get(INFO_FRAME, (0, {}))[1]
        version = (
            f"{info['version_major']}.{info['version_minor']}"
            if "version_major" in info and "version_minor" in info
            else None
        )
        chemistry = str(info.get("chemistry") or "")
        self.identity = DeviceIdentity(
            serial_number=self.unique_id,
            manufacturer=_MANUFACTURERS.get(manufacturer, manufacturer or "Unknown"),
            model=f"{MODEL}, {chemistry}" if chemistry.isalpha() else MODEL,
            sw_version=version,
        )
        return self.identity

    async def read(self) -> BatteryState:
        """Return the latest state the frames built; nothing is sent or requested."""
        await self._ensure_link()
        timeout = self.config.silence_timeout
        if not await self._wait_for(REQUIRED_FRAMES, LAST_LISTEN, self.clock() - timeout):
            raise DeviceSilentError(self._silence(f"for {timeout:g} s"))
        now = self.clock()
        return self._state(
            {
                can_id: values
                for can_id, (heard, values) in self._frames.items()
                if now - heard <= timeout
            }
        )

    async def close(self) -> None:
        """Stop listening and close the bus."""
        if self._link is not None:
            link, self._link = self._link, None
            await link.close()

    # --- internals ---------------------------------------------------------------------------

    async def _open(self) -> float:
        """Open the bus; return the time from which frames are heard on it."""
        await self.close()
        self._voltage_factor = None
        since = self.clock()
        link = CanLink(self._settings, on_frame=self.handle_frame, on_bad_line=self._bad_line)
        await link.open()
        self._link = link
        return since

    async def _ensure_link(self) -> None:
        """Reopen a bus that failed (an adapter unplugged and back, an interface restarted)."""
        if self._link is not None and self._link.failure is None:
            return
        failure = self._link.failure if self._link is not None else None
        try:
            since = await self._open()
        except DeviceConnectionError as err:
            if failure is None:
                raise
            raise DeviceConnectionError(f"{self.unique_id} failed ({failure}); {err}") from err
        wait = min(self.config.silence_timeout, REOPEN_WAIT)
        await self._wait_for(REQUIRED_FRAMES, wait, since)

    async def _wait_for(self, can_ids: Iterable[int], seconds: float, since: float) -> bool:
        """Wait until every frame in `can_ids` has been heard at `since` or later.

        `seconds` is real time, `since` is on the device's clock (which tests may move).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while any(self._frames.get(i, (-math.inf,))[0] < since for i in can_ids):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._heard.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._heard.wait(), remaining)
        return True

    def _silence(self, how_long: str) -> str:
        where = f"{self.config.interface} {self.config.channel}"
        rejected = self._rejected - self._invalid_at_last_frame[0]
        bad_lines = self._bad_lines - self._invalid_at_last_frame[1]
        if not (rejected or bad_lines):
            return f"nothing heard from the BMS on {where} {how_long}"
        return (
            f"no valid BMS frame on {where} {how_long} ({rejected} frames too short or out of "
            f"range, {bad_lines} lines that were not frames since the last valid one)"
        )

    def _state(self, fresh: dict[int, dict[str, StateValue]]) -> BatteryState:
        values: dict[str, StateValue] = {}
        for frame_values in fresh.values():
            values.update(frame_values)
        state: BatteryState = {k: v for k in _COPIED if (v := values.get(k)) is not None}
        voltage = self._voltage(values)
        current = float(values[Key.BATTERY_CURRENT])
        state[Key.BATTERY_VOLTAGE] = voltage
        state[Key.BATTERY_POWER] = round(voltage * current, 1) + 0.0  # no negative zero
        if fresh.keys() & set(ALARM_FRAMES):
            for key in ALARM_FLAG_KEYS:
                state[key] = bool(values.get(key, False))
            state[Key.ALARM] = any(state[key] for key in ALARM_FLAG_KEYS)
        if REQUEST_FRAME not in fresh and ALARM_FRAME in fresh:
            # V1.3 / Victron-style: the current limits say what is allowed (CCL 0: no charging).
            for key, limit in (
                ("charge_allowed", Key.CHARGE_CURRENT_LIMIT),
                ("discharge_allowed", Key.DISCHARGE_CURRENT_LIMIT),
            ):
                if isinstance(amps := values.get(limit), (int, float)):
                    state[key] = amps > 0
        if values.get(PROTECTION):
            state[Key.OPERATING_STATE] = OperatingState.FAULT
        elif current > IDLE_CURRENT:
            state[Key.OPERATING_STATE] = OperatingState.DISCHARGING
        elif current < -IDLE_CURRENT:
            state[Key.OPERATING_STATE] = OperatingState.CHARGING
        else:
            state[Key.OPERATING_STATE] = OperatingState.IDLE
        return state

    def _voltage(self, values: dict[str, StateValue]) -> float:
        """Return the voltage, deciding once per connection whether the BMS sends 0.1 V."""
        voltage = float(values[Key.BATTERY_VOLTAGE])
        limit = values.get(Key.CHARGE_VOLTAGE_LIMIT)
        if self._voltage_factor is None and isinstance(limit, (int, float)) and limit > 0:
            if _plausible(voltage, limit):
                self._voltage_factor = 1.0
            elif _plausible(voltage * 10, limit):
                self._voltage_factor = 10.0
                _LOGGER.warning(
                    "%s: 0x356 reports %.2f V against a charge voltage limit of %.1f V; "
                    "this BMS sends 0.1 V units, reading it so",
                    self.unique_id,
                    voltage,
                    limit,
                )
        return round(voltage * (self._voltage_factor or 1.0), 2)
