"""What a family is to the Home Assistant layer: a form, a factory and optional hooks.

Kept apart from the registry (`families/__init__.py`) so that each family module can import it
without an import circle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import voluptuous as vol

from ..devices.base import BatteryDevice


@dataclass(frozen=True, kw_only=True)
class Discovery:
    """A device that announced itself: its unique id, if announced, and the fields it fills in."""

    unique_id: str | None
    name: str  # shown in the discovered flow's title
    data: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Family:
    """How to ask for one family's settings and build its device."""

    key: str  # the config flow's step and the entry's `family`
    title: str
    schema: vol.Schema
    create: Callable[[HomeAssistant, Mapping[str, Any]], BatteryDevice]
    credentials: tuple[str, ...] = ()  # the fields a reauth flow asks for again
    # Recognises the family's zeroconf announcement; the manifest must list the service type.
    zeroconf: Callable[[ZeroconfServiceInfo], Discovery | None] | None = None
    # Returns an abort reason while the family cannot be set up (e.g. MQTT is not configured).
    unavailable: Callable[[HomeAssistant], str | None] | None = None
    # Checks the form before connecting; returns the form's errors by field.
    validate: Callable[[Mapping[str, Any]], dict[str, str]] | None = None
    # The `host` field may carry a port (`host:port`), for families without a port field.
    host_with_port: bool = False
