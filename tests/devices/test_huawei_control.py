"""Huawei control safety and readings: the real client against the simulator, without Home
Assistant (hold, release, all-or-nothing, the crash bound, blocked states, mode read-back)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from custom_components.home_battery.devices.huawei import (
    CONTROL_EXPIRY_SECONDS,
    CONTROL_REFRESH_SECONDS,
    FORCIBLE_PERIOD_MINUTES,
    HuaweiDevice,
)
from custom_components.home_battery.devices.model import (
    ControlBlockedError,
    DeviceError,
    DeviceRejectedError,
    InvalidValueError,
    Key,
    Mode,
)

from ..simulators.faults import Fault
from ..simulators.huawei import (
    COMMAND,
    MAX_CHARGE,
    MAX_DISCHARGE,
    STOP,
    TIME_OF_USE_LUNA2000,
    WORKING_MODE,
    HuaweiSimulator,
)
from .huawei_peer import Factory, make, ready, sim

__all__ = ["make", "sim"]  # fixtures


async def test_readings(sim: HuaweiSimulator, make: Factory) -> None:
    """Battery temperature from 37022; the exported energy's magnitude where a meter reports it
    negative (huawei_solar #54)."""
    sim.export_sign = -1
    sim.update(0)
    device = make(password=None)
    await device.connect()
    state = await device.read()
    assert state[Key.BATTERY_TEMPERATURE] == 25.3
    assert state[Key.GRID_ENERGY_EXPORTED] == 3210.98
    assert state[Key.OPERATING_MODE] == Mode.AUTO


async def test_hold_sets_both_maxima_to_zero_and_release_restores_them(
    sim: HuaweiSimulator, make: Factory
) -> None:
    """0 W: no forcible command, maximum charging and discharging power 0 (huawei_solar #574,
    evcc "hold"): the battery rests with PV to spare. Release restores the user's own maxima."""
    sim.user_sets(MAX_CHARGE, 2000)
    sim.user_sets(MAX_DISCHARGE, 3000)
    device = make()
    await ready(device)
    assert sim.battery_power() == -2000  # PV surplus charges it, within the user's maximum
    await device.set_power_setpoint(0)
    assert sim.held
    assert sim.battery_power() == 0
    assert sim.forcible_power() is None
    assert (await device.read())[Key.OPERATING_MODE] == Mode.MANUAL
    await device.set_mode(Mode.AUTO)
    assert sim.bank.get_32(MAX_CHARGE, signed=False) == 2000
    assert sim.bank.get_32(MAX_DISCHARGE, signed=False) == 3000
    assert not sim.forced


async def test_setpoint_after_hold_restores_the_maxima_first(
    sim: HuaweiSimulator, make: Factory
) -> None:
    """A forcible command is capped by the maxima: leaving a hold puts the user's back first."""
    device = make()
    await ready(device)
    await device.set_power_setpoint(0)
    await device.set_power_setpoint(1500)
    addresses = [r.address for r in sim.peer.writes]
    assert addresses[-6:] == [MAX_CHARGE, MAX_DISCHARGE, 47249, 47083, 47246, COMMAND]
    assert sim.battery_power() == 1500


async def test_release_restores_exactly_the_users_working_mode(
    sim: HuaweiSimulator, make: Factory
) -> None:
    """A user in time of use stays in time of use: `auto` never writes 2 over it."""
    sim.user_sets(WORKING_MODE, TIME_OF_USE_LUNA2000)
    device = make()
    await ready(device)
    await device.set_mode("fully_fed_to_grid")
    assert sim.bank.get_u16(WORKING_MODE) == 4
    assert (await device.read())[Key.OPERATING_MODE] == "fully_fed_to_grid"
    await device.set_power_setpoint(-1000)  # manual puts the user's working mode back first
    assert sim.bank.get_u16(WORKING_MODE) == TIME_OF_USE_LUNA2000
    await device.set_mode(Mode.AUTO)
    assert sim.bank.get_u16(WORKING_MODE) == TIME_OF_USE_LUNA2000
    assert not sim.forced
    assert not [r for r in sim.peer.writes if r.address == WORKING_MODE and r.values == [2]]


async def test_release_writes_only_what_differs(sim: HuaweiSimulator, make: Factory) -> None:
    """Releasing a setpoint stops the command and puts back the forcible parameters only."""
    device = make()
    await ready(device)
    await device.set_power_setpoint(2000)
    before = len(sim.peer.writes)
    await device.set_mode(Mode.AUTO)
    released = [(r.address, r.values) for r in sim.peer.writes[before:]]
    assert released == [(COMMAND, [STOP]), (47249, [0, 0]), (47083, [0])]
    assert not sim.forced
    assert not device.control_active


async def test_release_from_the_stored_record_alone(sim: HuaweiSimulator, make: Factory) -> None:
    """A start after a crash: a new client with only the stored record restores the user's
    settings."""
    sim.user_sets(WORKING_MODE, TIME_OF_USE_LUNA2000)
    first = make()
    await ready(first)
    await first.set_power_setpoint(0)
    record = first.control_record()
    assert record is not None
    await first.close()  # killed: nothing released
    assert sim.forced
    second = make()
    await second.connect()
    second.adopt_control_record(record)
    await second.release_control()
    assert not sim.forced
    assert sim.bank.get_u16(WORKING_MODE) == TIME_OF_USE_LUNA2000


async def test_crash_leaves_the_battery_forced_for_one_period_at_most(
    sim: HuaweiSimulator, make: Factory
) -> None:
    """Without refresh the inverter ends the forcible command by itself within its period."""
    assert CONTROL_EXPIRY_SECONDS == FORCIBLE_PERIOD_MINUTES * 60
    assert CONTROL_REFRESH_SECONDS <= CONTROL_EXPIRY_SECONDS / 4
    device = make()
    await ready(device)
    await device.set_power_setpoint(2000)
    await device.close()  # Home Assistant is gone
    sim.advance(CONTROL_EXPIRY_SECONDS - 1)
    assert sim.forced
    sim.advance(1)
    assert not sim.forced


async def test_refresh_keeps_the_command_running(sim: HuaweiSimulator, make: Factory) -> None:
    """Each refresh starts the period again."""
    device = make()
    await ready(device)
    await device.set_power_setpoint(-1000)
    for _ in range(10):
        sim.advance(CONTROL_REFRESH_SECONDS)
        await device.refresh_control()
    assert sim.forcible_power() == -1000


async def test_expired_command_is_followed(sim: HuaweiSimulator, make: Factory) -> None:
    """The inverter ended the command: the read-back says so and control counts as released."""
    device = make()
    await ready(device)
    await device.set_power_setpoint(1000)
    sim.advance(CONTROL_EXPIRY_SECONDS + 1)
    state = await device.read()
    assert state[Key.OPERATING_MODE] == Mode.AUTO
    assert device.reconcile(state) is not None
    assert not device.control_active


async def test_user_changes_working_mode_during_control(
    sim: HuaweiSimulator, make: Factory
) -> None:
    """A working mode changed in the app while ours is set: the device is followed."""
    device = make()
    await ready(device)
    await device.set_mode("time_of_use")
    state = await device.read()
    assert device.reconcile(state) is None
    sim.user_sets(WORKING_MODE, 2)
    state = await device.read()
    assert device.reconcile(state) is not None
    assert not device.control_active


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(lambda d: d.set_power_setpoint(2000), id="discharge"),
        pytest.param(lambda d: d.set_power_setpoint(-1500), id="charge"),
        pytest.param(lambda d: d.set_power_setpoint(0), id="hold"),
        pytest.param(lambda d: d.set_mode("fully_fed_to_grid"), id="fully_fed_to_grid"),
    ],
)
async def test_every_failed_step_leaves_nothing_forced(
    sim: HuaweiSimulator, make: Factory, action: Callable[[HuaweiDevice], Awaitable[None]]
) -> None:
    """All-or-nothing: whichever write of an action fails, the inverter is back in the user's
    own operation afterwards, or the client knows that it may not be."""
    sim.user_sets(WORKING_MODE, TIME_OF_USE_LUNA2000)
    device = make()
    await ready(device)
    before = len(sim.peer.writes)
    await action(device)
    steps = len(sim.peer.writes) - before
    await device.set_mode(Mode.AUTO)
    assert steps >= 1
    for step in range(steps):
        sim.fail_write(step)
        with pytest.raises(DeviceRejectedError):
            await action(device)
        assert not sim.forced or device.control_active, step
        assert not device.control_active, step  # the roll-back worked
    assert sim.bank.get_u16(WORKING_MODE) == TIME_OF_USE_LUNA2000
    assert sim.invalid_writes == 0


async def test_half_done_action_stays_known(sim: HuaweiSimulator, make: Factory) -> None:
    """The command reached the inverter but its answer was lost (the link broke): the client
    keeps counting the battery as controlled until a release went through."""
    device = make()
    await ready(device)
    await device.set_mode("time_of_use")
    sim.lose_answer_at, sim.fault_after_lost_answer = COMMAND, Fault.DROP
    with pytest.raises(DeviceError):
        await device.set_power_setpoint(1000)  # the roll-back cannot get through either
    await sim.set_fault(Fault.NONE)
    assert sim.forcible_power() == 1000  # it runs, though the client saw no answer
    assert device.control_active
    state = await device.read()
    assert device.reconcile(state) is None
    assert device.control_active
    await device.release_control()
    assert not sim.forced


async def test_without_battery_control_is_refused(sim: HuaweiSimulator, make: Factory) -> None:
    """No battery (47000 and 47089 are 0): control is refused before anything is written."""
    sim.bank.set_u16(47000, 0)
    device = make()
    await ready(device)
    with pytest.raises(ControlBlockedError) as err:
        await device.set_power_setpoint(1000)
    assert err.value.reason == "huawei_no_battery"
    assert sim.peer.writes == []


async def test_maximum_of_zero_blocks_that_direction(sim: HuaweiSimulator, make: Factory) -> None:
    """The user's maximum charging power is 0: a charge would do nothing, so it is refused;
    discharging still works."""
    sim.user_sets(MAX_CHARGE, 0)
    device = make()
    await ready(device)
    with pytest.raises(ControlBlockedError) as err:
        await device.set_power_setpoint(-1000)
    assert err.value.reason == "huawei_power_limit_zero"
    assert sim.peer.writes == []
    await device.set_power_setpoint(1000)
    assert sim.forcible_power() == 1000


async def test_setpoint_bounds_follow_the_users_maxima(sim: HuaweiSimulator, make: Factory) -> None:
    """The setpoint stays within the user's own maxima (the inverter would cap it silently)."""
    sim.user_sets(MAX_DISCHARGE, 3000)
    device = make()
    await ready(device)
    assert device.power_limits() == (-2500, 3000)
    with pytest.raises(InvalidValueError):
        await device.set_power_setpoint(4000)
    await device.set_power_setpoint(0)  # held: the bounds stay the user's
    await device.read()
    assert device.power_limits() == (-2500, 3000)
    assert sim.invalid_writes == 0


async def test_refused_battery_model_means_no_battery(sim: HuaweiSimulator, make: Factory) -> None:
    """A model without the product-model registers answers exception 2: no battery. The setup
    probe finds it, and says so in the diagnostics."""
    del sim.bank.words[47000]  # and 47089 (unit 2) reads 0
    device = make()
    await ready(device)
    assert device.missing_data == ["battery_model (main: 47000)"]
    with pytest.raises(ControlBlockedError):
        await device.set_mode("fully_fed_to_grid")
    assert sim.peer.writes == []


@pytest.mark.parametrize(
    ("options", "missing", "absent"),
    [
        pytest.param(
            {"unit_temperature": False},
            ["battery_unit_1 (main: 37022)"],
            {Key.BATTERY_TEMPERATURE},
            id="no-unit-temperature",
        ),
        pytest.param(
            {"meter": False},
            ["meter (main: 37113, 37119, 37121)"],
            {Key.GRID_POWER, Key.GRID_ENERGY_EXPORTED, Key.GRID_ENERGY_IMPORTED, Key.LOAD_POWER},
            id="no-meter",
        ),
        pytest.param(
            {"battery": False},
            [
                "battery (main: 37046, 37048, 37758, 37760, 37762, 37763, 37764, 37765, 37780, "
                "37782)",
                "battery_2_model (main: 47089)",
                "battery_model (main: 47000)",
                "battery_settings (main: 47075, 47077, 47083, 47086, 47100, 47246, 47247, 47249)",
                "battery_unit_1 (main: 37022)",
            ],
            {Key.STATE_OF_CHARGE, Key.BATTERY_POWER, Key.CAPACITY, Key.BATTERY_TEMPERATURE},
            id="no-battery",
        ),
    ],
)
async def test_a_block_the_model_lacks_leaves_only_its_values_out(
    make: Factory, options: dict[str, bool], missing: list[str], absent: set[str]
) -> None:
    """Models without a battery, a meter or unit 1's temperature: setup and polls work, the
    probe lists what is missing, and only those values are absent."""
    sim = HuaweiSimulator(startup_silence=0, **options)
    await sim.start()
    try:
        device = make(peer=sim)
        await ready(device)
        assert device.missing_data == missing
        before = sim.request_count
        state = await device.read()
        assert not absent & set(state)
        assert Key.PV_POWER in state
        assert sim.request_count - before == len(device.registers.blocks)
        if not options.get("battery", True):
            with pytest.raises(ControlBlockedError):
                await device.set_mode("fully_fed_to_grid")
    finally:
        await sim.stop()
