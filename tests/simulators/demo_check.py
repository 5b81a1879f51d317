"""Log in to the running demo and print the home_battery entities' states (a smoke check)."""

from __future__ import annotations

import asyncio
import sys

import aiohttp

from .demo import CLIENT_ID, PASSWORD, URL, USER
from .demo_dashboard import login


async def token(session: aiohttp.ClientSession) -> str:
    """Log in as the demo user and return an access token."""
    return str((await login(session, URL, CLIENT_ID, USER, PASSWORD))["access_token"])


async def main() -> int:
    """Print every battery entity; fail when there are none."""
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {await token(session)}"}
        async with session.get(f"{URL}/api/states", headers=headers) as response:
            states = await response.json()
    ours = [s for s in states if "victron" in s["entity_id"] or "battery" in s["entity_id"]]
    for state in ours:
        unit = state["attributes"].get("unit_of_measurement", "")
        print(f"{state['entity_id']:<60} {state['state']} {unit}")
    return 0 if ours else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
