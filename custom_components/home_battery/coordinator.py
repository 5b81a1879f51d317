"""One coordinator per configured battery: polling, energy counters and safe control."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    HomeAssistantError,
    ServiceValidationError,
)
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import (
    CONF_MAX_CHARGE_POWER,
    CONF_MAX_DISCHARGE_POWER,
    CONF_SCAN_INTERVAL,
    CONTROL_GRACE_PERIOD,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    LOGGER,
)
from .devices.base import BatteryDevice
from .devices.energy import EnergyIntegrator
from .devices.model import (
    BatteryState,
    DeviceAuthError,
    DeviceError,
    DeviceIdentity,
    DevicePermissionError,
    InvalidValueError,
    Key,
    UnsupportedError,
    WriteNotAcceptedError,
)
from .repairs import ConnectionTakeoverIssue
from .schedule_control import ScheduleFollower

type HomeBatteryConfigEntry = ConfigEntry[HomeBatteryCoordinator]

INTEGRATED_COUNTERS = (Key.ENERGY_CHARGED, Key.ENERGY_DISCHARGED)


def _error(key: str, **placeholders: str) -> dict[str, Any]:
    """Return the keyword arguments of a translated Home Assistant exception."""
    return {
        "translation_domain": DOMAIN,
        "translation_key": key,
        "translation_placeholders": placeholders or None,
    }


class HomeBatteryCoordinator(DataUpdateCoordinator[BatteryState]):
    """Polls one device, integrates its energy counters, and guards its control."""

    config_entry: HomeBatteryConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: HomeBatteryConfigEntry, device: BatteryDevice
    ) -> None:
        """Set up polling at the interval from the entry's options."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=timedelta(
                seconds=entry.options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL)
            ),
        )
        self.device = device
        self.energy: EnergyIntegrator | None = None
        self._last_contact = self.clock()
        self._release_pending = False
        self._unsub_control_refresh: CALLBACK_TYPE | None = None
        self._takeover_issue = ConnectionTakeoverIssue(hass, entry)
        self.schedule = ScheduleFollower(self)

    @property
    def clock(self) -> Callable[[], float]:
        """Return the monotonic clock (seconds) outages are measured on: the device's."""
        return self.device.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        """Replace the clock, for the device too (tests move time with it)."""
        self.device.clock = clock

    @property
    def identity(self) -> DeviceIdentity:
        """Return the identity read at setup."""
        assert self.device.identity is not None
        return self.device.identity

    async def _async_setup(self) -> None:
        """Connect and read the identity once; a failure makes the entry retry setup."""
        try:
            await self.device.connect()
        except DeviceAuthError as err:
            raise ConfigEntryAuthFailed(**_error("authentication_failed")) from err
        except DeviceError as err:
            raise UpdateFailed(**_error("communication_error", error=str(err))) from err
        options = self.config_entry.options
        self.device.apply_user_limits(
            max_charge_power=options.get(CONF_MAX_CHARGE_POWER),
            max_discharge_power=options.get(CONF_MAX_DISCHARGE_POWER),
        )
        if not self.device.capabilities.energy_counters >= set(INTEGRATED_COUNTERS):
            self.energy = EnergyIntegrator()

    async def _async_update_data(self) -> BatteryState:
        try:
            state = await self.device.read()
        except DeviceAuthError as err:
            raise ConfigEntryAuthFailed(**_error("authentication_failed")) from err
        except DeviceError as err:
            self._check_grace_period()
            if self._within_tolerated_outage():
                LOGGER.debug("%s: read failed, keeping the last state: %s", self.name, err)
                return self.data
            raise UpdateFailed(**_error("communication_error", error=str(err))) from err
        finally:
            self._takeover_issue.update(self.device.connection_takeovers, self.clock())
        self._last_contact = self.clock()
        if self._release_pending:
            await self._release("contact restored after the grace period")
            state = await self.device.read()
        self._integrate(state)
        return state

    def _integrate(self, state: BatteryState) -> None:
        power = state.get(Key.BATTERY_POWER)
        if self.energy is None or not isinstance(power, (int, float)):
            return
        self.energy.add(float(power), self.clock())
        state[Key.ENERGY_CHARGED] = round(self.energy.charged_kwh, 4)
        state[Key.ENERGY_DISCHARGED] = round(self.energy.discharged_kwh, 4)

    def _within_tolerated_outage(self) -> bool:
        """Return True while a failing link is still inside the device's tolerated outage."""
        tolerated = self.device.capabilities.unavailable_after
        return (
            self.data is not None
            and self.last_update_success
            and self.clock() - self._last_contact <= tolerated
        )

    def _check_grace_period(self) -> None:
        """Remember to release a forced mode once contact has been lost for too long."""
        lost_for = self.clock() - self._last_contact
        if self.device.control_active and lost_for > CONTROL_GRACE_PERIOD.total_seconds():
            if not self._release_pending:
                LOGGER.warning(
                    "%s: no contact for %.0f s while in %s mode; returning it to auto",
                    self.config_entry.title,
                    lost_for,
                    self.device.mode,
                )
            self._release_pending = True
            self._stop_refresh()

    # --- control ------------------------------------------------------------------------------

    async def _control(self, action: Awaitable[None]) -> None:
        """Run a control action, turning device errors into translated Home Assistant errors."""
        try:
            await action
        except InvalidValueError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="value_out_of_range",
                translation_placeholders={
                    "value": f"{err.value:g}",
                    "minimum": f"{err.minimum:g}",
                    "maximum": f"{err.maximum:g}",
                },
            ) from err
        except UnsupportedError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="unsupported"
            ) from err
        except WriteNotAcceptedError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="write_not_accepted",
                translation_placeholders={
                    "what": err.what,
                    # Numbers as the user typed them; modes (strings) as they are.
                    "value": f"{err.written:g}"
                    if isinstance(err.written, (int, float))
                    else err.written,
                },
            ) from err
        except DevicePermissionError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="permission_denied"
            ) from err
        except DeviceAuthError as err:
            self.config_entry.async_start_reauth(self.hass)
            raise HomeAssistantError(**_error("authentication_failed")) from err
        except DeviceError as err:
            raise HomeAssistantError(**_error("communication_error", error=str(err))) from err
        self._follow_control_state()
        await self.async_request_refresh()

    async def async_set_power_setpoint(self, watts: float) -> None:
        """Hold the battery at `watts` (+ discharge, − charge)."""
        await self._control(self.device.set_power_setpoint(watts))

    async def async_set_mode(self, mode: str) -> None:
        """Switch the operating mode."""
        await self._control(self.device.set_mode(mode))

    async def async_set_state_of_charge_limit(self, key: str, percent: float) -> None:
        """Set the minimum or maximum state of charge."""
        await self._control(self.device.set_state_of_charge_limit(key, percent))

    def _follow_control_state(self) -> None:
        """Refresh expiring control while it is active; stop refreshing once released."""
        interval = self.device.capabilities.control_refresh_interval
        if self.device.control_active and interval and self._unsub_control_refresh is None:
            self._unsub_control_refresh = async_track_time_interval(
                self.hass,
                self._async_refresh_control,
                timedelta(seconds=interval),
                name=f"{DOMAIN} control refresh",
                cancel_on_shutdown=True,
            )
        elif not self.device.control_active:
            self._stop_refresh()

    def _stop_refresh(self) -> None:
        if self._unsub_control_refresh is not None:
            self._unsub_control_refresh()
            self._unsub_control_refresh = None

    async def _async_refresh_control(self, _now: datetime) -> None:
        try:
            await self.device.refresh_control()
        except DeviceError as err:
            # The poll reports the lost contact; the grace period then releases control.
            LOGGER.debug("Refreshing control of %s failed: %s", self.config_entry.title, err)

    async def _release(self, reason: str) -> None:
        try:
            await self.device.release_control()
        except DeviceError as err:
            self._release_pending = True
            LOGGER.warning("Could not return %s to auto: %s", self.config_entry.title, err)
            return
        self._release_pending = False
        self._stop_refresh()
        LOGGER.info("%s returned to auto (%s)", self.config_entry.title, reason)

    async def async_release(self, reason: str) -> None:
        """Return the device to auto if this integration holds it in a forced mode."""
        self._stop_refresh()
        if self.device.control_active or self._release_pending:
            await self._release(reason)

    async def async_shutdown(self) -> None:
        """Release control and close the connection (unload and Home Assistant stop)."""
        self.schedule.async_stop()
        await self.async_release("unloading")
        self._takeover_issue.clear()
        await super().async_shutdown()
        await self.device.close()

    @callback
    def diagnostics(self) -> dict[str, Any]:
        """Return the device's side of the diagnostics."""
        return {
            "capabilities": self.device.capabilities,
            "control": {"mode": self.device.mode, "setpoint": self.device.setpoint},
            "release_pending": self._release_pending,
            "state": self.data,
        }
