"""The common battery model every device family maps its data onto.

Signs follow Home Assistant's energy dashboard: battery power and current are positive while
discharging; grid power is positive while importing. Adapters convert at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

type StateValue = float | int | str | bool
type BatteryState = dict[str, StateValue]


class Key(StrEnum):
    """Keys of the common model; they are the entities' translation keys too."""

    STATE_OF_CHARGE = "state_of_charge"
    STATE_OF_HEALTH = "state_of_health"
    BATTERY_POWER = "battery_power"
    BATTERY_VOLTAGE = "battery_voltage"
    BATTERY_CURRENT = "battery_current"
    BATTERY_TEMPERATURE = "battery_temperature"
    GRID_POWER = "grid_power"
    PV_POWER = "pv_power"
    LOAD_POWER = "load_power"
    CHARGE_VOLTAGE_LIMIT = "charge_voltage_limit"
    CHARGE_CURRENT_LIMIT = "charge_current_limit"
    DISCHARGE_CURRENT_LIMIT = "discharge_current_limit"
    MAX_CHARGE_POWER = "max_charge_power"
    MAX_DISCHARGE_POWER = "max_discharge_power"
    STORED_ENERGY = "stored_energy"
    CAPACITY = "capacity"
    ENERGY_CHARGED = "energy_charged"
    ENERGY_DISCHARGED = "energy_discharged"
    GRID_ENERGY_IMPORTED = "grid_energy_imported"
    GRID_ENERGY_EXPORTED = "grid_energy_exported"
    OPERATING_STATE = "operating_state"
    OPERATING_MODE = "operating_mode"
    POWER_SETPOINT = "power_setpoint"
    MIN_STATE_OF_CHARGE = "min_state_of_charge"
    MAX_STATE_OF_CHARGE = "max_state_of_charge"
    ALARM = "alarm"


class OperatingState(StrEnum):
    """What the battery is doing; the `operating_state` sensor's options."""

    CHARGING = "charging"
    DISCHARGING = "discharging"
    IDLE = "idle"
    FAULT = "fault"
    STANDBY = "standby"
    OFFLINE = "offline"


class Mode(StrEnum):
    """Operating modes every controllable family offers; families may add their own."""

    AUTO = "auto"
    MANUAL = "manual"


# Alarm keys the adapters may report as booleans; each becomes a binary sensor.
ALARM_KEYS: tuple[str, ...] = (
    "alarm",
    "high_voltage_alarm",
    "low_voltage_alarm",
    "high_temperature_alarm",
    "low_temperature_alarm",
    "high_current_alarm",
    "overload_alarm",
    "system_error",
)

# Status flags the adapters may report as booleans (not problems): each becomes a diagnostic
# binary sensor. A BMS tells its inverter whether it may charge or discharge, and asks for a
# (forced or full) charge.
STATUS_KEYS: tuple[str, ...] = (
    "charge_allowed",
    "discharge_allowed",
    "force_charge_request",
    "full_charge_request",
)


@dataclass(frozen=True, kw_only=True)
class DeviceIdentity:
    """Who the device is; the serial number becomes the config entry's unique id."""

    serial_number: str
    manufacturer: str
    model: str
    sw_version: str | None = None


@dataclass(frozen=True, kw_only=True)
class Capabilities:
    """What the device can be asked to do, and its limits (watts at the AC side)."""

    power_setpoint: bool = False
    modes: tuple[str, ...] = ()
    min_state_of_charge: bool = False
    max_state_of_charge: bool = False
    max_charge_power: float | None = None
    max_discharge_power: float | None = None
    # Seconds between writes of an active manual setpoint, for devices whose control expires.
    control_refresh_interval: float | None = None
    # Seconds within which the device is back in its own operation when this integration stops
    # writing without releasing (a crash, a power cut): its own expiry or watchdog, or the bound
    # the family designs in. Every controllable family states it, with its source (README).
    control_expiry: float | None = None
    # The device's own rating (W) where it reports no limits: the setpoint's last-resort bounds.
    rated_power: float | None = None
    # Keys the device counts itself; the others are integrated from battery power.
    energy_counters: frozenset[str] = field(default_factory=frozenset)
    # Seconds of failed reads to ride out before the entities go unavailable (for links that
    # drop often, such as Solarman loggers); 0: unavailable at the first failed poll.
    unavailable_after: float = 0.0

    @property
    def controllable(self) -> bool:
        """Return True when the device takes a power setpoint or a mode."""
        return self.power_setpoint or bool(self.modes)


class DeviceError(Exception):
    """Base class of every error the protocol layer raises."""


class DeviceConnectionError(DeviceError):
    """The device cannot be reached, or stopped answering."""


class DeviceSilentError(DeviceConnectionError):
    """The link is open but the device sent nothing (a quiet CAN bus, no MQTT state)."""


class DeviceDataError(DeviceError):
    """The device sent something, but it cannot be read (garbage, a wrong MQTT value path)."""


class InvalidConfigError(DeviceConnectionError):
    """A setting the user gave cannot be used at all; nothing was sent.

    E.g. a host that is no address, or a token that cannot be sent in a header. `field` names
    the setting (`host`, `api_token`, `username`, `password`) for the form's error. A connection
    error, so that callers that know no better say "cannot connect".
    """

    def __init__(self, field: str, message: str) -> None:
        """Keep which setting is unusable."""
        super().__init__(message)
        self.field = field


class DeviceAuthError(DeviceError):
    """The device rejected the credentials."""


class DeviceRejectedError(DeviceError):
    """The device answered with an error, e.g. a Modbus exception for an unknown unit id."""

    def __init__(self, message: str, *, unit_id: int | None = None, code: int | None = None):
        """Keep the unit id and the device's error code for the config flow's message."""
        super().__init__(message)
        self.unit_id = unit_id
        self.code = code


class DevicePermissionError(DeviceRejectedError):
    """The device refused a write for lack of permission (e.g. it needs an installer login).

    Never a reason to re-authenticate: the credentials work for reading. `reason` says why, as a
    key the Home Assistant layer translates (e.g. `installer_password_required`, `vpp_priority`).
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str = "permission_denied",
        unit_id: int | None = None,
        code: int | None = None,
    ) -> None:
        """Keep why the device refused."""
        super().__init__(message, unit_id=unit_id, code=code)
        self.reason = reason


class ControlBlockedError(DeviceError):
    """The device is in a state that would ignore this control; nothing was written.

    `reason` names what the user must change on the device, as a key the Home Assistant layer
    translates into an error and a repair issue (e.g. `victron_ess_mode_3`, `deye_zero_export`).
    """

    def __init__(self, reason: str, message: str) -> None:
        """Keep the reason for the translated message."""
        super().__init__(message)
        self.reason = reason


class UnsupportedError(DeviceError):
    """The device does not offer this function."""


class InvalidValueError(DeviceError):
    """A value outside what the device can take; nothing was written."""

    def __init__(self, value: float, minimum: float, maximum: float) -> None:
        """Keep the bounds so the Home Assistant layer can say them."""
        super().__init__(f"{value} is outside {minimum}..{maximum}")
        self.value = value
        self.minimum = minimum
        self.maximum = maximum


class WriteNotAcceptedError(DeviceError):
    """A write the device did not apply: the read-back differs from what was written."""

    def __init__(self, what: str, written: float | str, read_back: float | str | None) -> None:
        """Keep what was written and what came back."""
        super().__init__(f"{what}: wrote {written}, device reports {read_back}")
        self.what = what
        self.written = written
        self.read_back = read_back
