"""Deye specifics, through Home Assistant against the simulated inverter (Modbus TCP and V5).

Profiles, the time-of-use mapping of the setpoint, writing only what changed, restoring the
user's program, and the Solarman logger's habits (dropped and refused connections, corrupted
frames, the double CRC, heartbeats, a wrong logger serial number).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
import json
import logging
import math
from pathlib import Path
import time
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.home_battery.const import CONF_FAMILY, CONF_SCAN_INTERVAL, DOMAIN
from custom_components.home_battery.devices import deye
from custom_components.home_battery.families import FAMILIES
from custom_components.home_battery.families.deye import (
    CONF_LOGGER_SERIAL,
    CONF_PROFILE,
    CONF_UNIT_ID,
)

from .families.deye import entry_data, solarman_entry_data
from .helpers import battery_device, entity_state, poll, select_option, set_number, set_up_entry
from .simulators.deye import LAYOUTS, LOGGER_SERIAL, SELLING_FIRST, SERIAL, DeyeSimulator
from .simulators.faults import Fault
from .simulators.solarman import modbus_crc, v5_request, v5_response

pytestmark = pytest.mark.usefixtures("socket_enabled")

SCAN = 10  # seconds between polls in these tests


class Clock:
    """The coordinator's (and the device's) clock, moved by hand with Home Assistant's timers."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


async def _setup(hass: HomeAssistant, data: dict[str, Any], title: str) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=title,
        data=data,
        options={CONF_SCAN_INTERVAL: SCAN},
        unique_id=SERIAL,
    )
    await set_up_entry(hass, entry)
    return entry


@pytest.fixture
async def sim() -> AsyncGenerator[DeyeSimulator]:
    """A three-phase inverter on Modbus TCP."""
    simulator = DeyeSimulator()
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def logger_sim() -> AsyncGenerator[DeyeSimulator]:
    """A three-phase inverter behind a Solarman logger."""
    simulator = DeyeSimulator(solarman=True)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def entry(hass: HomeAssistant, sim: DeyeSimulator) -> MockConfigEntry:
    return await _setup(hass, entry_data(sim), "Deye")


@pytest.fixture
async def logger_entry(hass: HomeAssistant, logger_sim: DeyeSimulator) -> MockConfigEntry:
    return await _setup(hass, solarman_entry_data(logger_sim), "Deye (Solarman)")


async def _set_setpoint(hass: HomeAssistant, slug: str, watts: float) -> None:
    await set_number(hass, f"number.{slug}_power_setpoint", watts)


async def _poll(hass: HomeAssistant, clock: Clock | None = None, seconds: float = SCAN + 1) -> None:
    """Move time on by `seconds`: Home Assistant's timers and the coordinator's clock."""
    if clock is not None:
        clock.now += seconds
    await poll(hass, seconds)


def _settings(sim: DeyeSimulator) -> dict[str, Any]:
    """The control-relevant settings, read from the simulator by offset from max charge current."""
    inv = sim.inverter
    return {
        "max_charge_current": inv.setting(0),
        "max_discharge_current": inv.setting(1),
        "grid_charge_current": inv.setting(20),
        "grid_charge": inv.setting(22),
        "time_of_use": inv.setting(38),
        "times": [inv.setting(40 + i) for i in range(6)],
        "power": [inv.setting(46 + i) for i in range(6)],
        "soc": [inv.setting(58 + i) for i in range(6)],
        "source": [inv.setting(64 + i) for i in range(6)],
    }


# --- profiles -----------------------------------------------------------------------------------


@pytest.mark.modbus
@pytest.mark.parametrize(
    ("variant", "voltage", "model"),
    [
        ({"profile": "single_phase"}, 52.3, "SG0xLP1 single-phase hybrid"),
        ({"profile": "single_phase_16kw"}, 52.3, "SG01LP1 single-phase hybrid (16 kW)"),
        ({"profile": "three_phase"}, 52.3, "SG04LP3 three-phase hybrid"),
        ({"profile": "three_phase_hv"}, 419.6, "SG01HP3 three-phase hybrid (HV)"),
        (
            {"profile": "three_phase_hv", "device_type": 0x0007},
            419.6,
            "SG01HP3 three-phase hybrid (HV)",
        ),
        (
            {"profile": "three_phase_hv", "device_type": 0x0600},
            419.6,
            "SG01HP3 three-phase hybrid (HV)",
        ),
        (
            {"profile": "three_phase_hv", "device_type": 0x0008},
            419.6,
            "SG01HP3 three-phase hybrid (HV)",
        ),
        (
            {"profile": "three_phase_hv", "device_type": 0x0601},
            419.6,
            "SG01HP3 three-phase hybrid (HV)",
        ),
    ],
)
async def test_profile_read_from_the_device_type(
    hass: HomeAssistant,
    device_registry: dr.DeviceRegistry,
    variant: dict[str, Any],
    voltage: float,
    model: str,
) -> None:
    """`auto` picks the layout from register 0 (and a single-phase 16 kW model from its rated
    power); each layout decodes its own addresses and scales, grid power ×10 on the 16 kW."""
    simulator = DeyeSimulator(**variant)
    await simulator.start()
    try:
        entry = await _setup(hass, entry_data(simulator), "Deye")
        device = battery_device(hass, SERIAL)
        assert device is not None
        assert device.model == model
        assert device.manufacturer == "Deye"
        assert float(entity_state(hass, "sensor.deye_state_of_charge")) == 65
        assert float(entity_state(hass, "sensor.deye_battery_power")) == -600
        assert float(entity_state(hass, "sensor.deye_battery_voltage")) == voltage
        assert float(entity_state(hass, "sensor.deye_solar_power")) == 1500
        assert float(entity_state(hass, "sensor.deye_grid_power")) == 150
        assert float(entity_state(hass, "sensor.deye_house_consumption")) == 1050
        assert float(entity_state(hass, "sensor.deye_energy_charged")) == 1234.5
        rated = entry.runtime_data.coordinator.device.capabilities.rated_power
        assert rated == LAYOUTS[variant["profile"]].rated_w
    finally:
        await simulator.stop()


@pytest.mark.modbus
async def test_two_hv_batteries_combined(hass: HomeAssistant) -> None:
    """An HV inverter with a second battery (589, 593-596): power and current of both strings
    add up, the state of charge is their mean, the temperature the higher one."""
    simulator = DeyeSimulator(profile="three_phase_hv", second_battery=True)
    await simulator.start()
    try:
        await _setup(hass, entry_data(simulator), "Deye")
        assert float(entity_state(hass, "sensor.deye_battery_power")) == -600
        assert float(entity_state(hass, "sensor.deye_battery_current")) == pytest.approx(
            -600 / 419.6, abs=0.02
        )
        assert float(entity_state(hass, "sensor.deye_state_of_charge")) == 65
        assert float(entity_state(hass, "sensor.deye_battery_temperature")) == 25.0
    finally:
        await simulator.stop()


@pytest.mark.modbus
async def test_single_phase_and_hv_control(hass: HomeAssistant) -> None:
    """Single-phase settings sit 102 registers higher; HV programs count power in 10 W."""
    for profile, power_raw in (("single_phase", 1500), ("three_phase_hv", 150)):
        simulator = DeyeSimulator(profile=profile)
        await simulator.start()
        try:
            entry = await _setup(hass, entry_data(simulator), "Deye")
            await _set_setpoint(hass, "deye", -1500)
            settings = _settings(simulator)
            assert settings["power"][1] == power_raw, profile
            assert simulator.inverter.tou_power() == pytest.approx(-1500, abs=1), profile
            base = 210 if profile == "single_phase" else 108
            assert {w.address for w in simulator.peer.writes} <= set(range(base, base + 70))
            assert await hass.config_entries.async_remove(entry.entry_id)
            await hass.async_block_till_done()
            assert simulator.inverter.released(), profile
        finally:
            await simulator.stop()


@pytest.mark.modbus
async def test_unknown_device_type_asks_for_the_profile(
    hass: HomeAssistant, sim: DeyeSimulator
) -> None:
    """A device type `auto` does not know is a form error; choosing the profile by hand works.

    An inverter without a serial number is refused too: it would be no unique id.
    """
    sim.inverter.bank.set_u16(0, 0x0002)  # a string inverter, as far as register 0 goes
    user_input = entry_data(sim)
    user_input.pop(CONF_FAMILY)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "deye"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "unsupported_device"}
    assert "choose the profile by hand" in result["description_placeholders"]["detail"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**user_input, CONF_PROFILE: "three_phase"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == SERIAL
    await hass.async_block_till_done()
    sim.inverter.bank.set_string(3, "", 5)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "deye"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**user_input, CONF_PROFILE: "three_phase"}
    )
    assert result["errors"] == {"base": "unsupported_device"}


@pytest.mark.modbus
@pytest.mark.parametrize("solarman", [False, True])
async def test_wrong_unit_id_named_in_the_form(hass: HomeAssistant, solarman: bool) -> None:
    """An inverter address nobody answers for is named in the form's error."""
    simulator = DeyeSimulator(solarman=solarman)
    await simulator.start()
    try:
        user_input = solarman_entry_data(simulator) if solarman else entry_data(simulator)
        family = user_input.pop(CONF_FAMILY)
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": family})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {**user_input, CONF_UNIT_ID: 2}
        )
        assert result["errors"] == {"base": "invalid_unit_id"}
        assert result["description_placeholders"] == {"unit_id": "2"}
    finally:
        await simulator.stop()


def test_forms_translated() -> None:
    """Both forms, the model choices and the new form error have their English texts."""
    strings = json.loads(
        (Path(deye.__file__).parents[1] / "translations" / "en.json").read_text(encoding="utf-8")
    )
    config = strings["config"]
    for family in ("deye", "deye_solarman"):
        assert family in config["step"]["user"]["menu_options"]
        fields = {str(k) for k in FAMILIES[family].schema.schema}
        assert fields <= set(config["step"][family]["data"]), family
        assert fields <= set(config["step"]["reconfigure"]["data"]), family
    assert set(strings["selector"]["profile"]["options"]) == {p.value for p in deye.Profile}
    assert "unsupported_device" in config["error"]


# --- control: one short window of the time-of-use program ---------------------------------------


def _window(sim: DeyeSimulator) -> int:
    """The program that holds our window now: the active one on the inverter's clock."""
    return sim.inverter.active_program()


def _touched(sim: DeyeSimulator, first: int) -> set[int]:
    """Addresses written since request `first`."""
    return {a for w in sim.peer.writes[first:] for a in range(w.address, w.address + len(w.values))}


@pytest.mark.modbus
async def test_charge_goes_into_a_window_of_the_program(
    hass: HomeAssistant, sim: DeyeSimulator, entry: MockConfigEntry
) -> None:
    """Zero-export mode, time of use off: time of use on for today only, the other programs
    neutral (inverter power, battery floor, no grid charging, mode and sell bits kept), and at
    12:00 program 2 charging from the grid from 12:00, program 3 from 12:15."""
    original = _settings(sim)
    await _set_setpoint(hass, "deye", -1500)
    settings = _settings(sim)
    assert settings["time_of_use"] == 0x01 | 0x02  # on, Monday
    assert settings["times"] == [0, 1200, 1215, 1600, 2100, 2300]
    assert settings["power"] == [12000, 1500, 12000, 12000, 12000, 12000]
    assert settings["soc"] == [20, 100, 20, 20, 20, 20]
    assert settings["source"] == [4, 4 | 1, 4, 4, 4 | 0x20, 4]  # mode and sell bits kept
    assert settings["grid_charge"] == 1
    assert settings["grid_charge_current"] == 40  # the user's 40 A covers 1500 W / 52.3 V
    assert settings["max_charge_current"] == original["max_charge_current"]
    assert settings["max_discharge_current"] == original["max_discharge_current"]
    assert sim.inverter.tou_power() == -1500
    await _poll(hass)
    assert float(entity_state(hass, "sensor.deye_battery_power")) == -1500
    assert entity_state(hass, "select.deye_operating_mode") == "manual"


@pytest.mark.modbus
async def test_grid_charge_current_raised_only_when_too_low(
    hass: HomeAssistant, sim: DeyeSimulator, entry: MockConfigEntry
) -> None:
    """3000 W at 52.3 V needs 58 A: the user's 40 A grid charge current is raised, and put back."""
    await _set_setpoint(hass, "deye", -3000)
    assert _settings(sim)["grid_charge_current"] == math.ceil(3000 / 52.3)
    assert sim.inverter.tou_power() == -3000
    await select_option(hass, "select.deye_operating_mode", "auto")
    assert sim.inverter.released()


@pytest.mark.modbus
async def test_hold_does_not_discharge(
    hass: HomeAssistant, sim: DeyeSimulator, entry: MockConfigEntry
) -> None:
    """Hold (0 W): our program's capacity at 100 % without grid charging, so the battery does
    not discharge for the house (a solar surplus may still charge it: no per-window setting
    stops that)."""
    sim.inverter.set_flows(pv=500, load=2500)
    await _set_setpoint(hass, "deye", 0)
    window = _window(sim)
    assert _settings(sim)["soc"][window] == 100
    assert _settings(sim)["power"][window] == 0
    assert sim.inverter.tou_power() == 0


@pytest.mark.modbus
async def test_discharge_refused_in_zero_export(
    hass: HomeAssistant, sim: DeyeSimulator, entry: MockConfigEntry
) -> None:
    """In a zero-export work mode a discharge only covers the house: refused, nothing written."""
    with pytest.raises(HomeAssistantError) as err:
        await _set_setpoint(hass, "deye", 2000)
    assert err.value.translation_key == "deye_zero_export"
    assert sim.write_count == 0


async def _selling_first(hass: HomeAssistant, time_of_use: int) -> tuple[DeyeSimulator, Any]:
    simulator = DeyeSimulator(work_mode=SELLING_FIRST, time_of_use=time_of_use)
    await simulator.start()
    return simulator, await _setup(hass, entry_data(simulator), "Deye")


@pytest.mark.modbus
async def test_discharge_in_selling_first_uses_only_the_window(hass: HomeAssistant) -> None:
    """Selling first with the user's own programs: a discharge is delivered (sold into the
    grid) from the window; every other program stays the user's."""
    simulator, entry = await _selling_first(hass, 0xFF)
    try:
        original = _settings(simulator)
        await _set_setpoint(hass, "deye", 2000)
        settings = _settings(simulator)
        assert simulator.inverter.tou_power() == 2000
        assert settings["time_of_use"] == 0xFF
        assert settings["times"] == [0, 1200, 1215, 1600, 2100, 2300]
        assert settings["power"][1] == 2000
        assert settings["soc"][1] == 20  # down to the battery's own floor
        changed = [i for i in range(6) if settings["power"][i] != original["power"][i]]
        assert changed == [1]
        assert settings["source"] == original["source"]
        await select_option(hass, "select.deye_operating_mode", "auto")
        assert simulator.inverter.released()
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await simulator.stop()


@pytest.mark.modbus
async def test_selling_first_without_time_of_use_refused(hass: HomeAssistant) -> None:
    """Selling first with time of use off: no program can stand in for the inverter's own
    operation outside the window, so control is refused with a repair issue."""
    simulator, entry = await _selling_first(hass, 0)
    try:
        with pytest.raises(HomeAssistantError) as err:
            await _set_setpoint(hass, "deye", -1000)
        assert err.value.translation_key == "deye_time_of_use_off"
        assert simulator.write_count == 0
        assert ir.async_get(hass).async_get_issue(DOMAIN, f"deye_time_of_use_off_{entry.entry_id}")
    finally:
        await simulator.stop()


@pytest.mark.modbus
async def test_voltage_mode_and_unset_clock_refused(
    hass: HomeAssistant, sim: DeyeSimulator, entry: MockConfigEntry
) -> None:
    """Programs by SOC need the battery in capacity mode, and windows need the inverter's clock."""
    sim.inverter.bank.set_u16(111, 0)  # battery operation mode: voltage
    with pytest.raises(HomeAssistantError) as err:
        await _set_setpoint(hass, "deye", -1000)
    assert err.value.translation_key == "deye_battery_mode"
    sim.inverter.bank.set_u16(111, 1)
    sim.inverter.clock_set = False
    with pytest.raises(HomeAssistantError) as err:
        await _set_setpoint(hass, "deye", -1000)
    assert err.value.translation_key == "deye_clock_invalid"
    assert sim.write_count == 0


@pytest.mark.modbus
async def test_only_changed_settings_are_written(
    hass: HomeAssistant, sim: DeyeSimulator, entry: MockConfigEntry
) -> None:
    """The settings live in flash: the same setpoint again writes nothing; a new power, one
    register."""
    await _set_setpoint(hass, "deye", -1500)
    first = sim.write_count
    assert first > 0
    await _set_setpoint(hass, "deye", -1500)
    await select_option(hass, "select.deye_operating_mode", "manual")
    assert sim.write_count == first
    await _set_setpoint(hass, "deye", -1000)
    assert [(w.address, w.values) for w in sim.peer.writes[first:]] == [(155, [1000])]


@pytest.mark.modbus
async def test_refresh_moves_the_window_on(
    hass: HomeAssistant, sim: DeyeSimulator, entry: MockConfigEntry
) -> None:
    """Every 5 minutes the window's start times move on (two registers, one request)."""
    await _set_setpoint(hass, "deye", -1500)
    first = sim.write_count
    await sim.advance(300)
    await _poll(hass, seconds=deye.CONTROL_REFRESH_SECONDS + 1)
    assert [(w.address, w.values) for w in sim.peer.writes[first:]] == [(149, [1205, 1220])]
    assert sim.inverter.tou_power() == -1500


@pytest.mark.modbus
async def test_crash_leaves_at_most_the_window(
    hass: HomeAssistant, sim: DeyeSimulator, entry: MockConfigEntry
) -> None:
    """Home Assistant gone without releasing: the inverter is back in its own operation once
    the window has passed (15 minutes at most)."""
    await _set_setpoint(hass, "deye", -1500)
    guard = entry.runtime_data.coordinator.control
    with patch.object(guard, "async_release", AsyncMock()):  # Home Assistant dies here
        assert await hass.config_entries.async_unload(entry.entry_id)
    assert sim.forced()
    await sim.advance(deye.CONTROL_EXPIRY_SECONDS)
    assert not sim.forced()


@pytest.mark.modbus
async def test_auto_restores_the_users_program(
    hass: HomeAssistant, sim: DeyeSimulator, entry: MockConfigEntry
) -> None:
    """Back to auto writes back exactly the registers control changed, with their old values."""
    original = sim.inverter.settings_block()
    await _set_setpoint(hass, "deye", -1500)
    await _set_setpoint(hass, "deye", 0)
    assert not sim.inverter.released()
    before = sim.write_count
    await select_option(hass, "select.deye_operating_mode", "auto")
    assert sim.inverter.settings_block() == original
    restored = _touched(sim, before)
    assert not {108, 109} & restored  # never changed, so never written
    await _poll(hass)
    assert entity_state(hass, "select.deye_operating_mode") == "auto"
    # Nothing is held any more: unloading writes nothing.
    writes = sim.write_count
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert sim.write_count == writes


@pytest.mark.modbus
async def test_program_changed_on_the_inverter_is_followed(
    hass: HomeAssistant, sim: DeyeSimulator, entry: MockConfigEntry
) -> None:
    """The user edits the program on the inverter while a setpoint is held: the next poll sees
    that the program is no longer ours, and the integration follows (mode auto, nothing written)."""
    await _set_setpoint(hass, "deye", -1500)
    sim.inverter.bank.set_u16(155, 800)  # program 2's power, changed on the display
    writes = sim.write_count
    await _poll(hass)
    assert entity_state(hass, "select.deye_operating_mode") == "auto"
    assert not entry.runtime_data.coordinator.device.control_active
    assert sim.write_count == writes


@pytest.mark.modbus
@pytest.mark.parametrize("index", range(4))
async def test_each_failed_write_leaves_nothing_forced_unknown(
    hass: HomeAssistant, sim: DeyeSimulator, entry: MockConfigEntry, index: int
) -> None:
    """Fail each write request of a setpoint in turn: afterwards the program is the user's
    again, or the integration knows it is not."""
    sim.fail_write(index)
    with pytest.raises(HomeAssistantError):
        await _set_setpoint(hass, "deye", -1500)
    device = entry.runtime_data.coordinator.device
    assert sim.inverter.released() or device.control_active
    assert not sim.forced() or device.control_active


@pytest.mark.modbus
async def test_setting_the_inverter_ignores_is_reported_and_still_restored(
    hass: HomeAssistant, sim: DeyeSimulator, entry: MockConfigEntry
) -> None:
    """A write the inverter does not apply raises a translated error; unload still restores."""
    sim.inverter.ignored = {155}  # program 2 power stays as it was
    with pytest.raises(HomeAssistantError) as err:
        await _set_setpoint(hass, "deye", -1500)
    assert err.value.translation_key == "write_not_accepted"
    assert err.value.translation_placeholders["what"] == "time-of-use program 2 power"
    assert entity_state(hass, "select.deye_operating_mode") == "auto"
    # All or nothing: the settings the failed setpoint had changed are already restored.
    assert sim.inverter.released()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert sim.inverter.released()


@pytest.mark.modbus
async def test_modbus_stall_makes_entities_unavailable(
    hass: HomeAssistant, sim: DeyeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An inverter that stops answering: unavailable after the timeout, back when it answers."""
    monkeypatch.setattr(deye, "MODBUS_TIMEOUT", 0.3)
    await _setup(hass, entry_data(sim), "Deye")
    await sim.set_fault(Fault.STALL)
    await _poll(hass)
    assert entity_state(hass, "sensor.deye_state_of_charge") == STATE_UNAVAILABLE
    await sim.set_fault(Fault.NONE)
    await _poll(hass)
    assert float(entity_state(hass, "sensor.deye_state_of_charge")) == 65


# --- Solarman V5 ---------------------------------------------------------------------------------


def test_v5_frames_match_the_reference_example() -> None:
    """The simulator's frames and pysolarmanv5's request equal protocols.md §3.5 byte for byte."""
    from pysolarmanv5 import PySolarmanV5Async
    from umodbus.client.serial import rtu

    request = bytes.fromhex(
        "A5 17 00 10 45 01 00 4E 1C AB A1 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
        " 01 03 02 4C 00 01 44 65 21 15"
    )
    response = bytes.fromhex(
        "A5 15 00 10 15 01 2A 4E 1C AB A1 02 01 E8 03 00 00 F4 01 00 00 18 ED 53 65"
        " 01 03 02 00 57 F9 BA CB 15"
    )
    read_soc = bytes.fromhex("01 03 02 4C 00 01")
    assert v5_request(0x01, 2712345678, read_soc + modbus_crc(read_soc)) == request
    answer = bytes.fromhex("01 03 02 00 57")
    assert (
        v5_response(0x01, 0x2A, 2712345678, answer + modbus_crc(answer), (1000, 500, 0x6553ED18))
        == response
    )
    client = PySolarmanV5Async("127.0.0.1", 2712345678)
    client.sequence_number = 0  # the next request carries sequence byte 1, as in the example
    mb_request = rtu.read_holding_registers(1, 588, 1)
    assert bytes(client._v5_frame_encoder(mb_request)) == request
    assert rtu.parse_response_adu(client._v5_frame_decoder(response), mb_request) == [87]


async def test_solarman_quirks_ridden_out(
    hass: HomeAssistant,
    logger_sim: DeyeSimulator,
    logger_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Double CRC, heartbeats, one corrupted frame and a closed idle connection: no failed poll."""
    logger = logger_sim.logger
    assert logger is not None
    soc = "sensor.deye_solarman_state_of_charge"
    logger.double_crc = True
    logger.heartbeat = True
    logger_sim.inverter.soc = 70
    logger_sim.inverter.set_flows()
    await _poll(hass)
    assert float(entity_state(hass, soc)) == 70
    logger.corrupt_next = 1  # a bad V5 checksum: asked again
    logger_sim.inverter.soc = 71
    logger_sim.inverter.set_flows()
    await _poll(hass)
    assert float(entity_state(hass, soc)) == 71
    logger.bad_crc_next = 1  # a bad Modbus CRC inside a good V5 frame: asked again
    logger_sim.inverter.soc = 70
    logger_sim.inverter.set_flows()
    await _poll(hass)
    assert float(entity_state(hass, soc)) == 70
    assert logger.corrupt_next == logger.bad_crc_next == 0
    connections = logger.connections
    await logger.drop_connections()
    logger_sim.inverter.soc = 72
    logger_sim.inverter.set_flows()
    await _poll(hass)
    assert float(entity_state(hass, soc)) == 72
    assert logger.connections == connections + 1
    # Control works through the quirks too.
    await _set_setpoint(hass, "deye_solarman", -1000)
    assert logger_sim.inverter.tou_power() == -1000
    assert not [r for r in caplog.records if "Error fetching" in r.getMessage()]


async def test_solarman_outages_ridden_out_with_backoff(
    hass: HomeAssistant,
    logger_sim: DeyeSimulator,
    logger_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Short refusals keep the entities, reconnects back off, long outages make them unavailable."""
    logger = logger_sim.logger
    assert logger is not None
    clock = Clock()
    logger_entry.runtime_data.coordinator.device.clock = clock
    soc = "sensor.deye_solarman_state_of_charge"
    caplog.set_level(logging.INFO)

    # A short refusal (one poll) is ridden out: the entities keep their last values.
    await logger_sim.set_fault(Fault.REFUSE)
    await _poll(hass, clock)
    assert float(entity_state(hass, soc)) == 65
    await logger_sim.set_fault(Fault.NONE)
    await _poll(hass, clock)  # 11 s later: past the first 5 s backoff
    assert float(entity_state(hass, soc)) == 65
    assert not [r for r in caplog.records if "Error fetching" in r.getMessage()]

    # Refused again and again: attempts back off (5, 10, 20 s ...), entities stay for 120 s.
    await logger_sim.set_fault(Fault.REFUSE)
    for _ in range(3):  # attempts at +11 (backoff 5), +22 (10), +33 (20 → next at +53)
        await _poll(hass, clock)
    await logger_sim.set_fault(Fault.NONE)
    connections = logger.connections
    await _poll(hass, clock)  # +44: the logger is back, but the backoff is not over
    assert logger.connections == connections
    assert float(entity_state(hass, soc)) == 65
    logger_sim.inverter.soc = 66
    logger_sim.inverter.set_flows()
    await _poll(hass, clock)  # +55: connects again
    assert logger.connections == connections + 1
    assert float(entity_state(hass, soc)) == 66
    assert not [r for r in caplog.records if "Error fetching" in r.getMessage()]

    # A long outage: unavailable once 120 s have passed without contact, one log line (without
    # the logger's address).
    await logger_sim.set_fault(Fault.REFUSE)
    for _ in range(12):
        await _poll(hass, clock)
    assert entity_state(hass, soc) == STATE_UNAVAILABLE
    lines = [r.getMessage() for r in caplog.records if "Error fetching" in r.getMessage()]
    assert len(lines) == 1
    assert "127.0.0.1" not in lines[0]
    await logger_sim.set_fault(Fault.NONE)
    for _ in range(2):  # the backoff has reached 60 s: at most one more minute to wait
        await _poll(hass, clock, 61)
    assert float(entity_state(hass, soc)) == 66
    assert any("recovered" in r.getMessage() for r in caplog.records)


async def test_solarman_wrong_logger_serial(
    hass: HomeAssistant, logger_sim: DeyeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The logger ignores frames for another serial number: the form says nothing was heard."""
    monkeypatch.setattr(deye, "SOLARMAN_TIMEOUT", 0.3)
    user_input = solarman_entry_data(logger_sim)
    user_input.pop(CONF_FAMILY)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "deye_solarman"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**user_input, CONF_LOGGER_SERIAL: LOGGER_SERIAL + 1}
    )
    assert result["errors"] == {"base": "no_data"}
    assert logger_sim.logger is not None
    assert logger_sim.logger.ignored >= 1
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def test_solarman_stall_unavailable_after_the_grace_period(
    hass: HomeAssistant, logger_sim: DeyeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A logger that stops answering: ridden out for 120 s, then unavailable, then recovered."""
    monkeypatch.setattr(deye, "SOLARMAN_TIMEOUT", 0.3)
    entry = await _setup(hass, solarman_entry_data(logger_sim), "Deye (Solarman)")
    clock = Clock()
    entry.runtime_data.coordinator.device.clock = clock
    soc = "sensor.deye_solarman_state_of_charge"
    await logger_sim.set_fault(Fault.STALL)
    await _poll(hass, clock, 61)
    assert float(entity_state(hass, soc)) == 65
    await _poll(hass, clock, 61)
    assert entity_state(hass, soc) == STATE_UNAVAILABLE
    await logger_sim.set_fault(Fault.NONE)
    await _poll(hass, clock)
    assert float(entity_state(hass, soc)) == 65
