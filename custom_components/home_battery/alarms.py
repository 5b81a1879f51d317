"""Alarms computed from the battery's state, and the `home_battery_alarm` event.

`AlarmEvaluator` is pure (no Home Assistant): given a polled state, it says which alarms are on
and with which value. `AlarmMonitor` runs it after every poll of a coordinator and fires
`home_battery_alarm` once each time an alarm turns on, so an automation can notify without a
template. An alarm that is already on when the entry is set up (Home Assistant start, reload) is
announced too, once Home Assistant has started: a restart does not swallow a raised alarm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.const import PERCENTAGE, UnitOfPower
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.start import async_at_started

from .const import (
    CONF_HEAVY_LOAD_MINUTES,
    CONF_HEAVY_LOAD_POWER,
    CONF_LOW_STATE_OF_CHARGE,
    DEFAULT_HEAVY_LOAD_MINUTES,
    DEFAULT_HEAVY_LOAD_POWER,
    DEFAULT_LOW_STATE_OF_CHARGE,
    EVENT_ALARM,
)
from .coordinator import HomeBatteryCoordinator
from .devices.model import ALARM_KEYS, BatteryState, Key

LOW_STATE_OF_CHARGE = "low_state_of_charge"
HEAVY_LOAD = "heavy_load"
UNREACHABLE = "unreachable"

# The low state of charge alarm clears only this many points above its threshold, so a battery
# hovering at the threshold does not raise it again and again.
LOW_STATE_OF_CHARGE_HYSTERESIS = 2.0


@dataclass(frozen=True, kw_only=True)
class AlarmSettings:
    """Thresholds from the entry's options."""

    low_state_of_charge: float = DEFAULT_LOW_STATE_OF_CHARGE  # %
    heavy_load_power: float = DEFAULT_HEAVY_LOAD_POWER  # W
    heavy_load_seconds: float = DEFAULT_HEAVY_LOAD_MINUTES * 60

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> AlarmSettings:
        """Read the thresholds, with the defaults for options never set."""
        return cls(
            low_state_of_charge=float(
                options.get(CONF_LOW_STATE_OF_CHARGE, DEFAULT_LOW_STATE_OF_CHARGE)
            ),
            heavy_load_power=float(options.get(CONF_HEAVY_LOAD_POWER, DEFAULT_HEAVY_LOAD_POWER)),
            heavy_load_seconds=60
            * float(options.get(CONF_HEAVY_LOAD_MINUTES, DEFAULT_HEAVY_LOAD_MINUTES)),
        )


@dataclass(frozen=True, kw_only=True)
class Alarm:
    """An alarm that is on, with the value that raised it (for the event)."""

    kind: str
    value: float | None = None
    threshold: float | None = None
    unit: str | None = None
    duration: float | None = None  # seconds the value has been beyond the threshold


def _number(state: BatteryState, key: str) -> float | None:
    value = state.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class AlarmEvaluator:
    """Which alarms are on, poll after poll; keeps the little memory hysteresis and timers need."""

    def __init__(self, settings: AlarmSettings, first_state: BatteryState) -> None:
        """Decide from the first poll which computed alarms this battery can raise."""
        self.settings = settings
        self.kinds: tuple[str, ...] = (
            *((LOW_STATE_OF_CHARGE,) if Key.STATE_OF_CHARGE in first_state else ()),
            *((HEAVY_LOAD,) if Key.LOAD_POWER in first_state else ()),
            UNREACHABLE,
        )
        self.active: dict[str, Alarm] = {}
        self._heavy_since: float | None = None

    def evaluate(self, state: BatteryState, *, reachable: bool, now: float) -> dict[str, Alarm]:
        """Return the alarms on after this poll (`now`: monotonic seconds).

        While the device is unreachable its last state is stale: the other alarms keep their
        value and the heavy-load timer starts again once fresh values come in.
        """
        if not reachable:
            self._heavy_since = None
            self.active = {**self.active, UNREACHABLE: Alarm(kind=UNREACHABLE)}
            return self.active
        active = {key: Alarm(kind=key) for key in ALARM_KEYS if state.get(key) is True}
        for alarm in (self._low_state_of_charge(state), self._heavy_load(state, now)):
            if alarm is not None:
                active[alarm.kind] = alarm
        self.active = active
        return active

    def _low_state_of_charge(self, state: BatteryState) -> Alarm | None:
        soc = _number(state, Key.STATE_OF_CHARGE)
        if soc is None or LOW_STATE_OF_CHARGE not in self.kinds:
            return None
        threshold = self.settings.low_state_of_charge
        was_on = LOW_STATE_OF_CHARGE in self.active
        if soc <= threshold or (was_on and soc <= threshold + LOW_STATE_OF_CHARGE_HYSTERESIS):
            return Alarm(kind=LOW_STATE_OF_CHARGE, value=soc, threshold=threshold, unit=PERCENTAGE)
        return None

    def _heavy_load(self, state: BatteryState, now: float) -> Alarm | None:
        load = _number(state, Key.LOAD_POWER)
        threshold = self.settings.heavy_load_power
        if load is None or load <= threshold or HEAVY_LOAD not in self.kinds:
            self._heavy_since = None
            return None
        if self._heavy_since is None:
            self._heavy_since = now
        lasted = now - self._heavy_since
        if lasted < self.settings.heavy_load_seconds:
            return None
        return Alarm(
            kind=HEAVY_LOAD,
            value=load,
            threshold=threshold,
            unit=UnitOfPower.WATT,
            duration=round(lasted),
        )


class AlarmMonitor:
    """Evaluates the alarms after every poll and fires `home_battery_alarm` on rising edges."""

    def __init__(
        self, hass: HomeAssistant, coordinator: HomeBatteryCoordinator, device_id: str
    ) -> None:
        """Bind to the battery's coordinator and device; thresholds come from its options."""
        self.hass = hass
        self.coordinator = coordinator
        self.device_id = device_id
        self.evaluator = AlarmEvaluator(
            AlarmSettings.from_options(coordinator.config_entry.options), coordinator.data
        )
        self._announced: set[str] = set()

    @property
    def kinds(self) -> tuple[str, ...]:
        """Return the computed alarms this battery can raise (one binary sensor each)."""
        return self.evaluator.kinds

    def alarm(self, kind: str) -> Alarm | None:
        """Return the alarm if it is on."""
        return self.evaluator.active.get(kind)

    @callback
    def start(self) -> CALLBACK_TYPE:
        """Evaluate now and after every poll; return the function that stops it."""
        self._evaluate()
        unsub_listener = self.coordinator.async_add_listener(self._on_poll)
        unsub_started = async_at_started(self.hass, self._on_started)

        @callback
        def stop() -> None:
            unsub_listener()
            unsub_started()

        return stop

    @callback
    def _evaluate(self) -> None:
        self.evaluator.evaluate(
            self.coordinator.data or {},
            reachable=self.coordinator.last_update_success,
            now=self.coordinator.clock(),
        )

    @callback
    def _on_poll(self) -> None:
        self._evaluate()
        if self.hass.is_running:
            self._announce()

    @callback
    def _on_started(self, _hass: HomeAssistant) -> None:
        self._announce()

    @callback
    def _announce(self) -> None:
        """Fire the event for every alarm that is on and not yet announced."""
        active = self.evaluator.active
        self._announced &= set(active)
        for kind, alarm in active.items():
            if kind not in self._announced:
                self._announced.add(kind)
                self.hass.bus.async_fire(EVENT_ALARM, self._event_data(alarm))

    def _event_data(self, alarm: Alarm) -> dict[str, Any]:
        entry = self.coordinator.config_entry
        data = self.coordinator.data or {}
        return {
            "entry_id": entry.entry_id,
            "battery": entry.title,
            "device_id": self.device_id,
            "kind": alarm.kind,
            "state_of_charge": data.get(Key.STATE_OF_CHARGE),
            "battery_power": data.get(Key.BATTERY_POWER),
            "value": alarm.value,
            "threshold": alarm.threshold,
            "unit": alarm.unit,
            "duration": alarm.duration,
        }
