"""Plasmatronics end to end: the real PLI client against the PLI peer, through Home Assistant.

The shared family suite covers the TCP serial server; these tests add the pseudo-terminal and the
RFC 2217 server, the model scaling, retries, the PLI's error codes, the link's lifetime and the
integrated energy counters.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.const import CONF_DEVICE, CONF_NAME, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
)

from custom_components.home_battery.const import DOMAIN
from custom_components.home_battery.devices.pli import ERROR_MESSAGES, Command, PliLink

from .families.plasmatronics import entry_data
from .helpers import battery_device, entity_state, poll, set_up_entry
from .simulators.faults import Fault
from .simulators.pli import REAL_PL80, PliSimulator

pytestmark = pytest.mark.usefixtures("socket_enabled")

SOC = "sensor.plasmatronics_state_of_charge"
POWER = "sensor.plasmatronics_battery_power"
FRAMES_PER_POLL = 13


async def _started(**kwargs: object) -> PliSimulator:
    sim = PliSimulator(**kwargs)  # type: ignore[arg-type]
    await sim.start()
    return sim


@pytest.fixture
async def sim(socket_enabled: None) -> AsyncGenerator[PliSimulator]:
    """A PL60 on 48 V behind a TCP serial server."""
    simulator = await _started()
    yield simulator
    await simulator.stop()


async def _set_up(hass: HomeAssistant, sim: PliSimulator) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN, title="Plasmatronics", data=entry_data(sim), unique_id=sim.regulator_id
    )
    await set_up_entry(hass, entry)
    return entry


async def _flow(hass: HomeAssistant, device: str) -> dict[str, object]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "plasmatronics"}
    )
    return dict(
        await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_DEVICE: device})
    )


async def test_pty_end_to_end(
    hass: HomeAssistant, device_registry: dr.DeviceRegistry, socket_enabled: None
) -> None:
    """A PLI on a serial port: set up through the config flow, read, silent, back."""
    sim = await _started(link="pty")
    try:
        result = await _flow(hass, sim.url)
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        entry = hass.config_entries.async_entries(DOMAIN)[0]
        assert entry.unique_id == "PL60-sw200-48V-prog1-400Ah"  # its settings, not the port
        assert float(entity_state(hass, SOC)) == 78
        assert float(entity_state(hass, POWER)) == pytest.approx(-1257.6)
        device = battery_device(hass, sim.regulator_id)
        assert device is not None
        assert (device.manufacturer, device.model, device.sw_version) == (
            "Plasmatronics",
            "PL60",
            "200",
        )
        # Monitoring only: no control entities.
        assert hass.states.async_entity_ids("number") == []
        assert hass.states.async_entity_ids("select") == []

        await sim.set_fault(Fault.STALL)
        await poll(hass)
        assert entity_state(hass, SOC) == STATE_UNAVAILABLE
        await sim.set_fault(Fault.NONE)
        await poll(hass)
        assert float(entity_state(hass, SOC)) == 78
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await sim.stop()


async def test_adapter_replugged(
    hass: HomeAssistant, socket_enabled: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A USB adapter unplugged and plugged back: its by-id link points at a new tty."""
    by_id = tmp_path / "usb-FTDI_PLI-if00-port0"  # as /dev/serial/by-id/ names adapters
    sim = await _started(link="pty")
    by_id.symlink_to(sim.url)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Plasmatronics",
        data={"family": "plasmatronics", CONF_DEVICE: str(by_id)},
        unique_id=sim.regulator_id,
    )
    await set_up_entry(hass, entry)
    assert float(entity_state(hass, SOC)) == 78
    await sim.stop()  # unplugged: the tty goes away under the open port
    by_id.unlink()
    await poll(hass)
    assert entity_state(hass, SOC) == STATE_UNAVAILABLE
    assert caplog.text.count("Error fetching") == 1
    assert "Fatal" not in caplog.text  # the failed write is ours to report, not the loop's
    sim = await _started(link="pty")  # plugged back in: another tty, the same by-id name
    try:
        by_id.symlink_to(sim.url)
        await poll(hass)
        assert float(entity_state(hass, SOC)) == 78
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await sim.stop()


async def test_rfc2217_end_to_end(hass: HomeAssistant, socket_enabled: None) -> None:
    """A PLI behind an RFC 2217 serial server, driven from the executor."""
    sim = await _started(link="rfc2217")
    try:
        entry = await _set_up(hass, sim)
        assert float(entity_state(hass, POWER)) == pytest.approx(-1257.6)
        sim.inject(Fault.GARBAGE)
        await poll(hass)
        assert float(entity_state(hass, SOC)) == 78
        await sim.set_fault(Fault.DROP)  # the server drops the connection
        await poll(hass)
        assert entity_state(hass, SOC) == STATE_UNAVAILABLE
        await sim.set_fault(Fault.NONE)
        await poll(hass)
        assert float(entity_state(hass, SOC)) == 78
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await sim.stop()


@pytest.mark.parametrize(
    ("model", "system_volts", "battery_volts", "version"),
    [
        ("PL20", 12, 12.8, "100"),
        ("PL40", 24, 25.6, "150"),
        ("PL60", 48, 51.2, "200"),
        ("PL80", 36, 38.4, "230"),
    ],
)
async def test_model_scaling(
    hass: HomeAssistant,
    device_registry: dr.DeviceRegistry,
    socket_enabled: None,
    model: str,
    system_volts: int,
    battery_volts: float,
    version: str,
) -> None:
    """The same 12 A of solar and 3 A of load read alike whatever the model's step sizes."""
    sim = PliSimulator(model=model, system_volts=system_volts)
    sim.battery_volts, sim.solar_amps, sim.load_amps = battery_volts, 12.0, 3.0
    sim.external_charge_amps = sim.external_load_amps = None
    sim.update(0)
    await sim.start()
    try:
        await _set_up(hass, sim)
        assert float(entity_state(hass, "sensor.plasmatronics_battery_voltage")) == battery_volts
        assert float(entity_state(hass, "sensor.plasmatronics_battery_current")) == pytest.approx(
            -9.0
        )
        assert float(entity_state(hass, "sensor.plasmatronics_solar_power")) == pytest.approx(
            12 * battery_volts
        )
        assert float(entity_state(hass, "sensor.plasmatronics_house_consumption")) == pytest.approx(
            3 * battery_volts
        )
        assert float(entity_state(hass, POWER)) == pytest.approx(-9 * battery_volts)
        device = battery_device(hass, sim.regulator_id)
        assert device is not None
        assert (device.model, device.sw_version) == (model, version)
    finally:
        await sim.stop()


def test_model_steps_differ_on_the_wire() -> None:
    """A PL20 counts solar current in 0.1 A steps, a PL60 in 0.4 A: the same 12 A, other bytes."""
    pl20, pl60 = PliSimulator(model="PL20"), PliSimulator(model="PL60")
    for regulator in (pl20, pl60):
        regulator.solar_amps = 12.0
        regulator.update(0)
    assert (pl20.ram[213], pl60.ram[213]) == (120, 30)


async def test_retries_hide_transient_faults(hass: HomeAssistant, sim: PliSimulator) -> None:
    """Garbage, a checksum error and a timeout are retried within the poll; nothing shows."""
    await _set_up(hass, sim)
    link: PliLink = hass.config_entries.async_entries(DOMAIN)[
        0
    ].runtime_data.coordinator.device.link
    before = sim.request_count
    sim.inject(Fault.GARBAGE, 130)  # the first request succeeds at its third attempt
    await poll(hass)
    assert float(entity_state(hass, SOC)) == 78
    assert sim.request_count - before == FRAMES_PER_POLL + 2
    sim.inject(Fault.STALL)  # one unanswered request: a timeout, then the retry
    await poll(hass)
    assert float(entity_state(hass, SOC)) == 78
    assert link.retries == 3


async def test_persistent_garbage_fails_the_poll(hass: HomeAssistant, sim: PliSimulator) -> None:
    """Three bad answers to one request exhaust the retries: unavailable, then back."""
    await _set_up(hass, sim)
    before = sim.request_count
    sim.inject(Fault.GARBAGE, Fault.GARBAGE, Fault.GARBAGE)
    await poll(hass)
    assert entity_state(hass, SOC) == STATE_UNAVAILABLE
    assert sim.request_count - before == 3  # the poll stops at the failing request
    await poll(hass)
    assert float(entity_state(hass, SOC)) == 78


@pytest.mark.parametrize("code", [5, 129, 130, 133, 134])
async def test_error_codes_are_retried_then_reported(
    hass: HomeAssistant, sim: PliSimulator, caplog: pytest.LogCaptureFixture, code: int
) -> None:
    """A PLI error code that persists: three attempts, entities unavailable, a clear message."""
    await _set_up(hass, sim)
    sim.error_code = code
    await sim.set_fault(Fault.EXCEPTION)
    before = sim.request_count
    await poll(hass)
    assert entity_state(hass, SOC) == STATE_UNAVAILABLE
    assert sim.request_count - before == 3
    assert f"PLI error {code}: {ERROR_MESSAGES[code]}" in caplog.text
    await sim.set_fault(Fault.NONE)
    await poll(hass)
    assert float(entity_state(hass, SOC)) == 78


async def test_unknown_command_is_not_retried(
    hass: HomeAssistant, sim: PliSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Error 131 (command not recognised) will not go away by asking again."""
    await _set_up(hass, sim)
    sim.error_code = 131
    await sim.set_fault(Fault.EXCEPTION)
    before = sim.request_count
    await poll(hass)
    assert entity_state(hass, SOC) == STATE_UNAVAILABLE
    assert sim.request_count - before == 1
    assert "PLI error 131: the PLI did not recognise the command" in caplog.text


@pytest.mark.parametrize(
    ("fault", "code", "error"),
    [
        (Fault.STALL, 0, "no_data"),  # nothing answers on the port
        (Fault.EXCEPTION, 133, "no_data"),  # the PLI answers, the regulator behind it does not
        (Fault.EXCEPTION, 131, "unknown"),  # not a PLI as we know it
        (Fault.REFUSE, 0, "cannot_connect"),
    ],
)
async def test_config_flow_errors(
    hass: HomeAssistant, sim: PliSimulator, fault: Fault, code: int, error: str
) -> None:
    """Each way of failing shows its translated error on the form."""
    sim.error_code = code
    await sim.set_fault(fault)
    result = await _flow(hass, sim.url)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}


@pytest.mark.parametrize("device", ["/dev/does-not-exist-pli", "nonsense://nowhere"])
async def test_config_flow_port_cannot_be_opened(hass: HomeAssistant, device: str) -> None:
    """A missing serial port or an unknown URL scheme cannot be connected to."""
    result = await _flow(hass, device)
    assert result["errors"] == {"base": "cannot_connect"}


async def test_link_kept_open_and_reopened(hass: HomeAssistant, sim: PliSimulator) -> None:
    """One connection serves every poll; a broken one is reopened by the next poll."""
    await _set_up(hass, sim)
    for _ in range(3):
        await poll(hass)
    assert sim.connections == 1
    await sim.set_fault(Fault.DROP)
    await poll(hass)
    assert entity_state(hass, SOC) == STATE_UNAVAILABLE
    await sim.set_fault(Fault.NONE)
    await poll(hass)
    assert float(entity_state(hass, SOC)) == 78
    # The first connection and two reopened ones are dropped (three attempts), then one stays.
    assert sim.connections == 1 + 2 + 1


async def test_energy_integrated_and_restored(hass: HomeAssistant, sim: PliSimulator) -> None:
    """The regulator's Ah counters are daily: lifetime energy is integrated and kept."""
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State("sensor.plasmatronics_energy_charged", "2.5"),
                {"native_value": 2.5, "native_unit_of_measurement": "kWh"},
            )
        ],
    )
    sim.tick = 3600  # freeze the simulator: −1257.6 W throughout
    entry = await _set_up(hass, sim)
    assert float(entity_state(hass, "sensor.plasmatronics_energy_charged")) == 2.5
    now = [0.0]
    entry.runtime_data.coordinator.device.clock = lambda: now[0]
    for _ in range(7):
        now[0] += 10
        await poll(hass)
    charged = float(entity_state(hass, "sensor.plasmatronics_energy_charged"))
    assert charged == pytest.approx(2.5 + 1257.6 * 60 / 3_600_000, abs=1e-4)
    assert float(entity_state(hass, "sensor.plasmatronics_energy_discharged")) == 0


async def test_peer_checks_frames(sim: PliSimulator) -> None:
    """The peer answers as a PLI does: complement byte checked, unknown commands refused."""
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    try:
        for frame, reply in (
            (bytes([20, 50, 0, 0]), bytes([130])),  # wrong complement byte
            (bytes([0x33, 0, 0, 0xCC]), bytes([131])),  # unknown command
            (bytes([187, 0, 0, 68]), bytes([128])),  # loopback
            (bytes([20, 50, 0, 235]), bytes([200, sim.ram[50]])),
        ):
            writer.write(frame)
            assert await asyncio.wait_for(reader.readexactly(len(reply)), 2) == reply
    finally:
        writer.close()
        await writer.wait_closed()


async def test_loopback_through_the_client(sim: PliSimulator) -> None:
    """The client's frames carry the right complement byte: the PLI's loopback answers."""
    link = PliLink(url=sim.url)
    try:
        async with link.lock:
            assert await link.request(Command.LOOPBACK, 0) == b"\x80"
    finally:
        await link.close()


async def test_diagnostics_show_regulator_state(hass: HomeAssistant, sim: PliSimulator) -> None:
    """The charge stage and the regulator's clock are in the state, without entities."""
    sim.tick = 3600  # keep the clock bytes still while they are compared
    entry = await _set_up(hass, sim)
    state = entry.runtime_data.coordinator.data
    assert state["charge_stage"] == "boost"
    assert state["system_voltage"] == 48
    hours, minutes, _ = (int(part) for part in str(state["regulator_time"]).split(":"))
    assert (hours, minutes // 6) == (sim.ram[48] // 10, sim.ram[48] % 10)


async def test_real_pl80_keeps_its_identity_on_another_port(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """A real PL80's settings identify it; reconfigure moves it to a new port, same device."""
    sim = await _started(**REAL_PL80)
    result = await _flow(hass, sim.url)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert entry.unique_id == "PL80-sw230-24V-prog0-880Ah"
    assert float(entity_state(hass, "sensor.plasmatronics_capacity")) == pytest.approx(21.12)
    moved = await _started(**REAL_PL80)  # the same regulator behind another serial server
    await sim.stop()
    try:
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_DEVICE: moved.url}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        assert entry.data[CONF_DEVICE] == moved.url
        assert float(entity_state(hass, SOC)) == 78
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await moved.stop()


async def test_named_regulator(hass: HomeAssistant, sim: PliSimulator) -> None:
    """Two regulators with the same settings are told apart by the names their owner gives."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "plasmatronics"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE: sim.url, CONF_NAME: " shed regulator "}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == "shed regulator"
    await hass.async_block_till_done()
