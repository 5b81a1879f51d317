"""An MQTT transport for the device layer without Home Assistant (benchmarks, device tests).

It implements `devices.mqtt.MqttTransport` with amqtt's asyncio client, the way Home
Assistant's MQTT integration does with paho: so the same `MqttDevice` runs on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib

from amqtt.client import MQTTClient
from amqtt.mqtt.constants import QOS_0, QOS_1

from .mqtt_broker import LOOPBACK


class AmqttTransport:
    """Subscribe and publish with an amqtt client; connects on the first subscription."""

    def __init__(self, port: int) -> None:
        """Talk to the broker on loopback `port`."""
        self.port = port
        self._client: MQTTClient | None = None
        self._receivers: dict[str, Callable[[bytes], None]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """Return True while the client's session is connected."""
        session = self._client.session if self._client else None
        return bool(session and session.transitions.is_connected())

    async def subscribe(
        self, topic: str, on_message: Callable[[bytes], None]
    ) -> Callable[[], None]:
        """Subscribe to an exact topic; the returned function stops delivering it."""
        if self._client is None:
            self._client = MQTTClient(config={"auto_reconnect": False})
            await self._client.connect(f"mqtt://{LOOPBACK}:{self.port}/")
            self._reader = asyncio.create_task(self._read())
        self._receivers[topic] = on_message
        await self._client.subscribe([(topic, QOS_0)])
        return lambda: self._unsubscribe(topic)

    def _unsubscribe(self, topic: str) -> None:
        self._receivers.pop(topic, None)
        if not self._receivers:  # the device closed: so does the connection
            self._closing = asyncio.get_running_loop().create_task(self.close())

    async def publish(self, topic: str, payload: str) -> None:
        """Publish at least once, not retained."""
        assert self._client is not None
        await self._client.publish(topic, payload.encode(), qos=QOS_1)

    async def _read(self) -> None:
        assert self._client is not None
        while True:
            message = await self._client.deliver_message()
            if message is not None and (receive := self._receivers.get(message.topic)):
                receive(bytes(message.data))

    async def close(self) -> None:
        """Disconnect."""
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.disconnect()
        self._client = None
