"""The MQTT family's pure parts: value paths, signs and command formats (no broker needed)."""

from __future__ import annotations

import pytest

from custom_components.home_battery.devices.mqtt import (
    CommandFormat,
    PayloadError,
    PowerSign,
    extract,
    path_error,
    release_command,
    setpoint_command,
    to_common_sign,
)


@pytest.mark.parametrize(
    ("payload", "path", "value"),
    [
        (b"55", "", 55.0),
        (b" -1500.5\n", "", -1500.5),
        (b'{"battery": {"soc": 55}}', "battery.soc", 55.0),
        (b'{"battery": {"soc": "55.5"}}', "battery.soc", 55.5),
        (b'{"cells": [{"v": 3.3}, {"v": 3.31}]}', "cells.1.v", 3.31),
        (b'{"power": 0}', "power", 0.0),
        # A JSON message that does not carry the value: other messages on the topic may.
        (b'{"battery": {"voltage": 51}}', "battery.soc", None),
        (b'{"cells": []}', "cells.0.v", None),
        (b"55", "battery.soc", None),
    ],
)
def test_extract(payload: bytes, path: str, value: float | None) -> None:
    """Plain numbers without a path; JSON members and list items along a dotted path."""
    assert extract(payload, path) == value


@pytest.mark.parametrize(
    ("payload", "path", "reason"),
    [
        (b"\xff\xfe", "", "not UTF-8"),
        (b"warm", "", "not a number"),
        (b"nan", "", "not a finite number"),
        (b"{not json", "battery.soc", "not JSON"),
        (b'{"battery": {"soc": true}}', "battery.soc", "is not a number"),
        (b'{"battery": {"soc": null}}', "battery.soc", "is not a number"),
        (b'{"battery": {"soc": {"value": 5}}}', "battery.soc", "is not a number"),
        (b'{"battery": {"soc": "full"}}', "battery.soc", "not a number"),
    ],
)
def test_extract_rejects_garbage(payload: bytes, path: str, reason: str) -> None:
    """What cannot be a number is an error, with the reason, never a silent 0."""
    with pytest.raises(PayloadError, match=reason):
        extract(payload, path)


def test_path_error() -> None:
    """Empty parts in a path are reported before anything is subscribed."""
    assert path_error("") is None
    assert path_error("battery.soc") is None
    assert path_error("battery..soc") is not None
    assert path_error(".soc") is not None


def test_signs() -> None:
    """+ charging devices are converted to + discharging; zero stays a plain zero."""
    assert to_common_sign(600, PowerSign.CHARGE_POSITIVE) == -600
    assert to_common_sign(-600, PowerSign.DISCHARGE_POSITIVE) == -600
    assert str(to_common_sign(0.0, PowerSign.CHARGE_POSITIVE)) == "0.0"


@pytest.mark.parametrize(
    ("watts", "command_format", "sign", "payload"),
    [
        (
            -2000,
            CommandFormat.JSON,
            PowerSign.DISCHARGE_POSITIVE,
            '{"power": -2000, "mode": "manual", "expires_in": 120}',
        ),
        (
            -2000,
            CommandFormat.JSON,
            PowerSign.CHARGE_POSITIVE,
            '{"power": 2000, "mode": "manual", "expires_in": 120}',
        ),
        (
            1500.4,
            CommandFormat.JSON,
            PowerSign.DISCHARGE_POSITIVE,
            '{"power": 1500, "mode": "manual", "expires_in": 120}',
        ),
        (
            0,
            CommandFormat.JSON,
            PowerSign.CHARGE_POSITIVE,
            '{"power": 0, "mode": "manual", "expires_in": 120}',
        ),
        (-2000, CommandFormat.TEXT, PowerSign.CHARGE_POSITIVE, "CHARGE 2000W"),
        (1500, CommandFormat.TEXT, PowerSign.DISCHARGE_POSITIVE, "DISCHARGE 1500W"),
        (0.3, CommandFormat.TEXT, PowerSign.DISCHARGE_POSITIVE, "DISCHARGE 0W"),  # hold
    ],
)
def test_setpoint_command(
    watts: float, command_format: CommandFormat, sign: PowerSign, payload: str
) -> None:
    """JSON carries the power in the device's sign and its expiry; text names the direction."""
    assert setpoint_command(watts, command_format, sign) == payload


def test_release_command() -> None:
    """Handing control back: auto in JSON, IDLE in text."""
    assert release_command(CommandFormat.JSON) == '{"power": 0, "mode": "auto"}'
    assert release_command(CommandFormat.TEXT) == "IDLE"
