"""The shared family suite: every family, through Home Assistant, against its own simulator."""

from __future__ import annotations

import json
import logging
from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import slugify
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.home_battery.const import CONF_FAMILY, DOMAIN

from .families import CASES, VARIANTS, FamilyCase, Simulator, family_params
from .helpers import eventually, poll, set_number
from .simulators.faults import Fault

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture(params=family_params([*CASES, *VARIANTS]))
def case(request: pytest.FixtureRequest) -> FamilyCase:
    """One family of the table."""
    return request.param  # type: ignore[no-any-return]


def _entity(case: FamilyCase, domain: str, key: str) -> str:
    return f"{domain}.{slugify(case.title)}_{key}"


def _user_input(case: FamilyCase, sim: Simulator) -> dict[str, Any]:
    data = case.entry_data(sim)
    data.pop(CONF_FAMILY)
    return data


async def test_config_flow_creates_entry(
    hass: HomeAssistant, case: FamilyCase, sim: Simulator
) -> None:
    """The family is in the menu; its form connects, reads the serial and creates the entry."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert case.key in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": case.key}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == case.key
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(case, sim)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == case.unique_id(sim)
    assert result["data"] == case.entry_data(sim)
    await hass.async_block_till_done()


async def test_config_flow_cannot_connect_then_recovers(
    hass: HomeAssistant, case: FamilyCase, sim: Simulator
) -> None:
    """An unreachable device shows a translated error; the same form then succeeds."""
    await sim.set_fault(Fault.REFUSE)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": case.key})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(case, sim)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    await sim.set_fault(Fault.NONE)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(case, sim)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def test_config_flow_already_configured(
    hass: HomeAssistant, case: FamilyCase, sim: Simulator, entry: MockConfigEntry
) -> None:
    """The same battery cannot be added twice."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": case.key})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(case, sim)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure(
    hass: HomeAssistant, case: FamilyCase, sim: Simulator, entry: MockConfigEntry
) -> None:
    """Reconfiguring with the same device updates the entry and reloads it."""
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(case, sim)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_entity_values_units_and_signs(
    hass: HomeAssistant, case: FamilyCase, entry: MockConfigEntry
) -> None:
    """Every entity shows the simulator's value, in the common unit and sign."""
    for entity_id, (value, unit) in case.expected.items():
        state = hass.states.get(entity_id)
        assert state is not None, entity_id
        if isinstance(value, str):
            assert state.state == value, entity_id
        else:
            assert float(state.state) == pytest.approx(value, abs=case.tolerance), entity_id
        assert state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) == unit, entity_id


async def test_setpoint_written_and_released_on_unload(
    hass: HomeAssistant, case: FamilyCase, sim: Simulator, entry: MockConfigEntry
) -> None:
    """A setpoint reaches the battery with the right sign; unloading hands control back."""
    if case.setpoint is None:
        assert hass.states.get(_entity(case, "number", "power_setpoint")) is None
        return
    assert case.commanded_power is not None
    assert case.released is not None
    await set_number(hass, _entity(case, "number", "power_setpoint"), case.setpoint)
    assert await eventually(lambda: case.commanded_power(sim) == pytest.approx(case.setpoint))
    state = hass.states.get(_entity(case, "number", "power_setpoint"))
    assert state is not None
    assert float(state.state) == case.setpoint
    assert not case.released(sim)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert await eventually(lambda: case.released(sim))


async def test_out_of_range_rejected_nothing_written(
    hass: HomeAssistant, case: FamilyCase, sim: Simulator, entry: MockConfigEntry
) -> None:
    """A setpoint beyond the device's limits is refused with a translated error; nothing is sent."""
    if case.out_of_range is None:
        return
    before = sim.write_count
    with pytest.raises(ServiceValidationError) as err:
        await entry.runtime_data.coordinator.async_set_power_setpoint(case.out_of_range)
    assert err.value.translation_key == "value_out_of_range"
    assert sim.write_count == before


async def test_offline_and_back(
    hass: HomeAssistant,
    case: FamilyCase,
    sim: Simulator,
    entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """For every fault: entities unavailable, one log line, recovery without a reload."""
    state_of_charge = _entity(case, "sensor", "state_of_charge")
    coordinator = entry.runtime_data.coordinator

    async def next_poll() -> None:
        if step := case.poll_clock_step:  # the entry's clock moves with the timers
            clock = coordinator.device.clock
            coordinator.device.clock = lambda clock=clock: clock() + step
        await poll(hass, 61)

    caplog.set_level(logging.INFO)
    for fault in case.faults:
        caplog.clear()
        await sim.set_fault(fault)
        for _ in range(3):
            await next_poll()
        state = hass.states.get(state_of_charge)
        assert state is not None
        assert state.state == STATE_UNAVAILABLE, fault
        assert len([r for r in caplog.records if "Error fetching" in r.getMessage()]) == 1, fault
        await sim.set_fault(Fault.NONE)
        await next_poll()
        state = hass.states.get(state_of_charge)
        assert state is not None
        assert state.state != STATE_UNAVAILABLE, fault
        assert any("recovered" in r.getMessage() for r in caplog.records), fault
    assert entry.state is ConfigEntryState.LOADED


async def test_diagnostics_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    case: FamilyCase,
    sim: Simulator,
    entry: MockConfigEntry,
) -> None:
    """Diagnostics carry the state and capabilities, but no address, serial or secret."""
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    text = json.dumps(diagnostics)
    assert diagnostics["device"]["state"]
    assert case.unique_id(sim) not in text
    assert "127.0.0.1" not in text
    for secret in ("password", "api_token", "username"):
        if secret in entry.data:
            assert entry.data[secret] not in text
