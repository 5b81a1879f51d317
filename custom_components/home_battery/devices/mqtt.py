"""Any battery that publishes its state and takes commands over MQTT.

This is the protocol half: reading numbers out of state payloads (plain numbers, or JSON with a
dotted value path), converting the device's sign convention, formatting commands, and deciding
when the battery has gone quiet. The broker connection is a small transport (subscribe,
publish); the Home Assistant layer implements it with Home Assistant's own MQTT integration, so
the broker the user already has is the one used.

State is pushed, so `read()` sends nothing: it returns the latest values, or raises when the
broker is gone or nothing has been heard for longer than the state timeout, so that the
entities go unavailable. Retained state counts as heard when it arrives.

The command contract (what a bridge must do; README "MQTT batteries"), chosen here because no
device defines one:
- JSON: `{"power": W, "mode": "manual", "expires_in": 120}` holds W (in the device's sign) for at
  most `expires_in` seconds after the message; `{"power": 0, "mode": "auto"}` hands control back.
  Text: `CHARGE 2000W`, `DISCHARGE 2000W` (`DISCHARGE 0W` holds the battery at 0 W), `IDLE` hands
  control back; a text command expires after `COMMAND_EXPIRY_SECONDS` the same way.
- While a setpoint is active the integration publishes it again every
  `COMMAND_REFRESH_SECONDS`, so an honest bridge never sees it expire; if Home Assistant stops
  without handing control back (a crash, a power cut, the broker gone), the bridge returns to its
  own operation at most `COMMAND_EXPIRY_SECONDS` after the last command. That is this family's
  crash bound, and it holds only as far as the user's bridge honours the expiry.
- Commands are published QoS 1, not retained: a restarted bridge must not act on an old one.
The mode a bridge is in cannot be read back (it publishes only numbers), so `read()` reports no
operating mode and the base shows the one set here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
import json
import math
import time
from typing import Protocol

from .base import BatteryDevice
from .model import (
    BatteryState,
    Capabilities,
    DeviceConnectionError,
    DeviceDataError,
    DeviceIdentity,
    DeviceSilentError,
    Key,
    Mode,
    OperatingState,
    UnsupportedError,
)

# Values the MQTT family reads, in the order the form asks for them; the first two are required.
REQUIRED_KEYS: tuple[str, ...] = (Key.STATE_OF_CHARGE, Key.BATTERY_POWER)
OPTIONAL_KEYS: tuple[str, ...] = (
    Key.BATTERY_VOLTAGE,
    Key.BATTERY_CURRENT,
    Key.BATTERY_TEMPERATURE,
)
# Keys whose sign follows the device's battery power convention.
SIGNED_KEYS = frozenset({Key.BATTERY_POWER, Key.BATTERY_CURRENT})

DEFAULT_STATE_TIMEOUT = 60.0
# connect() waits this long at most for the first state, so a form never hangs for minutes.
MAX_FIRST_STATE_WAIT = 30.0
# Below this battery power (W) the operating state is idle: inverters report a few watts of
# noise while standing still.
IDLE_DEADBAND_W = 10.0
# The command contract (see the module docstring): a bridge drops a setpoint this long after the
# last command; the integration repeats it well inside that.
COMMAND_EXPIRY_SECONDS = 120
COMMAND_REFRESH_SECONDS = 30.0


class PowerSign(StrEnum):
    """How the device signs battery power (and current), in its state and its commands."""

    DISCHARGE_POSITIVE = "discharge_positive"  # the common convention
    CHARGE_POSITIVE = "charge_positive"


class CommandFormat(StrEnum):
    """How a power setpoint is written to the command topic."""

    # {"power": -2000, "mode": "manual", "expires_in": 120} / {"power": 0, "mode": "auto"}
    JSON = "json"
    TEXT = "text"  # CHARGE 2000W / DISCHARGE 2000W / DISCHARGE 0W (hold) / IDLE (release)


class PayloadError(ValueError):
    """A payload that is not what the configuration says it is (garbage, not a number)."""


class MqttTransport(Protocol):
    """The broker connection: Home Assistant's MQTT client, or any other client in tests."""

    @property
    def connected(self) -> bool:
        """Return True while the client is connected to the broker."""

    async def subscribe(
        self, topic: str, on_message: Callable[[bytes], None]
    ) -> Callable[[], None]:
        """Call `on_message` with every payload on `topic`; return the unsubscribe function."""

    async def publish(self, topic: str, payload: str) -> None:
        """Publish `payload` to `topic` (at least once, not retained)."""


@dataclass(frozen=True, kw_only=True)
class ValueSource:
    """Where one value comes from: a topic, and a dotted path when the payload is JSON."""

    topic: str
    path: str = ""  # e.g. "battery.soc" for {"battery": {"soc": 55}}; "" for a plain number


@dataclass(frozen=True, kw_only=True)
class MqttConfig:
    """The topics and conventions of one MQTT battery."""

    identifier: str  # no serial can be read: the user's identifier is the unique id
    sources: Mapping[str, ValueSource]  # common-model key → its source
    power_sign: PowerSign = PowerSign.DISCHARGE_POSITIVE
    command_topic: str | None = None  # None: monitoring only
    command_format: CommandFormat = CommandFormat.JSON
    max_charge_power: float = 0.0
    max_discharge_power: float = 0.0
    state_timeout: float = DEFAULT_STATE_TIMEOUT


def path_error(path: str) -> str | None:
    """Return why a value path is malformed, None when it is usable ("" is usable)."""
    if path and any(not part.strip() for part in path.split(".")):
        return "empty part in the value path"
    return None


def extract(payload: bytes, path: str) -> float | None:
    """Return the number at `path` in `payload`; None when a JSON payload does not carry it.

    Raises PayloadError for a payload that cannot be read at all (not UTF-8, not JSON although a
    path is set, not a number) and for a value that is not a finite number.
    """
    try:
        text = payload.decode("utf-8-sig").strip()  # -sig: a byte-order mark some tools write
    except UnicodeDecodeError as err:
        raise PayloadError("not UTF-8 text") from err
    if not path:
        return _number(text)
    try:
        node: object = json.loads(text)
    except ValueError as err:
        raise PayloadError(f"not JSON: {text[:40]!r}") from err
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None  # this message does not carry the value (other messages may)
    if isinstance(node, bool) or not isinstance(node, (int, float, str)):
        raise PayloadError(f"{path} is not a number: {json.dumps(node)[:40]}")
    return _number(str(node))


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError as err:
        raise PayloadError(f"not a number: {text[:40]!r}") from err
    if not math.isfinite(value):
        raise PayloadError(f"not a finite number: {text[:40]!r}")
    return value


def to_common_sign(value: float, sign: PowerSign) -> float:
    """Convert a device-signed power or current to the common sign (+ discharging)."""
    return value if sign is PowerSign.DISCHARGE_POSITIVE else -value or 0.0


def setpoint_command(watts: float, command_format: CommandFormat, sign: PowerSign) -> str:
    """Format a setpoint (W, common sign: + discharge, − charge) for the command topic."""
    rounded = round(watts)
    if command_format is CommandFormat.TEXT:
        # 0 W holds the battery (neither charging nor discharging); IDLE would hand it back.
        return f"CHARGE {-rounded}W" if rounded < 0 else f"DISCHARGE {rounded}W"
    device_watts = rounded if sign is PowerSign.DISCHARGE_POSITIVE else -rounded or 0
    return json.dumps(
        {"power": device_watts, "mode": Mode.MANUAL.value, "expires_in": COMMAND_EXPIRY_SECONDS}
    )


def release_command(command_format: CommandFormat) -> str:
    """Format the command that hands the battery back to its own automatic mode."""
    if command_format is CommandFormat.TEXT:
        return "IDLE"
    return json.dumps({"power": 0, "mode": Mode.AUTO.value})


@dataclass
class _Reading:
    """The latest news about one value."""

    value: float | None = None
    error: str | None = None  # why the latest message could not be read
    heard: bool = False  # a message arrived on the value's topic, with or without the value


class MqttDevice(BatteryDevice):
    """A battery that publishes its state to MQTT topics and takes commands on one topic."""

    def __init__(
        self,
        config: MqttConfig,
        transport: MqttTransport,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare the subscriptions; nothing is subscribed until `connect`."""
        super().__init__()
        self.config = config
        self.transport = transport
        self.clock = clock  # seconds; replaceable so tests can move time
        controllable = config.command_topic is not None
        self.capabilities = Capabilities(
            power_setpoint=controllable,
            modes=(Mode.AUTO, Mode.MANUAL) if controllable else (),
            max_charge_power=config.max_charge_power if controllable else None,
            max_discharge_power=config.max_discharge_power if controllable else None,
            control_refresh_interval=COMMAND_REFRESH_SECONDS if controllable else None,
            control_expiry=COMMAND_EXPIRY_SECONDS if controllable else None,
        )
        self._readings: dict[str, _Reading] = {key: _Reading() for key in config.sources}
        self._heard_at: float | None = None
        self._complete = asyncio.Event()
        self._unsubscribe: list[Callable[[], None]] = []

    def apply_user_limits(
        self, *, max_charge_power: float | None, max_discharge_power: float | None
    ) -> None:
        """Keep the limits from the form: they are this battery's own (a configured 0 W too).

        The options' maximum powers are for planning; they do not widen or narrow these.
        """

    # --- receiving ---------------------------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        """Take in one payload from `topic` (a subscription's topic, wildcards included)."""
        self._heard_at = self.clock()
        for key, source in self.config.sources.items():
            if source.topic != topic:
                continue
            reading = self._readings[key]
            reading.heard = True
            try:
                value = extract(payload, source.path)
            except PayloadError as err:
                reading.value, reading.error = None, f"{topic}: {err}"
                continue
            if value is not None:
                reading.value, reading.error = value, None
        if all(r.value is not None for r in self._readings.values()):
            self._complete.set()

    async def connect(self) -> DeviceIdentity:
        """Subscribe to the state topics and wait until every configured value has arrived."""
        self._unsubscribe_all()
        self._readings = {key: _Reading() for key in self.config.sources}
        self._heard_at = None
        self._complete.clear()
        try:
            for topic in dict.fromkeys(s.topic for s in self.config.sources.values()):
                self._unsubscribe.append(
                    await self.transport.subscribe(topic, self._receiver(topic))
                )
            wait = min(self.config.state_timeout, MAX_FIRST_STATE_WAIT)
            try:
                async with asyncio.timeout(wait):
                    await self._complete.wait()
            except TimeoutError:
                raise self._why_incomplete(wait) from None
        except BaseException:
            self._unsubscribe_all()
            raise
        self.identity = DeviceIdentity(
            serial_number=self.config.identifier, manufacturer="MQTT", model="MQTT battery"
        )
        return self.identity

    def _receiver(self, topic: str) -> Callable[[bytes], None]:
        def receive(payload: bytes) -> None:
            self._on_message(topic, payload)

        return receive

    def _why_incomplete(self, waited: float) -> Exception:
        """Explain a first state that did not arrive: broker, garbage, wrong path, or silence."""
        if not self.transport.connected:
            return DeviceConnectionError("not connected to the MQTT broker")
        missing = {k: r for k, r in self._readings.items() if r.value is None}
        for key, reading in missing.items():
            if reading.error is not None:
                return DeviceDataError(reading.error)
            if reading.heard:
                source = self.config.sources[key]
                return DeviceDataError(f"{source.topic}: no value at {source.path!r}")
        topics = ", ".join(dict.fromkeys(self.config.sources[k].topic for k in missing))
        return DeviceSilentError(f"nothing heard on {topics} within {waited:g} s")

    async def read(self) -> BatteryState:
        """Return the latest state; raise when the broker is gone or the battery is quiet."""
        if not self.transport.connected:
            raise DeviceConnectionError("not connected to the MQTT broker")
        if self._heard_at is None:
            raise DeviceSilentError("nothing heard from the battery yet")
        quiet_for = self.clock() - self._heard_at
        if quiet_for > self.config.state_timeout:
            raise DeviceSilentError(f"nothing heard from the battery for {quiet_for:.0f} s")
        state: BatteryState = {}
        for key, reading in self._readings.items():
            if reading.error is not None and key in REQUIRED_KEYS:
                raise DeviceDataError(reading.error)
            if reading.value is not None:
                state[key] = (
                    to_common_sign(reading.value, self.config.power_sign)
                    if key in SIGNED_KEYS
                    else reading.value
                )
        power = state.get(Key.BATTERY_POWER)
        if isinstance(power, float):
            state[Key.OPERATING_STATE] = (
                OperatingState.DISCHARGING
                if power > IDLE_DEADBAND_W
                else OperatingState.CHARGING
                if power < -IDLE_DEADBAND_W
                else OperatingState.IDLE
            )
        if self.capabilities.power_setpoint:
            state[Key.MAX_CHARGE_POWER] = self.config.max_charge_power
            state[Key.MAX_DISCHARGE_POWER] = self.config.max_discharge_power
        return state

    # --- commanding --------------------------------------------------------------------------

    async def _publish(self, payload: str) -> None:
        # Checked first so that nothing is queued for later: a command the user was told had
        # failed must not reach the battery when the broker comes back.
        if self.config.command_topic is None:
            raise UnsupportedError("no command topic is configured")
        if not self.transport.connected:
            raise DeviceConnectionError("not connected to the MQTT broker")
        await self.transport.publish(self.config.command_topic, payload)

    async def _write_setpoint(self, watts: float) -> None:
        await self._publish(
            setpoint_command(watts, self.config.command_format, self.config.power_sign)
        )

    async def _write_release(self) -> None:
        await self._publish(release_command(self.config.command_format))

    def _unsubscribe_all(self) -> None:
        while self._unsubscribe:
            self._unsubscribe.pop()()

    async def close(self) -> None:
        """Unsubscribe from the state topics."""
        self._unsubscribe_all()
