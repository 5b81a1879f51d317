"""Plasmatronics PL20/PL40/PL60/PL80 solar charge regulators, read through a PLI. Monitoring only.

The regulator keeps its live values in processor RAM, one byte per address, read one request at a
time over the PLI (see pli.py). Currents are scaled by the model (known from the software version
at address 0), voltages by the system voltage (address 93). Battery current is load − charge
(+ discharging) and battery power that current × battery voltage. Solar power is the internal
(solar) charge current × battery voltage: what the regulator delivers to the battery, which
approximates the panels' power without the regulator's losses (the PLI has no solar voltage a
running regulator can report).

Identity: the regulator has no serial number, and the port or URL it is reached at is no
identity (a regulator moved to another port, or a serial server restarted on a new one, would
become a new device). It is identified by the name its owner gives it, or else by its own
settings, which stay with the regulator wherever it is plugged in: the model and software
version (address 0), the system voltage and program (93) and the battery capacity (94) — a real
PL80 reads "PL80, 24 V, program 0, 880 Ah" (mlandauer/solar-battery-monitoring docs/settings.md).
Two regulators with the same settings need names; changing the battery capacity setting changes
the identity (a new battery is a new device, unless it has a name).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from enum import IntFlag, StrEnum

from .base import BatteryDevice
from .model import BatteryState, Capabilities, DeviceIdentity, Key, OperatingState
from .pli import PliLink

MANUFACTURER = "Plasmatronics"


class Model(StrEnum):
    """Regulator models, told apart by their software version."""

    PL20 = "PL20"
    PL40 = "PL40"
    PL60 = "PL60"
    PL80 = "PL80"


def model_of(version: int) -> Model:
    """Return the model of a software version: 0–127 PL20, 128–191 PL40, 192–210 PL60, PL80 above.

    The PLI manual gives 215–255 for the PL80 and nothing for 211–214; those count as PL80.
    """
    if version < 128:
        return Model.PL20
    if version < 192:
        return Model.PL40
    if version < 211:
        return Model.PL60
    return Model.PL80


@dataclass(frozen=True)
class CurrentScale:
    """Amps per step of the regulator's own charge (solar) and load current bytes."""

    charge: float
    load: float


# The PL80's steps are not documented; it is taken to scale like the PL60.
CURRENT_SCALES: dict[Model, CurrentScale] = {
    Model.PL20: CurrentScale(charge=0.1, load=0.1),
    Model.PL40: CurrentScale(charge=0.2, load=0.1),
    Model.PL60: CurrentScale(charge=0.4, load=0.2),
    Model.PL80: CurrentScale(charge=0.4, load=0.2),
}

# Low nibble of address 93; battery voltage bytes are scaled to a 12 V system.
SYSTEM_VOLTAGES: dict[int, int] = {0: 12, 1: 24, 2: 32, 3: 36, 4: 48}
CHARGE_STAGES: dict[int, str] = {0: "boost", 1: "equalise", 2: "absorption", 3: "float"}
IDLE_AMPS = 0.1


class ExternalFlags(IntFlag):
    """Address 207: which external shunts are fitted and their step size."""

    CHARGE_WHOLE_AMPS = 1  # else 0.1 A per step
    LOAD_WHOLE_AMPS = 2
    CHARGE_FITTED = 4
    LOAD_FITTED = 8


@dataclass(frozen=True)
class RamValue:
    """One byte of the regulator's RAM and the values it can take (others are line garbage)."""

    address: int
    plausible: Container[int] = range(256)


VERSION = RamValue(0)
# Read on every poll, one request each. Only values the entities depend on are checked for
# plausibility; the clock is shown in the diagnostics only and left out when out of range.
POLLED: dict[str, RamValue] = {
    "seconds": RamValue(46),  # 2-second ticks, 0–29
    "minutes": RamValue(47),  # minutes within the 6-minute block, 0–5
    "tenths_of_hours": RamValue(48),  # 0–239
    "battery_voltage": RamValue(50),  # 0.1 V steps at 12 V
    "system": RamValue(93, {v for v in range(256) if v & 0x0F in SYSTEM_VOLTAGES}),
    "battery_capacity": RamValue(94),
    "regulator_state": RamValue(101),
    "state_of_charge": RamValue(181, range(101)),
    "external_charge": RamValue(205),
    "external_load": RamValue(206),
    "external_flags": RamValue(207),
    "internal_charge": RamValue(213),
    "internal_load": RamValue(217),
}


def capacity_ah(raw: int) -> int:
    """Return the battery capacity setting: 20 Ah steps up to 1000 Ah, 100 Ah steps above."""
    return raw * 20 if raw <= 50 else 1000 + (raw - 50) * 100


def _external_amps(
    raw: int, flags: ExternalFlags, fitted: ExternalFlags, whole: ExternalFlags
) -> float:
    if fitted not in flags:
        return 0.0
    return float(raw) if whole in flags else raw / 10


def decode(raw: dict[str, int], model: Model) -> BatteryState:
    """Turn the polled RAM bytes into the common model."""
    system_volts = SYSTEM_VOLTAGES[raw["system"] & 0x0F]
    volts = raw["battery_voltage"] * 0.1 * system_volts / 12
    scale = CURRENT_SCALES[model]
    flags = ExternalFlags(raw["external_flags"] & 0x0F)
    solar_amps = raw["internal_charge"] * scale.charge
    charge_amps = solar_amps + _external_amps(
        raw["external_charge"], flags, ExternalFlags.CHARGE_FITTED, ExternalFlags.CHARGE_WHOLE_AMPS
    )
    load_amps = raw["internal_load"] * scale.load + _external_amps(
        raw["external_load"], flags, ExternalFlags.LOAD_FITTED, ExternalFlags.LOAD_WHOLE_AMPS
    )
    battery_amps = load_amps - charge_amps  # + discharging
    capacity_kwh = capacity_ah(raw["battery_capacity"]) * system_volts / 1000
    soc = raw["state_of_charge"]
    if battery_amps <= -IDLE_AMPS:
        operating_state = OperatingState.CHARGING
    elif battery_amps >= IDLE_AMPS:
        operating_state = OperatingState.DISCHARGING
    else:
        operating_state = OperatingState.IDLE
    state: BatteryState = {
        Key.STATE_OF_CHARGE: soc,
        Key.BATTERY_VOLTAGE: round(volts, 2),
        Key.BATTERY_CURRENT: round(battery_amps, 2),
        Key.BATTERY_POWER: round(battery_amps * volts, 1),
        Key.PV_POWER: round(solar_amps * volts, 1),
        Key.LOAD_POWER: round(load_amps * volts, 1),
        Key.CAPACITY: round(capacity_kwh, 2),
        Key.STORED_ENERGY: round(capacity_kwh * soc / 100, 2),
        Key.OPERATING_STATE: operating_state,
        # No entities; shown in the diagnostics.
        "charge_stage": CHARGE_STAGES[raw["regulator_state"] & 0x03],
        "system_voltage": system_volts,
    }
    return state | _clock(raw)


def _clock(raw: dict[str, int]) -> BatteryState:
    """Return the regulator's time of day, which it uses to close its daily counters."""
    ticks, minutes, tenths = raw["seconds"], raw["minutes"], raw["tenths_of_hours"]
    if ticks >= 30 or minutes >= 6 or tenths >= 240:
        return {}
    seconds = tenths * 360 + minutes * 60 + ticks * 2
    return {"regulator_time": f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"}


@dataclass(frozen=True, kw_only=True)
class PlasmatronicsConfig:
    """Where the PLI is: a serial device path or a pyserial URL (socket://, rfc2217://)."""

    port: str
    name: str = ""  # the owner's name for the regulator: its identity when given
    timeout: float = 1.0
    attempts: int = 3


def regulator_id(model: Model, version: int, system: int, capacity: int) -> str:
    """Return the identity a regulator's own settings give it (addresses 0, 93 and 94)."""
    volts = SYSTEM_VOLTAGES.get(system & 0x0F, 0)
    program = system >> 4
    return f"{model}-sw{version}-{volts}V-prog{program}-{capacity_ah(capacity)}Ah"


class PlasmatronicsDevice(BatteryDevice):
    """A Plasmatronics regulator behind a PLI; it takes no commands from this integration."""

    capabilities = Capabilities()

    def __init__(self, config: PlasmatronicsConfig) -> None:
        """Prepare the link; nothing is opened until `connect`."""
        super().__init__()
        self.config = config
        self.link = PliLink(
            url=config.port.strip(), timeout=config.timeout, attempts=config.attempts
        )
        self.model = Model.PL20

    async def connect(self) -> DeviceIdentity:
        """Open the link; read the software version (the model) and the identifying settings."""
        system_value = POLLED["system"]
        async with self.link.lock:
            version = await self.link.read_ram(VERSION.address)
            system = await self.link.read_ram(system_value.address, system_value.plausible)
            capacity = await self.link.read_ram(POLLED["battery_capacity"].address)
        self.model = model_of(version)
        name = self.config.name.strip()
        self.identity = DeviceIdentity(
            serial_number=name or regulator_id(self.model, version, system, capacity),
            manufacturer=MANUFACTURER,
            model=self.model,
            sw_version=str(version),
        )
        return self.identity

    async def read(self) -> BatteryState:
        """Read every polled address, one request each, and map them onto the common model."""
        async with self.link.lock:
            raw = {
                name: await self.link.read_ram(value.address, value.plausible)
                for name, value in POLLED.items()
            }
        return decode(raw, self.model)

    async def close(self) -> None:
        """Close the port."""
        await self.link.close()
