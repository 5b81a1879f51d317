"""The device interface every family implements, with the control bookkeeping they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
from collections.abc import Awaitable, Callable
import contextlib
from dataclasses import replace
import math
import time
from typing import Any

from .model import (
    BatteryState,
    Capabilities,
    DeviceError,
    DeviceIdentity,
    InvalidValueError,
    Key,
    Mode,
    UnsupportedError,
)

type ControlRecord = dict[str, Any]
type RecordHook = Callable[[ControlRecord | None], Awaitable[None]]


class BatteryDevice(ABC):
    """One battery or hybrid inverter, spoken to in its own protocol, seen through the model.

    The base class owns the control bookkeeping every family shares, so that control is safe the
    same way everywhere:
    - every value is validated before anything is written (`InvalidValueError`), and a family
      refuses, before writing, a state of the device that would ignore the control
      (`_check_control`, `ControlBlockedError`);
    - before the first write of a control session the user's own settings that control will
      change are read (`_read_user_settings`) and kept: release restores exactly them;
    - from the first write until a release succeeded the device counts as forced
      (`control_active`), even when a write failed half-way: nothing forced is ever forgotten;
    - a control action is all-or-nothing: a failed write returns the device to auto;
    - `control_record()` is what must survive a crash of Home Assistant: the HA layer stores it
      (through `record_hook`, awaited before the first write) and hands it back with
      `adopt_control_record` at the next start, to release a battery left forced;
    - `reconcile(state)` compares, after every read, the mode the device reports with the one
      set here, and follows the device when it left our control.
    Families implement the `_`-prefixed hooks; a family without control implements none of them.
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
        self._forced = False
        self._saved: dict[str, Any] | None = None
        self._writing = False
        # Control actions, refreshes and releases never interleave (a refresh that waited while
        # control was released must not take it again).
        self._control_lock = asyncio.Lock()
        self._user_limits: tuple[float | None, float | None] = (None, None)
        # Awaited with the new record whenever it changes, before the first write of a session.
        self.record_hook: RecordHook | None = None

    # --- what the Home Assistant layer calls -------------------------------------------------

    @abstractmethod
    async def connect(self) -> DeviceIdentity:
        """Open the connection and read the device's identity."""

    @abstractmethod
    async def read(self) -> BatteryState:
        """Read the current state in the common model.

        A family that can read the mode the device is really in reports it as
        `Key.OPERATING_MODE`; `reconcile` fills in the mode set here otherwise.
        """

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
        """Return True while this integration holds, or may hold, the device in a forced mode."""
        return self._forced

    @property
    def saved_user_settings(self) -> dict[str, Any] | None:
        """Return the user's own settings read before the first write, for release."""
        return self._saved

    @property
    def missing_data(self) -> list[str]:
        """Return what this model lacks of what the family reads where it exists.

        Registers, endpoints or fields the device refused or left out (for the diagnostics).
        """
        return []

    @property
    def connection_takeovers(self) -> int:
        """Return how often another client took this device's only connection (0: untracked).

        Devices that serve one client at a time drop the older connection when another client
        connects; the Home Assistant layer raises a repair issue when this keeps happening.
        """
        return 0

    def power_limits(self) -> tuple[float, float]:
        """Return the setpoint bounds in W: (−max charge, +max discharge).

        The device's own limits where it reports them, else the user's, else its rating.
        """
        caps = self.capabilities
        if not caps.power_setpoint:
            raise UnsupportedError("this device takes no power setpoint")
        user_charge, user_discharge = self._user_limits
        charge = caps.max_charge_power or user_charge or caps.rated_power
        discharge = caps.max_discharge_power or user_discharge or caps.rated_power
        if charge is None or discharge is None:
            raise UnsupportedError("this device reports no power limits and has no rating")
        return -charge, discharge

    def apply_user_limits(
        self, *, max_charge_power: float | None, max_discharge_power: float | None
    ) -> None:
        """Use the user's limits (W) where the device reports none."""
        self._user_limits = (max_charge_power or None, max_discharge_power or None)

    def _update_power_limits(self, charge: object, discharge: object) -> None:
        """Take the setpoint bounds (W) the device reports; keep the others where it has none."""
        caps = self.capabilities
        self.capabilities = replace(
            caps,
            max_charge_power=_positive(charge, caps.max_charge_power),
            max_discharge_power=_positive(discharge, caps.max_discharge_power),
        )

    async def set_power_setpoint(self, watts: float) -> None:
        """Hold the battery at `watts` (+ discharge, − charge), after checking the bounds."""
        minimum, maximum = self.power_limits()
        if not (math.isfinite(watts) and minimum <= watts <= maximum):
            raise InvalidValueError(watts, minimum, maximum)
        await self._control(Mode.MANUAL, watts, lambda: self._write_setpoint(watts))

    async def set_mode(self, mode: str) -> None:
        """Switch to `auto`, `manual` (holding the last setpoint, or 0) or a device mode.

        Any mode but `auto` is control: released again on unload, restoring the user's settings.
        """
        if mode not in self.capabilities.modes:
            raise UnsupportedError(f"mode {mode} is not offered by this device")
        if mode == Mode.AUTO:
            await self.release_control()
        elif mode == Mode.MANUAL:
            await self.set_power_setpoint(self._setpoint or 0.0)
        else:
            await self._control(mode, None, lambda: self._write_mode(mode))

    async def set_state_of_charge_limit(self, key: str, percent: float) -> None:
        """Set `min_state_of_charge` or `max_state_of_charge` (0–100 %).

        A setting of the user's, not control: it is neither saved nor released.
        """
        allowed = (
            self.capabilities.min_state_of_charge
            if key == Key.MIN_STATE_OF_CHARGE
            else self.capabilities.max_state_of_charge
        )
        if not allowed:
            raise UnsupportedError(f"{key} cannot be set on this device")
        if not (math.isfinite(percent) and 0 <= percent <= 100):
            raise InvalidValueError(percent, 0, 100)
        await self._write_soc_limit(key, percent)

    async def refresh_control(self) -> None:
        """Write the active setpoint again, for devices whose control expires.

        A refresh never takes control: one that waited while control was released does nothing.
        """
        async with self._control_lock:
            watts = self._setpoint
            if watts is not None and self._mode == Mode.MANUAL and self._forced:
                await self._control_locked(Mode.MANUAL, watts, lambda: self._write_setpoint(watts))

    async def release_control(self) -> None:
        """Return the device to its own operation, restoring the user's saved settings."""
        async with self._control_lock:
            await self._release_locked()

    async def _release_locked(self) -> None:
        self._writing = True
        try:
            await self._write_release()
        finally:
            self._writing = False
        self._setpoint = None
        self._mode = Mode.AUTO
        self._forced = False
        self._saved = None
        await self._record_changed()

    def control_record(self) -> ControlRecord | None:
        """Return what a start after a crash needs to release the device: None when not forced.

        JSON-serialisable: the mode and setpoint set here and the user's saved settings.
        """
        if not self._forced:
            return None
        return {"mode": self._mode, "setpoint": self._setpoint, "saved": self._saved}

    def adopt_control_record(self, record: ControlRecord) -> None:
        """Take over a record stored by an earlier run (no I/O).

        The device then counts as forced, and releasing it restores the user's settings saved
        back then.
        """
        self._mode = str(record.get("mode") or Mode.MANUAL)
        setpoint = record.get("setpoint")
        self._setpoint = float(setpoint) if isinstance(setpoint, (int, float)) else None
        saved = record.get("saved")
        self._saved = dict(saved) if isinstance(saved, dict) else None
        self._forced = True

    def reconcile(self, state: BatteryState) -> str | None:
        """Complete a fresh state with the control state; follow a device that left it.

        When the device reports another mode than the one this integration set (changed on the
        device, expired, restarted), the device is followed: control counts as released. Returns
        a sentence saying so, for one log line; None when everything agrees.
        """
        reported = state.get(Key.OPERATING_MODE)
        note = None
        if (
            isinstance(reported, str)
            and self._forced
            and not self._writing
            and reported != self._mode
        ):
            note = f"the device reports mode {reported} while {self._mode} was set"
            self._setpoint = None
            self._mode = Mode.AUTO
            self._forced = False
            self._saved = None
        if reported is None:
            state[Key.OPERATING_MODE] = self._mode
        if self._setpoint is not None and self._mode == Mode.MANUAL:
            state[Key.POWER_SETPOINT] = self._setpoint
        return note

    # --- the bookkeeping of one control action ------------------------------------------------

    async def _control(
        self, mode: str, watts: float | None, write: Callable[[], Awaitable[None]]
    ) -> None:
        """Run one control write all-or-nothing, one control action at a time.

        The state of the device is checked first, the user's settings are saved before the first
        write, and the device is returned to auto if the write fails.
        """
        async with self._control_lock:
            await self._control_locked(mode, watts, write)

    async def _control_locked(
        self, mode: str, watts: float | None, write: Callable[[], Awaitable[None]]
    ) -> None:
        try:
            await self._check_control(mode, watts)
            if not self._forced:
                self._saved = await self._read_user_settings()
                self._forced = True
                await self._record_changed()
            self._writing = True
            try:
                await write()
            finally:
                self._writing = False
        except DeviceError:
            if self._forced:
                await self._roll_back()
            raise
        self._setpoint = watts
        self._mode = mode
        await self._record_changed()

    async def _roll_back(self) -> None:
        """Return to auto after a failed write.

        If that fails too, the device stays counted as forced, so that the coordinator keeps
        trying (grace period, unload, stop).
        """
        with contextlib.suppress(DeviceError):
            await self._release_locked()

    async def _record_changed(self) -> None:
        if self.record_hook is not None:
            await self.record_hook(self.control_record())

    # --- what a controllable family implements -------------------------------------------------

    async def _check_control(self, mode: str, watts: float | None) -> None:  # noqa: B027
        """Raise `ControlBlockedError` when the device is in a state that ignores this control.

        Called before anything is written; may read from the device (it takes its own lock).
        """

    async def _read_user_settings(self) -> dict[str, Any]:
        """Read the user's own settings that control will change, before its first write.

        JSON-serialisable, with string keys: it is stored across restarts. Release restores
        exactly these (`saved_user_settings`).
        """
        return {}

    async def _write_setpoint(self, watts: float) -> None:
        raise UnsupportedError("this device takes no power setpoint")

    async def _write_mode(self, mode: str) -> None:
        raise UnsupportedError(f"mode {mode} is not offered by this device")

    async def _write_soc_limit(self, key: str, percent: float) -> None:
        raise UnsupportedError(f"{key} cannot be set on this device")

    async def _write_release(self) -> None:  # noqa: B027 - optional hook
        """Hand control back, restoring `saved_user_settings` where there are any."""


def _positive(value: object, default: float | None) -> float | None:
    return float(value) if isinstance(value, (int, float)) and value > 0 else default
