"""One mapping from the protocol layer's errors to translated Home Assistant errors.

Control actions (the number, select and switch entities, schedule control) and the
coordinator's reads all go through it, so a user sees the same message for the same cause.
"""

from __future__ import annotations

from typing import Any

from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    HomeAssistantError,
    ServiceValidationError,
)
from homeassistant.helpers.update_coordinator import UpdateFailed

from .const import DOMAIN
from .devices.model import (
    ControlBlockedError,
    DeviceAuthError,
    DeviceError,
    DevicePermissionError,
    InvalidValueError,
    UnsupportedError,
    WriteNotAcceptedError,
)
from .schedule import PlanInputError, PlanningError


def translated(key: str, **placeholders: str) -> dict[str, Any]:
    """Return the keyword arguments of a translated Home Assistant exception."""
    return {
        "translation_domain": DOMAIN,
        "translation_key": key,
        "translation_placeholders": placeholders or None,
    }


def _number(value: float | str) -> str:
    """Show numbers as the user typed them; modes (strings) as they are."""
    return f"{value:g}" if isinstance(value, (int, float)) else value


def control_error(err: DeviceError) -> HomeAssistantError:
    """Return the translated error a failed control action raises to the user."""
    match err:
        case InvalidValueError():
            return ServiceValidationError(
                **translated(
                    "value_out_of_range",
                    value=_number(err.value),
                    minimum=_number(err.minimum),
                    maximum=_number(err.maximum),
                )
            )
        case UnsupportedError():
            return ServiceValidationError(**translated("unsupported"))
        case ControlBlockedError():
            return HomeAssistantError(**translated(err.reason))
        case WriteNotAcceptedError():
            return HomeAssistantError(
                **translated("write_not_accepted", what=err.what, value=_number(err.written))
            )
        case DevicePermissionError():
            return HomeAssistantError(**translated(err.reason))
        case DeviceAuthError():
            return HomeAssistantError(**translated("authentication_failed"))
    return HomeAssistantError(**translated("communication_error", error=str(err)))


def read_error(err: DeviceError) -> Exception:
    """Return what a failed poll raises: re-authentication, or a translated update failure."""
    if isinstance(err, DeviceAuthError):
        return ConfigEntryAuthFailed(**translated("authentication_failed"))
    return UpdateFailed(**translated("communication_error", error=str(err)))


def plan_error(err: PlanningError) -> ServiceValidationError:
    """Return the translated error of input the planner cannot use, naming the field."""
    what = f"{err.field or err.reason}: {err.detail or err.reason}"
    if isinstance(err, PlanInputError):
        return ServiceValidationError(**translated("invalid_parameters", reason=what))
    if err.field in (None, "prices", "sell_prices"):
        return ServiceValidationError(**translated("invalid_prices", reason=what))
    return ServiceValidationError(**translated("invalid_forecast", reason=what))
