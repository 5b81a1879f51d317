"""Sessy end to end: Home Assistant drives the real client against the HTTP simulator."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any

from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_ZEROCONF, ConfigEntryState
from homeassistant.const import (
    ATTR_ENTITY_ID,
    CONF_HOST,
    CONF_PASSWORD,
    CONF_USERNAME,
    EVENT_HOMEASSISTANT_STOP,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.home_battery.const import DOMAIN

from .families import FamilyCase
from .families.sessy import CASE, LOW_POWER_CASE, OLD_FIRMWARE_CASE, entry_data
from .helpers import entity_state, poll, select_option, set_up_entry
from .simulators.faults import Fault
from .simulators.sessy import API, NOM, PASSWORD, SERIAL, SessySimulator

pytestmark = pytest.mark.usefixtures("socket_enabled")

SETPOINT = "number.sessy_power_setpoint"
MODE = "select.sessy_operating_mode"
SOC = "sensor.sessy_state_of_charge"
BATTERY_POWER = "sensor.sessy_battery_power"


@pytest.fixture
def case() -> FamilyCase:
    """This module's family, for the shared `sim` and `entry` fixtures (conftest.py)."""
    return CASE


def _writes(sim: SessySimulator) -> list[tuple[str, Any]]:
    return [(r.path, r.body) for r in sim.peer.writes]


async def _set(hass: HomeAssistant, value: float) -> None:
    await hass.services.async_call(
        "number", SERVICE_SET_VALUE, {ATTR_ENTITY_ID: SETPOINT, ATTR_VALUE: value}, blocking=True
    )


def _announcement(sim: SessySimulator, name: str = "sessy-k4r7") -> ZeroconfServiceInfo:
    """What a Sessy dongle announces over mDNS: `_http._tcp` named sessy-xxxx, its serial."""
    address = ip_address("127.0.0.1")
    return ZeroconfServiceInfo(
        ip_address=address,
        ip_addresses=[address],
        port=sim.port,
        hostname=f"{name}.local.",
        type="_http._tcp.local.",
        name=f"{name}._http._tcp.local.",
        properties={"serial": SERIAL.lower()},
    )


def _suggested(result: Any) -> dict[str, Any]:
    return {
        str(key): (key.description or {}).get("suggested_value")
        for key in result["data_schema"].schema
    }


# --- config flow, reauth and discovery ---------------------------------------------------------


async def test_config_flow_invalid_auth(hass: HomeAssistant, sim: SessySimulator) -> None:
    """A wrong password is reported on the form; the right one creates the entry."""
    user_input = {**entry_data(sim), CONF_PASSWORD: "WRONG"}
    user_input.pop("family")
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "sessy"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**user_input, CONF_PASSWORD: PASSWORD}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def test_changed_password_starts_reauth_and_reloads(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SessySimulator
) -> None:
    """A password rejected while polling: reauth asks for the credentials and reloads."""
    sim.password = "N3WPASS1"
    await poll(hass)
    assert entity_state(hass, SOC) == STATE_UNAVAILABLE
    flow = next(iter(entry.async_get_active_flows(hass, {SOURCE_REAUTH})))
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_USERNAME: SERIAL, CONF_PASSWORD: PASSWORD}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    assert list(result["data_schema"].schema) == [CONF_USERNAME, CONF_PASSWORD]
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_USERNAME: SERIAL, CONF_PASSWORD: "N3WPASS1"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_PASSWORD] == "N3WPASS1"
    assert entry.state is ConfigEntryState.LOADED
    assert float(entity_state(hass, SOC)) == 64


async def test_reauth_with_another_dongle_is_refused(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SessySimulator
) -> None:
    """The username is the dongle's serial: credentials of another Sessy are not taken."""
    sim.username, sim.password = "DOTHER99", "OTHERPW1"
    await poll(hass)
    flow = next(iter(entry.async_get_active_flows(hass, {SOURCE_REAUTH})))
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_USERNAME: "DOTHER99", CONF_PASSWORD: "OTHERPW1"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_device"
    assert entry.data[CONF_USERNAME] == SERIAL


async def test_zeroconf_discovery_prefills_the_form(
    hass: HomeAssistant, sim: SessySimulator
) -> None:
    """A discovered Sessy opens its form with the address and serial filled in."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_announcement(sim)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "sessy"
    host = f"127.0.0.1:{sim.port}"
    assert _suggested(result) == {CONF_HOST: host, CONF_USERNAME: SERIAL, CONF_PASSWORD: None}
    flow = next(iter(hass.config_entries.flow.async_progress_by_handler(DOMAIN)))
    assert flow["context"]["title_placeholders"] == {"name": "sessy-k4r7"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: host, CONF_USERNAME: SERIAL, CONF_PASSWORD: PASSWORD}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == SERIAL
    assert result["data"][CONF_HOST] == host
    await hass.async_block_till_done()


async def test_zeroconf_known_sessy_at_new_address_updates_the_entry(
    hass: HomeAssistant, family_entry: MockConfigEntry, sim: SessySimulator
) -> None:
    """A configured Sessy announced at another address: the entry follows, nothing asked."""
    family_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        family_entry, data={**family_entry.data, CONF_HOST: "192.0.2.7"}
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_announcement(sim)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert family_entry.data[CONF_HOST] == f"127.0.0.1:{sim.port}"


async def test_zeroconf_other_http_device_is_ignored(
    hass: HomeAssistant, sim: SessySimulator
) -> None:
    """Only announcements named sessy-* are taken."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_announcement(sim, name="printer-3f"),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_supported"


# --- control -----------------------------------------------------------------------------------


async def test_setpoint_sign_and_strategy(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SessySimulator
) -> None:
    """A charge setpoint goes out negative, after the API strategy; the battery follows."""
    await _set(hass, -1200)
    assert _writes(sim) == [
        ("/api/v1/power/active_strategy", {"strategy": API}),
        ("/api/v1/power/setpoint", {"setpoint": -1200}),
    ]
    await _set(hass, 800)
    assert _writes(sim)[-1] == ("/api/v1/power/setpoint", {"setpoint": 800})
    assert len(_writes(sim)) == 3  # the strategy is not sent again
    await poll(hass)
    assert float(entity_state(hass, BATTERY_POWER)) == 800
    assert entity_state(hass, MODE) == "manual"
    assert entity_state(hass, "sensor.sessy_operating_state") == "discharging"


async def test_out_of_range_refused_nothing_sent(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SessySimulator
) -> None:
    """Beyond the Sessy's 2.2 kW: a translated error, and nothing goes to the battery."""
    # The number's bounds are the Sessy's: Home Assistant's own check refuses first...
    with pytest.raises(ServiceValidationError) as err:
        await _set(hass, 2500)
    assert err.value.translation_key == "out_of_range"
    # ...and ours, for callers that bypass the entity (the schedule).
    with pytest.raises(ServiceValidationError) as err:
        await entry.runtime_data.coordinator.async_set_power_setpoint(-2201)
    assert err.value.translation_key == "value_out_of_range"
    assert _writes(sim) == []


async def test_setpoint_ignored_by_battery_raises(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SessySimulator
) -> None:
    """The setpoint is read back from the power status; one that did not take is reported."""
    sim.ignore_setpoints = True
    with pytest.raises(HomeAssistantError) as err:
        await _set(hass, 1000)
    assert err.value.translation_key == "write_not_accepted"


async def test_strategies_as_modes(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SessySimulator
) -> None:
    """Sessy's strategies are modes; a strategy set in the Sessy app is shown."""
    state = hass.states.get(MODE)
    assert state is not None
    assert state.attributes["options"] == [
        "auto",
        "manual",
        "dynamic",
        "idle",
        "eco",
        "sessy_connect",
    ]
    await select_option(hass, MODE, "idle")
    assert sim.strategy == "POWER_STRATEGY_IDLE"
    assert entity_state(hass, MODE) == "idle"
    await select_option(hass, MODE, "auto")
    assert sim.strategy == NOM
    sim.strategy = "POWER_STRATEGY_ROI"
    await poll(hass)
    assert entity_state(hass, MODE) == "dynamic"


async def test_release_on_unload_and_stop(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SessySimulator
) -> None:
    """Stopping Home Assistant returns the Sessy to its own strategy (NOM)."""
    await _set(hass, 1500)
    assert sim.strategy == API
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert sim.strategy == NOM


# --- faults ------------------------------------------------------------------------------------


async def test_stalled_dongle_times_out(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SessySimulator
) -> None:
    """A dongle that stops answering makes the entities unavailable after the timeout."""
    entry.runtime_data.coordinator.device.http.timeout = 0.3  # seconds; 10 in production
    await sim.set_fault(Fault.STALL)
    await poll(hass)
    assert entity_state(hass, SOC) == STATE_UNAVAILABLE
    await sim.set_fault(Fault.NONE)
    await poll(hass)
    assert float(entity_state(hass, SOC)) == 64


async def test_missing_state_of_charge_fails_the_poll(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SessySimulator
) -> None:
    """An answer without the state of charge is not a state: entities unavailable."""
    sim.omitted = {"state_of_charge"}
    await poll(hass)
    assert entity_state(hass, SOC) == STATE_UNAVAILABLE
    sim.omitted = set()
    await poll(hass)
    assert float(entity_state(hass, SOC)) == 64


async def test_error_state_raises_the_alarm(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SessySimulator
) -> None:
    """SYSTEM_STATE_ERROR is a system error and a fault."""
    sim.system_state = "SYSTEM_STATE_ERROR"
    await poll(hass)
    assert entity_state(hass, "binary_sensor.sessy_system_error") == "on"
    assert entity_state(hass, "binary_sensor.sessy_alarm") == "on"
    assert entity_state(hass, "sensor.sessy_operating_state") == "fault"


@pytest.mark.parametrize("variant", [OLD_FIRMWARE_CASE, LOW_POWER_CASE], ids=["old_fw", "1700W"])
async def test_firmware_and_power_variants(
    hass: HomeAssistant, socket_enabled: None, variant: FamilyCase
) -> None:
    """Older firmware (no settings, no voltage) and a 1700 W owner limit, through Home Assistant."""
    sim = variant.make_simulator()
    await sim.start()
    try:
        entry = MockConfigEntry(
            domain=DOMAIN, title="Sessy", data=variant.entry_data(sim), unique_id=SERIAL
        )
        await set_up_entry(hass, entry)
        for entity_id, (value, _unit) in variant.expected.items():
            shown = entity_state(hass, entity_id)
            assert shown == value if isinstance(value, str) else float(shown) == value, entity_id
        voltage = hass.states.get("sensor.sessy_battery_voltage")
        assert (voltage is None) is (variant is OLD_FIRMWARE_CASE)
        assert variant.out_of_range is not None
        with pytest.raises(ServiceValidationError):
            await entry.runtime_data.coordinator.async_set_power_setpoint(variant.out_of_range)
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await sim.stop()
