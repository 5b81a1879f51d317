"""Huawei SUN2000 hybrid inverter with a LUNA2000 battery, over Modbus TCP.

The inverter (or its SDongle) serves one Modbus TCP client at a time and closes the older
connection when another client connects; it ignores requests for about a second after a
connection opens and wants a short pause between requests. So the client keeps one long-lived
connection, waits after connecting and between requests, and counts how often its idle
connection was taken (the Home Assistant layer turns repeated takeovers into a repair issue).

Control: the power setpoint is a forcible charge/discharge command for a period (47246 time
mode, 47083 minutes, 47247/47249 W, 47100 charge/discharge), written again well before the
period ends, so a Home Assistant that disappears leaves the battery forced for one period at
most. Releasing stops the command (47100 ← 0) and the battery returns to its storage working
mode (47086), which the mode select offers too: `auto` is "maximise self-consumption".
Writes to 47xxx need the installer login on many connections; the device then answers with
exception 0x80, reported as a permission error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .base import BatteryDevice
from .modbus import DataType, ModbusTcpTransport, Register, RegisterDevice
from .model import (
    BatteryState,
    Capabilities,
    DeviceIdentity,
    DevicePermissionError,
    DeviceRejectedError,
    Key,
    Mode,
    OperatingState,
    StateValue,
)

DEFAULT_PORT = 502  # some firmware serves 6607 instead
DEFAULT_UNIT_ID = 1  # 1 through an SDongle, 0 through the inverter's own access point
CONNECT_DELAY = 1.5  # huawei-solar-lib waits 1.5 s after connecting, evcc 1 s
REQUEST_PAUSE = 0.05
TIMEOUT = 5.0  # the SDongle can answer slowly
MAX_REGISTERS_PER_READ = 64
MAX_GAP = 16  # unused registers between two values that still go into one read

# A forcible command runs for this long unless written again; refreshed well within it.
FORCIBLE_PERIOD_MINUTES = 5
CONTROL_REFRESH_SECONDS = 60.0

TIME_OF_USE = "time_of_use"
FULLY_FED_TO_GRID = "fully_fed_to_grid"

# 47086 storage working mode ↔ mode select: `auto` is maximise self-consumption (2); time of use
# is 3 for LG batteries and 5 for LUNA2000, so 5 is written. 0 (adaptive) and 1 (fixed
# periods) are shown as unknown: they need settings this integration does not make.
_WORKING_MODE_NAMES = {
    0: "adaptive",
    1: "fixed_charge_discharge",
    2: Mode.AUTO,
    3: TIME_OF_USE,
    4: FULLY_FED_TO_GRID,
    5: TIME_OF_USE,
}
_WORKING_MODE_VALUES = {Mode.AUTO: 2, TIME_OF_USE: 5, FULLY_FED_TO_GRID: 4}

_STOP, _CHARGE, _DISCHARGE = 0, 1, 2  # 47100
_TIME_MODE = 0  # 47246: the command lasts 47083 minutes
# Exception codes Huawei answers to writes that need the installer login: 0x80 "permission
# denied", and on some firmware 0x02 (huawei-solar-lib treats both as a permission problem).
_PERMISSION_CODES = (0x80, 0x02)

_RUNNING_STATUS = {0: "offline", 1: "standby", 2: "running", 3: "fault", 4: "sleep"}
_OPERATING_STATE = {
    "offline": OperatingState.OFFLINE,
    "standby": OperatingState.STANDBY,
    "sleep": OperatingState.STANDBY,
    "fault": OperatingState.FAULT,
}
IDLE_BELOW_W = 10

REGISTERS: tuple[Register, ...] = (
    Register(key="model", address=30000, data_type=DataType.STRING, length=15, poll=False),
    Register(key="serial", address=30015, data_type=DataType.STRING, length=10, poll=False),
    Register(key=Key.PV_POWER, address=32064, data_type=DataType.I32),
    Register(key="active_power", address=32080, data_type=DataType.I32),
    Register(key=Key.MAX_CHARGE_POWER, address=37046, data_type=DataType.U32),
    Register(key=Key.MAX_DISCHARGE_POWER, address=37048, data_type=DataType.U32),
    # The meter reports + while exporting.
    Register(key=Key.GRID_POWER, address=37113, data_type=DataType.I32, sign=-1),
    Register(key=Key.GRID_ENERGY_EXPORTED, address=37119, data_type=DataType.I32, scale=0.01),
    Register(key=Key.GRID_ENERGY_IMPORTED, address=37121, data_type=DataType.I32, scale=0.01),
    Register(key=Key.CAPACITY, address=37758, data_type=DataType.U32, scale=0.001),
    Register(key=Key.STATE_OF_CHARGE, address=37760, scale=0.1),
    Register(key="running_status", address=37762, options=_RUNNING_STATUS),
    Register(key=Key.BATTERY_VOLTAGE, address=37763, scale=0.1),
    # Power and (we assume, like the power) current are + while charging on the wire.
    Register(key=Key.BATTERY_CURRENT, address=37764, data_type=DataType.I16, scale=0.1, sign=-1),
    Register(key=Key.BATTERY_POWER, address=37765, data_type=DataType.I32, sign=-1),
    Register(key=Key.ENERGY_CHARGED, address=37780, data_type=DataType.U32, scale=0.01),
    Register(key=Key.ENERGY_DISCHARGED, address=37782, data_type=DataType.U32, scale=0.01),
    Register(key="forcible_period", address=47083, poll=False),
    Register(key="working_mode", address=47086),
    Register(key="forcible_command", address=47100),
    Register(key="forcible_mode", address=47246, poll=False),
    Register(key="forcible_charge_power", address=47247, data_type=DataType.U32, poll=False),
    Register(key="forcible_discharge_power", address=47249, data_type=DataType.U32, poll=False),
)

_COPIED = (
    Key.STATE_OF_CHARGE,
    Key.BATTERY_POWER,
    Key.BATTERY_VOLTAGE,
    Key.BATTERY_CURRENT,
    Key.PV_POWER,
    Key.GRID_POWER,
    Key.GRID_ENERGY_IMPORTED,
    Key.GRID_ENERGY_EXPORTED,
    Key.CAPACITY,
    Key.ENERGY_CHARGED,
    Key.ENERGY_DISCHARGED,
    Key.MAX_CHARGE_POWER,
    Key.MAX_DISCHARGE_POWER,
)


@dataclass(frozen=True, kw_only=True)
class HuaweiConfig:
    """Where the inverter (or its SDongle) is."""

    host: str
    port: int = DEFAULT_PORT
    unit_id: int = DEFAULT_UNIT_ID
    timeout: float = TIMEOUT


class HuaweiDevice(BatteryDevice):
    """A SUN2000 inverter with a LUNA2000 battery."""

    capabilities = Capabilities(
        power_setpoint=True,
        modes=(Mode.AUTO, Mode.MANUAL, TIME_OF_USE, FULLY_FED_TO_GRID),
        control_refresh_interval=CONTROL_REFRESH_SECONDS,
        energy_counters=frozenset({Key.ENERGY_CHARGED, Key.ENERGY_DISCHARGED}),
    )

    def __init__(self, config: HuaweiConfig) -> None:
        """Prepare the register plan; nothing is sent until `connect`."""
        super().__init__()
        self.config = config
        self.transport = ModbusTcpTransport(
            host=config.host,
            port=config.port,
            timeout=config.timeout,
            connect_delay=CONNECT_DELAY,
            request_pause=REQUEST_PAUSE,
        )
        self.registers = RegisterDevice(
            self.transport,
            {"main": config.unit_id},
            REGISTERS,
            max_count=MAX_REGISTERS_PER_READ,
            max_gap=MAX_GAP,
        )

    @property
    def control_active(self) -> bool:
        """Return True while a forcible command of ours runs.

        The working modes are settings the user chose, kept by the inverter: they are neither
        refreshed nor undone when Home Assistant stops.
        """
        return self.setpoint is not None

    @property
    def connection_takeovers(self) -> int:
        """Return how often another client took the inverter's only Modbus connection."""
        return self.transport.idle_drops

    async def connect(self) -> DeviceIdentity:
        """Read the model and serial number (one request, after the connect delay)."""
        async with self.transport.lock:
            values = await self.registers.read_keys("model", "serial")
        serial, model = str(values["serial"] or ""), str(values["model"] or "")
        if not serial:
            raise DeviceRejectedError(
                "the inverter reports no serial number", unit_id=self.config.unit_id
            )
        self.identity = DeviceIdentity(
            serial_number=serial, manufacturer="Huawei", model=model or "SUN2000"
        )
        return self.identity

    async def read(self) -> BatteryState:
        """Read every polled block and map it onto the common model."""
        async with self.transport.lock:
            values = await self.registers.read_blocks(self.registers.blocks)
        self._update_power_limits(
            values.get(Key.MAX_CHARGE_POWER), values.get(Key.MAX_DISCHARGE_POWER)
        )
        state: BatteryState = {k: v for k in _COPIED if (v := values.get(k)) is not None}
        active, grid = values.get("active_power"), state.get(Key.GRID_POWER)
        if isinstance(active, int) and isinstance(grid, (int, float)):
            # What the inverter delivers plus what the grid brings is what the house uses.
            state[Key.LOAD_POWER] = active + grid
        capacity, soc = state.get(Key.CAPACITY), state.get(Key.STATE_OF_CHARGE)
        if isinstance(capacity, (int, float)) and isinstance(soc, (int, float)):
            state[Key.STORED_ENERGY] = round(capacity * soc / 100, 3)
        status = values.get("running_status")
        state[Key.OPERATING_STATE] = _operating_state(status, state.get(Key.BATTERY_POWER))
        state[Key.ALARM] = status == "fault"
        state[Key.OPERATING_MODE] = (
            Mode.MANUAL
            if self.setpoint is not None
            else _WORKING_MODE_NAMES.get(_int(values.get("working_mode")), "unknown")
        )
        if self.setpoint is not None:
            state[Key.POWER_SETPOINT] = self.setpoint
        return state

    async def set_mode(self, mode: str) -> None:
        """Switch modes; `auto` also sets the working mode to maximise self-consumption."""
        await super().set_mode(mode)
        if mode == Mode.AUTO:
            async with self.transport.lock:
                await self._ensure_working_mode(Mode.AUTO)

    async def _write_setpoint(self, watts: float) -> None:
        # 0 W is a forcible charge at 0 W: the battery holds, neither charging nor discharging.
        power_key, command = (
            ("forcible_discharge_power", _DISCHARGE)
            if watts > 0
            else ("forcible_charge_power", _CHARGE)
        )
        async with self.transport.lock:
            await self._write(
                {
                    power_key: abs(watts),
                    "forcible_period": FORCIBLE_PERIOD_MINUTES,
                    "forcible_mode": _TIME_MODE,
                    "forcible_command": command,
                }
            )

    async def _write_mode(self, mode: str) -> None:
        async with self.transport.lock:
            if self.setpoint is not None:
                await self._write({"forcible_command": _STOP})
            await self._ensure_working_mode(mode)

    async def _write_release(self) -> None:
        async with self.transport.lock:
            await self._write({"forcible_command": _STOP})

    async def _ensure_working_mode(self, mode: str) -> None:
        """Write the working mode unless the inverter is in it: it is kept in flash."""
        current = (await self.registers.read_keys("working_mode"))["working_mode"]
        if _WORKING_MODE_NAMES.get(_int(current)) != mode:
            await self._write({"working_mode": _WORKING_MODE_VALUES[mode]})

    async def _write(self, values: Mapping[str, float]) -> None:
        """Write with read-back; a refusal for lack of login becomes a permission error."""
        try:
            await self.registers.write_keys(values)
        except DeviceRejectedError as err:
            if err.code in _PERMISSION_CODES:
                raise DevicePermissionError(
                    "the inverter refused the write: battery control needs the installer login "
                    "on this connection",
                    unit_id=err.unit_id,
                    code=err.code,
                ) from err
            raise

    async def close(self) -> None:
        """Close the Modbus connection."""
        await self.transport.close()


def _int(value: StateValue | None) -> int:
    return value if isinstance(value, int) else -1


def _operating_state(status: StateValue | None, power: StateValue | None) -> str:
    """Map the storage running status, and while running the power's direction."""
    if isinstance(status, str) and status in _OPERATING_STATE:
        return _OPERATING_STATE[status]
    if not isinstance(power, (int, float)) or abs(power) < IDLE_BELOW_W:
        return OperatingState.IDLE
    return OperatingState.DISCHARGING if power > 0 else OperatingState.CHARGING
