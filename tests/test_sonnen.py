"""sonnenBatterie end to end: Home Assistant drives the real client against the HTTP simulator."""

from __future__ import annotations

import logging
from typing import Any

from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import (
    ATTR_ENTITY_ID,
    CONF_API_TOKEN,
    EVENT_HOMEASSISTANT_STOP,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.home_battery.const import DOMAIN

from .families import FamilyCase
from .families.sonnen import CASE, entry_data
from .helpers import entity_state, poll, select_option, set_up_entry
from .simulators.faults import Fault
from .simulators.sonnen import (
    MANUAL,
    MODULE_EXTENSION,
    SELF_CONSUMPTION,
    SERIAL,
    TIME_OF_USE,
    TOKEN,
    SonnenSimulator,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

SETPOINT = "number.sonnenbatterie_power_setpoint"
MIN_SOC = "number.sonnenbatterie_minimum_state_of_charge"
MODE = "select.sonnenbatterie_operating_mode"
SOC = "sensor.sonnenbatterie_state_of_charge"
BATTERY_POWER = "sensor.sonnenbatterie_battery_power"
SOLAR = "sensor.sonnenbatterie_solar_power"
NEW_TOKEN = "0f9e8d7c-new-token"


@pytest.fixture
def case() -> FamilyCase:
    """This module's family, for the shared `sim` and `entry` fixtures (conftest.py)."""
    return CASE


def _writes(sim: SonnenSimulator) -> list[tuple[str, str, Any]]:
    return [(r.method, r.path, r.body) for r in sim.peer.writes]


async def _set(hass: HomeAssistant, entity_id: str, value: float) -> None:
    await hass.services.async_call(
        "number", SERVICE_SET_VALUE, {ATTR_ENTITY_ID: entity_id, ATTR_VALUE: value}, blocking=True
    )


# --- config flow and reauth --------------------------------------------------------------------


@pytest.mark.parametrize("legacy", [False, True], ids=["http_401", "legacy_empty_answer"])
async def test_config_flow_invalid_token(
    hass: HomeAssistant, sim: SonnenSimulator, legacy: bool
) -> None:
    """A wrong token is reported on the form (401, or `{}` from older firmware)."""
    sim.legacy_empty_on_bad_token = legacy
    user_input = {**entry_data(sim), CONF_API_TOKEN: "wrong"}
    user_input.pop("family")
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "sonnen"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**user_input, CONF_API_TOKEN: TOKEN}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == SERIAL
    await hass.async_block_till_done()


async def test_revoked_token_starts_reauth_and_new_token_reloads(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    sim: SonnenSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A token rejected while polling: entities unavailable, reauth asks for a new token."""
    sim.token = NEW_TOKEN
    await poll(hass)
    assert entity_state(hass, SOC) == STATE_UNAVAILABLE
    assert "Authentication failed" in caplog.text
    flows = entry.async_get_active_flows(hass, {SOURCE_REAUTH})
    flow = next(iter(flows))
    assert flow["step_id"] == "reauth_confirm"
    # The form asks for the token only; a wrong one is refused there.
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_API_TOKEN: "still-wrong"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}
    assert list(result["data_schema"].schema) == [CONF_API_TOKEN]
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_API_TOKEN: NEW_TOKEN}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_API_TOKEN] == NEW_TOKEN
    assert entry.state is ConfigEntryState.LOADED
    assert float(entity_state(hass, SOC)) == 72


async def test_rejected_token_at_setup_starts_reauth(
    hass: HomeAssistant, family_entry: MockConfigEntry, sim: SonnenSimulator
) -> None:
    """A token already wrong at startup: setup fails with reauth, not endless retries."""
    sim.token = NEW_TOKEN
    family_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(family_entry.entry_id)
    await hass.async_block_till_done()
    assert family_entry.state is ConfigEntryState.SETUP_ERROR
    assert family_entry.async_get_active_flows(hass, {SOURCE_REAUTH})


async def test_rejected_token_on_control_starts_reauth(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SonnenSimulator
) -> None:
    """A setpoint refused for the token: a translated error, and reauth starts."""
    sim.token = NEW_TOKEN
    with pytest.raises(HomeAssistantError) as err:
        await _set(hass, SETPOINT, 1000)
    assert err.value.translation_key == "authentication_failed"
    await hass.async_block_till_done()
    assert entry.async_get_active_flows(hass, {SOURCE_REAUTH})
    assert sim.mode == SELF_CONSUMPTION


# --- control -----------------------------------------------------------------------------------


async def test_setpoints_use_the_right_endpoint_and_sign(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SonnenSimulator
) -> None:
    """+ discharges through /discharge/W, − charges through /charge/W, after manual mode."""
    await _set(hass, SETPOINT, 2000)
    await _set(hass, SETPOINT, -1500)
    assert _writes(sim) == [
        ("PUT", "/api/v2/configurations", {"EM_OperatingMode": MANUAL}),
        ("POST", "/api/v2/setpoint/discharge/2000", None),
        ("POST", "/api/v2/setpoint/charge/1500", None),
    ]
    assert sim.battery_power() == -1500
    await poll(hass)
    assert float(entity_state(hass, BATTERY_POWER)) == -1500
    assert float(entity_state(hass, SETPOINT)) == -1500
    assert entity_state(hass, MODE) == "manual"


async def test_out_of_range_refused_nothing_sent(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SonnenSimulator
) -> None:
    """The inverter's limit (IC_InverterMaxPower_w 4600) bounds the setpoint."""
    state = hass.states.get(SETPOINT)
    assert state is not None
    assert (state.attributes["min"], state.attributes["max"]) == (-4600, 4600)
    with pytest.raises(ServiceValidationError) as err:
        await entry.runtime_data.coordinator.async_set_power_setpoint(-4700)
    assert err.value.translation_key == "value_out_of_range"
    assert _writes(sim) == []


async def test_mode_change_ignored_by_battery_raises(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SonnenSimulator
) -> None:
    """A mode the battery does not take is reported, and no setpoint is sent after it."""
    sim.ignore_configuration = True
    with pytest.raises(HomeAssistantError) as err:
        await _set(hass, SETPOINT, 1000)
    assert err.value.translation_key == "write_not_accepted"
    # No setpoint after it; all or nothing: the mode is put back to auto (EM_OperatingMode 2).
    assert [w[1:] for w in _writes(sim)] == [
        ("/api/v2/configurations", {"EM_OperatingMode": "1"}),
        ("/api/v2/configurations", {"EM_OperatingMode": "2"}),
    ]
    assert entity_state(hass, MODE) == "auto"


async def test_setpoint_refreshed_before_it_times_out(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SonnenSimulator
) -> None:
    """A battery that drops a setpoint (field reports, unconfirmed) gets it again."""
    sim.setpoint_timeout = 20.0
    await _set(hass, SETPOINT, 1200)
    await sim.advance(21)  # the battery's timeout passed
    assert not sim.setpoint_active
    assert sim.battery_power() == 0
    await poll(hass, 31)  # the control refresh interval
    assert sim.setpoint_active
    assert sim.battery_power() == 1200
    posts = [w for w in _writes(sim) if w[0] == "POST"]
    assert [p[1] for p in posts] == ["/api/v2/setpoint/discharge/1200"] * 2
    # Back to auto: self-consumption again, and no more refreshes.
    await select_option(hass, MODE, "auto")
    assert sim.mode == SELF_CONSUMPTION
    writes = len(_writes(sim))
    await poll(hass, 31)
    assert len(_writes(sim)) == writes
    assert entity_state(hass, MODE) == "auto"


async def test_time_of_use_mode(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SonnenSimulator
) -> None:
    """Time-of-use is offered as its own mode (EM_OperatingMode 10); unload returns to auto."""
    state = hass.states.get(MODE)
    assert state is not None
    assert state.attributes["options"] == ["auto", "manual", "time_of_use"]
    await select_option(hass, MODE, "time_of_use")
    assert sim.mode == TIME_OF_USE
    assert entity_state(hass, MODE) == "time_of_use"
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert sim.mode == SELF_CONSUMPTION


async def test_mode_changed_in_the_sonnen_app_is_shown(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SonnenSimulator
) -> None:
    """The select shows the mode the battery reports, whoever set it."""
    sim.mode = TIME_OF_USE
    await poll(hass)
    assert entity_state(hass, MODE) == "time_of_use"
    sim.mode = "6"  # battery-module extension: no mode of ours
    await poll(hass)
    assert entity_state(hass, MODE) == STATE_UNKNOWN


async def test_backup_reserve_is_the_minimum_state_of_charge(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SonnenSimulator
) -> None:
    """The minimum state of charge is sonnen's backup buffer, EM_USOC."""
    await _set(hass, MIN_SOC, 25)
    assert _writes(sim) == [("PUT", "/api/v2/configurations", {"EM_USOC": "25"})]
    assert sim.backup_buffer == 25
    assert float(entity_state(hass, MIN_SOC)) == 25


async def test_release_on_stop(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SonnenSimulator
) -> None:
    """Stopping Home Assistant returns the battery to self-consumption."""
    await _set(hass, SETPOINT, 1500)
    assert sim.mode == MANUAL
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert sim.mode == SELF_CONSUMPTION


# --- faults ------------------------------------------------------------------------------------


async def test_stalled_battery_times_out(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SonnenSimulator
) -> None:
    """A battery that stops answering makes the entities unavailable after the timeout."""
    entry.runtime_data.coordinator.device.http.timeout = 0.3  # seconds; 10 in production
    await sim.set_fault(Fault.STALL)
    await poll(hass)
    assert entity_state(hass, SOC) == STATE_UNAVAILABLE
    await sim.set_fault(Fault.NONE)
    await poll(hass)
    assert float(entity_state(hass, SOC)) == 72


async def test_missing_fields(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    sim: SonnenSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A missing optional field leaves its entity unknown; a missing essential one fails."""
    sim.omitted = {"Production_W"}
    await poll(hass)
    assert entity_state(hass, SOLAR) == STATE_UNKNOWN
    assert float(entity_state(hass, SOC)) == 72
    caplog.set_level(logging.ERROR)
    sim.omitted = {"USOC"}
    await poll(hass)
    assert entity_state(hass, SOC) == STATE_UNAVAILABLE
    assert "the answer lacks USOC" in caplog.text
    sim.omitted = set()
    await poll(hass)
    assert float(entity_state(hass, SOLAR)) == 5200


async def test_shutdown_reason_raises_the_alarm(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SonnenSimulator
) -> None:
    """A DC shutdown reason in latestdata is a system error and a fault."""
    sim.shutdown_reasons = {"Inverter Over Temperature"}
    await poll(hass)
    assert entity_state(hass, "binary_sensor.sonnenbatterie_system_error") == "on"
    assert entity_state(hass, "binary_sensor.sonnenbatterie_alarm") == "on"
    assert entity_state(hass, "sensor.sonnenbatterie_operating_state") == "fault"


# --- control safety (issue 12) -----------------------------------------------------------------


async def test_vpp_priority_is_a_permission_error_not_reauth(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SonnenSimulator
) -> None:
    """A setpoint answered 403 while the VPP has priority: a repair issue, no reauth, auto."""
    sim.vpp_priority = True
    with pytest.raises(HomeAssistantError) as err:
        await _set(hass, SETPOINT, 1000)
    assert err.value.translation_key == "sonnen_vpp_priority"
    await hass.async_block_till_done()
    assert not list(entry.async_get_active_flows(hass, {SOURCE_REAUTH}))
    assert sim.mode == SELF_CONSUMPTION  # the manual mode was rolled back
    assert not entry.runtime_data.coordinator.device.control_active
    issues = ir.async_get(hass).issues
    assert (DOMAIN, f"sonnen_vpp_priority_{entry.entry_id}") in issues
    sim.vpp_priority = False
    await _set(hass, SETPOINT, 1000)  # control works again: the issue clears
    assert (DOMAIN, f"sonnen_vpp_priority_{entry.entry_id}") not in ir.async_get(hass).issues


async def test_service_mode_blocks_control(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SonnenSimulator
) -> None:
    """In the installer's testing / module-extension modes nothing is written."""
    sim.mode = MODULE_EXTENSION
    await poll(hass)
    with pytest.raises(HomeAssistantError) as err:
        await _set(hass, SETPOINT, 1000)
    assert err.value.translation_key == "sonnen_service_mode"
    assert _writes(sim) == []


@pytest.mark.parametrize("step", [0, 1])
async def test_failed_step_leaves_the_battery_in_its_own_mode(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SonnenSimulator, step: int
) -> None:
    """The mode PUT or the setpoint POST fails: the owner's mode is back, nothing forced."""
    sim.fail_write(step)
    with pytest.raises(HomeAssistantError):
        await _set(hass, SETPOINT, -2000)
    assert not sim.forced
    assert not entry.runtime_data.coordinator.device.control_active
    assert entity_state(hass, MODE) == "auto"


async def test_crash_leaves_manual_mode_until_the_next_start(
    hass: HomeAssistant, family_entry: MockConfigEntry, sim: SonnenSimulator
) -> None:
    """No expiry on the device (manual mode is kept): the next start releases it."""
    sim.user_mode = TIME_OF_USE
    sim.mode = TIME_OF_USE
    await set_up_entry(hass, family_entry)
    await _set(hass, SETPOINT, 1500)
    device = family_entry.runtime_data.coordinator.device
    record = device.control_record()
    # Home Assistant disappears without releasing: the battery stays in manual mode.
    device.record_hook = None
    device._forced = False  # the crashed run forgets; its store does not
    assert await hass.config_entries.async_unload(family_entry.entry_id)
    await sim.advance(24 * 3600)
    assert sim.mode == MANUAL
    assert sim.battery_power() == 1500
    assert record is not None
    assert record["saved"] == {"EM_OperatingMode": TIME_OF_USE}
    # The next start finds the stored record and restores the owner's time-of-use mode.
    assert await hass.config_entries.async_setup(family_entry.entry_id)
    await hass.async_block_till_done()
    assert sim.mode == TIME_OF_USE
