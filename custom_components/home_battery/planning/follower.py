"""Following the plan: re-plan on price, state and slot changes; apply each slot's power.

Re-planning happens when prices or the state change and at slot boundaries; while schedule
control is on, each slot's power becomes the setpoint at the slot's start. A battery with a
price entity in its options is planned continuously, so the `schedule` sensor always shows the
plan; only the `schedule_control` switch lets the plan drive the battery.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.event import (
    async_call_later,
    async_track_point_in_utc_time,
    async_track_state_change_event,
)
from homeassistant.helpers.start import async_at_started
from homeassistant.util import dt as dt_util

from ..const import (
    CONF_LOAD_FORECAST_ENTITY,
    CONF_PRICE_ENTITY,
    CONF_PV_FORECAST_ENTITY,
    CONF_SELL_PRICE_ENTITY,
    CONF_STABILITY_THRESHOLD,
    DEFAULT_STABILITY_THRESHOLD,
    DOMAIN,
    LOGGER,
)
from ..coordinator import HomeBatteryCoordinator
from ..devices.model import Key
from ..schedule import Decision, Plan, PlanSlot, decide_setpoint, needs_hold
from ..schedule.stability import KEEP
from .request import PlanRequest, async_plan, build_request

# Re-plan when the state of charge strays this far (percentage points) from what the plan
# expected now, but not more often than once a minute: a plan does not flap with noise.
SOC_DEVIATION = 3.0
MIN_REPLAN_INTERVAL = timedelta(minutes=1)
# A source that changes re-plans this many seconds later, with whatever changed meanwhile.
SOURCE_SETTLE_SECONDS = 2.0
# How long planning may fail quietly: price and forecast integrations take a while to start.
QUIET_WHILE_SOURCES_START = timedelta(minutes=10)
SOURCES = (
    CONF_PRICE_ENTITY,
    CONF_SELL_PRICE_ENTITY,
    CONF_PV_FORECAST_ENTITY,
    CONF_LOAD_FORECAST_ENTITY,
)


def slot_action(slot: PlanSlot | None) -> str | None:
    """Return what the battery does in a slot: charge, discharge or idle."""
    if slot is None:
        return None
    if slot.power > 10:
        return "discharge"
    return "charge" if slot.power < -10 else "idle"


class ScheduleFollower:
    """Keeps one battery's plan current and, while enabled, makes the battery follow it."""

    def __init__(self, coordinator: HomeBatteryCoordinator) -> None:
        """Nothing runs until `async_start`."""
        self.coordinator = coordinator
        self.hass = coordinator.hass
        self.enabled = False
        self.plan: Plan | None = None
        self.updated: datetime | None = None
        self.error: str | None = None
        # The last stability decision (kept or changed the slot in force, and why).
        self.decision: Decision | None = None
        self._unsubs: list[CALLBACK_TYPE] = []
        self._unsub_boundary: CALLBACK_TYPE | None = None
        self._unsub_source_delay: CALLBACK_TYPE | None = None
        self._last_plan_at: datetime | None = None
        # Re-plans are serialised and coalesced: while one runs, any number of requests make
        # exactly one more, which reads the newest sources.
        self._planning = asyncio.Lock()
        self._replan_requested = False
        # Since when planning has failed; one line is logged if it stays failing.
        self._failing_since: datetime | None = None
        self._failure_logged = False

    @property
    def _options(self) -> dict[str, Any]:
        return dict(self.coordinator.config_entry.options)

    @property
    def configured(self) -> bool:
        """Return True when the options name a price entity to plan against."""
        return bool(self._options.get(CONF_PRICE_ENTITY))

    def current_slot(self) -> PlanSlot | None:
        """Return the slot of the plan that covers now."""
        now = dt_util.utcnow()
        if self.plan is None:
            return None
        return next((s for s in self.plan.slots if s.start <= now < s.end), None)

    async def async_start(self) -> None:
        """Plan now, and again when the sources or the battery's state change."""
        if not self.configured or not self.coordinator.device.capabilities.power_setpoint:
            return
        sources = [e for key in SOURCES if (e := self._options.get(key))]
        self._unsubs.append(
            async_track_state_change_event(self.hass, sources, self._on_source_change)
        )
        self._unsubs.append(self.coordinator.async_add_listener(self._on_battery_update))
        # Price and forecast integrations may still be starting: plan once Home Assistant runs.
        self._unsubs.append(async_at_started(self.hass, self._async_first_plan))

    async def _async_first_plan(self, _hass: HomeAssistant) -> None:
        await self.async_request_replan()

    @callback
    def async_stop(self) -> None:
        """Stop planning (unload)."""
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        if self._unsub_source_delay is not None:
            self._unsub_source_delay()
            self._unsub_source_delay = None
        if self._unsub_boundary is not None:
            self._unsub_boundary()
            self._unsub_boundary = None

    async def async_enable(self) -> None:
        """Let the plan drive the battery, starting with the current slot."""
        if not self.configured:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="no_price_entity"
            )
        self.enabled = True
        await self.async_request_replan()

    async def async_disable(self) -> None:
        """Stop following the plan and return the battery to auto."""
        self.enabled = False
        await self.coordinator.async_release("schedule control turned off")
        self.coordinator.async_update_listeners()

    @callback
    def _on_source_change(self, _event: Event[EventStateChangedData]) -> None:
        """Re-plan shortly after a source changed: a burst of updates gives one plan."""
        if self._unsub_source_delay is None:
            self._unsub_source_delay = async_call_later(
                self.hass, SOURCE_SETTLE_SECONDS, self._async_sources_settled
            )

    async def _async_sources_settled(self, _now: datetime) -> None:
        self._unsub_source_delay = None
        await self.async_request_replan()

    async def async_request_replan(self) -> None:
        """Re-plan now; while a plan is being made, once more after it (a burst: one plan)."""
        self._replan_requested = True
        if self._planning.locked():
            return
        async with self._planning:
            while self._replan_requested:
                self._replan_requested = False
                await self.async_replan()

    @callback
    def _on_battery_update(self) -> None:
        """Re-plan when the state of charge strays from the plan."""
        slot, data = self.current_slot(), self.coordinator.data or {}
        soc = data.get(Key.STATE_OF_CHARGE)
        if slot is None or not isinstance(soc, int | float) or self._last_plan_at is None:
            return
        if dt_util.utcnow() - self._last_plan_at < MIN_REPLAN_INTERVAL:
            return
        if abs(soc - self._expected_soc(slot)) > SOC_DEVIATION:
            self.coordinator.config_entry.async_create_background_task(
                self.hass, self.async_request_replan(), f"{DOMAIN} re-plan"
            )

    def _expected_soc(self, slot: PlanSlot) -> float:
        """Return the state of charge the plan expects now: linear within the current slot."""
        assert self.plan is not None
        index = self.plan.slots.index(slot)
        start_soc = self.plan.slots[index - 1].state_of_charge if index else slot.state_of_charge
        share = (dt_util.utcnow() - slot.start) / (slot.end - slot.start)
        return start_soc + (slot.state_of_charge - start_soc) * share

    async def async_replan(self) -> None:
        """Plan from now with the current state, then apply the current slot if enabled."""
        options = self._options
        # Sources not set in the options are left out: the load forecast then defaults to the
        # house's consumption history.
        fields = {
            field: source
            for field, option in (
                ("prices", CONF_PRICE_ENTITY),
                ("sell_prices", CONF_SELL_PRICE_ENTITY),
                ("pv_forecast", CONF_PV_FORECAST_ENTITY),
                ("load_forecast", CONF_LOAD_FORECAST_ENTITY),
            )
            if (source := options.get(option))
        }
        try:
            request = build_request(self.hass, fields, self.coordinator)
            self.plan = await self._stable(request, await async_plan(self.hass, request))
        except HomeAssistantError as err:
            # Prices not there yet (the price sensor still starting, tomorrow's not published):
            # keep the last plan and try again at the next slot boundary or price change. The
            # schedule sensor's `error` attribute shows why; the log only if it stays so.
            self.error = str(err)
            self._note_failure()
        else:
            if self._failure_logged:
                LOGGER.info("%s: planning works again", self.coordinator.config_entry.title)
            self.error = None
            self._failing_since = None
            self._failure_logged = False
        self._last_plan_at = self.updated = dt_util.utcnow()
        self._schedule_boundary()
        if self.enabled:
            await self._apply()
        self.coordinator.async_update_listeners()

    async def _stable(self, request: PlanRequest, new: Plan) -> Plan:
        """Keep the slot in force unless the new plan gains enough by changing it.

        The new plan's inputs are solved again with the slot in force held: both are exact
        optima, so their difference is what the change gains (schedule/stability.py).
        """
        now = dt_util.utcnow()
        if not self.enabled or (hold := needs_hold(self.plan, new, now)) is None:
            return new
        held = await async_plan(self.hass, request, hold_power=hold)
        threshold = self._options.get(CONF_STABILITY_THRESHOLD, DEFAULT_STABILITY_THRESHOLD)
        self.decision = decide_setpoint(
            self.plan, new, now, held=held, threshold=float(threshold) / 100
        )
        return held if self.decision.action == KEEP else new

    def _note_failure(self) -> None:
        """Log once when planning has failed for longer than a price source needs to start."""
        now = dt_util.utcnow()
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._failing_since >= QUIET_WHILE_SOURCES_START and not self._failure_logged:
            LOGGER.warning(
                "%s: cannot plan since %s: %s",
                self.coordinator.config_entry.title,
                self._failing_since.isoformat(timespec="minutes"),
                self.error,
            )
            self._failure_logged = True

    def _schedule_boundary(self) -> None:
        if self._unsub_boundary is not None:
            self._unsub_boundary()
        slot = self.current_slot()
        when = slot.end if slot else dt_util.utcnow() + timedelta(minutes=15)
        self._unsub_boundary = async_track_point_in_utc_time(
            self.hass, self._async_on_boundary, when
        )

    async def _async_on_boundary(self, _now: datetime) -> None:
        self._unsub_boundary = None
        await self.async_request_replan()

    async def _apply(self) -> None:
        """Set the current slot's power, within what the device can take."""
        slot = self.current_slot()
        if slot is None:
            return
        low, high = self.coordinator.device.power_limits()
        power = round(min(high, max(low, slot.power)), -1)
        try:
            await self.coordinator.async_set_power_setpoint(power)
        except HomeAssistantError as err:
            LOGGER.warning(
                "%s: could not apply the planned %s W: %s",
                self.coordinator.config_entry.title,
                power,
                err,
            )
