"""Config flow: a menu of device families, each a form that connects and reads the identity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import selector
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import voluptuous as vol

from .compat import OptionsFlowBase
from .const import (
    CONF_CAPACITY,
    CONF_FAMILY,
    CONF_HEAVY_LOAD_MINUTES,
    CONF_HEAVY_LOAD_POWER,
    CONF_LOAD_FORECAST_ENTITY,
    CONF_LOAD_HISTORY_ENTITY,
    CONF_LOW_STATE_OF_CHARGE,
    CONF_MAX_CHARGE_POWER,
    CONF_MAX_DISCHARGE_POWER,
    CONF_PRICE_ENTITY,
    CONF_PV_FORECAST_ENTITY,
    CONF_ROUND_TRIP_EFFICIENCY,
    CONF_SCAN_INTERVAL,
    CONF_SELL_PRICE_ENTITY,
    CONF_STABILITY_THRESHOLD,
    DEFAULT_CAPACITY,
    DEFAULT_HEAVY_LOAD_MINUTES,
    DEFAULT_HEAVY_LOAD_POWER,
    DEFAULT_LOW_STATE_OF_CHARGE,
    DEFAULT_MAX_POWER,
    DEFAULT_ROUND_TRIP_EFFICIENCY,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_STABILITY_THRESHOLD,
    DOMAIN,
    LOGGER,
)
from .data import HomeBatteryConfigEntry
from .devices.base import BatteryDevice
from .devices.model import (
    DeviceAuthError,
    DeviceConnectionError,
    DeviceDataError,
    DeviceError,
    DeviceIdentity,
    DeviceRejectedError,
    DeviceSilentError,
    InvalidConfigError,
    UnsupportedError,
)
from .families import FAMILIES, Family
from .families.address import valid_host
from .families.selectors import number


async def _probe(
    hass: HomeAssistant, family: Family, data: Mapping[str, Any]
) -> tuple[DeviceIdentity | None, dict[str, str], dict[str, str]]:
    """Connect once and read the identity; return it, or the form's errors and placeholders.

    Whatever goes wrong becomes a form error: the address is checked before anything connects,
    and an unexpected error is logged once with its traceback and shown as `unknown`.
    """
    if CONF_HOST in data and not valid_host(data[CONF_HOST], with_port=family.host_with_port):
        return None, {CONF_HOST: "invalid_host"}, {}
    if family.validate and (errors := family.validate(data)):
        return None, errors, {}
    device: BatteryDevice | None = None
    try:
        device = family.create(hass, data)
        return await device.connect(), {}, {}
    except DeviceAuthError:
        return None, {"base": "invalid_auth"}, {}
    except DeviceRejectedError as err:
        return None, {"base": "invalid_unit_id"}, {"unit_id": str(err.unit_id)}
    except InvalidConfigError as err:  # a setting no request can carry; nothing was sent
        return (
            None,
            {err.field: "invalid_host" if err.field == CONF_HOST else "invalid_characters"},
            {},
        )
    except DeviceSilentError:
        return None, {"base": "no_data"}, {}
    except DeviceConnectionError:
        return None, {"base": "cannot_connect"}, {}
    except DeviceDataError as err:
        return None, {"base": "invalid_data"}, {"detail": str(err)}
    except UnsupportedError as err:  # it answered, but is not a model the settings fit
        return None, {"base": "unsupported_device"}, {"detail": str(err)}
    except DeviceError:
        LOGGER.exception("Unexpected answer from the %s device", family.key)
        return None, {"base": "unknown"}, {}
    except Exception:
        LOGGER.exception("Unexpected error setting up the %s device", family.key)
        return None, {"base": "unknown"}, {}
    finally:
        if device is not None:
            await device.close()


def _cleaned(user_input: dict[str, Any]) -> dict[str, Any]:
    """Return the form's input with the white space around a pasted address dropped."""
    host = user_input.get(CONF_HOST)
    return user_input | {CONF_HOST: host.strip()} if isinstance(host, str) else user_input


class HomeBatteryConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a battery: pick its family, then say where it is."""

    VERSION = 1
    # Fields a discovery filled in, suggested on the family's form (never shared: reassigned).
    _discovered: Mapping[str, Any] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: HomeBatteryConfigEntry) -> HomeBatteryOptionsFlow:
        """Return the options flow."""
        return HomeBatteryOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the menu of families."""
        return self.async_show_menu(step_id="user", menu_options=list(FAMILIES))

    # One step per family of the menu (families/), each showing that family's form.

    async def async_step_victron(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set up a Victron GX."""
        return await self._async_step_family(FAMILIES["victron"], user_input)

    async def async_step_sonnen(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Set up a sonnenBatterie."""
        return await self._async_step_family(FAMILIES["sonnen"], user_input)

    async def async_step_sessy(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Set up a Sessy."""
        return await self._async_step_family(FAMILIES["sessy"], user_input)

    async def async_step_plasmatronics(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set up a Plasmatronics regulator."""
        return await self._async_step_family(FAMILIES["plasmatronics"], user_input)

    async def async_step_mqtt(  # type: ignore[override]
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set up an MQTT battery.

        ConfigFlow names its MQTT discovery step `async_step_mqtt`; this integration declares no
        MQTT discovery, so the name is free for the `mqtt` family's form.
        """
        return await self._async_step_family(FAMILIES["mqtt"], user_input)

    async def async_step_pylontech_can(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set up a Pylontech BMS on the CAN bus."""
        return await self._async_step_family(FAMILIES["pylontech_can"], user_input)

    async def async_step_deye(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Set up a Deye hybrid on Modbus TCP."""
        return await self._async_step_family(FAMILIES["deye"], user_input)

    async def async_step_deye_solarman(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set up a Deye hybrid through its Solarman logger."""
        return await self._async_step_family(FAMILIES["deye_solarman"], user_input)

    async def async_step_huawei(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Set up a Huawei SUN2000."""
        return await self._async_step_family(FAMILIES["huawei"], user_input)

    async def async_step_sma(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Set up an SMA Sunny Island or Sunny Boy Storage."""
        return await self._async_step_family(FAMILIES["sma"], user_input)

    async def _async_step_family(
        self, family: Family, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        if family.unavailable and (reason := family.unavailable(self.hass)):
            return self.async_abort(reason=reason)
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = {CONF_FAMILY: family.key, **_cleaned(user_input)}
            identity, errors, placeholders = await _probe(self.hass, family, data)
            if identity is not None:
                await self.async_set_unique_id(identity.serial_number)
                self._abort_if_unique_id_configured()
                return self.async_create_entry(title=family.title, data=data)
        return self.async_show_form(
            step_id=family.key,
            data_schema=self.add_suggested_values_to_schema(
                family.schema, user_input or self._discovered
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """Offer a battery that announced itself, with what it announced filled in."""
        for family in FAMILIES.values():
            if family.zeroconf and (found := family.zeroconf(discovery_info)) is not None:
                break
        else:
            return self.async_abort(reason="not_supported")
        if found.unique_id:
            await self.async_set_unique_id(found.unique_id)
            # A known battery at a new address: follow it, and ask nothing.
            self._abort_if_unique_id_configured(updates={CONF_HOST: found.data[CONF_HOST]})
        self._async_abort_entries_match({CONF_HOST: found.data[CONF_HOST]})
        self._discovered = found.data
        self.context["title_placeholders"] = {"name": found.name}
        return await self._async_step_family(family, None)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change where the battery is; it must still be the same device."""
        entry = self._get_reconfigure_entry()
        family = FAMILIES[entry.data[CONF_FAMILY]]
        if family.unavailable and (reason := family.unavailable(self.hass)):
            return self.async_abort(reason=reason)
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            # An optional field the user emptied is absent from the input: drop its old value.
            emptied = {
                str(key) for key in family.schema.schema if isinstance(key, vol.Optional)
            } - set(user_input)
            data = {k: v for k, v in entry.data.items() if k not in emptied} | _cleaned(user_input)
            identity, errors, placeholders = await _probe(self.hass, family, data)
            if identity is not None:
                await self.async_set_unique_id(identity.serial_number)
                self._abort_if_unique_id_mismatch(reason="wrong_device")
                return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                family.schema, user_input or dict(entry.data)
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start reauthentication when the device rejects the stored credentials."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the credentials again."""
        entry = self._get_reauth_entry()
        family = FAMILIES[entry.data[CONF_FAMILY]]
        errors: dict[str, str] = {}
        if user_input is not None:
            identity, errors, _ = await _probe(self.hass, family, {**entry.data, **user_input})
            if identity is not None:
                # Credentials that open another battery (a Sessy's username is its serial).
                await self.async_set_unique_id(identity.serial_number, raise_on_progress=False)
                self._abort_if_unique_id_mismatch(reason="wrong_device")
                return self.async_update_reload_and_abort(entry, data_updates=user_input)
        schema = vol.Schema(
            {k: v for k, v in family.schema.schema.items() if k in family.credentials}
        )
        return self.async_show_form(step_id="reauth_confirm", data_schema=schema, errors=errors)


def _options_schema() -> vol.Schema:
    """Return the options form: polling, battery parameters, alarm thresholds, plan sources."""
    return vol.Schema(
        {
            vol.Required(CONF_SCAN_INTERVAL, default=DEFAULT_SCAN_INTERVAL): number(
                2, 3600, step=1, unit="s"
            ),
            vol.Required(CONF_CAPACITY, default=DEFAULT_CAPACITY): number(
                0.1, 1000, step=0.1, unit="kWh"
            ),
            vol.Required(CONF_MAX_CHARGE_POWER, default=DEFAULT_MAX_POWER): number(
                0, 100000, step=10, unit="W"
            ),
            vol.Required(CONF_MAX_DISCHARGE_POWER, default=DEFAULT_MAX_POWER): number(
                0, 100000, step=10, unit="W"
            ),
            vol.Required(CONF_ROUND_TRIP_EFFICIENCY, default=DEFAULT_ROUND_TRIP_EFFICIENCY): number(
                0.5, 1, step=0.01
            ),
            # Alarm thresholds (alarms.py): optional, an option left empty takes the default.
            vol.Optional(
                CONF_LOW_STATE_OF_CHARGE,
                description={"suggested_value": DEFAULT_LOW_STATE_OF_CHARGE},
            ): number(0, 100, step=1, unit="%"),
            vol.Optional(
                CONF_HEAVY_LOAD_POWER, description={"suggested_value": DEFAULT_HEAVY_LOAD_POWER}
            ): number(0, 100000, step=100, unit="W"),
            vol.Optional(
                CONF_HEAVY_LOAD_MINUTES, description={"suggested_value": DEFAULT_HEAVY_LOAD_MINUTES}
            ): number(0, 1440, step=1, unit="min"),
            **_PLANNING_SOURCES,
            vol.Optional(
                CONF_STABILITY_THRESHOLD,
                description={"suggested_value": DEFAULT_STABILITY_THRESHOLD},
            ): number(0, 50, step=0.5, unit="%"),
        }
    )


# What schedule control plans against (planning/follower.py): entities of price integrations.
_PLANNING_SOURCES: dict[vol.Marker, selector.EntitySelector] = {
    vol.Optional(key): selector.EntitySelector(selector.EntitySelectorConfig(domain="sensor"))
    for key in (
        CONF_PRICE_ENTITY,
        CONF_SELL_PRICE_ENTITY,
        CONF_PV_FORECAST_ENTITY,
        CONF_LOAD_FORECAST_ENTITY,
        CONF_LOAD_HISTORY_ENTITY,
    )
}


class HomeBatteryOptionsFlow(OptionsFlowBase):
    """Polling interval and the battery parameters planning uses."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and store the options; the entry reloads with them."""
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                _options_schema(), self.config_entry.options
            ),
        )
