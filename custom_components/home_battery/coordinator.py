"""One coordinator per configured battery: polling, energy counters and guarded control."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .const import (
    CONF_MAX_CHARGE_POWER,
    CONF_MAX_DISCHARGE_POWER,
    CONF_SCAN_INTERVAL,
    DEFAULT_MAX_POWER,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    LOGGER,
)
from .control import ControlGuard
from .devices.base import BatteryDevice
from .devices.energy import EnergyIntegrator
from .devices.model import BatteryState, DeviceAuthError, DeviceError, DeviceIdentity, Key
from .devices.plausible import drop_implausible
from .helpers import read_error
from .repairs import ConnectionTakeoverIssue

INTEGRATED_COUNTERS = (Key.ENERGY_CHARGED, Key.ENERGY_DISCHARGED)


class HomeBatteryCoordinator(DataUpdateCoordinator[BatteryState]):
    """Polls one device, integrates its energy counters, and guards its control."""

    config_entry: ConfigEntry

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, device: BatteryDevice) -> None:
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
        self.control = ControlGuard(hass, entry, device, on_change=self._async_show_control)
        self._last_contact = device.clock()
        self._takeover_issue = ConnectionTakeoverIssue(hass, entry)
        self._implausible_seen: set[str] = set()

    def clock(self) -> float:
        """Return the monotonic seconds outages are measured on: the device's clock."""
        return self.device.clock()

    @property
    def identity(self) -> DeviceIdentity:
        """Return the identity read at setup."""
        assert self.device.identity is not None
        return self.device.identity

    async def _async_setup(self) -> None:
        """Connect and read the identity once; a failure makes the entry retry setup."""
        try:
            await self.device.connect()
        except DeviceError as err:
            raise read_error(err) from err
        options = self.config_entry.options
        # Setpoint bounds where the device reports none: the user's, else the options' default.
        self.device.apply_user_limits(
            max_charge_power=options.get(CONF_MAX_CHARGE_POWER, DEFAULT_MAX_POWER),
            max_discharge_power=options.get(CONF_MAX_DISCHARGE_POWER, DEFAULT_MAX_POWER),
        )
        if not self.device.capabilities.energy_counters >= set(INTEGRATED_COUNTERS):
            # Samples beyond the rating are skipped; a gap of more than three polls (and a
            # minute, the control grace period) is not bridged: the energy moved is unknown.
            interval = self.update_interval.total_seconds() if self.update_interval else 10.0
            self.energy = EnergyIntegrator(
                max_power=self._rated_power(), max_gap=max(60.0, 3 * interval)
            )
        await self.control.async_recover()

    async def _async_update_data(self) -> BatteryState:
        try:
            state = await self.device.read()
        except DeviceError as err:
            self.control.lost_contact(self.clock() - self._last_contact)
            if not isinstance(err, DeviceAuthError) and self._within_tolerated_outage():
                LOGGER.debug("%s: read failed, keeping the last state: %s", self.name, err)
                return self.data
            raise read_error(err) from err
        finally:
            self._takeover_issue.update(self.device.connection_takeovers, self.clock())
        self._last_contact = self.clock()
        try:
            state = await self.control.async_after_read(state, self.device.read)
        except DeviceError as err:
            raise read_error(err) from err
        self._drop_implausible(state)
        self._integrate(state)
        return state

    def _rated_power(self) -> float | None:
        """Return the larger of the setpoint bounds (W), the best rating the device gives."""
        try:
            return max(abs(limit) for limit in self.device.power_limits())
        except DeviceError:
            return None

    def _drop_implausible(self, state: BatteryState) -> None:
        """Make values no battery can report unknown for this poll (one line per key)."""
        for key in drop_implausible(state, rated_power=self._rated_power()):
            if key not in self._implausible_seen:
                self._implausible_seen.add(key)
                LOGGER.warning(
                    "%s reported an impossible %s; it is unknown until the value is sane again",
                    self.config_entry.title,
                    key,
                )

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

    # --- control ------------------------------------------------------------------------------

    async def async_set_power_setpoint(self, watts: float) -> None:
        """Hold the battery at `watts` (+ discharge, − charge)."""
        await self.control.async_run(lambda: self.device.set_power_setpoint(watts))

    async def async_set_mode(self, mode: str) -> None:
        """Switch the operating mode."""
        await self.control.async_run(lambda: self.device.set_mode(mode))

    async def async_set_state_of_charge_limit(self, key: str, percent: float) -> None:
        """Set the minimum or maximum state of charge."""
        await self.control.async_run(lambda: self.device.set_state_of_charge_limit(key, percent))

    async def async_release(self, reason: str) -> None:
        """Return the device to auto if this integration holds it in a forced mode."""
        await self.control.async_release(reason)

    async def _async_show_control(self) -> None:
        """Show what a control action set at once; the next poll reads it back."""
        if self.data is not None:
            self.async_set_updated_data(self.control.show_control_state(self.data))
        await self.async_request_refresh()

    async def async_shutdown(self) -> None:
        """Release control and close the connection (unload and Home Assistant stop)."""
        await self.control.async_shutdown()
        self._takeover_issue.clear()
        await super().async_shutdown()
        await self.device.close()

    @callback
    def diagnostics(self) -> dict[str, Any]:
        """Return the device's side of the diagnostics."""
        return {
            "capabilities": self.device.capabilities,
            "control": self.control.diagnostics(),
            "missing_data": self.device.missing_data,
            "state": self.data,
        }
