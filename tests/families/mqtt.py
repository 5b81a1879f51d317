"""MQTT battery expectations for the shared family suite.

The simulator is a real broker (amqtt) with a simulated battery publishing through it; Home
Assistant's own MQTT integration is set up against it before each test (`support_entries`),
reconnecting fast so that a broker outage and its end fit in a test.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_UNIQUE_ID

from custom_components.home_battery.const import (
    CONF_FAMILY,
    CONF_MAX_CHARGE_POWER,
    CONF_MAX_DISCHARGE_POWER,
)
from custom_components.home_battery.devices.mqtt import COMMAND_EXPIRY_SECONDS, MqttDevice
from custom_components.home_battery.families.mqtt import (
    CONF_COMMAND_FORMAT,
    CONF_COMMAND_TOPIC,
    CONF_POWER_SIGN,
    CONF_STATE_TIMEOUT,
    config_from_data,
)

from ..simulators.faults import Fault
from ..simulators.mqtt_battery import (
    COMMAND_TOPIC,
    IDENTIFIER,
    STATE_TOPIC,
    TEMPERATURE_TOPIC,
    MqttBatterySimulator,
)
from ..simulators.mqtt_client import AmqttTransport
from . import FamilyCase, SupportEntry


def entry_data(sim: MqttBatterySimulator) -> dict[str, Any]:
    """Config data for the simulated battery: one JSON topic, one plain, + charging."""
    return {
        CONF_FAMILY: "mqtt",
        CONF_UNIQUE_ID: IDENTIFIER,
        "state_of_charge_topic": STATE_TOPIC,
        "state_of_charge_path": "battery.soc",
        "battery_power_topic": STATE_TOPIC,
        "battery_power_path": "battery.power",
        CONF_POWER_SIGN: "charge_positive",
        "battery_voltage_topic": STATE_TOPIC,
        "battery_voltage_path": "battery.voltage",
        "battery_current_topic": STATE_TOPIC,
        "battery_current_path": "battery.current",
        "battery_temperature_topic": TEMPERATURE_TOPIC,
        CONF_COMMAND_TOPIC: COMMAND_TOPIC,
        CONF_COMMAND_FORMAT: "json",
        CONF_MAX_CHARGE_POWER: 3000,
        CONF_MAX_DISCHARGE_POWER: 3000,
        CONF_STATE_TIMEOUT: sim.state_timeout,
    }


def mqtt_entry(sim: MqttBatterySimulator, *, birth: bool = False) -> SupportEntry:
    """Home Assistant's MQTT integration, connected to the simulator's broker."""
    # Without birth and will messages the MQTT client subscribes without its 5 s cool-down.
    options: dict[str, Any] = {} if birth else {"birth_message": {}, "will_message": {}}
    return SupportEntry(
        domain="mqtt",
        title="MQTT broker",
        data={"broker": "127.0.0.1", "port": sim.port},
        options=options,
        minor_version=2,
    )


@contextlib.contextmanager
def mqtt_test_tuning() -> Iterator[None]:
    """Tune HA's MQTT client for tests against a real broker that goes down and comes back.

    It retries every 0.1 s instead of 10 s (it sleeps in real time), and its reconnect loop is
    an ordinary task instead of a tracked background task: the suite's polls wait for
    background tasks, and would otherwise wait for the whole broker outage.
    """
    tracked = ConfigEntry.async_create_background_task

    def create_background_task(
        entry: ConfigEntry, hass: Any, target: Any, name: str, eager_start: bool = True
    ) -> Any:
        if name == "mqtt reconnect loop":
            return hass.loop.create_task(target, name=name)  # cancelled when MQTT unloads
        return tracked(entry, hass, target, name, eager_start)

    with (
        patch("homeassistant.components.mqtt.client.RECONNECT_INTERVAL_SECONDS", 0.1),
        patch.object(ConfigEntry, "async_create_background_task", create_background_task),
    ):
        yield


CASE = FamilyCase(
    key="mqtt",
    title="MQTT battery",
    serial=IDENTIFIER,
    make_simulator=MqttBatterySimulator,
    entry_data=entry_data,
    expected={
        "sensor.mqtt_battery_state_of_charge": (55.0, "%"),
        # The battery publishes +600 W and +11.72 A (+ = charging): charging is negative here.
        "sensor.mqtt_battery_battery_power": (-600, "W"),
        "sensor.mqtt_battery_battery_current": (-11.72, "A"),
        "sensor.mqtt_battery_battery_voltage": (51.2, "V"),
        "sensor.mqtt_battery_battery_temperature": (21.5, "°C"),
        "sensor.mqtt_battery_operating_state": ("charging", None),
        "sensor.mqtt_battery_maximum_charge_power": (3000, "W"),
        "sensor.mqtt_battery_maximum_discharge_power": (3000, "W"),
        "sensor.mqtt_battery_energy_charged": (0.0, "kWh"),
        "sensor.mqtt_battery_energy_discharged": (0.0, "kWh"),
        "select.mqtt_battery_operating_mode": ("auto", None),
    },
    tolerance=0.011,
    setpoint=2000,
    out_of_range=-3500,
    commanded_power=lambda sim: sim.commanded_w if sim.mode == "manual" else None,
    released=lambda sim: sim.mode == "auto"
    and sim.commands[-1:] == ['{"power": 0, "mode": "auto"}'],
    faults=(Fault.REFUSE, Fault.DROP, Fault.STALL, Fault.GARBAGE),
    make_device=lambda sim: MqttDevice(config_from_data(entry_data(sim)), AmqttTransport(sim.port)),
    support_entries=lambda sim: [mqtt_entry(sim)],
    test_patches=mqtt_test_tuning,
    # The command contract: a bridge drops a setpoint 120 s after the last command.
    forced=lambda sim: sim.forced,
    crash_bound=COMMAND_EXPIRY_SECONDS,
    advance=lambda sim, seconds: sim.advance(seconds),
    invalid_writes=lambda sim: sim.invalid_writes,
    silent_writes=True,
)
