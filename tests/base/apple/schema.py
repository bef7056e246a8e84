"""A small checker for plist dictionaries against Apple's device-management YAML schemas.

Reads ``payloadkeys`` (key, type, presence, rangelist, range, format, repetition, subkeys) as
described in Apple's ``docs/schema.md`` and returns a list of problems (empty: conforms).
"""

from __future__ import annotations

import datetime
import functools
import re
from typing import Any

import yaml

from tests.base import FIXTURES_DIR

SCHEMA_ROOT = FIXTURES_DIR / "apple-device-management"

_TYPES: dict[str, tuple[type, ...]] = {
    "<string>": (str,),
    "<integer>": (int,),
    "<real>": (float, int),
    "<boolean>": (bool,),
    "<data>": (bytes,),
    "<date>": (datetime.datetime,),
    "<array>": (list, tuple),
    "<dictionary>": (dict,),
}


@functools.cache
def load(relative_path: str) -> dict[str, Any]:
    """A schema file, e.g. ``mdm/profiles/com.apple.mdm.yaml``."""
    return yaml.safe_load((SCHEMA_ROOT / relative_path).read_text(encoding="utf-8"))


def payload_keys(relative_path: str) -> list[dict[str, Any]]:
    return load(relative_path).get("payloadkeys") or []


def _type_ok(value: Any, type_name: str) -> bool:
    if type_name == "<any>":
        return True
    if isinstance(value, bool) and type_name in ("<integer>", "<real>"):
        return False
    return isinstance(value, _TYPES[type_name])


def check_value(value: Any, spec: dict[str, Any], path: str, *, required: bool = True,
                allow_unknown: bool = False) -> list[str]:
    """Problems with one value against its key spec (type, range, format, subkeys)."""
    type_name = spec.get("type", "<any>")
    if not _type_ok(value, type_name):
        return [f"{path}: expected {type_name}, got {type(value).__name__}"]
    problems: list[str] = []
    subkeys = spec.get("subkeys") or []
    scalar = type_name not in ("<array>", "<dictionary>")
    if "rangelist" in spec and scalar and value not in spec["rangelist"]:
        problems.append(f"{path}: {value!r} not in {spec['rangelist']}")
    if "range" in spec:
        low, high = spec["range"].get("min"), spec["range"].get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            problems.append(f"{path}: {value!r} outside {spec['range']}")
    if "format" in spec and isinstance(value, str) and not re.search(spec["format"], value):
        problems.append(f"{path}: {value!r} does not match {spec['format']}")
    if type_name == "<dictionary>" and subkeys:
        problems += check_dict(value, subkeys, path, required=required,
                               allow_unknown=allow_unknown)
    elif type_name == "<array>" and subkeys:
        item_spec = subkeys[0]  # an array's single subkey describes every item
        repetition = item_spec.get("repetition") or {}
        if not repetition.get("min", 0) <= len(value) <= repetition.get("max", len(value)):
            problems.append(f"{path}: {len(value)} items, expected {repetition}")
        for index, item in enumerate(value):
            problems += check_value(item, item_spec, f"{path}[{index}]", required=required,
                                    allow_unknown=allow_unknown)
    elif subkeys and type_name != "<any>":
        # A scalar with subkeys: each subkey names one allowed value (DeviceInformation Queries).
        allowed = {sub["key"] for sub in subkeys}
        if value not in allowed:
            problems.append(f"{path}: {value!r} is not one of the {len(allowed)} listed values")
    return problems


def check_dict(value: dict[str, Any], keys: list[dict[str, Any]], path: str = "", *,
               required: bool = True, allow_unknown: bool = False) -> list[str]:
    """Problems with a dictionary against a ``payloadkeys``/``subkeys`` list.

    ``required=False`` skips presence checks (Apple marks alternatives such as UDID and
    EnrollmentID both "required"); ``allow_unknown`` accepts keys the schema does not list.
    """
    specs = {spec["key"]: spec for spec in keys}
    wildcard = specs.pop("ANY", None)
    problems: list[str] = []
    for key, spec in specs.items():
        if required and spec.get("presence") == "required" and key not in value:
            problems.append(f"{path}.{key}: required key missing")
    for key, item in value.items():
        spec = specs.get(key, wildcard)
        if spec is None:
            if not allow_unknown:
                problems.append(f"{path}.{key}: not in the schema")
            continue
        problems += check_value(item, spec, f"{path}.{key}", required=required,
                                allow_unknown=allow_unknown)
    return problems


def check_payload(payload: dict[str, Any]) -> list[str]:
    """A profile payload against CommonPayloadKeys plus its own type's schema."""
    payload_type = payload.get("PayloadType")
    if not isinstance(payload_type, str):
        return ["PayloadType missing"]
    schema = load(f"mdm/profiles/{payload_type}.yaml")
    if schema["payload"]["payloadtype"] != payload_type:
        return [f"schema for {payload_type} describes {schema['payload']['payloadtype']}"]
    keys = {spec["key"]: spec for spec in payload_keys("mdm/profiles/CommonPayloadKeys.yaml")}
    keys.update({spec["key"]: spec for spec in schema["payloadkeys"]})
    return check_dict(payload, list(keys.values()), payload_type)


def check_profile(profile: dict[str, Any]) -> list[str]:
    """A whole configuration profile: top level, then each payload."""
    problems = check_dict(profile, payload_keys("mdm/profiles/TopLevel.yaml"), "TopLevel")
    for payload in profile.get("PayloadContent") or []:
        problems += check_payload(payload)
    return problems


def check_command(command: dict[str, Any], schema_file: str) -> list[str]:
    """The ``Command`` dict of a command plist against ``mdm/commands/<schema_file>``."""
    schema = load(f"mdm/commands/{schema_file}")
    request_type = schema["payload"]["requesttype"]
    if command.get("RequestType") != request_type:
        return [f"RequestType {command.get('RequestType')!r} != {request_type!r}"]
    body = {key: value for key, value in command.items() if key != "RequestType"}
    return check_dict(body, schema.get("payloadkeys") or [], request_type)
