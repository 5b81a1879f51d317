"""Serve the integration's Lovelace card and load it in every frontend session.

The plan card (frontend/home-battery-plan-card.js) is plain JavaScript shipped with the
integration: HACS installs it with the rest, and no Lovelace resource has to be added by hand.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from homeassistant.components.frontend import add_extra_js_url
from homeassistant.components.http import StaticPathConfig
from homeassistant.core import HomeAssistant

from .const import LOGGER

CARD_FILE = Path(__file__).parent / "frontend" / "home-battery-plan-card.js"
CARD_URL = "/home_battery/home-battery-plan-card.js"


def _version(path: Path) -> str:
    """Return a short hash of the card, so browsers fetch it again after an update."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


async def async_register_frontend(hass: HomeAssistant) -> None:
    """Serve the card and add it to the frontend; skipped where there is no frontend."""
    if hass.http is None or "frontend" not in hass.config.components:
        LOGGER.debug("No frontend loaded: the plan card is not served")
        return
    version = await hass.async_add_executor_job(_version, CARD_FILE)
    # Long cache headers: the version in the URL changes whenever the file does.
    await hass.http.async_register_static_paths(
        [StaticPathConfig(CARD_URL, str(CARD_FILE), cache_headers=True)]
    )
    add_extra_js_url(hass, f"{CARD_URL}?v={version}")
