"""The device interface every family implements, with the control bookkeeping they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import replace
import time

from .model import (
    BatteryState,
    Capabilities,
    DeviceIdentity,
    InvalidValueError,
    Key,
    Mode,
    UnsupportedError,
)


class BatteryDevice(ABC):
    """One battery or hybrid inverter, spoken to in its own protocol, seen through the model.

    The base class validates every value before a family writes it, remembers the active manual
    setpoint so that expiring control can be refreshed, and tells which mode is active. Families
    implement the `_`-prefixed hooks; a family without control implements none of them.
    """

    capabilities: Capabilities = Capabilities()
    # Monotonic seconds the coordinator measures outages on, for what a family times about its
    # link (a reconnect backoff): tests that move the coordinator's time move this one too.
    clock: Callable[[], float] = time.monotonic

    def __init__(self) -> None:
        """Start with no manual control active."""
        self.identity: DeviceIdentity | None = None
        self._setpoint: float | None = None
        self._mode: str = Mode.AUTO

    # --- what the Home Assistant layer calls -------------------------------------------------

    @abstractmethod
    async def connect(self) -> DeviceIdentity:
        """Open the connection and read the device's identity."""

    @abstractmethod
    async def read(self) -> BatteryState:
        """Read the current state in the common model."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Close the connection."""

    @property
    def mode(self) -> str:
        """Return the mode this integration last set."""
        return self._mode

    @property
    def setpoint(self) -> float | None:
        """Return the active manual setpoint in W (+ discharge), None when not in manual."""
        return self._setpoint

    @property
    def control_active(self) -> bool:
        """Return True while this integration holds the device in a forced mode."""
        return self._mode != Mode.AUTO

    @property
    def connection_takeovers(self) -> int:
        """Return how often another client took this device's only connection (0: untracked).

        Devices that serve one client at a time drop the older connection when another client
        connects; the Home Assistant layer raises a repair issue when this keeps happening.
        """
        return 0

    def power_limits(self) -> tuple[float, float]:
        """Return the setpoint bounds in W: (−max charge, +max discharge)."""
        caps = self.capabilities
        if not caps.power_setpoint or caps.max_charge_power is None:
            raise UnsupportedError("this device takes no power setpoint")
        return -caps.max_charge_power, caps.max_discharge_power or 0.0

    def apply_user_limits(
        self, *, max_charge_power: float | None, max_discharge_power: float | None
    ) -> None:
        """Use the user's limits (W) where the device reports none."""
        self.capabilities = replace(
            self.capabilities,
            max_charge_power=self.capabilities.max_charge_power or max_charge_power,
            max_discharge_power=self.capabilities.max_discharge_power or max_discharge_power,
        )

    def _update_power_limits(self, charge: object, discharge: object) -> None:
        """Take the setpoint bounds (W) the device reports; keep the others where it has none."""
        caps = self.capabilities
        self.capabilities = replace(
            caps,
            max_charge_power=float(charge)
            if isinstance(charge, (int, float)) and charge > 0
            else caps.max_charge_power,
            max_discharge_power=float(discharge)
            if isinstance(discharge, (int, float)) and discharge > 0
            else caps.max_discharge_power,
        )

    async def set_power_setpoint(self, watts: float) -> None:
        """Hold the battery at `watts` (+ discharge, − charge), after checking the bounds."""
        minimum, maximum = self.power_limits()
        if not minimum <= watts <= maximum:
            raise InvalidValueError(watts, minimum, maximum)
        await self._write_setpoint(watts)
        self._setpoint = watts
        self._mode = Mode.MANUAL

    async def set_mode(self, mode: str) -> None:
        """Switch to `auto`, `manual` (holding the last setpoint, or 0) or a family mode."""
        if mode not in self.capabilities.modes:
            raise UnsupportedError(f"mode {mode} is not offered by this device")
        if mode == Mode.AUTO:
            await self.release_control()
        elif mode == Mode.MANUAL:
            await self.set_power_setpoint(self._setpoint or 0.0)
        else:
            await self._write_mode(mode)
            self._setpoint = None
            self._mode = mode

    async def set_state_of_charge_limit(self, key: str, percent: float) -> None:
        """Set `min_state_of_charge` or `max_state_of_charge` (0–100 %)."""
        allowed = (
            self.capabilities.min_state_of_charge
            if key == Key.MIN_STATE_OF_CHARGE
            else self.capabilities.max_state_of_charge
        )
        if not allowed:
            raise UnsupportedError(f"{key} cannot be set on this device")
        if not 0 <= percent <= 100:
            raise InvalidValueError(percent, 0, 100)
        await self._write_soc_limit(key, percent)

    async def refresh_control(self) -> None:
        """Write the active setpoint again, for devices whose control expires."""
        if self._setpoint is not None:
            await self._write_setpoint(self._setpoint)

    async def release_control(self) -> None:
        """Return the device to its own automatic mode."""
        await self._write_release()
        self._setpoint = None
        self._mode = Mode.AUTO

    # --- what a controllable family implements -------------------------------------------------

    async def _write_setpoint(self, watts: float) -> None:
        raise UnsupportedError("this device takes no power setpoint")

    async def _write_mode(self, mode: str) -> None:
        raise UnsupportedError(f"mode {mode} is not offered by this device")

    async def _write_soc_limit(self, key: str, percent: float) -> None:
        raise UnsupportedError(f"{key} cannot be set on this device")

    async def _write_release(self) -> None:  # noqa: B027 - optional hook
        """Hand control back; families without control have nothing to release."""
