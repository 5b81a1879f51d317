"""Snapshots of every platform's entities and states, and of the diagnostics, for every family.

They lock unique ids, translation keys, device classes, units and the device linkage: an
accidental rename shows here first. The simulators' physics is stopped before the entry is set
up, so the states are the simulators' starting values. Update with `--snapshot-update` after a
deliberate change, and read the diff.
"""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.home_battery.const import DOMAIN

from .families import CASES, FamilyCase, family_params

pytestmark = [
    pytest.mark.usefixtures("socket_enabled", "entity_registry_enabled_by_default"),
    pytest.mark.parametrize("case", family_params(CASES), indirect=True),
]

# Values that differ from run to run (the simulator's port, times, what the peer counted).
VOLATILE = ("last_changed", "last_reported", "last_updated", "context", "created_at",
            "modified_at", "id", "config_entry_id", "device_id")  # fmt: skip


def _plain(mapping: Any) -> Any:
    """Return a mapping with plain string keys (newer Home Assistant uses enum members for
    state attribute names), so that one snapshot serves every Home Assistant version."""
    if mapping is None:
        return None
    return {str(key): value for key, value in mapping.items()}


async def _set_up(
    hass: HomeAssistant, case: FamilyCase, sim: Any, platforms: list[Platform]
) -> MockConfigEntry:
    if hasattr(sim, "stop_physics"):
        await sim.stop_physics()
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=case.title,
        data=case.entry_data(sim),
        options=case.options,
        unique_id=case.unique_id(sim),
    )
    entry.add_to_hass(hass)
    with patch("custom_components.home_battery.PLATFORMS", platforms):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    return entry


@pytest.mark.parametrize("platform", [
    Platform.BINARY_SENSOR, Platform.NUMBER, Platform.SELECT, Platform.SENSOR, Platform.SWITCH
])  # fmt: skip
async def test_platform(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    case: FamilyCase,
    sim: Any,
    platform: Platform,
) -> None:
    """Every entity of the platform: its registry entry and its state."""
    entry = await _set_up(hass, case, sim, [platform])
    entries = sorted(
        er.async_entries_for_config_entry(entity_registry, entry.entry_id),
        key=lambda e: e.entity_id,
    )
    # Devices identified by their address carry the simulator's random port in their unique id.
    unique_id = case.unique_id(sim) if callable(case.serial) else None
    shown = []
    for entity in entries:
        assert entity.disabled_by is None, entity.entity_id
        state = hass.states.get(entity.entity_id)
        assert state is not None, entity.entity_id
        shown.append(
            {
                "entity_id": entity.entity_id,
                "unique_id": entity.unique_id.replace(unique_id, "<address>")
                if unique_id
                else entity.unique_id,
                "translation_key": entity.translation_key,
                "original_device_class": entity.original_device_class,
                "entity_category": entity.entity_category,
                "unit_of_measurement": entity.unit_of_measurement,
                "capabilities": _plain(entity.capabilities),
                "state": state.state,
                "attributes": _plain(state.attributes),
            }
        )
    assert shown == snapshot(exclude=props(*VOLATILE, "updated", "slots"))


async def test_device_and_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
    case: FamilyCase,
    sim: Any,
) -> None:
    """The battery's device, and the diagnostics: entry (redacted), identity, capabilities,
    control and state."""
    entry = await _set_up(hass, case, sim, [])
    (device,) = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
    address = case.unique_id(sim) if callable(case.serial) else None
    assert {
        "identifiers": {
            (d, i.replace(address, "<address>") if address else i) for d, i in device.identifiers
        },
        "manufacturer": device.manufacturer,
        "model": device.model,
        "name": device.name,
        "serial_number": device.serial_number.replace(address, "<address>")
        if address and device.serial_number
        else device.serial_number,
        "sw_version": device.sw_version,
    } == snapshot(name="device")
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics == snapshot(
        name="diagnostics", exclude=props(*VOLATILE, "port", "regulator_time")
    )
