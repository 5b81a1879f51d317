"""The HTTP toolkit's address handling: what users type into the host field."""

from __future__ import annotations

import pytest

from custom_components.home_battery.devices.http import base_url
from custom_components.home_battery.devices.model import DeviceConnectionError


@pytest.mark.parametrize(
    ("typed", "url"),
    [
        ("192.168.1.20", "http://192.168.1.20"),
        ("192.168.1.20:8080", "http://192.168.1.20:8080"),
        ("sessy-k4r7.local", "http://sessy-k4r7.local"),
        (" http://battery.lan/ ", "http://battery.lan"),
        ("fe80::1", "http://[fe80::1]"),
        ("[fe80::1]:8080", "http://[fe80::1]:8080"),
    ],
)
def test_base_url(typed: str, url: str) -> None:
    assert str(base_url(typed)) == url


@pytest.mark.parametrize("typed", ["", "http://", "a b:c:d"])
def test_base_url_rejects_what_is_no_address(typed: str) -> None:
    with pytest.raises(DeviceConnectionError):
        base_url(typed)
