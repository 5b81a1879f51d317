"""Control that never leaves a battery forced unknowingly: the coordinator's control guard.

Every control action runs through `ControlGuard.async_run`: device errors become translated
errors (helpers.py), a device state that ignores control or a refused permission raises a repair
issue saying what to change, and expiring control is refreshed while it is active. What the
device's control record says (the user's own settings read before the first write, and that
control is active) is kept in Home Assistant's storage before the first write: a start after a
crash finds a battery still forced and releases it. Control is also released after losing
contact for longer than the grace period, on unload and when Home Assistant stops.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.storage import Store

from .const import CONTROL_GRACE_PERIOD, DOMAIN, LOGGER
from .devices.base import BatteryDevice, ControlRecord
from .devices.model import (
    BatteryState,
    ControlBlockedError,
    DeviceAuthError,
    DeviceError,
    DevicePermissionError,
    Key,
)
from .helpers import control_error

STORAGE_VERSION = 1
# Repair issue raised at start-up when an earlier run left the battery forced.
RELEASED_AFTER_RESTART = "released_after_restart"


def _store(hass: HomeAssistant, entry_id: str) -> Store[ControlRecord]:
    """Return where one entry's control record is kept (`.storage/home_battery.control.<id>`)."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.control.{entry_id}")


async def async_remove_control_record(hass: HomeAssistant, entry_id: str) -> None:
    """Forget what an entry's control stored (the entry is deleted)."""
    await _store(hass, entry_id).async_remove()


class ControlGuard:
    """Runs one battery's control actions safely, and remembers what they changed."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        device: BatteryDevice,
        *,
        on_change: Callable[[], Awaitable[None]],
    ) -> None:
        """Guard `device`; `on_change` shows a successful action's result at once."""
        self._hass = hass
        self._entry = entry
        self._device = device
        self._on_change = on_change
        self._store = _store(hass, entry.entry_id)
        self._stored: ControlRecord | None = None
        self._issues: set[str] = set()
        self._unsub_refresh: CALLBACK_TYPE | None = None
        self.release_pending = False
        device.record_hook = self._async_store

    # --- control actions ----------------------------------------------------------------------

    async def async_run(self, action: Callable[[], Awaitable[None]]) -> None:
        """Run a control action; raise a translated error when it fails."""
        try:
            await action()
        except DeviceError as err:
            if isinstance(err, DeviceAuthError):
                self._entry.async_start_reauth(self._hass)
            if isinstance(err, (ControlBlockedError, DevicePermissionError)):
                self._raise_issue(err.reason)
            self._follow_control_state()
            raise control_error(err) from err
        self._clear_issues()
        self._follow_control_state()
        await self._on_change()

    async def async_release(self, reason: str) -> None:
        """Return the device to auto if this integration holds it, or may hold it, forced."""
        self._stop_refresh()
        if not (self._device.control_active or self.release_pending):
            return
        try:
            await self._device.release_control()
        except DeviceError as err:
            self.release_pending = True
            LOGGER.warning("Could not return %s to auto: %s", self._entry.title, err)
            return
        self.release_pending = False
        LOGGER.info("%s returned to auto (%s)", self._entry.title, reason)

    # --- polling --------------------------------------------------------------------------------

    async def async_recover(self) -> None:
        """At setup: release a battery an earlier run left forced (a crash, a power cut)."""
        record = await self._store.async_load()
        if not record:
            return
        self._stored = record
        self._device.adopt_control_record(record)
        LOGGER.warning(
            "%s was left in %s mode by an earlier run that ended without releasing it; "
            "returning it to its own operation",
            self._entry.title,
            self._device.mode,
        )
        self._raise_issue(RELEASED_AFTER_RESTART)
        await self.async_release("left forced by an earlier run")

    def lost_contact(self, seconds: float) -> None:
        """After a failed poll: plan a release once contact has been lost for too long."""
        if self._device.control_active and seconds > CONTROL_GRACE_PERIOD.total_seconds():
            if not self.release_pending:
                LOGGER.warning(
                    "%s: no contact for %.0f s while in %s mode; returning it to auto",
                    self._entry.title,
                    seconds,
                    self._device.mode,
                )
            self.release_pending = True
            self._stop_refresh()

    async def async_after_read(
        self, state: BatteryState, read: Callable[[], Awaitable[BatteryState]]
    ) -> BatteryState:
        """After a successful poll: finish a pending release, and check the device's mode."""
        if self.release_pending:
            await self.async_release("contact restored after the grace period")
            state = await read()
        if note := self._device.reconcile(state):
            LOGGER.warning("%s: %s; following the battery", self._entry.title, note)
            self._follow_control_state()
        return state

    def show_control_state(self, state: BatteryState) -> BatteryState:
        """Return the last state with the mode and setpoint just set, before the next poll."""
        shown = dict(state)
        shown[Key.OPERATING_MODE] = self._device.mode
        shown.pop(Key.POWER_SETPOINT, None)
        if (setpoint := self._device.setpoint) is not None:
            shown[Key.POWER_SETPOINT] = setpoint
        return shown

    async def async_shutdown(self) -> None:
        """Release control and clear this entry's repair issues (unload, Home Assistant stop)."""
        await self.async_release("unloading")
        for issue in (*self._issues, RELEASED_AFTER_RESTART):
            ir.async_delete_issue(self._hass, DOMAIN, self._issue_id(issue))
        self._issues.clear()

    @callback
    def diagnostics(self) -> dict[str, Any]:
        """Return the control side of the diagnostics."""
        return {
            "mode": self._device.mode,
            "setpoint": self._device.setpoint,
            "active": self._device.control_active,
            "release_pending": self.release_pending,
            "record": self._device.control_record(),
        }

    # --- internals ------------------------------------------------------------------------------

    async def _async_store(self, record: ControlRecord | None) -> None:
        """Keep the device's control record across a crash; awaited before its first write."""
        if record == self._stored:
            return
        self._stored = record
        if record is None:
            await self._store.async_remove()
        else:
            await self._store.async_save(record)

    def _follow_control_state(self) -> None:
        """Refresh expiring control while it is active; stop refreshing once released."""
        interval = self._device.capabilities.control_refresh_interval
        if not self._device.control_active or self.release_pending:
            self._stop_refresh()
        elif interval and self._unsub_refresh is None:
            self._unsub_refresh = async_track_time_interval(
                self._hass,
                self._async_refresh,
                timedelta(seconds=interval),
                name=f"{DOMAIN} control refresh",
                cancel_on_shutdown=True,
            )

    def _stop_refresh(self) -> None:
        if self._unsub_refresh is not None:
            self._unsub_refresh()
            self._unsub_refresh = None

    async def _async_refresh(self, _now: datetime) -> None:
        try:
            await self._device.refresh_control()
        except DeviceError as err:
            # A lost link: the poll reports it and the grace period releases control. A refused
            # write: the device rolled back to auto, which is worth a line.
            if self._device.control_active:
                LOGGER.debug("Refreshing control of %s failed: %s", self._entry.title, err)
            else:
                LOGGER.warning(
                    "%s returned to auto: refreshing its setpoint failed: %s",
                    self._entry.title,
                    err,
                )
                await self._on_change()
        self._follow_control_state()

    def _issue_id(self, reason: str) -> str:
        return f"{reason}_{self._entry.entry_id}"

    def _raise_issue(self, reason: str) -> None:
        self._issues.add(reason)
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            self._issue_id(reason),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=reason,
            translation_placeholders={"title": self._entry.title},
        )

    def _clear_issues(self) -> None:
        """Clear the issues of earlier refusals: a control action worked, so they are fixed."""
        for reason in self._issues - {RELEASED_AFTER_RESTART}:
            ir.async_delete_issue(self._hass, DOMAIN, self._issue_id(reason))
        self._issues &= {RELEASED_AFTER_RESTART}
