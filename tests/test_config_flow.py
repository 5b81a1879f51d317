"""Config flow paths beyond the shared family suite: unit ids, wrong device, options, errors."""

from __future__ import annotations

from unittest.mock import patch

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.home_battery.config_flow import HomeBatteryConfigFlow
from custom_components.home_battery.const import (
    CONF_CAPACITY,
    CONF_MAX_CHARGE_POWER,
    CONF_MAX_DISCHARGE_POWER,
    CONF_ROUND_TRIP_EFFICIENCY,
    CONF_SCAN_INTERVAL,
    DOMAIN,
)
from custom_components.home_battery.devices.model import DeviceError
from custom_components.home_battery.families.victron import CONF_BATTERY_UNIT_ID

from .families.victron import entry_data
from .simulators.victron import VictronSimulator

pytestmark = [pytest.mark.modbus, pytest.mark.usefixtures("socket_enabled")]


def _form(sim: VictronSimulator, **changes: object) -> dict[str, object]:
    data = entry_data(sim)
    data.pop("family")
    return {**data, **changes}


async def test_wrong_unit_id_named_on_the_form(
    hass: HomeAssistant, victron_sim: VictronSimulator
) -> None:
    """A unit id the GX does not serve is reported with that id; the fixed form succeeds."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "victron"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(victron_sim, **{CONF_BATTERY_UNIT_ID: 99})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_unit_id"}
    assert result["description_placeholders"] == {"unit_id": "99"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], _form(victron_sim))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def test_unexpected_error_is_logged(
    hass: HomeAssistant, victron_sim: VictronSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """An error outside the known kinds shows `unknown` and is logged with its trace."""
    with patch(
        "custom_components.home_battery.devices.victron.VictronDevice.connect",
        side_effect=DeviceError("odd"),
    ):
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "victron"})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _form(victron_sim)
        )
    assert result["errors"] == {"base": "unknown"}
    assert "Unexpected answer" in caplog.text


async def test_reconfigure_to_another_device_is_refused(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """Pointing an entry at a different GX aborts; the entry keeps its connection."""
    other = VictronSimulator(serial="0123456789ab")
    await other.start()
    try:
        result = await victron.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _form(other, **{CONF_PORT: other.port})
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "wrong_device"
        assert victron.data[CONF_PORT] == victron_sim.port
    finally:
        await other.stop()


async def test_reconfigure_cannot_connect(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """An unreachable address during reconfigure shows the error on the form."""
    result = await victron.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(victron_sim, **{CONF_HOST: "127.0.0.1", CONF_PORT: 1})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}


async def test_options_flow_reloads_with_new_interval(
    hass: HomeAssistant, victron: MockConfigEntry
) -> None:
    """The options are stored and the entry reloads with the new poll interval."""
    result = await hass.config_entries.options.async_init(victron.entry_id)
    assert result["type"] is FlowResultType.FORM
    options = {
        CONF_SCAN_INTERVAL: 30,
        CONF_CAPACITY: 13.5,
        CONF_MAX_CHARGE_POWER: 4000,
        CONF_MAX_DISCHARGE_POWER: 4500,
        CONF_ROUND_TRIP_EFFICIENCY: 0.88,
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], options)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert victron.options == options
    assert victron.runtime_data.coordinator.update_interval is not None
    assert victron.runtime_data.coordinator.update_interval.total_seconds() == 30


def test_only_family_steps_are_served() -> None:
    """The flow answers `async_step_<family>` for registered families and nothing else."""
    flow = HomeBatteryConfigFlow()
    assert callable(flow.async_step_victron)
    with pytest.raises(AttributeError):
        _ = flow.async_step_not_a_family
    with pytest.raises(AttributeError):
        _ = flow.victron


async def test_reconfigure_aborts_while_the_family_cannot_work(hass: HomeAssistant) -> None:
    """An MQTT battery cannot be reconfigured while Home Assistant's MQTT is not set up."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="MQTT battery",
        data={"family": "mqtt", "unique_id": "garage-battery"},
        unique_id="garage-battery",
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "mqtt_not_configured"
