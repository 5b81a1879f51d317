"""The family table: what the shared suite (tests/test_families.py) expects of every family.

A new family adds one module here with a `CASE` and one line to `CASES`; the shared suite then runs
the config flow, entity, control and fault tests over it against its simulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
import contextlib
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.home_battery.const import DOMAIN
from custom_components.home_battery.devices.base import BatteryDevice

from ..simulators.faults import Fault


class Simulator(Protocol):
    """What the shared suite needs of a protocol peer."""

    async def start(self) -> None:
        """Start listening on loopback."""

    async def stop(self) -> None:
        """Stop and drop every connection."""

    async def set_fault(self, fault: Fault) -> None:
        """Switch a fault on, or off with `Fault.NONE`."""

    @property
    def write_count(self) -> int:
        """Return how many writes (or control commands) the peer has received."""

    @property
    def request_count(self) -> int:
        """Return how many requests of any kind the peer has received (for the benchmarks)."""

    def fail_write(self, index: int | None = 0) -> None:
        """Make the index-th write (or command) from now fail with the protocol's error, unapplied
        (controllable families; for the all-or-nothing tests); None: fail nothing more."""


@dataclass(frozen=True, kw_only=True)
class SupportEntry:
    """A config entry of another integration a family needs (e.g. MQTT, for its broker)."""

    domain: str
    title: str
    data: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    version: int = 1  # the integration's config entry version, so that nothing is migrated
    minor_version: int = 1


@dataclass(frozen=True, kw_only=True)
class FamilyCase:
    """One family's simulator and the values Home Assistant must show for it."""

    key: str  # the family's config-flow menu key
    title: str  # the entry title; entity ids start with its slug
    # The unique id the config flow must find; a callable gets the started simulator (devices
    # without a serial number are identified by their address, which the simulator picks).
    serial: str | Callable[[Any], str]
    make_simulator: Callable[[], Simulator]
    entry_data: Callable[[Any], dict[str, Any]]  # config data pointing at the started simulator
    # entity id suffix → (value, unit); values compared within `tolerance`.
    expected: dict[str, tuple[float | str, str | None]]
    tolerance: float = 0.11
    # Control: a valid setpoint (W, + discharge), a value beyond the limits, and how to read
    # from the simulator what the battery was told (W, common sign) and whether it is released.
    setpoint: float | None = None
    out_of_range: float | None = None
    commanded_power: Callable[[Any], float | None] | None = None
    released: Callable[[Any], bool] | None = None
    # Faults the family's peer can produce, for the offline-and-back test.
    faults: tuple[Fault, ...] = (Fault.REFUSE, Fault.DROP, Fault.GARBAGE, Fault.EXCEPTION)
    options: dict[str, Any] = field(default_factory=dict)
    # Builds the device without Home Assistant, for the benchmarks; None: the family's factory.
    make_device: Callable[[Any], BatteryDevice] | None = None
    modbus: bool = False  # run again under pymodbus 3.8.3 (marker `modbus`)
    # Seconds each poll of the offline test moves the entry's clock on (the coordinator's, which
    # is the device's `clock`) along with Home Assistant's timers: for families that measure
    # silence, tolerated outages or reconnect backoff on it. 0: the clock keeps real time.
    poll_clock_step: float = 0.0
    # Control safety (issue 12), read from the simulator: what the device itself does, never
    # what the integration believes. `forced`: the battery is under external control right now
    # (a setpoint, a forced mode or program of ours is in force on the device). `crash_bound`:
    # seconds within which a device left forced (Home Assistant gone without releasing) is back
    # in its own operation, as the README states with its source. `advance`: move the
    # simulator's own clock on by that many seconds (expiry, watchdogs, time windows).
    # `invalid_writes`: how many writes the device received that it cannot take (out of its
    # range, or to a register/field it does not have).
    forced: Callable[[Any], bool] | None = None
    crash_bound: float | None = None
    advance: Callable[[Any, float], Awaitable[None]] | None = None
    invalid_writes: Callable[[Any], int] | None = None
    # The protocol has no answer to a command (MQTT publishes): a command the device ignores
    # raises nothing; what bounds it is the command's own expiry (`crash_bound`).
    silent_writes: bool = False
    # Another model of the family (a firmware, a size, a second battery): its name in test ids.
    variant: str = ""
    # Entries of other integrations the family needs, pointing at the started simulator: the
    # shared suite sets them up before the battery, the demo writes them beside it.
    support_entries: Callable[[Any], list[SupportEntry]] | None = None
    # Test-only tuning of Home Assistant around each shared test (e.g. fast MQTT reconnects).
    test_patches: Callable[[], AbstractContextManager[Any]] | None = None

    def unique_id(self, sim: Any) -> str:
        """Return the unique id the config flow must find for this started simulator."""
        return self.serial(sim) if callable(self.serial) else self.serial


def family_params(cases: Iterable[FamilyCase]) -> list[Any]:
    """Parameters for the `case` fixture: one per family, Modbus families marked `modbus`."""
    return [
        pytest.param(
            case,
            id=f"{case.key}-{case.variant}" if case.variant else case.key,
            marks=[pytest.mark.modbus] if case.modbus else [],
        )
        for case in cases
    ]


@contextlib.asynccontextmanager
async def family_simulator(hass: HomeAssistant, case: FamilyCase) -> AsyncIterator[Any]:
    """Start the family's simulator on loopback and the integrations it needs (MQTT and its
    broker); stop them again, batteries first: they hand control back through them."""
    simulator = case.make_simulator()
    await simulator.start()
    with case.test_patches() if case.test_patches else contextlib.nullcontext():
        support_entries = []
        for support in case.support_entries(simulator) if case.support_entries else []:
            support_entry = MockConfigEntry(
                domain=support.domain,
                title=support.title,
                data=support.data,
                options=support.options,
                version=support.version,
                minor_version=support.minor_version,
            )
            support_entry.add_to_hass(hass)
            assert await hass.config_entries.async_setup(support_entry.entry_id)
            support_entries.append(support_entry)
        await hass.async_block_till_done()
        try:
            yield simulator
        finally:
            if support_entries:
                for config_entry in hass.config_entries.async_loaded_entries(DOMAIN):
                    await hass.config_entries.async_unload(config_entry.entry_id)
                for support_entry in support_entries:
                    await hass.config_entries.async_unload(support_entry.entry_id)
            await simulator.stop()


def _cases() -> list[FamilyCase]:
    from .deye import CASE as DEYE, SOLARMAN_CASE as DEYE_SOLARMAN
    from .huawei import CASE as HUAWEI
    from .mqtt import CASE as MQTT
    from .plasmatronics import CASE as PLASMATRONICS
    from .pylontech_can import CASE as PYLONTECH_CAN
    from .sessy import CASE as SESSY
    from .sma import CASE as SMA
    from .sonnen import CASE as SONNEN
    from .victron import CASE as VICTRON

    return [
        VICTRON,
        SONNEN,
        SESSY,
        PLASMATRONICS,
        PYLONTECH_CAN,
        DEYE,
        DEYE_SOLARMAN,
        MQTT,
        HUAWEI,
        SMA,
    ]


CASES: list[FamilyCase] = _cases()


def _variants() -> list[FamilyCase]:
    from .deye import VARIANTS as DEYE
    from .pylontech_can import V1_3_CASE
    from .sessy import LOW_POWER_CASE, OLD_FIRMWARE_CASE
    from .sma import VARIANTS as SMA
    from .victron import VARIANTS as VICTRON

    return [*VICTRON, OLD_FIRMWARE_CASE, LOW_POWER_CASE, V1_3_CASE, *DEYE, *SMA]


# Other models of the families, run by the shared suites beside the families' own cases.
VARIANTS: list[FamilyCase] = _variants()
