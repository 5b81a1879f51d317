"""The device families the config flow offers, in the order of its menu.

A family is a module here (its form, its factory, its own `CONF_*` keys, its discovery and
validation hooks) and one in `devices/` (its protocol). Adding a family is adding the two modules
and one line below.
"""

from __future__ import annotations

from .base import Discovery, Family
from .deye import FAMILY as DEYE, SOLARMAN_FAMILY as DEYE_SOLARMAN
from .huawei import FAMILY as HUAWEI
from .mqtt import FAMILY as MQTT
from .plasmatronics import FAMILY as PLASMATRONICS
from .pylontech_can import FAMILY as PYLONTECH_CAN
from .sessy import FAMILY as SESSY
from .sma import FAMILY as SMA
from .sonnen import FAMILY as SONNEN
from .victron import FAMILY as VICTRON

FAMILIES: dict[str, Family] = {
    family.key: family
    for family in (
        VICTRON,
        SONNEN,
        SESSY,
        PLASMATRONICS,
        MQTT,
        PYLONTECH_CAN,
        DEYE,
        DEYE_SOLARMAN,
        HUAWEI,
        SMA,
    )
}

__all__ = ["FAMILIES", "Discovery", "Family"]
