"""What HACS and hassfest check, checked here too: manifest, hacs.json, translations, services."""

from __future__ import annotations

import ast
from dataclasses import fields
import importlib
import json
from pathlib import Path
import re
from typing import Any

from awesomeversion import AwesomeVersion
import pytest
import voluptuous as vol
import yaml

from custom_components.home_battery import services
from custom_components.home_battery.devices.base import BatteryDevice
from custom_components.home_battery.families import FAMILIES

ROOT = Path(__file__).parents[1]
INTEGRATION = ROOT / "custom_components" / "home_battery"
PLATFORMS = ("binary_sensor", "number", "select", "sensor", "switch")
HACS_KEYS = {
    "name", "content_in_root", "country", "filename", "hacs", "hide_default_branch",
    "homeassistant", "persistent_directory", "render_readme", "zip_release",
}  # fmt: skip
IOT_CLASSES = {
    "assumed_state", "calculated", "cloud_polling", "cloud_push", "local_polling", "local_push",
}  # fmt: skip


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def strings() -> dict[str, Any]:
    return _json(INTEGRATION / "translations" / "en.json")


def _code() -> str:
    return "\n".join(p.read_text() for p in INTEGRATION.rglob("*.py"))


def test_manifest_valid_for_hacs_and_hassfest() -> None:
    manifest = _json(INTEGRATION / "manifest.json")
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:]), "hassfest: keys after domain and name are sorted"
    assert manifest["domain"] == INTEGRATION.name
    for key in ("documentation", "issue_tracker", "codeowners", "version", "iot_class"):
        assert manifest.get(key), key
    assert manifest["config_flow"] is True
    assert manifest["iot_class"] in IOT_CLASSES
    assert manifest["integration_type"] in {"device", "hub", "service"}
    assert AwesomeVersion(manifest["version"]).valid
    assert all("==" not in r for r in manifest["requirements"]), "ranges, not pins"
    assert not list(ROOT.glob("tests/**/manifest.json")), "hassfest reads every manifest.json"


def test_hacs_json() -> None:
    hacs = _json(ROOT / "hacs.json")
    assert set(hacs) <= HACS_KEYS
    assert hacs["name"]
    assert hacs["homeassistant"] == "2025.4.0"


def test_brand_images() -> None:
    for name in ("icon.png", "icon@2x.png", "logo.png"):
        assert (INTEGRATION / "brand" / name).stat().st_size > 0


def test_every_family_step_is_translated(strings: dict[str, Any]) -> None:
    steps = strings["config"]["step"]
    for key, family in FAMILIES.items():
        assert key in steps["user"]["menu_options"], key
        step = steps[key]
        assert step.get("title"), key
        for field in family.schema.schema:
            assert str(field) in step["data"], f"{key}.{field}"
            assert str(field) in step["data_description"], f"{key}.{field}"
            assert str(field) in steps["reconfigure"]["data"], f"reconfigure.{field}"
        for credential in family.credentials:
            assert credential in steps["reauth_confirm"]["data"], credential
    assert set(steps["user"]["menu_options"]) == set(FAMILIES), "no menu option without family"


def test_form_errors_and_aborts_are_translated_and_used(strings: dict[str, Any]) -> None:
    code = _code()
    errors = set(re.findall(r'\{"base": "(\w+)"\}', code))
    assert errors <= set(strings["config"]["error"]), errors - set(strings["config"]["error"])
    for key in strings["config"]["error"]:
        assert f'"{key}"' in code, f"unused error string: {key}"
    aborts = set(re.findall(r'(?:reason|async_abort\(reason)=\s*"(\w+)"', code))
    aborts |= {"already_configured", "reauth_successful", "reconfigure_successful"}
    assert aborts <= set(strings["config"]["abort"]), aborts - set(strings["config"]["abort"])


def _descriptions() -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for platform in PLATFORMS:
        module = importlib.import_module(f"custom_components.home_battery.{platform}")
        for value in vars(module).values():
            items = value if isinstance(value, tuple | list) else (value,)
            # By name: Home Assistant's frozen-or-thawed descriptions are not always instances
            # of the EntityDescription class imported here.
            found.setdefault(platform, []).extend(
                i for i in items if type(i).__name__.endswith("EntityDescription")
            )
    return found


def test_every_entity_is_translated_and_every_name_used(strings: dict[str, Any]) -> None:
    entity = strings["entity"]
    for platform, descriptions in _descriptions().items():
        keys = {d.translation_key for d in descriptions if d.translation_key}
        assert keys <= set(entity.get(platform, {})), (platform, keys - set(entity[platform]))
        assert set(entity.get(platform, {})) <= keys, (platform, set(entity[platform]) - keys)
        for description in descriptions:
            names = entity[platform][description.translation_key]
            assert names.get("name"), description.key
            for option in getattr(description, "options", None) or []:
                assert option in names["state"], (description.key, option)


def test_every_mode_is_translated(strings: dict[str, Any]) -> None:
    states = strings["entity"]["select"]["operating_mode"]["state"]

    def subclasses(cls: type) -> list[type]:
        return [s for c in cls.__subclasses__() for s in (c, *subclasses(c))]

    for device in subclasses(BatteryDevice):
        for mode in device.capabilities.modes:  # type: ignore[attr-defined]
            assert mode in states, (device.__name__, mode)


def test_exceptions_and_issues_translated_and_used(strings: dict[str, Any]) -> None:
    code = _code()
    tree_keys = set()
    for path in INTEGRATION.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.keyword)
                and node.arg == "translation_key"
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                tree_keys.add(node.value.value)
    entity_keys = {k for platform in strings["entity"].values() for k in platform}
    entity_keys |= set(strings.get("selector", {}))
    defined = set(strings.get("exceptions", {})) | set(strings.get("issues", {}))
    assert tree_keys - entity_keys <= defined, tree_keys - entity_keys - defined
    for key in defined:
        assert f'"{key}"' in code, f"unused translation: {key}"
    for key, value in strings.get("exceptions", {}).items():
        assert value.get("message"), key


def test_services_yaml_matches_the_action(strings: dict[str, Any]) -> None:
    described = yaml.safe_load((INTEGRATION / "services.yaml").read_text())
    assert set(described) == {services.SERVICE_COMPUTE_SCHEDULE}
    schema_fields = {str(k) for k in services.SCHEMA.schema}
    yaml_fields = set(described[services.SERVICE_COMPUTE_SCHEDULE]["fields"])
    assert yaml_fields == schema_fields
    translated = strings["services"][services.SERVICE_COMPUTE_SCHEDULE]
    assert translated["name"]
    assert translated["description"]
    for field in schema_fields:
        assert translated["fields"][field]["name"], field
        assert translated["fields"][field]["description"], field
    required = {str(k) for k in services.SCHEMA.schema if isinstance(k, vol.Required)}
    assert {f for f, v in described["compute_schedule"]["fields"].items() if v.get("required")} == (
        required
    )


def test_icons_refer_to_translated_entities(strings: dict[str, Any]) -> None:
    icons = _json(INTEGRATION / "icons.json")
    for platform, keys in icons.get("entity", {}).items():
        for key in keys:
            assert key in strings["entity"][platform], (platform, key)
    assert set(icons.get("services", {})) <= set(strings["services"])


def test_diagnostics_redact_every_credential_field() -> None:
    from custom_components.home_battery.diagnostics import TO_REDACT

    for family in FAMILIES.values():
        for credential in family.credentials:
            assert credential in TO_REDACT, credential


def test_quality_scale_lists_every_rule() -> None:
    rules = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text())["rules"]
    assert len(rules) == 52
    for name, value in rules.items():
        status = value if isinstance(value, str) else value["status"]
        assert status in {"done", "exempt"}, name
        if status == "exempt":
            assert value["comment"], name


def test_plan_slot_fields_match_the_contract() -> None:
    from custom_components.home_battery.schedule import PlanSlot

    names = {f.name for f in fields(PlanSlot)}
    assert {"start", "end", "power", "state_of_charge", "grid_power", "buy_price"} <= names
