"""SMA Sunny Island / Sunny Boy Storage end to end: Home Assistant drives the real client
against the Modbus simulator."""

from __future__ import annotations

from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.home_battery.const import DOMAIN
from custom_components.home_battery.devices import sma

from .families import FamilyCase
from .families.sma import CASE, entry_data
from .helpers import battery_device, entity_state, poll, select_option, set_number, set_up_entry
from .simulators.sma import (
    APPLY_FALLBACK,
    CONTROL_ACTIVE,
    CONTROL_INACTIVE,
    SERIAL,
    VALUES_MAINTAINED,
    WRITE_ONLY,
    SmaSimulator,
)

pytestmark = [pytest.mark.modbus, pytest.mark.usefixtures("socket_enabled")]

SETPOINT = "number.sma_power_setpoint"
MODE = "select.sma_operating_mode"


@pytest.fixture
def case() -> FamilyCase:
    """This module's family, for the shared `sim` and `entry` fixtures (conftest.py)."""
    return CASE


def _commands(sim: SmaSimulator) -> list[tuple[int, int]]:
    """(address, signed 32-bit value) of every write, in order."""
    result = []
    for request in sim.peer.writes:
        raw = request.values[0] << 16 | request.values[1]
        result.append((request.address, raw - (1 << 32) if raw >= 1 << 31 else raw))
    return result


async def test_device_info(
    hass: HomeAssistant, entry: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    """Serial number (30057) and device type (30053) name the device."""
    device = battery_device(hass, str(SERIAL))
    assert device is not None
    assert (device.manufacturer, device.model) == ("SMA", "Sunny Boy Storage 3.7")
    assert entry.runtime_data.coordinator.energy is None  # the inverter counts its energy itself


@pytest.mark.parametrize(
    ("address", "entity_id"),
    [
        (30849, "sensor.sma_battery_temperature"),  # S32: 0x80000000
        (30845, "sensor.sma_state_of_charge"),  # U32: 0xFFFFFFFF
        (30775, "sensor.sma_battery_power"),
        (30867, "sensor.sma_grid_power"),  # one of the two grid values is enough
        (31397, "sensor.sma_energy_charged"),  # the Sunny Boy Storage's U64 counter
    ],
)
async def test_nan_is_unknown(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SmaSimulator, address: int, entity_id: str
) -> None:
    """SMA's "not available" markers show as unknown, never as 0 or as 2147483648."""
    assert entity_state(hass, entity_id) not in (STATE_UNKNOWN, "0")
    sim.unavailable.add(address)
    sim.update(0)
    await poll(hass)
    assert entity_state(hass, entity_id) == STATE_UNKNOWN
    sim.unavailable.clear()
    sim.update(0)
    await poll(hass)
    assert entity_state(hass, entity_id) != STATE_UNKNOWN


async def test_status_tag_nan_falls_back_to_power(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SmaSimulator
) -> None:
    """Without condition and battery status (0xFFFFFD), the state follows the power's sign."""
    sim.unavailable.update({30201, 30955})
    sim.update(0)
    await poll(hass)
    assert entity_state(hass, "sensor.sma_operating_state") == "charging"


async def test_fault_condition(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SmaSimulator
) -> None:
    """Condition 35 is a fault, and raises the alarm."""
    sim.condition = 35
    sim.update(0)
    await poll(hass)
    assert entity_state(hass, "sensor.sma_operating_state") == "fault"
    assert entity_state(hass, "binary_sensor.sma_alarm") == "on"


async def test_setpoint_enables_control_then_writes_power(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SmaSimulator
) -> None:
    """The fallback first (2507, 30 s), then 40151 ← 802 and the signed setpoint in 40149; the
    battery power follows."""
    await set_number(hass, SETPOINT, -1500)
    assert _commands(sim) == [
        (41193, APPLY_FALLBACK),
        (41195, sma.FALLBACK_TIMEOUT),
        (40151, CONTROL_ACTIVE),
        (40149, -1500),
    ]
    assert sim.battery_power() == -1500
    await poll(hass)
    assert float(entity_state(hass, "sensor.sma_battery_power")) == -1500
    assert entity_state(hass, MODE) == "manual"
    assert float(entity_state(hass, SETPOINT)) == -1500
    # The write-only registers are never read (the inverter would refuse).
    assert not [r for r in sim.peer.requests if r.function == 3 and r.address in WRITE_ONLY]


async def test_control_refreshed_and_released(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SmaSimulator
) -> None:
    """The setpoint lapses after the fallback timeout unless written again: it is, every poll,
    until auto is chosen; release ends control and puts the user's fallback settings back."""
    await set_number(hass, SETPOINT, 1000)
    for _ in range(4):
        await sim.advance(20)  # 80 s of the inverter's time: past the timeout but refreshed
        await poll(hass)
    assert sim.commanded_power() == 1000
    assert _commands(sim).count((40149, 1000)) >= 4
    assert _commands(sim).count((41195, sma.FALLBACK_TIMEOUT)) == 1  # set once a session
    await select_option(hass, MODE, "auto")
    assert (40151, CONTROL_INACTIVE) in _commands(sim)[-3:]
    assert (sim.fallback_mode, sim.fallback_timeout) == (VALUES_MAINTAINED, 600)
    assert sim.commanded_power() is None
    writes = sim.write_count
    await poll(hass)
    assert sim.write_count == writes  # no refresh once released


async def test_crash_bounded_by_the_fallback_timeout(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SmaSimulator
) -> None:
    """Home Assistant gone without releasing: the inverter applies its fallback (back to its own
    operation) once the timeout set by control has passed without a command."""
    await set_number(hass, SETPOINT, 1000)
    guard = entry.runtime_data.coordinator.control
    with patch.object(guard, "async_release", AsyncMock()):  # Home Assistant dies here
        assert await hass.config_entries.async_unload(entry.entry_id)
    assert sim.forced()
    await sim.advance(sma.FALLBACK_TIMEOUT + 1)
    assert not sim.forced()


async def test_values_maintained_would_hold_forever(sim: SmaSimulator) -> None:
    """The simulator, like the inverter, keeps the last setpoint when 41193 is 2506: why control
    sets 2507 first."""
    sim.bank.set_32(40151, CONTROL_ACTIVE)
    sim.bank.on_write(40151, [])  # type: ignore[misc]
    sim.bank.set_32(40149, 500)
    sim.bank.on_write(40149, [])  # type: ignore[misc]
    await sim.advance(3600)
    assert sim.forced()


async def test_setpoint_not_followed_is_reported_and_released(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    sim: SmaSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The setpoint cannot be read back: a battery power that does not move towards it within
    the follow time counts as not applied, and control is handed back at once."""
    monkeypatch.setattr(sma, "FOLLOW_TIMEOUT", 0.6)
    sim.obey_control = False  # 802 acknowledged, but the setpoint has no effect
    with pytest.raises(HomeAssistantError) as err:
        await set_number(hass, SETPOINT, 2000)
    assert err.value.translation_key == "write_not_accepted"
    assert (40151, CONTROL_INACTIVE) in _commands(sim)
    assert (sim.fallback_mode, sim.fallback_timeout) == (VALUES_MAINTAINED, 600)
    await poll(hass)
    assert entity_state(hass, MODE) == "auto"


@pytest.mark.parametrize(
    ("variant", "reason"),
    [
        ({"fallback": False}, "sma_fallback_unavailable"),
        ({"control_available": False}, "sma_no_control_via_communication"),
    ],
)
async def test_control_refused_without_a_bound_or_permission(
    hass: HomeAssistant, socket_enabled: None, variant: dict[str, bool], reason: str
) -> None:
    """Without 41193/41195 a crash could not be bounded; with 31061 = No the inverter takes no
    control via communication: both refused before anything is written."""
    simulator = SmaSimulator(fallback=variant.get("fallback", True))
    simulator.control_available = variant.get("control_available", True)
    simulator.update(0)
    await simulator.start()
    try:
        await _setup(hass, simulator)
        with pytest.raises(HomeAssistantError) as err:
            await set_number(hass, SETPOINT, 1000)
        assert err.value.translation_key == reason
        assert simulator.write_count == 0
    finally:
        await simulator.stop()


@pytest.mark.parametrize("index", range(4))
async def test_each_failed_write_leaves_nothing_forced_unknown(
    hass: HomeAssistant, entry: MockConfigEntry, sim: SmaSimulator, index: int
) -> None:
    """Fail each write of a setpoint in turn: afterwards the battery is not forced, or the
    integration knows it is; the user's fallback settings are back whenever control is."""
    sim.fail_write(index)
    with pytest.raises(HomeAssistantError):
        await set_number(hass, SETPOINT, 1000)
    device = entry.runtime_data.coordinator.device
    assert not sim.forced() or device.control_active
    if not device.control_active:
        assert (sim.fallback_mode, sim.fallback_timeout) == (VALUES_MAINTAINED, 600)


# --- models ---------------------------------------------------------------------------------------


async def _setup(hass: HomeAssistant, simulator: SmaSimulator) -> MockConfigEntry:
    config_entry = MockConfigEntry(
        domain=DOMAIN, title="SMA", data=entry_data(simulator), unique_id=str(SERIAL)
    )
    await set_up_entry(hass, config_entry)
    return config_entry


@pytest.mark.parametrize(
    ("variant", "refused"),
    [
        ({"model": "si"}, {"counters_sbs"}),  # a Sunny Island: 30595/30597, no 31397/31401
        ({"model": "sbs"}, {"counters_si"}),  # a Sunny Boy Storage: the other way round
        ({"max_power": False}, {"counters_si", "max_power"}),
        # Models that refuse a whole block holding an address they lack: the probe splits it.
        ({"max_power": False, "strict_missing": True}, {"counters_si", "max_power"}),
    ],
)
async def test_models_without_some_registers(
    hass: HomeAssistant, socket_enabled: None, variant: dict[str, Any], refused: set[str]
) -> None:
    """What a model lacks (exception 2) is found once at setup and left out: setup and every
    poll work, the counters come from whichever the model has, limits fall back to the options."""
    simulator = SmaSimulator(**variant)
    await simulator.start()
    try:
        entry = await _setup(hass, simulator)
        device = entry.runtime_data.coordinator.device
        assert set(device.probe_report()["refused"]) == refused
        assert float(entity_state(hass, "sensor.sma_energy_charged")) == 4321.0
        before = simulator.request_count
        await poll(hass)
        read = {
            a
            for r in simulator.peer.requests[before:]
            for a in range(r.address, r.address + r.values[0])
        }
        for unit in device.probe_report()["refused"].values():
            assert not read & set(unit["addresses"])
        assert entity_state(hass, "sensor.sma_state_of_charge") == "72"
        assert entry.state is ConfigEntryState.LOADED
    finally:
        await simulator.stop()
