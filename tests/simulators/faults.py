"""Faults every protocol peer can inject, under the same names."""

from __future__ import annotations

from enum import StrEnum


class Fault(StrEnum):
    """What a peer does wrong on purpose."""

    NONE = "none"
    REFUSE = "refuse"  # the port is closed: connections are refused
    DROP = "drop"  # the connection is closed on the next request, unanswered
    STALL = "stall"  # requests are read but never answered
    EXCEPTION = "exception"  # every request gets an error answer (Modbus exception, HTTP 500, …)
    GARBAGE = "garbage"  # answers that are not the protocol (bytes, invalid JSON, bad checksums)
    AUTH = "auth"  # credentials are rejected (HTTP 401), where the protocol has any
