"""The installer login of a Huawei SUN2000 over Modbus TCP, and the session that carries it.

Battery settings (47xxx) are writable over most network connections (SDongle, the inverter's own
access point) only after the installer logs in; without it the inverter answers exception 0x80
"permission denied" [HSI README L97-106]. The login is Huawei's own function code 0x41 with two
sub-commands, a challenge and a keyed answer [HSL `modbus_pdu.py` `LoginRequestChallengePDU`,
`LoginPDU`; `huawei_solar.py` `login()` @a322b4d]:

1. challenge: request `41 24 01 00`; answer `41 24 11` + 16 bytes of the inverter's challenge
   (the content length 0x11 counts one more byte, which carries nothing we use);
2. login: request `41 25 L` + 16 bytes of our own challenge + `len(user) user` + `len(mac) mac`,
   with `mac = HMAC-SHA256(key=SHA-256(password), msg=inverter challenge)` and L the length of
   what follows it; answer `41 25 L failed len(mac) mac ...`: `failed` 0 is success, and then
   `mac = HMAC-SHA256(key=SHA-256(password), msg=our challenge)` proves that the inverter knows
   the password too (a mismatch is refused: something else answered).
huawei-solar-lib pauses 50 ms between the two steps [HSL `huawei_solar.py` `login()`].

The login holds for one TCP connection: a reconnect loses it [HSI #28] and the inverter ends it
when it is not kept alive, so the heartbeat register 49999 is written with 1 every 15 s while it
is needed [HSL `HEARTBEAT_REGISTER = 49999`, `bridge.py` `HEARTBEAT_INTERVAL = 15`]. How long a
session lasts without a heartbeat is not documented (unconfirmed): a write refused with 0x80
logs in again once and is repeated, as huawei-solar-lib does [HSL `bridge.py` `set()`].

Five wrong passwords in a row lock the account for 10 minutes [Huawei, SUN2000-(100KTL, 110KTL,
125KTL) User Manual, Issue 07, §7 "Man-Machine Interactions": "if five consecutive invalid
password entries are made ... the account will be locked for 10 minutes"], so a refused password
is never tried again by itself: only a new password (reauthentication) tries again.

The inverter answers "slave device busy" (exception 0x06) now and then; reads and writes are
tried again after 1 s and 2 s, three tries in all [HSL `modbus_client.py`
`RESPONSE_RETRY_STRATEGY`: `wait_exponential(multiplier=1, min=1, max=10)`,
`stop_after_attempt(3)`, `retry_on_device_busy=True`]. One register is written with function code
6, more with 16 [HSL `huawei_solar.py` `_write_registers`; evcc `huawei-sun2000.yaml` `writesingle`
for 16-bit and `writemultiple` for 32-bit registers].

References: HSL = wlcrs/huawei-solar-lib, HSI = wlcrs/huawei_solar.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
import hashlib
import hmac
import logging
import secrets
from typing import Final

from .modbus import ModbusTcpTransport
from .model import (
    DeviceAuthError,
    DeviceDataError,
    DevicePermissionError,
    DeviceRejectedError,
)

_LOGGER = logging.getLogger(__name__)

INSTALLER: Final = "installer"  # the account battery settings need [HSI README L97-106]
FUNCTION_CODE: Final = 0x41  # Huawei's own function code [HSL `modbus_pdu.py`]
CHALLENGE: Final = 0x24  # sub-command: ask for the inverter's challenge
LOGIN: Final = 0x25  # sub-command: answer it
CHALLENGE_LENGTH: Final = 16
LOGIN_STEP_PAUSE: Final = 0.05  # s between the two steps [HSL `huawei_solar.py` `login()`]
HEARTBEAT_REGISTER: Final = 49999
HEARTBEAT_INTERVAL: Final = 15.0  # s [HSL `bridge.py`]
BUSY_PAUSES: Final = (1.0, 2.0)  # s before the 2nd and 3rd try of a busy answer [HSL]

SLAVE_DEVICE_BUSY: Final = 0x06
PERMISSION_DENIED: Final = 0x80
# A refused write: 0x80, and on some firmware 0x02 [HSL `_write_registers`, HSI #587].
REFUSED_WRITE_CODES: Final = (PERMISSION_DENIED, 0x02)

# The reasons a refused write gives (translated errors and repair issues in Home Assistant).
PASSWORD_REQUIRED: Final = "huawei_installer_password_required"
LOGIN_REFUSED: Final = "huawei_installer_login"


def keyed_answer(password: str, challenge: bytes) -> bytes:
    """Return HMAC-SHA256 of `challenge` keyed with the SHA-256 of the password [HSL]."""
    key = hashlib.sha256(password.encode()).digest()
    return hmac.digest(key, challenge, "sha256")


def challenge_request() -> bytes:
    """Return the payload (after the function code) that asks for the inverter's challenge."""
    return bytes([CHALLENGE, 1, 0])


def parse_challenge(answer: bytes) -> bytes:
    """Return the inverter's 16-byte challenge from its answer (after the function code)."""
    if len(answer) < 2 + CHALLENGE_LENGTH or answer[0] != CHALLENGE or answer[1] < 16:
        raise DeviceDataError("the inverter's login challenge has an unexpected form")
    return answer[2 : 2 + CHALLENGE_LENGTH]


def login_request(user: str, password: str, inverter: bytes, ours: bytes) -> bytes:
    """Return the login payload: our challenge, the user and the keyed answer."""
    name = user.encode()
    mac = keyed_answer(password, inverter)
    content = bytes([*ours, len(name), *name, len(mac), *mac])
    return bytes([LOGIN, len(content), *content])


def parse_login(answer: bytes, password: str, ours: bytes) -> bool:
    """Return whether the inverter accepted the login; check that it knows the password too."""
    if len(answer) < 3 or answer[0] != LOGIN:
        raise DeviceDataError("the inverter's login answer has an unexpected form")
    if answer[2] != 0:
        return False
    length = answer[3] if len(answer) > 3 else 0
    if answer[4 : 4 + length] != keyed_answer(password, ours):
        raise DeviceDataError(
            "the inverter's login answer does not prove that it knows the password"
        )
    return True


class HuaweiSession:
    """The Modbus connection to one inverter with its installer login, for `RegisterDevice`.

    Reads need no login. A write logs in first when a password is set and the connection has no
    login yet; a write refused for lack of permission logs in again once and is repeated. The
    caller holds `lock` around every call, like for any register transport.
    """

    def __init__(
        self,
        transport: ModbusTcpTransport,
        unit_id: int,
        password: str | None,
        *,
        busy_pauses: tuple[float, ...] = BUSY_PAUSES,
    ) -> None:
        """Carry the requests over `transport`; `password` None: no login is tried.

        `busy_pauses`: seconds to wait before each further try of a request the inverter was too
        busy for.
        """
        self.transport = transport
        self.lock = transport.lock
        self.unit_id = unit_id
        self._password = password or None
        self._busy_pauses = busy_pauses
        self._logged_in_on: int | None = None  # the connection the login holds on
        self._refused = False  # the password was refused: never sent again

    @property
    def logged_in(self) -> bool:
        """Return True while the current connection carries our login."""
        return self._logged_in_on is not None and self._logged_in_on == self.transport.connections

    async def read(self, unit_id: int, address: int, count: int) -> list[int]:
        """Read holding registers; no login needed."""
        return await self._busy_retried(lambda: self.transport.read(unit_id, address, count))

    async def write(self, unit_id: int, address: int, values: Sequence[int]) -> None:
        """Write registers (one with function code 6), logging in as needed."""
        if self._password and not self.logged_in:
            await self.login()
        try:
            await self._write(unit_id, address, values)
        except DeviceRejectedError as err:
            if err.code not in REFUSED_WRITE_CODES:
                raise
            if not self._password:
                raise _refused(PASSWORD_REQUIRED, err) from err
            # The inverter ended the session (no heartbeat, a restart): log in again, once.
            _LOGGER.debug("Write refused with code %s: logging in again", err.code)
            self._logged_in_on = None
            await self.login()
            try:
                await self._write(unit_id, address, values)
            except DeviceRejectedError as again:
                if again.code in REFUSED_WRITE_CODES:
                    raise _refused(LOGIN_REFUSED, again) from again
                raise

    async def heartbeat(self) -> None:
        """Keep the login open: write 1 to register 49999 (logging in again if it was lost)."""
        if self._password:
            await self.write(self.unit_id, HEARTBEAT_REGISTER, [1])

    async def login(self) -> None:
        """Log in as the installer on the current connection.

        Raises `DeviceAuthError` when the inverter refuses the password (and from then on, without
        sending it again).
        """
        if self._password is None:
            return
        if self._refused:
            raise DeviceAuthError("the inverter refused the installer password")
        try:
            answer = await self._vendor(challenge_request())
        except DeviceRejectedError as err:
            if err.code == SLAVE_DEVICE_BUSY:
                raise
            # A connection without the login (a serial gateway, a proxy that does not pass
            # function 0x41 on): writes go without it, and say so if they are refused.
            _LOGGER.debug("No login on this connection (exception %s); writing without", err.code)
            self._logged_in_on = self.transport.connections
            return
        ours = secrets.token_bytes(CHALLENGE_LENGTH)
        await asyncio.sleep(LOGIN_STEP_PAUSE)
        request = login_request(INSTALLER, self._password, parse_challenge(answer), ours)
        if not parse_login(await self._vendor(request), self._password, ours):
            self._refused = True
            raise DeviceAuthError("the inverter refused the installer password")
        self._logged_in_on = self.transport.connections
        _LOGGER.debug("Logged in as the installer")

    async def close(self) -> None:
        """Close the connection; its login ends with it."""
        self._logged_in_on = None
        await self.transport.close()

    async def _vendor(self, payload: bytes) -> bytes:
        return await self._busy_retried(
            lambda: self.transport.execute_vendor(self.unit_id, FUNCTION_CODE, payload)
        )

    async def _write(self, unit_id: int, address: int, values: Sequence[int]) -> None:
        if len(values) == 1:
            await self._busy_retried(
                lambda: self.transport.write_single(unit_id, address, values[0])
            )
        else:
            await self._busy_retried(lambda: self.transport.write(unit_id, address, values))

    async def _busy_retried[T](self, request: Callable[[], Awaitable[T]]) -> T:
        """Send a request; when the inverter answers "busy", wait and try again."""
        for pause in self._busy_pauses:
            try:
                return await request()
            except DeviceRejectedError as err:
                if err.code != SLAVE_DEVICE_BUSY:
                    raise
            _LOGGER.debug("The inverter is busy; trying again in %.1f s", pause)
            await asyncio.sleep(pause)
        return await request()


def _refused(reason: str, err: DeviceRejectedError) -> DevicePermissionError:
    message = (
        "the inverter refused the write: battery settings need the installer password"
        if reason == PASSWORD_REQUIRED
        else "the inverter refused the write although the installer is logged in"
    )
    return DevicePermissionError(message, reason=reason, unit_id=err.unit_id, code=err.code)
