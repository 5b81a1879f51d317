"""Form selectors the families share, and the form of a device on Modbus TCP."""

from __future__ import annotations

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.helpers import selector
import voluptuous as vol

TEXT = selector.TextSelector()
PASSWORD = selector.TextSelector(
    selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
)
PORT = selector.NumberSelector(
    selector.NumberSelectorConfig(min=1, max=65535, mode=selector.NumberSelectorMode.BOX)
)


def number(
    minimum: float, maximum: float, *, step: float = 1, unit: str | None = None
) -> selector.NumberSelector:
    """Return a number box from `minimum` to `maximum`."""
    config = selector.NumberSelectorConfig(
        min=minimum, max=maximum, step=step, mode=selector.NumberSelectorMode.BOX
    )
    if unit is not None:
        config["unit_of_measurement"] = unit
    return selector.NumberSelector(config)


def dropdown(
    options: list[str], translation_key: str, *, custom: bool = False
) -> selector.SelectSelector:
    """Return a dropdown of translated options (any other value too with `custom`)."""
    return selector.SelectSelector(
        selector.SelectSelectorConfig(
            options=options,
            translation_key=translation_key,
            custom_value=custom,
            mode=selector.SelectSelectorMode.DROPDOWN,
        )
    )


def unit_id(minimum: int = 1) -> selector.NumberSelector:
    """Return the Modbus unit id box; 0 is the broadcast id, which some gateways use."""
    return number(minimum, 247)


def modbus_tcp_schema(
    *,
    port: int,
    unit_ids: dict[str, tuple[int, int]],
    extra: dict[vol.Marker, object] | None = None,
) -> vol.Schema:
    """Return the form of a device on Modbus TCP: host, port and its unit id fields.

    `unit_ids` maps each unit id field to (default, lowest allowed).
    """
    fields: dict[vol.Marker, object] = {
        vol.Required(CONF_HOST): TEXT,
        vol.Required(CONF_PORT, default=port): PORT,
    }
    for field, (default, minimum) in unit_ids.items():
        fields[vol.Required(field, default=default)] = unit_id(minimum)
    return vol.Schema(fields | (extra or {}))
