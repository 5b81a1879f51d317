"""Hostile and unlucky input at every boundary: nothing hangs, corrupts, floods or crashes.

Each part answers one question a hostile or careless user (or device) asks; what the user must
then see is a translated error, never "Unknown error occurred", a traceback or a hang.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
import voluptuous as vol

from custom_components.home_battery.const import (
    CONF_MAX_CHARGE_POWER,
    CONF_MAX_DISCHARGE_POWER,
    CONF_PRICE_ENTITY,
    DOMAIN,
)
from custom_components.home_battery.planning import request

from .families.sessy import entry_data as sessy_entry_data
from .families.sonnen import CASE as SONNEN_CASE, entry_data as sonnen_entry_data
from .families.victron import entry_data as victron_entry_data
from .helpers import entity_state, poll, select_option, set_number, set_up_entry
from .simulators.sessy import SERIAL as SESSY_SERIAL, SessySimulator
from .simulators.sonnen import TOKEN, SonnenSimulator
from .simulators.victron import SERIAL as VICTRON_SERIAL, VictronSimulator

pytestmark = pytest.mark.usefixtures("socket_enabled")

PRICE = "sensor.day_ahead_price"

# Host fields: empty, blank, out-of-range ports, broken brackets, a null byte, shell and path
# tricks, a right-to-left override, a pasted line break.
HOSTS = [
    "",
    "  ",
    "127.0.0.1:99999",
    "127.0.0.1:65536",
    "127.0.0.1:-1",
    "localhost:abc",
    "[::1",
    "127.0.0.1\x00",
    "127.0.0.1; rm -rf /",
    "../../etc/passwd",
    "ab\u202ecd",
    "a" * 300,
]
MODBUS_FORMS = {
    "victron": {"port": 502, "vebus_unit_id": 227, "battery_unit_id": 225},
    "deye": {"port": 502, "unit_id": 1, "profile": "auto"},
    "huawei": {"port": 502, "unit_id": 1},
    "sma": {"port": 502, "unit_id": 3},
}


async def _submit(hass: HomeAssistant, step: str, user_input: dict[str, Any]) -> dict[str, Any]:
    """Open the family's form and submit it; never more than 30 s."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": step})
    return dict(
        await asyncio.wait_for(
            hass.config_entries.flow.async_configure(result["flow_id"], user_input), 30
        )
    )


def _translated_form_error(result: dict[str, Any]) -> bool:
    return (
        result["type"] is FlowResultType.FORM
        and bool(result["errors"])
        and "unknown" not in result["errors"].values()
    )


# --- the config flow ------------------------------------------------------------------------


@pytest.mark.parametrize("host", HOSTS, ids=[repr(h)[:20] for h in HOSTS])
@pytest.mark.parametrize("family", ["victron", "deye", "huawei", "sma", "sonnen", "sessy"])
async def test_hostile_host_is_a_form_error(hass: HomeAssistant, family: str, host: str) -> None:
    """Every hostile host is `invalid_host` on the form, before anything connects."""
    form = MODBUS_FORMS.get(family, {"api_token": "t"} if family == "sonnen" else {})
    if family == "sessy":
        form = {"username": "u", "password": "p"}
    result = await _submit(hass, family, {"host": host, **form})
    assert result["errors"] == {"host": "invalid_host"}, result


@pytest.mark.parametrize("token", ["ab\ncd", "ab\r\nX-Injected: 1", "\x00", "", "   "], ids=repr)
async def test_sonnen_token_no_header_can_carry(hass: HomeAssistant, token: str) -> None:
    """A token with a line break inside is refused on the form; nothing is sent with it."""
    sim = SonnenSimulator()
    await sim.start()
    try:
        data = sonnen_entry_data(sim) | {"api_token": token}
        data.pop("family")
        result = await _submit(hass, "sonnen", data)
    finally:
        await sim.stop()
    assert result["errors"] == {"api_token": "invalid_characters"}, result
    assert not any("X-Injected" in str(r.body) for r in sim.peer.requests)


async def test_pasted_line_breaks_are_dropped(hass: HomeAssistant) -> None:
    """A host and a token pasted with a trailing line break are the host and the token."""
    sim = SonnenSimulator()
    await sim.start()
    try:
        data = sonnen_entry_data(sim)
        data |= {"host": data["host"] + "\n", "api_token": TOKEN + "\n"}
        data.pop("family")
        result = await _submit(hass, "sonnen", data)
        await hass.async_block_till_done()
    finally:
        await sim.stop()
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert "\n" not in result["data"]["host"]


@pytest.mark.parametrize(
    ("username", "password", "field"),
    [
        ("user:name", "p", "username"),
        ("用户", "p", "username"),
        ("u", "密码", "password"),
        ("u\n", "p", "username"),
        ("u", "p\r\n", "password"),
    ],
    ids=repr,
)
async def test_sessy_credentials_basic_auth_cannot_carry(
    hass: HomeAssistant, username: str, password: str, field: str
) -> None:
    """Credentials HTTP basic authentication cannot carry are a form error on their field."""
    sim = SessySimulator()
    await sim.start()
    try:
        data = sessy_entry_data(sim) | {"username": username, "password": password}
        data.pop("family")
        result = await _submit(hass, "sessy", data)
    finally:
        await sim.stop()
    assert result["errors"] == {field: "invalid_characters"}, result


async def test_hostile_reauth_and_reconfigure(hass: HomeAssistant) -> None:
    """Reauth and reconfigure share the checks: a broken token or host is a form error."""
    sim = SessySimulator()
    await sim.start()
    try:
        entry = MockConfigEntry(
            domain=DOMAIN, title="Sessy", data=sessy_entry_data(sim), unique_id=SESSY_SERIAL
        )
        await set_up_entry(hass, entry)
        result = await entry.start_reauth_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"username": "a:b", "password": "密码"}
        )
        assert result["errors"] == {
            "username": "invalid_characters",
            "password": "invalid_characters",
        }
        result = await entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": "[::1", "username": "u", "password": "p"}
        )
        assert result["errors"] == {"host": "invalid_host"}
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await sim.stop()


async def test_unreachable_is_cannot_connect_not_unknown(hass: HomeAssistant) -> None:
    """A valid address where nothing listens: `cannot_connect`, within the timeouts."""
    for family, form in (
        ("victron", {"host": "127.0.0.1", **MODBUS_FORMS["victron"], "port": 1}),
        ("sonnen", {"host": "127.0.0.1:1", "api_token": "t"}),
    ):
        result = await _submit(hass, family, form)
        assert _translated_form_error(result), result
        assert result["errors"] == {"base": "cannot_connect"}, (family, result)


async def test_what_the_frontend_sees(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """Through the HTTP API the frontend uses, a hostile host is a 200 with a form error."""
    assert await async_setup_component(hass, "config", {})
    client = await hass_client()
    resp = await client.post(
        "/api/config/config_entries/flow", json={"handler": DOMAIN, "show_advanced_options": False}
    )
    flow = await resp.json()
    resp = await client.post(
        f"/api/config/config_entries/flow/{flow['flow_id']}", json={"next_step_id": "sonnen"}
    )
    resp = await client.post(
        f"/api/config/config_entries/flow/{flow['flow_id']}",
        json={"host": "", "api_token": "t\n"},
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["errors"] == {"host": "invalid_host"}
    assert SOURCE_USER  # the flow was started from the menu like a user's


# --- bursts -----------------------------------------------------------------------------------


def _prices(version: int) -> list[dict[str, Any]]:
    """Two days of 15-minute prices; `version` moves every price a little."""
    start = dt_util.utcnow().replace(minute=0, second=0, microsecond=0)
    step = timedelta(minutes=15)
    return [
        {
            "start": (start + i * step).isoformat(),
            "end": (start + (i + 1) * step).isoformat(),
            "price": round(0.1 + 0.001 * version + 0.2 * ((i // 4) % 24 > 16), 6),
        }
        for i in range(2 * 96)
    ]


async def test_price_burst_gives_one_plan_from_the_newest_prices(
    hass: HomeAssistant, victron_sim: VictronSimulator
) -> None:
    """100 quick price updates under schedule control: a couple of plans, the last one from the
    last update."""
    hass.states.async_set(PRICE, "0.1", {"raw_today": _prices(0)})
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Victron GX",
        data=victron_entry_data(victron_sim),
        options={
            CONF_MAX_CHARGE_POWER: 5000,
            CONF_MAX_DISCHARGE_POWER: 5000,
            CONF_PRICE_ENTITY: PRICE,
        },
        unique_id=VICTRON_SERIAL,
    )
    await set_up_entry(hass, entry)
    plans = 0
    original = request._plan_blocking

    def counted(*args: Any) -> Any:
        nonlocal plans
        plans += 1
        return original(*args)

    with patch.object(request, "_plan_blocking", counted):
        for version in range(1, 101):
            hass.states.async_set(PRICE, str(version), {"raw_today": _prices(version)})
            await asyncio.sleep(0)
        await poll(hass, 3)  # the sources settle
    plan = entry.runtime_data.follower.plan
    assert plan is not None
    assert plan.slots[-1].buy_price == pytest.approx(_prices(100)[-1]["price"])
    assert plans == 1, plans


async def test_planning_waits_quietly_for_its_price_source(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    victron_sim: VictronSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A price sensor that is not there yet: no log line for minutes, then one."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Victron GX",
        data=victron_entry_data(victron_sim),
        options={CONF_PRICE_ENTITY: PRICE},
        unique_id=VICTRON_SERIAL,
    )
    await set_up_entry(hass, entry)

    async def quarter_hour() -> None:
        freezer.tick(timedelta(minutes=15))
        await poll(hass, 0)

    # A price integration still starting: its entity appears, without prices yet.
    freezer.tick(timedelta(minutes=5))
    hass.states.async_set(PRICE, "unknown", {})
    await hass.async_block_till_done()
    freezer.tick(timedelta(seconds=3))
    await poll(hass, 0)
    assert "cannot plan" not in caplog.text
    assert entry.runtime_data.follower.error  # the schedule sensor says why, though
    for _ in range(8):
        await quarter_hour()
    assert caplog.text.count("cannot plan") == 1
    hass.states.async_set(PRICE, "0.1", {"raw_today": _prices(0)})
    await hass.async_block_till_done()
    freezer.tick(timedelta(seconds=3))  # the sources settle
    await poll(hass, 0)
    assert entry.runtime_data.follower.error is None


# --- the compute_schedule action --------------------------------------------------------------

BATTERY = {
    "capacity": 10,
    "state_of_charge": 50,
    "max_charge_power": 3000,
    "max_discharge_power": 3000,
}
NOT_FINITE = [float("inf"), float("-inf"), float("nan"), 1e308, "inf", "nan"]


@pytest.mark.parametrize("value", NOT_FINITE, ids=repr)
@pytest.mark.parametrize(
    "field",
    [
        "cycle_cost",
        "buy_price_multiplier",
        "buy_price_adder",
        "capacity",
        "max_charge_power",
        "max_discharge_power",
        "max_import_power",
        "terminal_value",
        "state_of_charge",
    ],
)
async def test_action_refuses_numbers_that_are_not_finite_or_absurd(
    hass: HomeAssistant, field: str, value: Any
) -> None:
    """Infinite, NaN and overflowing numbers are refused at once, naming the field."""
    assert await async_setup_component(hass, DOMAIN, {})
    with pytest.raises(vol.Invalid) as err:
        await asyncio.wait_for(
            hass.services.async_call(
                DOMAIN,
                "compute_schedule",
                {"prices": _prices(0), **BATTERY, field: value},
                blocking=True,
                return_response=True,
            ),
            10,
        )
    assert field in str(err.value)


# --- the setpoint and mode entities -----------------------------------------------------------

SETPOINT = "number.victron_gx_power_setpoint"
MODE = "select.victron_gx_operating_mode"
HOSTILE_VALUES = [
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e400",
    1e308,
    -1e308,
    "abc",
    None,
    "",
    [1],
    {"a": 1},
]


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=repr)
async def test_hostile_setpoint_is_refused_and_nothing_written(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator, value: Any
) -> None:
    """A value no battery can take is refused with an error; nothing reaches the device."""
    before = victron_sim.write_count
    with pytest.raises((HomeAssistantError, vol.Invalid)):
        await set_number(hass, SETPOINT, value)
    assert victron_sim.write_count == before
    assert entity_state(hass, MODE) == "auto"


@pytest.mark.parametrize("option", ["", "AUTO", "forced", None, 1], ids=repr)
async def test_hostile_mode_is_refused(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator, option: Any
) -> None:
    """A mode the battery does not offer is refused; nothing reaches the device."""
    before = victron_sim.write_count
    with pytest.raises((HomeAssistantError, vol.Invalid)):
        await select_option(hass, MODE, option)
    assert victron_sim.write_count == before


async def test_the_setpoint_shows_the_new_value_at_once(
    hass: HomeAssistant, victron: MockConfigEntry, victron_sim: VictronSimulator
) -> None:
    """Two setpoints a second apart: the entity shows the second at once, not after a poll;
    a setpoint of −0 shows 0."""
    await set_number(hass, SETPOINT, 2000)
    assert float(entity_state(hass, SETPOINT)) == 2000
    await set_number(hass, SETPOINT, -1500)
    assert float(entity_state(hass, SETPOINT)) == -1500
    assert entity_state(hass, MODE) == "manual"
    await set_number(hass, SETPOINT, -0.0)
    assert entity_state(hass, SETPOINT) == "0.0"


# --- devices that answer nonsense -------------------------------------------------------------

SONNEN_POWER = "sensor.sonnenbatterie_battery_power"
SONNEN_DISCHARGED = "sensor.sonnenbatterie_energy_discharged"


@pytest.mark.parametrize("case", [SONNEN_CASE], ids=["sonnen"], indirect=True)
@pytest.mark.parametrize("value", ["NaN", "inf", "-Infinity", 1e12, -1e12, None], ids=repr)
async def test_impossible_values_are_unknown_and_never_counted(
    hass: HomeAssistant, sim: Any, entry: MockConfigEntry, value: Any
) -> None:
    """A battery power of NaN or 10¹² W: unknown for those polls, no error, and the lifetime
    energy counter does not move by it (the energy dashboard stays right)."""
    await poll(hass)
    before = float(entity_state(hass, SONNEN_DISCHARGED))
    sim.overrides = {"Pac_total_W": value}
    for _ in range(3):
        await poll(hass)
        assert entity_state(hass, SONNEN_POWER) == "unknown"
    sim.overrides = {}
    await poll(hass)
    assert entity_state(hass, SONNEN_POWER) not in ("unknown", "unavailable")
    # Only what real samples around the glitch allow: at most the rating for the elapsed time.
    assert float(entity_state(hass, SONNEN_DISCHARGED)) - before < 0.1


async def test_ten_years_of_prices_are_cut_and_the_response_says_so(hass: HomeAssistant) -> None:
    """350,400 quarter-hour prices: planned over the longest horizon, and the response says
    where and why the plan ends (the loop stays free: `scripts/bench boundaries` measures it)."""
    assert await async_setup_component(hass, DOMAIN, {})
    start = dt_util.utcnow().replace(minute=0, second=0, microsecond=0)
    step = timedelta(minutes=15)
    prices = [
        {"start": (start + i * step).isoformat(), "price": 0.1 + 0.2 * ((i // 4) % 24 > 16)}
        for i in range(350_400)
    ]
    plan = await hass.services.async_call(
        DOMAIN,
        "compute_schedule",
        {"prices": prices, **BATTERY},
        blocking=True,
        return_response=True,
    )
    assert plan is not None
    assert plan["sources"]["horizon"]["limited_by"] == "max_horizon"
    assert len(plan["slots"]) <= 14 * 96 + 1
