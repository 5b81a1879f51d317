"""What the demo's dashboard (dashboards/home_battery.yaml) needs beyond the simulators.

- `link_repository_files`: the integration, the dashboard and the notify blueprint appear in the
  demo's config folder as links to the repository, so the demo shows the files users copy.
- `feed`: once Home Assistant is up, a week of hourly statistics for the demo battery (so the
  daily energy chart and the 24-hour charts are full at once, not after days of running; the
  energy counters' live statistics are made to continue them), and the STAND-IN schedule below.

STAND-IN: until the planning layer's `sensor.<battery>_schedule` exists, `feed` posts a state of
that id through the REST API, with exactly the contract's shape (state = the current slot's
action; attributes `slots`, `cost`, `baseline_cost`, `savings`, `status`, `solve_ms`,
`updated`) and `stand_in: true`. It is planned here by a crude price-rank rule, not by the
integration. As soon as the real sensor exists the stand-in stops by itself; to remove it, delete
`_StandInSchedule` and `_keep_stand_in`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import itertools
import json
import math
import os
from pathlib import Path
import sys
import time
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

REPOSITORY = Path(__file__).resolve().parents[2]
BATTERY = "victron_gx"  # the battery the demo dashboard shows
PRICE_ENTITY = "sensor.electricity_price"  # a template sensor in config/configuration.yaml
# Demo entries plan against the demo's price sensor once the planning layer reads this option.
DEMO_OPTIONS = {"price_entity": PRICE_ENTITY}
TIME_ZONE = ZoneInfo("Europe/Amsterdam")  # config/configuration.yaml's time zone
CAPACITY_KWH = 10.0
MIN_SOC, MAX_SOC = 10.0, 95.0
PLAN_POWER_W = 2500.0
HOUSE_LOAD_W = 800.0  # the stand-in's assumed consumption, for its cost figures
QUARTER = timedelta(minutes=15)
# In the config folder while the live statistics still have to continue the imported week.
LIVE_SUMS_FILE = ".demo-live-sums.json"


def link_repository_files(config_dir: Path) -> None:
    """Link the integration, the dashboards and the blueprint into the config folder."""
    links = {
        config_dir / "custom_components" / "home_battery": REPOSITORY
        / "custom_components"
        / "home_battery",
        config_dir / "dashboards": REPOSITORY / "dashboards",
        config_dir / "blueprints" / "automation" / "home_battery": REPOSITORY
        / "blueprints"
        / "automation"
        / "home_battery",
    }
    for link, target in links.items():
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            link.unlink()
        elif link.exists():
            continue  # a real folder someone put there on purpose
        link.symlink_to(os.path.relpath(target, link.parent))


# --- talking to Home Assistant ----------------------------------------------------------------


async def login(
    session: aiohttp.ClientSession, url: str, client_id: str, username: str, password: str
) -> dict[str, Any]:
    """Log in through the auth API as the frontend does; return the token response."""
    async with session.post(
        f"{url}/auth/login_flow",
        json={
            "client_id": client_id,
            "handler": ["homeassistant", None],
            "redirect_uri": client_id,
        },
    ) as response:
        flow_id = (await response.json())["flow_id"]
    async with session.post(
        f"{url}/auth/login_flow/{flow_id}",
        json={"client_id": client_id, "username": username, "password": password},
    ) as response:
        code = (await response.json())["result"]
    async with session.post(
        f"{url}/auth/token",
        data={"grant_type": "authorization_code", "code": code, "client_id": client_id},
    ) as response:
        return await response.json()  # type: ignore[no-any-return]


@dataclass
class _Api:
    """REST and websocket calls as the demo user, refreshing the access token as it ages."""

    session: aiohttp.ClientSession
    url: str
    client_id: str
    username: str
    password: str
    _access: str = ""
    _refresh: str = ""
    _expires: float = 0.0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def headers(self) -> dict[str, str]:
        if time.monotonic() > self._expires:
            await self._token()
        return {"Authorization": f"Bearer {self._access}"}

    async def _token(self) -> None:
        if not self._refresh:
            tokens = await login(
                self.session, self.url, self.client_id, self.username, self.password
            )
        else:
            data = {
                "grant_type": "refresh_token",
                "refresh_token": self._refresh,
                "client_id": self.client_id,
            }
            async with self.session.post(f"{self.url}/auth/token", data=data) as response:
                tokens = await response.json()
        self._access = tokens["access_token"]
        self._refresh = tokens.get("refresh_token", self._refresh)
        self._expires = time.monotonic() + tokens["expires_in"] / 2

    async def state(self, entity_id: str) -> dict[str, Any] | None:
        async with self.session.get(
            f"{self.url}/api/states/{entity_id}", headers=await self.headers()
        ) as response:
            return await response.json() if response.status == 200 else None

    async def set_state(self, entity_id: str, state: str, attributes: dict[str, Any]) -> None:
        async with self.session.post(
            f"{self.url}/api/states/{entity_id}",
            json={"state": state, "attributes": attributes},
            headers=await self.headers(),
        ) as response:
            response.raise_for_status()

    async def ws(self, *commands: dict[str, Any]) -> list[Any]:
        """Run websocket commands in one connection; return their results."""
        results = []
        async with self.session.ws_connect(f"{self.url}/api/websocket") as ws:
            await ws.receive_json()  # auth_required
            token = (await self.headers())["Authorization"].removeprefix("Bearer ")
            await ws.send_json({"type": "auth", "access_token": token})
            if (await ws.receive_json())["type"] != "auth_ok":
                raise RuntimeError("websocket authentication failed")
            for command in commands:
                message_id = next(self._ids)
                await ws.send_json({**command, "id": message_id})
                while (answer := await ws.receive_json())["id"] != message_id:
                    pass
                if not answer["success"]:
                    raise RuntimeError(f"{command['type']}: {answer['error']}")
                results.append(answer["result"])
        return results


# --- a week of statistics ---------------------------------------------------------------------


def _house(hour: float, day: int) -> tuple[float, float]:
    """Return (consumption, solar) in W for a local hour of a demo day."""
    load = 350 + 550 * math.exp(-((hour - 19) ** 2) / 6) + 300 * math.exp(-((hour - 7.5) ** 2) / 2)
    sunny = 0.55 + 0.45 * abs(math.sin(day * 2.3))  # some days are cloudier than others
    solar = max(0.0, 3600 * sunny * math.sin(math.pi * (hour - 6) / 14)) if 6 < hour < 20 else 0.0
    return load, solar


def weekly_statistics(now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Hourly statistics of a self-consumption battery for the 7 days before `now`'s hour."""
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    soc, charged, discharged = 50.0, 0.0, 0.0
    series: dict[str, list[dict[str, Any]]] = {}

    def add(key: str, **values: Any) -> None:
        series.setdefault(key, []).append(values)

    for hours_back in range(7 * 24, 0, -1):
        start = end - timedelta(hours=hours_back)
        local = start.astimezone(TIME_ZONE)
        load, solar = _house(local.hour + 0.5, local.toordinal())
        wanted = max(-PLAN_POWER_W, min(PLAN_POWER_W, load - solar))  # + discharge
        room = (soc - MIN_SOC if wanted > 0 else MAX_SOC - soc) / 100 * CAPACITY_KWH * 1000
        power = math.copysign(min(abs(wanted), room), wanted)
        soc_before, soc = soc, soc - power / 1000 / CAPACITY_KWH * 100
        charged += max(-power, 0) / 1000
        discharged += max(power, 0) / 1000
        iso = start.isoformat()
        swing = 0.25  # within the hour the values move around their mean
        for key, mean in (
            ("battery_power", power),
            ("grid_power", load - solar - power),
            ("solar_power", solar),
            ("house_consumption", load),
        ):
            add(
                key,
                start=iso,
                mean=round(mean, 1),
                min=round(mean - swing * abs(mean), 1),
                max=round(mean + swing * abs(mean), 1),
            )
        add(
            "state_of_charge",
            start=iso,
            mean=round((soc + soc_before) / 2, 2),
            min=round(min(soc, soc_before), 2),
            max=round(max(soc, soc_before), 2),
        )
        add("energy_charged", start=iso, state=round(charged, 3), sum=round(charged, 3))
        add("energy_discharged", start=iso, state=round(discharged, 3), sum=round(discharged, 3))
    return series


UNITS = {
    "battery_power": "W",
    "grid_power": "W",
    "solar_power": "W",
    "house_consumption": "W",
    "state_of_charge": "%",
    "energy_charged": "kWh",
    "energy_discharged": "kWh",
}


async def _import_statistics(api: _Api, config_dir: Path) -> None:
    """Import the week once: skipped when the battery already has statistics."""
    probe = f"sensor.{BATTERY}_energy_charged"
    (existing,) = await api.ws(
        {
            "type": "recorder/statistics_during_period",
            "start_time": (datetime.now(UTC) - timedelta(days=8)).isoformat(),
            "statistic_ids": [probe],
            "period": "hour",
        }
    )
    if existing.get(probe):
        return
    now = datetime.now(UTC)
    week = weekly_statistics(now)
    commands = [
        {
            "type": "recorder/import_statistics",
            "metadata": {
                "has_mean": UNITS[key] != "kWh",
                "has_sum": UNITS[key] == "kWh",
                "name": None,
                "source": "recorder",
                "statistic_id": f"sensor.{BATTERY}_{key}",
                "unit_of_measurement": UNITS[key],
            },
            "stats": stats,
        }
        for key, stats in week.items()
    ]
    await api.ws(*commands)
    # What _continue_live_sums adds to the live statistics, kept until it is done.
    sums = {
        f"sensor.{BATTERY}_{key}": week[key][-1]["sum"]
        for key, unit in UNITS.items()
        if unit == "kWh"
    }
    start = now.replace(minute=0, second=0, microsecond=0).isoformat()
    (config_dir / LIVE_SUMS_FILE).write_text(json.dumps({"start": start, "sums": sums}))
    print(f"Imported a week of statistics for sensor.{BATTERY}_*")


async def _continue_live_sums(api: _Api, config_dir: Path) -> None:
    """Make the energy counters' live statistics continue the imported week.

    Home Assistant compiles a counter's first live statistics from its 5-minute statistics, which
    an import does not write: its live `sum` starts again at 0 (the recorder's "zero point"), and
    the first live hour would show the week's total as negative energy. Once the first 5-minute
    statistics exist, the imported total is added to them and to all that follow (the recorder's
    own adjust_sum_statistics, as the energy dashboard's fix does). Done once: the file that asks
    for it goes when it is done, and a demo stopped before then does it on its next start.
    """
    path = config_dir / LIVE_SUMS_FILE
    if not path.exists():
        return
    pending = json.loads(path.read_text())
    for _ in range(60):  # the recorder compiles 5-minute statistics every 5 minutes
        (found,) = await api.ws(
            {
                "type": "recorder/statistics_during_period",
                "start_time": pending["start"],
                "statistic_ids": list(pending["sums"]),
                "period": "5minute",
                "types": ["sum"],
            }
        )
        if all(found.get(statistic_id) for statistic_id in pending["sums"]):
            break
        await asyncio.sleep(20)
    else:
        return
    await api.ws(
        *(
            {
                "type": "recorder/adjust_sum_statistics",
                "statistic_id": statistic_id,
                "start_time": pending["start"],
                "adjustment": total,
                "adjustment_unit_of_measurement": "kWh",
            }
            for statistic_id, total in pending["sums"].items()
        )
    )
    path.unlink()


# --- STAND-IN schedule ------------------------------------------------------------------------


def plan_slots(
    prices: list[tuple[datetime, float]], soc: float, keep: Callable[[datetime], bool]
) -> list[dict[str, Any]]:
    """A crude plan: charge in each day's cheapest quarter of hours, discharge in its dearest."""
    by_day: dict[Any, list[float]] = {}
    for start, price in prices:
        by_day.setdefault(start.astimezone(TIME_ZONE).date(), []).append(price)
    slots = []
    for start, price in prices:
        ranked = sorted(by_day[start.astimezone(TIME_ZONE).date()])
        cheap, dear = ranked[len(ranked) // 4], ranked[-(len(ranked) // 4) - 1]
        wanted = PLAN_POWER_W if price >= dear else -PLAN_POWER_W if price <= cheap else 0.0
        step = wanted * 0.25 / 1000 / CAPACITY_KWH * 100  # SOC points this quarter
        if soc - step < MIN_SOC or soc - step > MAX_SOC:
            wanted, step = 0.0, 0.0
        soc -= step
        if keep(start):
            slots.append(
                {
                    "start": start.astimezone(UTC).isoformat(),
                    "end": (start + QUARTER).astimezone(UTC).isoformat(),
                    "power": wanted,
                    "state_of_charge": round(soc, 1),
                    "grid_power": HOUSE_LOAD_W - wanted,
                    "buy_price": price,
                    "sell_price": price,
                }
            )
    return slots


class _StandInSchedule:
    """STAND-IN for the planning layer's schedule sensor (see the module's docstring)."""

    def __init__(self, api: _Api) -> None:
        self.api = api
        self.entity_id = f"sensor.{BATTERY}_schedule"
        self.past: list[dict[str, Any]] = []  # slots that have begun, as planned then
        self.retired = False

    async def update(self) -> None:
        if self.retired:
            return
        current = await self.api.state(self.entity_id)
        if current is not None and not current["attributes"].get("stand_in"):
            self.retired = True
            print(f"{self.entity_id} exists: the stand-in schedule stops")
            return
        price_state = await self.api.state(PRICE_ENTITY)
        soc_state = await self.api.state(f"sensor.{BATTERY}_state_of_charge")
        if price_state is None or soc_state is None or not price_state["attributes"].get("prices"):
            return
        prices = [
            (datetime.fromisoformat(p["start"]), float(p["price"]))
            for p in price_state["attributes"]["prices"]
        ]
        now = datetime.now(UTC)
        slot_now = next((s for s, _ in reversed(prices) if s <= now), prices[0][0])
        if not self.past:
            # The first plan also covers the day so far, as if it had been made at midnight.
            self.past = plan_slots(prices, 40.0, lambda start: start < slot_now)
        self.past = [s for s in self.past if datetime.fromisoformat(s["start"]) < slot_now]
        soc = float(soc_state["state"]) if _is_number(soc_state["state"]) else 50.0
        ahead = plan_slots([(s, p) for s, p in prices if s >= slot_now], soc, lambda _start: True)
        slots = self.past + ahead
        cost = sum(_cost(s["grid_power"], s["buy_price"], s["sell_price"]) for s in slots)
        baseline = sum(_cost(HOUSE_LOAD_W, s["buy_price"], s["sell_price"]) for s in slots)
        action = (
            (
                "discharge"
                if ahead[0]["power"] > 0
                else "charge"
                if ahead[0]["power"] < 0
                else "idle"
            )
            if ahead
            else "idle"
        )
        await self.api.set_state(
            self.entity_id,
            action,
            {
                "slots": slots,
                "cost": round(cost, 2),
                "baseline_cost": round(baseline, 2),
                "savings": round(baseline - cost, 2),
                "status": "stand-in",
                "solve_ms": 0,
                "updated": now.isoformat(),
                "stand_in": True,
                "friendly_name": "Victron GX Schedule (demo stand-in)",
                "icon": "mdi:calendar-clock",
            },
        )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _cost(grid_w: float, buy: float, sell: float) -> float:
    kwh = grid_w * 0.25 / 1000
    return kwh * (buy if kwh > 0 else sell)


async def _statistics(api: _Api, config_dir: Path) -> None:
    """Import the week (first run) and make the live statistics continue it."""
    try:
        await _import_statistics(api, config_dir)
        await _continue_live_sums(api, config_dir)
    except (aiohttp.ClientError, RuntimeError) as err:
        print("Importing the demo statistics failed:", err, file=sys.stderr)


async def feed(
    onboarding: asyncio.Task[None],
    config_dir: Path,
    url: str,
    client_id: str,
    user: str,
    password: str,
) -> None:
    """Fill the dashboard once Home Assistant is up, and keep the stand-in schedule fresh."""
    await onboarding
    async with aiohttp.ClientSession() as session:
        api = _Api(session, url, client_id, user, password)
        for _ in range(240):  # the battery's entities appear once its entry is set up
            with contextlib.suppress(aiohttp.ClientError):
                if await api.state(f"sensor.{BATTERY}_state_of_charge") is not None:
                    break
            await asyncio.sleep(0.5)
        else:
            print(f"sensor.{BATTERY}_state_of_charge never appeared", file=sys.stderr)
            return
        await asyncio.gather(_statistics(api, config_dir), _keep_stand_in(api))


async def _keep_stand_in(api: _Api) -> None:
    """Keep the stand-in schedule fresh (until the real schedule sensor exists)."""
    stand_in = _StandInSchedule(api)
    while True:
        try:
            await stand_in.update()
        except (aiohttp.ClientError, KeyError, ValueError) as err:
            print("Stand-in schedule:", err, file=sys.stderr)
        await asyncio.sleep(30)
