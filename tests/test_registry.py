"""An entry that identified its device by its address follows it to its stable identity."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.home_battery.const import DOMAIN

from .families.plasmatronics import entry_data
from .helpers import battery_device
from .simulators.pli import PliSimulator

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def test_an_entry_identified_by_its_port_moves_to_the_regulators_own_identity(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    """A regulator set up when the port was its id keeps its entities and their ids."""
    sim = PliSimulator()
    await sim.start()
    try:
        entry = MockConfigEntry(
            domain=DOMAIN, title="Plasmatronics", data=entry_data(sim), unique_id=sim.url
        )
        entry.add_to_hass(hass)
        old = entity_registry.async_get_or_create(
            "sensor",
            DOMAIN,
            f"{sim.url}_state_of_charge",
            config_entry=entry,
            suggested_object_id="plasmatronics_state_of_charge",
        )
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.unique_id == sim.regulator_id
        moved = entity_registry.async_get(old.entity_id)
        assert moved is not None
        assert moved.unique_id == f"{sim.regulator_id}_state_of_charge"
        assert hass.states.get(old.entity_id) is not None
        assert battery_device(hass, sim.regulator_id) is not None
        assert battery_device(hass, sim.url) is None
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await sim.stop()
