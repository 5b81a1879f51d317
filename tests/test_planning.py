"""The compute_schedule action and schedule control, through Home Assistant."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_OFF, SERVICE_TURN_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.home_battery.const import (
    CONF_CAPACITY,
    CONF_MAX_CHARGE_POWER,
    CONF_MAX_DISCHARGE_POWER,
    CONF_PRICE_ENTITY,
    DOMAIN,
)

from .families.victron import entry_data
from .helpers import set_up_entry
from .simulators.victron import SERIAL, SYSTEM, VictronSimulator

# Not run again under pymodbus 3.8.3: that version's connect waits on a loop timer that the
# day test's frozen clock never fires (a test artefact; the Modbus families themselves are
# covered under 3.8.3 by the shared suite).
pytestmark = pytest.mark.usefixtures("socket_enabled")

PRICE_ENTITY = "sensor.day_ahead_price"
SWITCH = "switch.victron_gx_schedule_control"
SCHEDULE = "sensor.victron_gx_schedule"
# A day of hourly prices: cheap at night, dear in the evening (EUR/kWh).
DAY = [0.20, 0.18, 0.15, 0.14, 0.15, 0.20, 0.28, 0.35, 0.30, 0.22, 0.15, 0.10,
       0.08, 0.10, 0.15, 0.22, 0.30, 0.42, 0.48, 0.45, 0.35, 0.28, 0.24, 0.21]  # fmt: skip


def _hourly(start: datetime, values: list[float]) -> list[dict[str, Any]]:
    return [
        {
            "start": (start + timedelta(hours=i)).isoformat(),
            "end": (start + timedelta(hours=i + 1)).isoformat(),
            "price": price,
        }
        for i, price in enumerate(values)
    ]


def _this_hour() -> datetime:
    return dt_util.utcnow().replace(minute=0, second=0, microsecond=0)


async def _compute(hass: HomeAssistant, **fields: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, "compute_schedule", fields, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


async def test_plan_from_a_price_list(hass: HomeAssistant, victron: MockConfigEntry) -> None:
    """A list of prices and explicit battery parameters give an exact, consistent plan."""
    plan = await _compute(
        hass,
        prices=_hourly(_this_hour(), DAY),
        capacity=10,
        state_of_charge=50,
        max_charge_power=5000,
        max_discharge_power=5000,
        round_trip_efficiency=0.9,
    )
    assert plan["status"] == "optimal"
    assert plan["solver"] == "highs"
    assert len(plan["slots"]) == 24
    assert plan["savings"] == pytest.approx(
        plan["baseline_cost"] - plan["cost"] + plan["terminal_value"], abs=1e-3
    )
    assert plan["savings"] > 0
    by_price = sorted(plan["slots"], key=lambda s: s["buy_price"])
    assert by_price[0]["power"] <= 0  # the cheapest hour charges (or holds)
    assert by_price[-1]["power"] > 0  # the dearest hour discharges
    for slot in plan["slots"]:
        assert -5000 - 1e-6 <= slot["power"] <= 5000 + 1e-6
        assert 0 <= slot["state_of_charge"] <= 100


async def test_plan_for_a_configured_battery_from_an_entity(
    hass: HomeAssistant, victron: MockConfigEntry
) -> None:
    """config_entry_id fills capacity, limits and the current state of charge; prices come
    from a custom Nord Pool sensor's attributes."""
    hass.states.async_set(
        PRICE_ENTITY,
        "0.2",
        {
            "raw_today": [
                {"start": s["start"], "end": s["end"], "value": s["price"]}
                for s in _hourly(_this_hour(), DAY)
            ]
        },
    )
    plan = await _compute(hass, config_entry_id=victron.entry_id, prices=PRICE_ENTITY)
    assert plan["status"] == "optimal"
    first = plan["slots"][0]
    # The GX reports 65 % and a 10 % ESS minimum: no slot goes below it.
    assert min(s["state_of_charge"] for s in plan["slots"]) >= 10 - 1e-6
    assert first["buy_price"] == DAY[0]


async def test_plan_from_a_nord_pool_action_response(
    hass: HomeAssistant, victron: MockConfigEntry
) -> None:
    """The core Nord Pool action's response (per MWh) is accepted as it is."""
    response = {
        "SE3": [
            {"start": s["start"], "end": s["end"], "price": s["price"] * 1000}
            for s in _hourly(_this_hour(), DAY)
        ]
    }
    plan = await _compute(
        hass, config_entry_id=victron.entry_id, prices=response, allow_grid_charge=False
    )
    assert plan["slots"][0]["buy_price"] == pytest.approx(DAY[0])
    for slot in plan["slots"]:  # no PV forecast: without grid charging it never charges
        assert slot["power"] >= -1e-6


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"config_entry_id": "nope", "prices": []}, "invalid_config_entry"),
        ({"prices": "sensor.missing"}, "entity_not_found"),
        ({"prices": []}, "missing_parameter"),
        (
            {
                "prices": [],
                "capacity": 10,
                "state_of_charge": 50,
                "max_charge_power": 1000,
                "max_discharge_power": 1000,
            },
            "invalid_prices",
        ),
    ],
)
async def test_action_errors_are_translated(
    hass: HomeAssistant, victron: MockConfigEntry, fields: dict[str, Any], key: str
) -> None:
    """Bad input gives a translated validation error naming the problem."""
    with pytest.raises(ServiceValidationError) as err:
        await _compute(hass, **fields)
    assert err.value.translation_key == key


async def test_action_on_an_unloaded_battery(hass: HomeAssistant, victron: MockConfigEntry) -> None:
    """A battery that is not loaded cannot fill the parameters."""
    await hass.config_entries.async_unload(victron.entry_id)
    assert victron.state is ConfigEntryState.NOT_LOADED
    with pytest.raises(ServiceValidationError) as err:
        await _compute(hass, config_entry_id=victron.entry_id, prices=_hourly(_this_hour(), DAY))
    assert err.value.translation_key == "unloaded_config_entry"


async def test_schedule_control_needs_a_price_entity(
    hass: HomeAssistant, victron: MockConfigEntry
) -> None:
    """Turning schedule control on without a price sensor says what is missing."""
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            "switch", SERVICE_TURN_ON, {ATTR_ENTITY_ID: SWITCH}, blocking=True
        )
    assert err.value.translation_key == "no_price_entity"


def _commanded_power(sim: VictronSimulator) -> float:
    """The battery power the last grid setpoint asks ESS for: load − PV − setpoint."""
    write = [r for r in sim.peer.writes if r.unit_id == SYSTEM and r.address == 2716][-1]
    raw = write.values[0] << 16 | write.values[1]
    grid = raw - (1 << 32) if raw >= 1 << 31 else raw
    return sim.load_w - sim.pv_dc_w - sim.pv_ac_w - grid


async def test_schedule_control_drives_the_battery_through_a_day(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, victron_sim: VictronSimulator
) -> None:
    """With the clock frozen and moved slot by slot, every slot's planned power is applied
    at its start; turning the switch off returns the battery to auto."""
    start = datetime(2026, 6, 1, 0, 0, tzinfo=dt_util.UTC)
    freezer.move_to(start)
    hass.states.async_set(
        PRICE_ENTITY, "0.2", {"prices": [{"time": s["start"], "price": s["price"]}
                                          for s in _hourly(start, DAY)]}
    )  # fmt: skip
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Victron GX",
        data=entry_data(victron_sim),
        options={
            CONF_CAPACITY: 10,
            CONF_MAX_CHARGE_POWER: 3000,
            CONF_MAX_DISCHARGE_POWER: 3000,
            CONF_PRICE_ENTITY: PRICE_ENTITY,
        },
        unique_id=SERIAL,
    )
    await set_up_entry(hass, entry)
    state = hass.states.get(SCHEDULE)
    assert state is not None
    assert len(state.attributes["slots"]) == 24  # planned at once, not yet followed
    assert victron_sim.peer.writes == []
    await hass.services.async_call(
        "switch", SERVICE_TURN_ON, {ATTR_ENTITY_ID: SWITCH}, blocking=True
    )
    follower = entry.runtime_data.follower
    applied = 0
    for _quarter in range(24 * 4 - 1):
        slot = follower.current_slot()
        assert slot is not None
        low, high = entry.runtime_data.coordinator.device.power_limits()
        assert _commanded_power(victron_sim) == pytest.approx(
            round(min(high, max(low, slot.power)), -1), abs=1
        )
        applied += 1
        freezer.tick(timedelta(minutes=15))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
        state = hass.states.get(SCHEDULE)
        assert state is not None
        assert state.state in ("charge", "discharge", "idle")
    assert applied == 95
    await hass.services.async_call(
        "switch", SERVICE_TURN_OFF, {ATTR_ENTITY_ID: SWITCH}, blocking=True
    )
    assert victron_sim.grid_setpoint == victron_sim.system.get_i16(2700)
    assert hass.states.get(SWITCH).state == "off"  # type: ignore[union-attr]
    await hass.config_entries.async_unload(entry.entry_id)
