"""Without a consumption forecast, planning uses the recorder's history of the house's use."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.components.recorder.models import StatisticMeanType, StatisticMetaData
from homeassistant.components.recorder.statistics import async_import_statistics
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.home_battery.const import CONF_CAPACITY, DOMAIN

from .families.victron import config_entry
from .helpers import set_up_entry
from .simulators.victron import VictronSimulator

pytestmark = pytest.mark.usefixtures("socket_enabled")
HOUSE = "sensor.victron_gx_house_consumption"
# Newer Home Assistant requires the unit class of imported statistics; 2025.4 has no such key.
UNIT_CLASS = {"unit_class": "power"} if "unit_class" in StatisticMetaData.__annotations__ else {}


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: object, enable_custom_integrations: None
) -> None:
    """The recorder must start before custom integrations are enabled."""


def _prices() -> list[dict[str, Any]]:
    start = dt_util.utcnow().replace(minute=0, second=0, microsecond=0)
    return [
        {
            "start": (start + timedelta(hours=i)).isoformat(),
            "end": (start + timedelta(hours=i + 1)).isoformat(),
            "price": 0.10 if i % 24 < 6 else 0.40,
        }
        for i in range(24)
    ]


async def _battery(hass: HomeAssistant, sim: VictronSimulator) -> MockConfigEntry:
    return await set_up_entry(hass, config_entry(sim, {CONF_CAPACITY: 10}))


async def test_auto_load_forecast_from_the_house_history(
    hass: HomeAssistant, victron_sim: VictronSimulator
) -> None:
    """Four weeks of hourly house consumption: the plan uses a profile made from them."""
    entry = await _battery(hass, victron_sim)
    now = dt_util.utcnow().replace(minute=0, second=0, microsecond=0)
    hours = range(1, 4 * 7 * 24)
    async_import_statistics(
        hass,
        {
            "mean_type": StatisticMeanType.ARITHMETIC,
            "has_sum": False,
            "name": None,
            "source": "recorder",
            "statistic_id": HOUSE,
            "unit_of_measurement": "W",
            **UNIT_CLASS,
        },
        [
            {"start": now - timedelta(hours=h), "mean": 800.0, "min": 800.0, "max": 800.0}
            for h in hours
        ],
    )
    await async_wait_recording_done(hass)
    plan = await hass.services.async_call(
        DOMAIN,
        "compute_schedule",
        {"prices": _prices(), "config_entry_id": entry.entry_id},
        blocking=True,
        return_response=True,
    )
    assert plan is not None
    assert plan["sources"]["load_forecast"]["source"] == "history_profile"
    # The house's 800 W are bought in every slot the battery does not cover.
    assert plan["baseline_cost"] == pytest.approx(0.8 * (6 * 0.10 + 18 * 0.40), rel=0.02)


async def test_no_history_yet_plans_without_a_load(
    hass: HomeAssistant, victron_sim: VictronSimulator
) -> None:
    """A new installation has no history: the plan says no load forecast was used."""
    entry = await _battery(hass, victron_sim)
    plan = await hass.services.async_call(
        DOMAIN,
        "compute_schedule",
        {"prices": _prices(), "config_entry_id": entry.entry_id},
        blocking=True,
        return_response=True,
    )
    assert plan is not None
    assert plan["sources"]["load_forecast"] is None
