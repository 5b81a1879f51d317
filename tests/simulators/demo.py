"""The demo: every family's simulator, configured in a Home Assistant config folder, then HA.

`python -m tests.simulators.demo CONFIG_DIR` (what scripts/develop runs):
1. starts the simulator of every family of the shared table (tests/families) on loopback;
2. writes their config entries into CONFIG_DIR/.storage/core.config_entries (the demo devices
   are configured before Home Assistant starts, with the ports the simulators got);
3. runs Home Assistant on CONFIG_DIR, does the onboarding (user `demo`, password `demo1234`)
   so nobody has to, and keeps the simulators alive, with load and PV moving, until HA exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
from datetime import UTC, datetime
import json
import math
import os
from pathlib import Path
import signal
import sys
from typing import Any

import aiohttp

from ..families import CASES
from . import demo_dashboard

# The browser test runs a second demo on another port (configuration.yaml reads the same variable).
PORT = int(os.environ.get("HOME_BATTERY_DEMO_PORT", "8123"))
URL = f"http://127.0.0.1:{PORT}"
USER, PASSWORD = "demo", "demo1234"
CLIENT_ID = f"{URL}/"
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
ONBOARDING_STEPS = ("user", "core_config", "analytics", "integration")
# In the config folder: what the simulators keep across runs of the demo (see _start_simulators).
STATE_FILE = ".demo-state.json"
# Simulator attributes kept across runs: the state of charge, and the energy counters a real
# device never turns back (Home Assistant warns about a total_increasing sensor that falls).
KEPT = (
    "soc",
    "charged_kwh",
    "discharged_kwh",
    "imported_kwh",
    "exported_kwh",
    "charged_wh",
    "discharged_wh",
)


def _write_entries(config_dir: Path, sims: dict[str, Any]) -> None:
    """Put a config entry for every simulator into Home Assistant's storage."""
    path = config_dir / ".storage" / "core.config_entries"
    path.parent.mkdir(parents=True, exist_ok=True)
    stored: dict[str, Any] = (
        json.loads(path.read_text())
        if path.exists()
        else {"version": 1, "minor_version": 5, "key": "core.config_entries", "data": {}}
    )
    supports = _support_entries(sims)
    entries = [
        e
        for e in stored["data"].get("entries", [])
        if e["domain"] != "home_battery"
        and e["entry_id"] not in {s["entry_id"] for s in supports}
        # What onboarding added in demos of earlier versions (see _skip_onboarding_integrations).
        and e.get("source") != "onboarding"
    ]
    now = datetime.now(UTC).isoformat()
    entries += [{**s, "created_at": now, "modified_at": now} for s in supports]
    if not any(e["domain"] == "backup" for e in entries):
        # Home Assistant's backup integration adds its entry at a first start through a discovery
        # flow, and the "New devices discovered" notification outlives that flow: bring it along.
        entries.append({**BACKUP_ENTRY, "created_at": now, "modified_at": now})
    for case in CASES:
        entries.append(
            {
                "created_at": now,
                "data": case.entry_data(sims[case.key]),
                "discovery_keys": {},
                "disabled_by": None,
                "domain": "home_battery",
                "entry_id": f"demo{case.key.replace('_', '')}".ljust(26, "0")[:26].upper(),
                "minor_version": 1,
                "modified_at": now,
                "options": {**demo_dashboard.DEMO_OPTIONS, **case.options},
                "pref_disable_new_entities": False,
                "pref_disable_polling": False,
                "source": "user",
                "subentries": [],
                "title": case.title,
                "unique_id": case.unique_id(sims[case.key]),
                "version": 1,
            }
        )
    stored["data"]["entries"] = entries
    path.write_text(json.dumps(stored, indent=2))


BACKUP_ENTRY: dict[str, Any] = {
    "data": {},
    "discovery_keys": {},
    "disabled_by": None,
    "domain": "backup",
    "entry_id": "DEMOSYSTEMBACKUP0000000000",
    "minor_version": 1,
    "options": {},
    "pref_disable_new_entities": False,
    "pref_disable_polling": False,
    "source": "system",
    "subentries": [],
    "title": "Backup",
    "unique_id": None,
    "version": 1,
}


def _support_entries(sims: dict[str, Any]) -> list[dict[str, Any]]:
    """Entries of the integrations families need (MQTT, for its broker); one per integration."""
    supports: dict[str, Any] = {}
    for case in CASES:
        for support in case.support_entries(sims[case.key]) if case.support_entries else []:
            supports.setdefault(support.domain, support)
    return [
        {
            "data": support.data,
            "discovery_keys": {},
            "disabled_by": None,
            "domain": support.domain,
            "entry_id": f"demosupport{support.domain}".ljust(26, "0")[:26].upper(),
            "minor_version": support.minor_version,
            "options": support.options,
            "pref_disable_new_entities": False,
            "pref_disable_polling": False,
            "source": "user",
            "subentries": [],
            "title": support.title,
            "unique_id": None,
            "version": support.version,
        }
        for support in supports.values()
    ]


def _animate(sims: dict[str, Any], seconds: float) -> None:
    """Move load and solar power so the demo's charts are alive (a fast day every 10 min)."""
    phase = 2 * math.pi * seconds / 600
    if (victron := sims.get("victron")) is not None:
        victron.pv_dc_w = max(0.0, 3000 * math.sin(phase))
        victron.load_w = 700 + 500 * (1 + math.sin(3 * phase)) / 2
    if (sonnen := sims.get("sonnen")) is not None:
        sonnen.production_w = max(0.0, 5000 * math.sin(phase))
        sonnen.consumption_w = 600 + 900 * (1 + math.sin(5 * phase)) / 2
    if (sessy := sims.get("sessy")) is not None:
        sessy.pv_w = max(0.0, 1500 * math.sin(phase))
        sessy.house_w = 500 - sessy.pv_w + 300 * math.sin(4 * phase)
    if (pli := sims.get("plasmatronics")) is not None:
        pli.solar_amps = max(0.0, 40 * math.sin(phase))
        pli.load_amps = 4 + 3 * (1 + math.sin(3 * phase)) / 2
        pli.battery_volts = 48 + 6 * pli.soc / 100 + 0.05 * (pli.solar_amps - pli.load_amps)
    if (bms := getattr(sims.get("pylontech_can"), "bms", None)) is not None:
        bms.current = round(40 * math.sin(phase) - 8, 1)  # on the wire: + charging
        # 20 … 90 %: never at the low state-of-charge alarm's default threshold (10 %).
        bms.state_of_charge = round(55 - 35 * math.cos(phase))
        bms.voltage = round(49 + 5 * bms.state_of_charge / 100 + 0.02 * bms.current, 2)
    for key in ("deye", "deye_solarman"):
        if (deye := sims.get(key)) is not None:
            deye.inverter.set_flows(
                pv=max(0.0, 4000 * math.sin(phase)), load=800 + 600 * (1 + math.sin(4 * phase)) / 2
            )
    if (mqtt := sims.get("mqtt")) is not None:  # charges while the sun shines, then discharges
        mqtt.auto_power_w = round(-1500 * math.sin(phase))
        mqtt.tick(20)  # called about once a second: a fast day
    for key in ("huawei", "sma"):  # PV on the inverter's DC side (Huawei), or on the AC side
        if (inverter := sims.get(key)) is not None:
            inverter.pv_w = max(0.0, 4500 * math.sin(phase))
            inverter.load_w = 500 + 700 * (1 + math.sin(2 * phase)) / 2


def _skip_onboarding_integrations(config_dir: Path) -> bool:
    """Mark onboarding's core-config and analytics steps done before Home Assistant starts.

    Finishing the core-config step makes Home Assistant add Google Translate (text to speech,
    which needs ffmpeg), Met.no, Radio Browser and the shopping list, installing their
    requirements at run time (that upgraded pycares and broke host name lookups) and logging
    tracebacks for what the machine lacks. The demo's configuration.yaml sets the location and
    units itself; the user step (the demo user) and the integration step are done by `_onboard`.
    Return True when an earlier run finished onboarding.
    """
    path = config_dir / ".storage" / "onboarding"
    if path.exists():
        return set(ONBOARDING_STEPS) <= set(json.loads(path.read_text())["data"]["done"])
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = {"version": 4, "minor_version": 1, "key": "onboarding"}
    path.write_text(json.dumps({**stored, "data": {"done": ["core_config", "analytics"]}}))
    return False


async def _onboard(onboarded: bool) -> None:
    """Create the demo user and finish onboarding, unless an earlier run did."""
    # Once onboarding is finished Home Assistant serves no onboarding API: wait for its auth API.
    ready = "/auth/providers" if onboarded else "/api/onboarding"
    async with aiohttp.ClientSession() as session:
        for _ in range(1200):  # a first start on a busy machine can take minutes
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{URL}{ready}") as response:
                    if response.status == 200:
                        steps = [] if onboarded else await response.json()
                        break
            await asyncio.sleep(0.5)
        else:
            print("Home Assistant did not come up on", URL, file=sys.stderr)
            return
        if all(step["done"] for step in steps):
            print(f"Home Assistant is up: log in at {URL} as {USER} / {PASSWORD}")
            return
        async with session.post(
            f"{URL}/api/onboarding/users",
            json={
                "client_id": CLIENT_ID,
                "name": "Demo",
                "username": USER,
                "password": PASSWORD,
                "language": "en",
            },
        ) as response:
            code = (await response.json())["auth_code"]
        async with session.post(
            f"{URL}/auth/token",
            data={"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID},
        ) as response:
            token = (await response.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        done = {step["step"] for step in steps if step["done"]}
        for step, body in (
            ("core_config", {}),
            ("analytics", {}),
            ("integration", {"client_id": CLIENT_ID, "redirect_uri": CLIENT_ID}),
        ):
            if step not in done:
                async with session.post(f"{URL}/api/onboarding/{step}", json=body, headers=headers):
                    pass
    print(f"Onboarding done: log in at {URL} as {USER} / {PASSWORD}")


def _port_holder(sim: Any) -> Any | None:
    """Return the object whose `port` the simulator listens on (0 before start: any free one)."""
    for holder in (getattr(sim, "peer", None), sim):
        if holder is not None and isinstance(vars(holder).get("port"), int):
            return holder
    return None


def _stop_with_the_demo() -> None:
    """In Home Assistant's process, before it starts: SIGTERM when the demo process dies.

    Home Assistant runs in its own process group, so Ctrl+C reaches the demo only, which stops
    Home Assistant with one SIGTERM: after a first signal Home Assistant restores the default
    handlers, and a second one (Ctrl+C reaching both) killed it before its database was closed.
    Where prctl is missing (not Linux) a demo that is killed outright leaves it running.
    """
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _kept(sim: Any) -> dict[str, float]:
    """Return the simulator's values that the next run starts from."""
    return {name: value for name in KEPT if isinstance(value := vars(sim).get(name), float)}


def _save_state(config_dir: Path, sims: dict[str, Any]) -> None:
    """Write the simulators' ports and kept values for the next run."""
    ports = {key: holder.port for key, sim in sims.items() if (holder := _port_holder(sim))}
    values = {key: _kept(sim) for key, sim in sims.items()}
    (config_dir / STATE_FILE).write_text(json.dumps({"ports": ports, "values": values}, indent=2))


async def _start_simulators(config_dir: Path) -> dict[str, Any]:
    """Start every family's simulator as the demo's last run left it.

    Each on the port it had: a device without a serial number is identified by its address
    (Plasmatronics: the serial server's URL), so a new port would be a new device in Home
    Assistant at every restart. With the state of charge and the energy counters it had.
    """
    path = config_dir / STATE_FILE
    state: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    sims: dict[str, Any] = {}
    for case in CASES:
        sim = case.make_simulator()
        for name, value in state.get("values", {}).get(case.key, {}).items():
            if name in _kept(sim):
                setattr(sim, name, value)
        holder = _port_holder(sim)
        if holder is not None:
            holder.port = state.get("ports", {}).get(case.key, 0)
        try:
            await sim.start()
        except OSError:
            if holder is None or not holder.port:
                raise
            print(f"{case.key}: port {holder.port} is taken, the simulator takes another one")
            holder.port = 0
            await sim.start()
        sims[case.key] = sim
    config_dir.mkdir(parents=True, exist_ok=True)
    _save_state(config_dir, sims)
    return sims


async def main(config_dir: Path) -> int:
    """Start the simulators, configure them, run Home Assistant until it exits."""
    sims = await _start_simulators(config_dir)
    _write_entries(config_dir, sims)
    onboarded = _skip_onboarding_integrations(config_dir)
    demo_dashboard.link_repository_files(config_dir)
    print(
        "Simulators:", ", ".join(f"{k} on port {getattr(s, 'port', '-')}" for k, s in sims.items())
    )
    hass = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "homeassistant",
        "--config",
        str(config_dir),
        process_group=0,
        preexec_fn=_stop_with_the_demo,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, hass.terminate)
    onboarding = loop.create_task(_onboard(onboarded))
    dashboard = loop.create_task(
        demo_dashboard.feed(onboarding, config_dir, URL, CLIENT_ID, USER, PASSWORD)
    )
    started = saved = loop.time()
    while hass.returncode is None:
        _animate(sims, loop.time() - started)
        if loop.time() - saved > 60:  # also for a demo that is killed rather than stopped
            _save_state(config_dir, sims)
            saved = loop.time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hass.wait(), 1)
    onboarding.cancel()
    dashboard.cancel()
    _save_state(config_dir, sims)
    for sim in sims.values():
        await sim.stop()
    return hass.returncode or 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]).resolve())))
