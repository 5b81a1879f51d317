"""A home-built battery on MQTT, with the broker it talks through.

The battery publishes, retained, a JSON state on `<base>/state`
(`{"battery": {"soc": …, "power": …, "voltage": …, "current": …}}`, power and current positive
while CHARGING, as many DIY systems do) and its temperature as a plain number on
`<base>/temperature`. It obeys commands on `<base>/set` in either format: JSON
`{"power": W, "mode": "manual" | "auto"}` (power in its own sign) or text `CHARGE 2000W`,
`DISCHARGE 2000W`, `IDLE`. In manual mode it holds the commanded power; in auto it follows its
own `auto_power_w`. It honours the integration's command contract (devices/mqtt.py): a
setpoint expires `expires_in` seconds (JSON) or 120 s (text) after the last command, on the
bridge's own clock (`advance` moves it), and the battery is back in auto. `fail_write(n)`: the
n-th command from now is ignored, as a bridge that missed or rejected it; `invalid_writes`:
commands it could not parse.

Faults: REFUSE / DROP on the broker's port as Home Assistant sees it (see mqtt_broker.py),
STALL: the battery stops publishing, GARBAGE: it publishes payloads that are not its format.

Broker and battery run on their own event loop in a thread, as a separate machine would: Home
Assistant's test clock (`async_fire_time_changed`) fires every timer on its loop, and would
otherwise time out the broker's keep-alives and the battery's pings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
import contextlib
import json
import re
import threading
import time
from typing import Any

from amqtt.client import MQTTClient
from amqtt.mqtt.constants import QOS_0, QOS_1

from .base import WriteFailures
from .faults import Fault
from .mqtt_broker import LOOPBACK, FaultProxy, MqttBroker

BASE_TOPIC = "home/battery"
STATE_TOPIC = f"{BASE_TOPIC}/state"
TEMPERATURE_TOPIC = f"{BASE_TOPIC}/temperature"
COMMAND_TOPIC = f"{BASE_TOPIC}/set"
IDENTIFIER = "garage-battery-1"
_TEXT_COMMAND = re.compile(r"^(CHARGE|DISCHARGE) (\d+)W$")
TEXT_EXPIRY = 120.0  # seconds: the contract's expiry for text commands
# How long clients get to act on a change before set_fault returns (everything is on loopback).
_SETTLE_SECONDS = 0.2


class _LoopThread:
    """An event loop of its own, in a thread; coroutines are run there and awaited from here."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="mqtt-battery-simulator", daemon=True
        )
        self._thread.start()

    async def run[T](self, coroutine: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class MqttBatterySimulator:
    """The broker, the fault proxy in front of it, and the battery publishing through it."""

    def __init__(self, *, state_timeout: float = 2.0, publish_interval: float = 0.25) -> None:
        """Prepare; `state_timeout` is the silence a STALL lasts, as configured in the entry."""
        self.state_timeout = state_timeout
        self.publish_interval = publish_interval
        self.broker = MqttBroker()
        self.proxy: FaultProxy | None = None
        self._thread: _LoopThread | None = None
        self._client: MQTTClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.fault = Fault.NONE
        self._audience = 0
        # The battery, in the common sign (+ discharging) unless said otherwise.
        self.soc = 55.0
        self.voltage = 51.2
        self.temperature = 21.5
        self.auto_power_w = -600.0
        self.mode = "auto"
        self.commanded_w: float | None = None
        self.commands: list[str] = []
        self.publishes = 0
        self.invalid_writes = 0
        self.expires_at: float | None = None  # on the bridge's clock
        self.write_failures = WriteFailures()
        self._clock_offset = 0.0

    # --- what the shared suite uses -------------------------------------------------------

    @property
    def port(self) -> int:
        """Return the port Home Assistant connects to (the proxy's)."""
        assert self.proxy is not None
        return self.proxy.port

    @property
    def write_count(self) -> int:
        """Return how many commands the battery has received."""
        return len(self.commands)

    @property
    def request_count(self) -> int:
        """Return how many messages were addressed to the battery: its state is pushed."""
        return len(self.commands)

    def now(self) -> float:
        """Return the bridge's own clock (seconds)."""
        return time.monotonic() + self._clock_offset

    async def advance(self, seconds: float) -> None:
        """Move the bridge's clock on: an expired setpoint returns the battery to auto."""
        self._clock_offset += seconds
        self._expire()

    def fail_write(self, index: int = 0) -> None:
        """Make the index-th command from now be ignored."""
        self.write_failures.fail_write(index)

    @property
    def forced(self) -> bool:
        """Return True while a setpoint of the integration's is in force."""
        self._expire()
        return self.mode == "manual"

    def _expire(self) -> None:
        if self.mode == "manual" and self.expires_at is not None and self.now() >= self.expires_at:
            self.mode, self.commanded_w, self.expires_at = "auto", None, None

    @property
    def power_w(self) -> float:
        """Return the battery power now (W, + discharging)."""
        self._expire()
        if self.mode == "manual" and self.commanded_w is not None:
            return self.commanded_w
        return self.auto_power_w

    async def start(self) -> None:
        """Start the broker, the proxy and the battery; the battery publishes its first state."""
        self._thread = _LoopThread()
        await self._thread.run(self._start())

    async def stop(self) -> None:
        """Stop publishing, disconnect the battery, close the proxy and the broker."""
        if self._thread is not None:
            await self._thread.run(self._stop())
            self._thread.close()
            self._thread = None

    async def set_fault(self, fault: Fault) -> None:
        """Switch a fault on or off; return once the clients had time to notice."""
        assert self._thread is not None
        await self._thread.run(self._set_fault(fault))

    async def publish_state(self) -> None:
        """Publish the state now (after changing it from a test)."""
        assert self._thread is not None
        await self._thread.run(self._publish_state())

    # --- on the simulator's own loop ------------------------------------------------------

    async def _start(self) -> None:
        await self.broker.start()
        self.proxy = FaultProxy(self.broker.port)
        await self.proxy.start()
        self._client = MQTTClient(config={"auto_reconnect": False})
        await self._client.connect(f"mqtt://{LOOPBACK}:{self.broker.port}/")
        await self._client.subscribe([(COMMAND_TOPIC, QOS_1)])
        await self._publish_state()
        self._tasks = [
            asyncio.create_task(self._obey_commands()),
            asyncio.create_task(self._publish_periodically()),
        ]

    async def _stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.disconnect()
        if self.proxy is not None:
            await self.proxy.stop()
        await self.broker.stop()

    async def _set_fault(self, fault: Fault) -> None:
        assert self.proxy is not None
        outage = (Fault.REFUSE, Fault.DROP)
        if fault in outage and self.fault not in outage:
            self._audience = self.proxy.sessions  # who should come back afterwards
        was_outage, self.fault = self.fault in outage, fault
        await self.proxy.set_fault(fault if fault in outage else Fault.NONE)
        if was_outage and fault not in outage:
            await self._wait_for_sessions(self._audience)
        if fault is Fault.STALL:
            # Silence longer than the entry's state timeout: that is what "went quiet" means.
            await asyncio.sleep(self.state_timeout + 0.5)
            return
        await self._publish_state()
        await asyncio.sleep(_SETTLE_SECONDS)

    async def _wait_for_sessions(self, count: int) -> None:
        """Wait (up to 5 s) until the clients connected before the outage are back."""
        assert self.proxy is not None
        for _ in range(100):
            if self.proxy.sessions >= count:
                return
            await asyncio.sleep(0.05)

    # --- the battery ----------------------------------------------------------------------

    def state_payloads(self) -> dict[str, bytes]:
        """Return what the battery publishes now, per topic."""
        if self.fault is Fault.GARBAGE:
            return {STATE_TOPIC: b"\x00\xff garbage {", TEMPERATURE_TOPIC: b"warm"}
        charging_positive = -self.power_w  # the battery's own sign
        state = {
            "battery": {
                "soc": round(self.soc, 1),
                "power": round(charging_positive),
                "voltage": self.voltage,
                "current": round(charging_positive / self.voltage, 2),
            }
        }
        return {
            STATE_TOPIC: json.dumps(state).encode(),
            TEMPERATURE_TOPIC: f"{self.temperature:.1f}".encode(),
        }

    async def _publish_state(self) -> None:
        """Publish the state, retained, unless the battery is silent."""
        if self.fault is Fault.STALL or self._client is None:
            return
        for topic, payload in self.state_payloads().items():
            await self._client.publish(topic, payload, qos=QOS_0, retain=True)
        self.publishes += 1

    async def _publish_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.publish_interval)
            await self._publish_state()

    async def _obey_commands(self) -> None:
        assert self._client is not None
        while True:
            message = await self._client.deliver_message()
            if message is None:
                continue
            self.apply_command(bytes(message.data).decode(errors="replace"))
            await self._publish_state()

    def apply_command(self, text: str) -> None:
        """Act on a command in either format; anything else is ignored, as a device would."""
        self.commands.append(text)
        if self.write_failures.write_failed():
            return
        if text.strip() == "IDLE":
            self.mode, self.commanded_w, self.expires_at = "auto", None, None
        elif match := _TEXT_COMMAND.match(text.strip()):
            watts = float(match.group(2))
            self.mode = "manual"
            self.commanded_w = watts if match.group(1) == "DISCHARGE" else -watts
            self.expires_at = self.now() + TEXT_EXPIRY
        else:
            try:
                command: Any = json.loads(text)
                if command["mode"] == "auto":
                    self.mode, self.commanded_w, self.expires_at = "auto", None, None
                else:
                    self.mode, self.commanded_w = "manual", -float(command["power"])
                    self.expires_at = self.now() + float(command.get("expires_in", TEXT_EXPIRY))
            except (ValueError, TypeError, KeyError, AttributeError):
                self.invalid_writes += 1

    def tick(self, seconds: float, capacity_wh: float = 10000) -> None:
        """Move the state of charge by the power over `seconds` (for the demo)."""
        self.soc = min(
            100.0, max(0.0, self.soc - self.power_w * seconds / 3600 / capacity_wh * 100)
        )
