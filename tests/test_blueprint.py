"""The notify blueprint: loaded by Home Assistant's blueprint integration, run as an automation.

The alarm comes from the integration itself (the Victron simulator's state of charge drops), so
the test covers the whole path from the battery to the notify action.
"""

from __future__ import annotations

from pathlib import Path
import shutil

from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_mock_service,
)

from custom_components.home_battery.const import EVENT_ALARM

from .helpers import poll
from .simulators.victron import VictronSimulator

pytestmark = pytest.mark.modbus

REPOSITORY = Path(__file__).resolve().parents[1]
BLUEPRINT = REPOSITORY / "blueprints" / "automation" / "home_battery" / "notify_alarm.yaml"
PATH = "home_battery/notify_alarm.yaml"


@pytest.fixture
def blueprint_folder(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A config folder holding the repository's blueprint where an import would put it."""
    hass.config.config_dir = str(tmp_path)
    folder = tmp_path / "blueprints" / "automation" / "home_battery"
    folder.mkdir(parents=True)
    shutil.copy(BLUEPRINT, folder)
    return folder


async def _automation(hass: HomeAssistant, **inputs: object) -> None:
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "alias": "Battery alarms",
                "use_blueprint": {
                    "path": PATH,
                    "input": {"notify_action": "notify.test", **inputs},
                },
            }
        },
    )
    await hass.async_block_till_done()


@pytest.mark.usefixtures("blueprint_folder")
async def test_blueprint_loads_with_its_inputs(hass: HomeAssistant) -> None:
    """The blueprint integration accepts the file; its source URL is the repository path."""
    assert await async_setup_component(hass, "automation", {})
    blueprint = await async_get_blueprints(hass).async_get_blueprint(PATH)
    assert blueprint.domain == "automation"
    assert set(blueprint.inputs) == {"notify_action", "kinds", "batteries"}
    assert blueprint.metadata["source_url"].endswith(
        "/blueprints/automation/home_battery/notify_alarm.yaml"
    )


@pytest.mark.usefixtures("blueprint_folder")
async def test_alarm_from_the_battery_is_sent(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """A low state of charge reaches the notify action with the battery's name and values."""
    calls = async_mock_service(hass, "notify", "test")
    await _automation(hass)
    victron_sim.soc = 7.0
    victron_sim.update(0.0)
    await poll(hass)
    assert len(calls) == 1
    assert calls[0].data["title"] == "Victron GX: Low state of charge"
    message = calls[0].data["message"]
    assert message.startswith("State of charge 7 % (alarm at 10 % or less).")
    assert "Battery power" in message


@pytest.mark.usefixtures("blueprint_folder")
async def test_filters_by_kind_and_battery(hass: HomeAssistant) -> None:
    """Only the chosen kinds and batteries send a message; the other values read well."""
    calls = async_mock_service(hass, "notify", "test")
    await _automation(hass, kinds=["heavy_load", "unreachable"], batteries=["device-a"])
    base = {"entry_id": "e", "battery": "Garage", "state_of_charge": 41.0, "battery_power": 2300}

    def fire(**data: object) -> None:
        hass.bus.async_fire(EVENT_ALARM, {**base, "value": None, "threshold": None, **data})

    fire(kind="low_state_of_charge", device_id="device-a")  # not a chosen kind
    fire(kind="heavy_load", device_id="device-b", value=6100)  # another battery
    fire(kind="heavy_load", device_id="device-a", value=6100.0, threshold=5000, duration=610)
    fire(kind="unreachable", device_id="device-a", battery_power=None)
    await hass.async_block_till_done()
    assert [c.data["title"] for c in calls] == ["Garage: Heavy load", "Garage: Unreachable"]
    assert calls[0].data["message"] == (
        "House consumption 6100 W for 10 min (alarm above 5000 W). "
        "State of charge 41 %. Battery power 2300 W (discharging)."
    )
    assert calls[1].data["message"] == (
        "The battery does not answer; the last values known are below. State of charge 41 %."
    )
