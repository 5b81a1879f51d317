"""The family table: what the shared suite (tests/test_families.py) expects of every family.

A new family adds one module here with a `CASE` and one line to `CASES`; the shared suite then runs
the config flow, entity, control and fault tests over it against its simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

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


@dataclass(frozen=True, kw_only=True)
class FamilyCase:
    """One family's simulator and the values Home Assistant must show for it."""

    key: str  # the family's config-flow menu key
    title: str  # the entry title; entity ids start with its slug
    serial: str  # the unique id the config flow must find
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


def _cases() -> list[FamilyCase]:
    from .victron import CASE as VICTRON

    return [VICTRON]


CASES: list[FamilyCase] = _cases()
