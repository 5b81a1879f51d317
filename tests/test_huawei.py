"""Huawei SUN2000 + LUNA2000 end to end: Home Assistant drives the real client against the
single-client Modbus simulator, which wants the installer login for battery settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
import logging

from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_PASSWORD, CONF_PORT, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.util import slugify
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.home_battery.const import DOMAIN
from custom_components.home_battery.devices.huawei import (
    CONTROL_EXPIRY_SECONDS,
    CONTROL_REFRESH_SECONDS,
    FORCIBLE_PERIOD_MINUTES,
)
from custom_components.home_battery.families.huawei import CONF_UNIT_ID

from .families import FamilyCase
from .families.huawei import VARIANTS, entry_data
from .helpers import battery_device, entity_state, poll, select_option, set_number, set_up_entry
from .simulators.faults import Fault
from .simulators.huawei import (
    CHARGE,
    DISCHARGE,
    MAX_CHARGE,
    MAX_DISCHARGE,
    MODEL,
    SERIAL,
    SESSION_TIMEOUT,
    STOP,
    TIME_OF_USE_LUNA2000,
    WORKING_MODE,
    HuaweiSimulator,
)

pytestmark = [pytest.mark.modbus, pytest.mark.usefixtures("socket_enabled")]

SETPOINT = "number.huawei_sun2000_power_setpoint"
MODE = "select.huawei_sun2000_operating_mode"
SOC = "sensor.huawei_sun2000_state_of_charge"
# A password that no other string in a log line or the diagnostics could contain by chance.
SECRET = "Inst4ller!pw"


@pytest.fixture
async def sim(socket_enabled: None) -> AsyncGenerator[HuaweiSimulator]:
    """A SUN2000 simulator on a free loopback port, with its installer password."""
    simulator = HuaweiSimulator(password=SECRET)
    await simulator.start()
    yield simulator
    await simulator.stop()


async def _set_up(hass: HomeAssistant, sim: HuaweiSimulator, **data: object) -> MockConfigEntry:
    config_entry = MockConfigEntry(
        domain=DOMAIN,
        title="Huawei SUN2000",
        data={**entry_data(sim), CONF_PASSWORD: SECRET, **data},
        unique_id=SERIAL,
    )
    config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


@pytest.fixture
async def entry(hass: HomeAssistant, sim: HuaweiSimulator) -> MockConfigEntry:
    """The simulated inverter, set up in Home Assistant with the installer password."""
    config_entry = await _set_up(hass, sim)
    assert config_entry.state is ConfigEntryState.LOADED
    return config_entry


def _writes(sim: HuaweiSimulator, address: int) -> list[int]:
    """Values written to one register (its last word: a 32-bit value's low word), in order."""
    return [r.values[-1] for r in sim.peer.writes if r.address == address]


async def test_device_info(
    hass: HomeAssistant, entry: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    """The inverter's model and serial number come from registers 30000 and 30015."""
    device = battery_device(hass, SERIAL)
    assert device is not None
    assert (device.manufacturer, device.model, device.serial_number) == ("Huawei", MODEL, SERIAL)
    # The inverter counts its own battery energy: nothing is integrated.
    assert entry.runtime_data.coordinator.energy is None


async def test_access_point_unit_id_zero_with_password(
    hass: HomeAssistant, sim: HuaweiSimulator
) -> None:
    """Through the inverter's own access point the unit id is 0; the form logs in."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "huawei"}
    )
    user_input = {
        "host": "127.0.0.1",
        CONF_PORT: sim.port,
        CONF_UNIT_ID: 0,
        CONF_PASSWORD: "wrong",
    }
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**user_input, CONF_PASSWORD: SECRET}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == SERIAL
    await hass.async_block_till_done()
    assert sim.logins == 2  # the form's check, then the entry's setup


async def test_forcible_discharge_then_charge(
    hass: HomeAssistant, entry: MockConfigEntry, sim: HuaweiSimulator
) -> None:
    """A setpoint is a timed forcible command: power (function 16), then period, time mode and
    the command (function 6 each)."""
    await set_number(hass, SETPOINT, 2000)
    assert [(r.function, r.address) for r in sim.peer.writes] == [
        (16, 47249),
        (6, 47083),
        (6, 47246),
        (6, 47100),
    ]
    assert sim.bank.get_32(47249, signed=False) == 2000
    assert _writes(sim, 47083) == [FORCIBLE_PERIOD_MINUTES]
    assert _writes(sim, 47100) == [DISCHARGE]
    assert sim.battery_power() == 2000
    await poll(hass, 61)
    assert float(entity_state(hass, "sensor.huawei_sun2000_battery_power")) == 2000
    assert entity_state(hass, MODE) == "manual"
    assert float(entity_state(hass, SETPOINT)) == 2000

    await set_number(hass, SETPOINT, -1000)
    assert _writes(sim, 47100)[-1] == CHARGE
    assert sim.bank.get_32(47247, signed=False) == 1000
    assert sim.battery_power() == -1000
    assert sim.invalid_writes == 0


async def test_manual_without_setpoint_holds(
    hass: HomeAssistant, entry: MockConfigEntry, sim: HuaweiSimulator
) -> None:
    """Manual at 0 W holds the battery: maximum charging and discharging power 0 (huawei_solar
    #574, evcc); auto puts the user's own maxima back."""
    assert sim.battery_power() == -2500
    await select_option(hass, MODE, "manual")
    assert sim.held
    assert sim.battery_power() == 0
    assert _writes(sim, 47100) == []  # no forcible command for a hold
    await poll(hass, 61)
    assert entity_state(hass, MODE) == "manual"
    assert float(entity_state(hass, SETPOINT)) == 0
    await select_option(hass, MODE, "auto")
    assert sim.bank.get_32(MAX_CHARGE, signed=False) == 2500
    assert sim.bank.get_32(MAX_DISCHARGE, signed=False) == 5000
    assert not sim.forced


async def test_command_refreshed_before_its_period_ends(
    hass: HomeAssistant, entry: MockConfigEntry, sim: HuaweiSimulator
) -> None:
    """The command is written again within its period; without that the inverter ends it."""
    assert CONTROL_REFRESH_SECONDS < CONTROL_EXPIRY_SECONDS / 2
    await set_number(hass, SETPOINT, -1000)
    for _ in range(6):  # half an hour of refreshes on the inverter's clock
        sim.advance(CONTROL_REFRESH_SECONDS)
        await poll(hass, CONTROL_REFRESH_SECONDS + 1)
    assert sim.forcible_power() == -1000
    assert len(_writes(sim, 47100)) >= 6
    assert entity_state(hass, MODE) == "manual"


async def test_link_lost_the_inverter_ends_the_command_itself(
    hass: HomeAssistant, entry: MockConfigEntry, sim: HuaweiSimulator
) -> None:
    """Home Assistant loses the inverter while forcing it: the inverter returns to its own
    operation within one forcible period; back in contact, the integration has let go too."""
    await set_number(hass, SETPOINT, 1500)
    await sim.set_fault(Fault.REFUSE)
    sim.advance(CONTROL_EXPIRY_SECONDS - 1)
    assert sim.forced
    sim.advance(1)
    assert not sim.forced
    coordinator = entry.runtime_data.coordinator
    clock = coordinator.device.clock
    coordinator.device.clock = lambda: clock() + CONTROL_EXPIRY_SECONDS  # Home Assistant's too
    await poll(hass, 61)  # a control refresh is due too
    await sim.set_fault(Fault.NONE)
    await poll(hass, 61)
    assert entity_state(hass, MODE) == "auto"
    assert not coordinator.device.control_active
    assert not sim.forced


async def test_working_modes_are_control_and_restored(
    hass: HomeAssistant, entry: MockConfigEntry, sim: HuaweiSimulator
) -> None:
    """A working mode chosen here is control: unloading restores the user's own working mode
    (time of use here), never "maximise self-consumption" over it."""
    sim.user_sets(WORKING_MODE, TIME_OF_USE_LUNA2000)
    await poll(hass, 61)
    assert entity_state(hass, MODE) == "auto"  # the user's own operation
    await set_number(hass, SETPOINT, 1500)
    await select_option(hass, MODE, "fully_fed_to_grid")
    assert _writes(sim, 47100)[-1] == STOP  # the forcible command ended first
    assert sim.bank.get_u16(WORKING_MODE) == 4
    await poll(hass, 61)
    assert entity_state(hass, MODE) == "fully_fed_to_grid"
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert sim.bank.get_u16(WORKING_MODE) == TIME_OF_USE_LUNA2000
    assert not sim.forced
    assert 2 not in _writes(sim, WORKING_MODE)


async def test_without_password_reads_and_says_what_control_needs(
    hass: HomeAssistant, sim: HuaweiSimulator, issue_registry: ir.IssueRegistry
) -> None:
    """Without the installer password the inverter is read as before; control says, in a
    translated error and a repair issue, that the password is needed."""
    entry = await _set_up(hass, sim, **{CONF_PASSWORD: ""})
    assert entry.state is ConfigEntryState.LOADED
    assert sim.logins == 0
    assert float(entity_state(hass, SOC)) == 55.0
    with pytest.raises(HomeAssistantError) as err:
        await set_number(hass, SETPOINT, 1000)
    assert err.value.translation_key == "huawei_installer_password_required"
    issue = issue_registry.async_get_issue(
        DOMAIN, f"huawei_installer_password_required_{entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_key == "huawei_installer_password_required"
    assert not sim.forced
    assert entity_state(hass, MODE) == "auto"
    assert entity_state(hass, SOC) != STATE_UNAVAILABLE

    # Reconfigure with the password: control works, and the issue is gone.
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"host": "127.0.0.1", CONF_PORT: sim.port, CONF_UNIT_ID: 1, CONF_PASSWORD: SECRET},
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    await set_number(hass, SETPOINT, 1000)
    assert sim.forcible_power() == 1000
    assert (
        issue_registry.async_get_issue(
            DOMAIN, f"huawei_installer_password_required_{entry.entry_id}"
        )
        is None
    )


async def test_wrong_password_starts_reauth(hass: HomeAssistant, sim: HuaweiSimulator) -> None:
    """A refused installer password at setup asks for it again; the right one loads the entry."""
    entry = await _set_up(hass, sim, **{CONF_PASSWORD: "wrong"})
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flow = next(iter(entry.async_get_active_flows(hass, {SOURCE_REAUTH})))
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
    assert result["type"] is FlowResultType.FORM  # no password: the inverter still says no
    assert list(result["data_schema"].schema) == [CONF_PASSWORD]
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_PASSWORD: SECRET}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_PASSWORD] == SECRET


async def test_password_changed_on_the_inverter_starts_reauth(
    hass: HomeAssistant, entry: MockConfigEntry, sim: HuaweiSimulator
) -> None:
    """The installer password changed: the next login (a new connection) is refused, control
    says so and Home Assistant asks for the password again."""
    sim.password = "N3wPassw0rd"
    await sim.peer.drop_connections()
    await asyncio.sleep(0.1)  # the client sees its connection close
    await poll(hass, 61)  # reading needs no login
    assert entity_state(hass, SOC) != STATE_UNAVAILABLE
    with pytest.raises(HomeAssistantError) as err:
        await set_number(hass, SETPOINT, 1000)
    assert err.value.translation_key == "authentication_failed"
    assert not sim.forced
    assert list(entry.async_get_active_flows(hass, {SOURCE_REAUTH}))


async def test_session_lost_mid_control(
    hass: HomeAssistant, entry: MockConfigEntry, sim: HuaweiSimulator
) -> None:
    """The inverter ends the login while a setpoint is held: the refresh logs in again."""
    await set_number(hass, SETPOINT, 1200)
    sim.advance(SESSION_TIMEOUT + 1)
    assert not sim.logged_in
    await poll(hass, 61)
    assert sim.logged_in
    assert sim.logins == 2
    assert sim.forcible_power() == 1200
    assert entity_state(hass, MODE) == "manual"


async def test_busy_inverter_is_asked_again(
    hass: HomeAssistant, entry: MockConfigEntry, sim: HuaweiSimulator
) -> None:
    """A "slave device busy" answer is tried again after a pause: the poll still succeeds."""
    sim.busy_next(1)
    await poll(hass, 61)
    assert float(entity_state(hass, SOC)) == 55.0


async def test_password_never_logged_nor_in_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    sim: HuaweiSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Logging in, controlling and failing leave the password in no log line (debug included)
    and out of the diagnostics."""
    caplog.set_level(logging.DEBUG)
    entry = await _set_up(hass, sim)
    await set_number(hass, SETPOINT, 1000)
    sim.advance(SESSION_TIMEOUT + 1)
    await poll(hass, 61)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert SECRET not in str(diagnostics)
    assert all(SECRET not in record.getMessage() for record in caplog.records)
    assert all(SECRET not in str(record.args) for record in caplog.records)


async def test_no_battery_refuses_control_with_a_repair_issue(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    sim: HuaweiSimulator,
    issue_registry: ir.IssueRegistry,
) -> None:
    """An inverter without a battery: control is refused before anything is written."""
    sim.bank.set_u16(47000, 0)
    with pytest.raises(HomeAssistantError) as err:
        await set_number(hass, SETPOINT, 1000)
    assert err.value.translation_key == "huawei_no_battery"
    assert issue_registry.async_get_issue(DOMAIN, f"huawei_no_battery_{entry.entry_id}")
    assert sim.peer.writes == []


async def test_write_ignored_by_device_raises(
    hass: HomeAssistant, entry: MockConfigEntry, sim: HuaweiSimulator
) -> None:
    """A command the inverter does not take shows up in the read-back and is reported."""
    sim.bank.on_write = lambda address, values: sim.bank.set_u16(47100, STOP)
    with pytest.raises(HomeAssistantError) as err:
        await set_number(hass, SETPOINT, 1000)
    assert err.value.translation_key == "write_not_accepted"
    assert entity_state(hass, MODE) == "auto"
    assert not sim.forced


async def test_fault_status(
    hass: HomeAssistant, entry: MockConfigEntry, sim: HuaweiSimulator
) -> None:
    """Running status 3 is a fault, and raises the alarm."""
    sim.running_status = 3
    sim.update(0)
    await poll(hass, 61)
    assert entity_state(hass, "sensor.huawei_sun2000_operating_state") == "fault"
    assert entity_state(hass, "binary_sensor.huawei_sun2000_alarm") == "on"


async def test_other_client_raises_repair_issue_until_stable(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    sim: HuaweiSimulator,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Another client taking the connection again and again raises a repair issue; the
    entities stay available (the client reconnects at once), and the issue clears itself once
    the connection has been stable for a while."""
    issue_id = f"connection_taken_over_{entry.entry_id}"
    for _ in range(2):
        await sim.connect_other_client()
        await poll(hass, 61)
        assert entity_state(hass, SOC) != STATE_UNAVAILABLE
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None  # two drops can happen
    await sim.connect_other_client()
    await poll(hass, 61)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "connection_taken_over"
    assert issue.translation_placeholders == {"title": "Huawei SUN2000"}
    assert entity_state(hass, SOC) != STATE_UNAVAILABLE

    coordinator = entry.runtime_data.coordinator
    clock = coordinator.device.clock
    coordinator.device.clock = lambda: clock() + 16 * 60  # a quarter of an hour without a takeover
    await poll(hass, 61)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("model", VARIANTS, ids=lambda model: slugify(model.title))
async def test_models_without_a_block(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, model: FamilyCase
) -> None:
    """Inverters without a meter or without unit 1's registers set up and poll; only what they
    lack is missing (and listed in the diagnostics); a negative exported energy shows positive."""
    simulator = model.make_simulator()
    await simulator.start()
    try:
        entry = MockConfigEntry(
            domain=DOMAIN, title=model.title, data=model.entry_data(simulator), unique_id=SERIAL
        )
        await set_up_entry(hass, entry)
        for entity_id, (value, _unit) in model.expected.items():
            shown = entity_state(hass, entity_id)
            assert (
                shown == value
                if isinstance(value, str)
                else float(shown) == pytest.approx(value, abs=model.tolerance)
            ), entity_id
        prefix = f"sensor.{slugify(model.title)}_"
        sensors = {s.entity_id for s in hass.states.async_all("sensor")}
        lacks = {f"{prefix}{key}" for key in ("grid_power", "battery_temperature")} - sensors
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        assert bool(lacks) == bool(diagnostics["device"]["missing_data"])
        await poll(hass, 61)
        assert entity_state(hass, f"{prefix}state_of_charge") != STATE_UNAVAILABLE
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await simulator.stop()
