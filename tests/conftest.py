"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any
from unittest.mock import patch

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

# Import the project's custom_components before any test: the test plugin ships a package of the
# same name, and Home Assistant's loader must find this one.
import custom_components.home_battery  # noqa: F401
from custom_components.home_battery.const import (
    CONF_MAX_CHARGE_POWER,
    CONF_MAX_DISCHARGE_POWER,
    CONF_SCAN_INTERVAL,
    DOMAIN,
)

from .families import FamilyCase, Simulator, family_simulator
from .families.victron import config_entry as victron_config_entry
from .helpers import set_up_entry
from .simulators.victron import VictronSimulator


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant's loader find the integration."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Write snapshots in Home Assistant's format."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Enable every entity, also those disabled by default."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default", return_value=True
    ):
        yield


@pytest.fixture
async def victron_sim(socket_enabled: None) -> AsyncGenerator[VictronSimulator]:
    """A Victron GX simulator on a free loopback port (sockets stay limited to 127.0.0.1)."""
    sim = VictronSimulator()
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
def victron_entry(victron_sim: VictronSimulator) -> MockConfigEntry:
    """A config entry for the simulated GX."""
    return victron_config_entry(
        victron_sim,
        {CONF_SCAN_INTERVAL: 10, CONF_MAX_CHARGE_POWER: 5000, CONF_MAX_DISCHARGE_POWER: 5000},
    )


@pytest.fixture
async def victron(hass: HomeAssistant, victron_entry: MockConfigEntry) -> MockConfigEntry:
    """The simulated GX, set up in Home Assistant."""
    await set_up_entry(hass, victron_entry)
    return victron_entry


# --- one family of tests/families, for tests parametrised over families -----------------------


@pytest.fixture
def case(request: pytest.FixtureRequest) -> FamilyCase:
    """The family a test is parametrised with (`indirect=True`)."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def sim(
    hass: HomeAssistant, case: FamilyCase, socket_enabled: None, mock_hass_config: None
) -> AsyncGenerator[Any]:
    """The family's simulator, started on loopback, and the integrations the family needs.

    `mock_hass_config`: an empty configuration.yaml, which integrations such as MQTT read.
    """
    async with family_simulator(hass, case) as simulator:
        yield simulator


@pytest.fixture
def family_entry(case: FamilyCase, sim: Simulator) -> MockConfigEntry:
    """A config entry for the family's started simulator, not yet added."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=case.title,
        data=case.entry_data(sim),
        options=case.options,
        unique_id=case.unique_id(sim),
    )


@pytest.fixture
async def entry(hass: HomeAssistant, family_entry: MockConfigEntry) -> MockConfigEntry:
    """The family's battery, set up in Home Assistant."""
    await set_up_entry(hass, family_entry)
    return family_entry
