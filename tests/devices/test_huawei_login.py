"""Huawei's installer login, heartbeat and busy retries: the real client against the simulator
over a real socket, without Home Assistant."""

from __future__ import annotations

import asyncio

import pytest

from custom_components.home_battery.devices.huawei_login import (
    LOGIN_REFUSED,
    PASSWORD_REQUIRED,
    challenge_request,
    keyed_answer,
    login_request,
    parse_challenge,
    parse_login,
)
from custom_components.home_battery.devices.model import (
    DeviceAuthError,
    DeviceDataError,
    DevicePermissionError,
    DeviceRejectedError,
)

from ..simulators.huawei import HEARTBEAT, PASSWORD, SESSION_TIMEOUT, HuaweiSimulator
from .huawei_peer import Factory, make, ready, sim

__all__ = ["make", "sim"]  # fixtures

pytestmark = [pytest.mark.modbus, pytest.mark.usefixtures("socket_enabled")]


def _logins(sim: HuaweiSimulator) -> list[int]:
    """The 0x41 sub-commands the simulator received, in order."""
    return [r.address for r in sim.peer.requests if r.function == 0x41]


async def test_login_on_connect(sim: HuaweiSimulator, make: Factory) -> None:
    """Connecting reads the identity and logs in: challenge (0x24), then the keyed answer."""
    device = make()
    identity = await device.connect()
    assert identity.serial_number == sim.serial
    assert _logins(sim) == [0x24, 0x25]
    assert sim.logins == 1
    assert sim.logged_in
    assert device.session.logged_in


async def test_wrong_password_is_an_auth_error_sent_once(
    sim: HuaweiSimulator, make: Factory
) -> None:
    """A refused password raises DeviceAuthError, and is not sent again (five refusals lock the
    installer account for ten minutes)."""
    device = make(password="wrong1")
    with pytest.raises(DeviceAuthError):
        await device.connect()
    with pytest.raises(DeviceAuthError):
        await device.connect()
    assert _logins(sim) == [0x24, 0x25]
    await device.read()  # reading needs no login
    with pytest.raises(DeviceAuthError):
        await device.set_power_setpoint(1000)  # a write needs the login: still not sent again
    assert _logins(sim) == [0x24, 0x25]
    assert not sim.forced


async def test_five_wrong_passwords_lock_the_account(sim: HuaweiSimulator, make: Factory) -> None:
    """The simulator locks the account like the inverter: the right password fails meanwhile."""
    for attempt in range(5):
        with pytest.raises(DeviceAuthError):
            await make(password=f"wrong{attempt}").connect()
    assert sim.locked_out
    with pytest.raises(DeviceAuthError):
        await make().connect()
    sim.advance(601)
    await make().connect()
    assert sim.logged_in


async def test_without_password_reads_work_and_writes_need_it(
    sim: HuaweiSimulator, make: Factory
) -> None:
    """Without a password nothing is logged in; reading works; a refused write says that the
    installer password is needed, and leaves nothing forced."""
    device = make(password=None)
    await ready(device)
    assert _logins(sim) == []
    state = await device.read()
    assert state["state_of_charge"] == 55.0
    with pytest.raises(DevicePermissionError) as err:
        await device.set_power_setpoint(1000)
    assert err.value.reason == PASSWORD_REQUIRED
    assert err.value.code == 0x80
    assert not device.control_active
    assert not sim.forced


async def test_login_accepted_but_writes_refused(sim: HuaweiSimulator, make: Factory) -> None:
    """A login that does not give write access (Modbus TCP "restricted" on the dongle) is a
    permission error of its own, after one more login."""
    sim.restricted = True
    device = make()
    await ready(device)
    with pytest.raises(DevicePermissionError) as err:
        await device.set_power_setpoint(1000)
    assert err.value.reason == LOGIN_REFUSED
    assert sim.logins == 2  # logged in again once, then gave up
    assert not device.control_active
    assert not sim.forced


async def test_session_expired_mid_control_logs_in_again(
    sim: HuaweiSimulator, make: Factory
) -> None:
    """The inverter ended the login (no heartbeat): the refused refresh logs in again and is
    written; control goes on."""
    device = make(heartbeat_interval=3600)
    await ready(device)
    await device.set_power_setpoint(1500)
    sim.advance(SESSION_TIMEOUT + 1)
    assert not sim.logged_in
    assert sim.forcible_power() == 1500  # the 5-minute command still runs
    await device.refresh_control()
    assert sim.logins == 2
    assert sim.forcible_power() == 1500
    assert device.control_active


async def test_connection_lost_mid_control_logs_in_before_writing(
    sim: HuaweiSimulator, make: Factory
) -> None:
    """A new connection has no login: it logs in before its first write, not after a refusal."""
    device = make(heartbeat_interval=3600)
    await ready(device)
    await device.set_power_setpoint(-1000)
    refused = sum(1 for r in sim.peer.writes)
    await sim.peer.drop_connections()
    await asyncio.sleep(0.05)  # the client sees the connection close
    await device.read()  # reconnects; reading needs no login
    assert sim.logins == 1
    await device.refresh_control()
    assert sim.logins == 2
    assert _logins(sim)[-2:] == [0x24, 0x25]
    assert len(sim.peer.writes) == refused + 4  # the four command writes, none refused
    assert sim.forcible_power() == -1000


async def test_heartbeat_keeps_the_login_while_control_is_active(
    sim: HuaweiSimulator, make: Factory
) -> None:
    """While control is active 49999 ← 1 (function code 6) keeps the login open; releasing
    stops it."""
    device = make(heartbeat_interval=0.05)
    await ready(device)
    await device.set_power_setpoint(1000)
    await asyncio.sleep(0.3)
    beats = [r for r in sim.peer.writes if r.address == HEARTBEAT]
    assert beats
    assert {(r.function, tuple(r.values)) for r in beats} == {(6, (1,))}
    assert sim.heartbeats == len(beats)
    await device.set_mode("auto")
    count = sim.heartbeats
    await asyncio.sleep(0.2)
    assert sim.heartbeats == count
    assert sim.logins == 1


async def test_heartbeat_logs_in_again_after_a_lost_session(
    sim: HuaweiSimulator, make: Factory
) -> None:
    """A heartbeat refused because the session ended logs in again."""
    device = make(heartbeat_interval=0.05)
    await ready(device)
    await device.set_power_setpoint(1000)
    sim.advance(SESSION_TIMEOUT + 1)
    await asyncio.sleep(0.3)
    assert sim.logins == 2
    assert sim.logged_in


async def test_busy_answers_are_tried_again(sim: HuaweiSimulator, make: Factory) -> None:
    """ "Slave device busy" (0x06) is tried again after a pause, three tries in all."""
    device = make()
    await ready(device)
    sim.busy_next(2)
    assert (await device.read())["state_of_charge"] == 55.0
    sim.busy_next(2)
    await device.set_power_setpoint(800)  # writes too
    assert sim.forcible_power() == 800
    sim.busy_next(3)
    with pytest.raises(DeviceRejectedError) as err:
        await device.read()
    assert err.value.code == 0x06


async def test_random_busy_answers_do_not_disturb_control(make: Factory) -> None:
    """With a tenth of all requests answered busy (seeded), polls and control all succeed."""
    sim = HuaweiSimulator(startup_silence=0, busy_rate=0.1, seed=7)
    await sim.start()
    try:
        device = make(peer=sim)
        await ready(device)
        for watts in (1000, -2000, 0, 2500, -500):
            await device.read()
            await device.set_power_setpoint(watts)
        await device.set_mode("auto")
        assert not sim.forced
        assert sim.invalid_writes == 0
        assert any(r.address == -1 for r in sim.peer.requests)  # busy answers happened
    finally:
        await sim.stop()


async def test_single_registers_with_function_code_6(sim: HuaweiSimulator, make: Factory) -> None:
    """16-bit registers are written with function code 6, 32-bit values with 16."""
    device = make()
    await ready(device)
    await device.set_power_setpoint(2000)
    assert [(r.function, r.address) for r in sim.peer.writes] == [
        (16, 47249),
        (6, 47083),
        (6, 47246),
        (6, 47100),
    ]


async def test_login_function_unknown_writes_without_login(
    sim: HuaweiSimulator, make: Factory
) -> None:
    """A connection that does not know function 0x41 (and needs no login) is written to directly."""
    sim.login_supported = False
    sim.require_login = False
    device = make()
    await ready(device)
    await device.set_power_setpoint(1200)
    assert sim.forcible_power() == 1200


def test_login_frames() -> None:
    """The request and answer layouts [HSL `modbus_pdu.py`]."""
    assert challenge_request() == bytes([0x24, 1, 0])
    challenge = bytes(range(16))
    assert parse_challenge(bytes([0x24, 17, *challenge, 0])) == challenge
    with pytest.raises(DeviceDataError):
        parse_challenge(bytes([0x24, 3, 1, 2, 3]))
    ours = bytes(range(16, 32))
    request = login_request("installer", PASSWORD, challenge, ours)
    mac = keyed_answer(PASSWORD, challenge)
    assert request == bytes([0x25, 16 + 1 + 9 + 1 + 32, *ours, 9, *b"installer", 32, *mac])
    proof = keyed_answer(PASSWORD, ours)
    assert parse_login(bytes([0x25, 36, 0, 32, *proof, 0, 0]), PASSWORD, ours)
    assert not parse_login(bytes([0x25, 2, 1, 0]), PASSWORD, ours)
    with pytest.raises(DeviceDataError):  # an answer that does not know the password
        parse_login(bytes([0x25, 36, 0, 32, *mac, 0, 0]), PASSWORD, ours)
    with pytest.raises(DeviceDataError):
        parse_login(bytes([0x26, 0]), PASSWORD, ours)
