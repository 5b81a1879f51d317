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

from homeassistant.components.select import ATTR_OPTION, SERVICE_SELECT_OPTION
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
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
from .helpers import battery_device, entity_state, poll, set_number
from .simulators.deye import LOGGER_SERIAL, SERIAL, DeyeSimulator
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
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
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
    ("profile", "voltage", "model"),
    [
        ("single_phase", 52.3, "SG0xLP1 single-phase hybrid"),
        ("three_phase", 52.3, "SG04LP3 three-phase hybrid"),
        ("three_phase_hv", 419.6, "SG01HP3 three-phase hybrid (HV)"),
    ],
)
async def test_profile_read_from_the_device_type(
    hass: HomeAssistant,
    device_registry: dr.DeviceRegistry,
    profile: str,
    voltage: float,
    model: str,
) -> None:
    """`auto` picks the layout from register 0; each layout decodes its own addresses/scales."""
    simulator = DeyeSimulator(profile=profile)
    await simulator.start()
    try:
        await _setup(hass, entry_data(simulator), "Deye")
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


# --- control: the time-of-use mapping ----------------------------------------------------------


@pytest.mark.modbus
async def test_setpoint_mapped_onto_time_of_use(
    hass: HomeAssistant, sim: DeyeSimulator, entry: MockConfigEntry
) -> None:
    """Discharge, hold and charge: every program the same, start times left alone."""
    original = _settings(sim)
    await _set_setpoint(hass, "deye", 2000)
    settings = _settings(sim)
    assert settings["time_of_use"] == 0x00FF
    assert settings["power"] == [2000] * 6
    assert settings["soc"] == [10] * 6
    assert settings["source"] == [0] * 6
    assert settings["max_charge_current"] == 0
    assert settings["times"] == original["times"]
    assert settings["max_discharge_current"] == original["max_discharge_current"]
    assert sim.inverter.tou_power() == 2000
    await _poll(hass)
    assert float(entity_state(hass, "sensor.deye_battery_power")) == 2000
    assert entity_state(hass, "sensor.deye_operating_state") == "discharging"
    assert entity_state(hass, "select.deye_operating_mode") == "manual"

    await _set_setpoint(hass, "deye", 0)
    settings = _settings(sim)
    assert settings["power"] == [0] * 6
    assert settings["soc"] == [100] * 6
    assert settings["max_charge_current"] == 0
    assert sim.inverter.tou_power() == 0

    await _set_setpoint(hass, "deye", -2000)
    settings = _settings(sim)
    amps = math.ceil(2000 / 52.3)  # 39 A
    assert settings["power"] == [2000] * 6
    assert settings["soc"] == [100] * 6
    assert settings["source"] == [1] * 6
    assert settings["max_charge_current"] == amps
    assert settings["grid_charge_current"] == amps
    assert settings["grid_charge"] == 1
    assert sim.inverter.tou_power() == -2000
    await _poll(hass)
    assert float(entity_state(hass, "sensor.deye_battery_power")) == -2000


@pytest.mark.modbus
async def test_single_phase_and_hv_settings(hass: HomeAssistant) -> None:
    """Single-phase settings sit 102 registers higher; HV programs count power in 10 W."""
    for profile, power_raw in (("single_phase", 1500), ("three_phase_hv", 150)):
        simulator = DeyeSimulator(profile=profile)
        await simulator.start()
        try:
            entry = await _setup(hass, entry_data(simulator), "Deye")
            await _set_setpoint(hass, "deye", 1500)
            settings = _settings(simulator)
            assert settings["power"] == [power_raw] * 6, profile
            assert settings["soc"] == [10] * 6, profile
            assert settings["time_of_use"] == 0x00FF, profile
            assert simulator.inverter.tou_power() == 1500, profile
            base = 210 if profile == "single_phase" else 108
            assert {w.address for w in simulator.peer.writes} <= set(range(base, base + 70))
            assert await hass.config_entries.async_remove(entry.entry_id)
            await hass.async_block_till_done()
            assert simulator.inverter.released(), profile
        finally:
            await simulator.stop()


@pytest.mark.modbus
async def test_only_changed_settings_are_written(
    hass: HomeAssistant, sim: DeyeSimulator, entry: MockConfigEntry
) -> None:
    """The settings live in flash: the same setpoint again writes nothing; a new power, one run."""
    await _set_setpoint(hass, "deye", 2000)
    first = sim.write_count
    assert first > 0
    await _set_setpoint(hass, "deye", 2000)
    await hass.services.async_call(
        "select",
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: "select.deye_operating_mode", ATTR_OPTION: "manual"},
        blocking=True,
    )
    assert sim.write_count == first
    await _set_setpoint(hass, "deye", 2500)
    writes = sim.peer.writes[first:]
    assert [(w.address, w.values) for w in writes] == [(154, [2500] * 6)]


@pytest.mark.modbus
async def test_charge_current_kept_while_the_voltage_drifts(
    hass: HomeAssistant, sim: DeyeSimulator, entry: MockConfigEntry
) -> None:
    """A charge current 1 A above what the voltage now needs is left as it is."""
    await _set_setpoint(hass, "deye", -2000)  # 39 A at 52.3 V
    before = sim.write_count
    sim.inverter.voltage = 53.0  # 38 A would do now
    sim.inverter.set_flows()
    await _poll(hass)
    await _set_setpoint(hass, "deye", -2000)
    assert sim.write_count == before
    assert _settings(sim)["max_charge_current"] == 39


@pytest.mark.modbus
async def test_auto_restores_the_users_program(
    hass: HomeAssistant, sim: DeyeSimulator, entry: MockConfigEntry
) -> None:
    """Back to auto writes back exactly the registers control changed, with their old values."""
    original = sim.inverter.settings_block()
    await _set_setpoint(hass, "deye", -1500)
    await _set_setpoint(hass, "deye", 1000)
    assert not sim.inverter.released()
    before = sim.write_count
    await hass.services.async_call(
        "select",
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: "select.deye_operating_mode", ATTR_OPTION: "auto"},
        blocking=True,
    )
    assert sim.inverter.settings_block() == original
    restored = {
        a for w in sim.peer.writes[before:] for a in range(w.address, w.address + len(w.values))
    }
    assert 109 not in restored  # never changed, so never written
    assert not set(range(148, 154)) & restored  # the programs' start times neither
    await _poll(hass)
    assert entity_state(hass, "select.deye_operating_mode") == "auto"
    # Nothing is held any more: unloading writes nothing.
    writes = sim.write_count
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert sim.write_count == writes


@pytest.mark.modbus
async def test_setting_the_inverter_ignores_is_reported_and_still_restored(
    hass: HomeAssistant, sim: DeyeSimulator, entry: MockConfigEntry
) -> None:
    """A write the inverter does not apply raises a translated error; unload still restores."""
    sim.inverter.ignored = {154}  # program 1 power stays as it was
    with pytest.raises(HomeAssistantError) as err:
        await _set_setpoint(hass, "deye", 2000)
    assert err.value.translation_key == "write_not_accepted"
    assert err.value.translation_placeholders["what"] == "time-of-use program 1 power"
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

    # A long outage: unavailable once 120 s have passed without contact, one log line.
    await logger_sim.set_fault(Fault.REFUSE)
    for _ in range(12):
        await _poll(hass, clock)
    assert entity_state(hass, soc) == STATE_UNAVAILABLE
    assert len([r for r in caplog.records if "Error fetching" in r.getMessage()]) == 1
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
