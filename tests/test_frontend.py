"""The plan card is served by the integration and loaded by the frontend; the dashboard's
entities exist. How the card draws is checked in a real browser (tests/browser)."""

from __future__ import annotations

from pathlib import Path
import re

from homeassistant.components.frontend import DATA_EXTRA_MODULE_URL
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.home_battery.frontend import CARD_FILE, CARD_URL

from .helpers import set_up_entry

pytestmark = pytest.mark.modbus

DASHBOARD = Path(__file__).resolve().parents[1] / "dashboards" / "home_battery.yaml"
# Entities of the demo's configuration.yaml rather than of the integration.
DEMO_ENTITIES = {"sensor.electricity_price"}


async def test_card_served_and_loaded(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, victron_entry: MockConfigEntry
) -> None:
    """With a frontend, the card is served (long cache, versioned URL) and added to every page."""
    assert await async_setup_component(hass, "frontend", {})
    await set_up_entry(hass, victron_entry)

    (url,) = [u for u in hass.data[DATA_EXTRA_MODULE_URL].urls if u.startswith(CARD_URL)]
    assert re.fullmatch(rf"{re.escape(CARD_URL)}\?v=[0-9a-f]{{12}}", url)
    client = await hass_client()
    response = await client.get(url)
    assert response.status == 200
    assert "javascript" in response.headers["Content-Type"]
    assert "max-age" in response.headers.get("Cache-Control", "")
    assert await response.read() == CARD_FILE.read_bytes()


async def test_no_frontend_nothing_served(hass: HomeAssistant, victron: MockConfigEntry) -> None:
    """Without a frontend (a headless install, these tests) the integration still sets up."""
    assert "frontend" not in hass.config.components
    assert DATA_EXTRA_MODULE_URL not in hass.data


def test_card_needs_no_network_or_build() -> None:
    """The card is one plain script: no imports, no fetches, no URLs it would load."""
    source = CARD_FILE.read_text()
    assert not re.search(r"^\s*import\b|\bimport\(|\bfetch\(|XMLHttpRequest", source, re.M)
    urls = set(re.findall(r"https?://[^\s\"'`]+", source))
    assert urls <= {"https://github.com/home-battery/home_battery#dashboards"}
    assert "registry.define(CARD" in source


def _entity_ids(node: object) -> set[str]:
    """Every entity id the dashboard refers to, wherever it sits in the cards."""
    if isinstance(node, dict):
        found = {node["entity"]} if isinstance(node.get("entity"), str) else set()
        return found.union(*(_entity_ids(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_entity_ids(item) for item in node))
    return set()


async def test_dashboard_entities_exist(hass: HomeAssistant, victron: MockConfigEntry) -> None:
    """The dashboard users copy names only entities the Victron demo battery has."""
    dashboard = load_yaml(DASHBOARD)
    referenced = _entity_ids(dashboard) - DEMO_ENTITIES
    assert len(referenced) > 10
    missing = sorted(e for e in referenced if hass.states.get(e) is None)
    assert missing == []
