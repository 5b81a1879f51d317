"""Which typed addresses the forms take, before anything connects."""

from __future__ import annotations

import pytest

from custom_components.home_battery.families.address import valid_host


@pytest.mark.parametrize(
    ("text", "with_port", "valid"),
    [
        ("192.168.1.5", False, True),
        ("sonnen.local", False, True),
        ("my_battery", False, True),
        ("fe80::1", False, True),
        ("[fe80::1]", False, True),
        ("[fe80::1]:8080", True, True),
        ("[fe80::1]:8080", False, False),
        ("sonnen.local:8080", True, True),
        ("sonnen.local:8080", False, False),
        ("http://10.0.0.2:8080/", True, True),
        ("ftp://10.0.0.2", True, False),
        ("http://10.0.0.2", False, False),
        ("", False, False),
        ("  ", False, False),
        ("127.0.0.1:99999", True, False),
        ("127.0.0.1:0", True, False),
        ("localhost:abc", True, False),
        ("[::1", True, False),
        ("[nope]", True, False),
        ("1:2:3:zz", False, False),
        ("-bad.example", False, False),
        ("a" * 300, False, False),
        ("127.0.0.1\x00", False, False),
        (None, False, False),
        (502, False, False),
    ],
    ids=repr,
)
def test_valid_host(text: object, with_port: bool, valid: bool) -> None:
    assert valid_host(text, with_port=with_port) is valid
