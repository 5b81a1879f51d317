"""The energy counters are accepted by Home Assistant's energy dashboard validation."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from homeassistant.components.energy import data as energy_data, validate
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)

from custom_components.home_battery.const import DOMAIN

from .families.victron import entry_data
from .simulators.victron import SERIAL, VictronSimulator

pytestmark = [pytest.mark.modbus, pytest.mark.usefixtures("socket_enabled")]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: object, enable_custom_integrations: None
) -> None:
    """The recorder must start before custom integrations are enabled."""


@pytest.fixture
async def sim(socket_enabled: None) -> AsyncGenerator[VictronSimulator]:
    simulator = VictronSimulator()
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_battery_counters_pass_energy_validation(
    hass: HomeAssistant, sim: VictronSimulator
) -> None:
    """Energy charged/discharged as a battery source: no validation issue at all."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="Victron GX", data=entry_data(sim), unique_id=SERIAL
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert await async_setup_component(hass, "energy", {})
    await hass.async_block_till_done()
    manager = await energy_data.async_get_manager(hass)
    await manager.async_update(
        {
            "energy_sources": [
                {
                    "type": "battery",
                    "stat_energy_from": "sensor.victron_gx_energy_discharged",
                    "stat_energy_to": "sensor.victron_gx_energy_charged",
                }
            ]
        }
    )
    # Long-term statistics exist once the recorder compiled a period with the counters in it.
    await async_wait_recording_done(hass)
    now = dt_util.utcnow()
    do_adhoc_statistics(
        hass, start=now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
    )
    await async_wait_recording_done(hass)
    result = await validate.async_validate(hass)
    assert result.as_dict()["energy_sources"] == [[]]
