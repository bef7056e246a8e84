"""Google's side of the tests: an `HttpMockSequence` that checks every request the real
google-api-python-client makes against the library's bundled androidmanagement v1 discovery
document (method, path pattern, query parameters, body fields and enum values), then answers
from the queued responses."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import googleapiclient
from googleapiclient.http import HttpMockSequence

DISCOVERY_PATH = (Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
                  / "androidmanagement.v1.json")
DISCOVERY = json.loads(DISCOVERY_PATH.read_text())
STANDARD_QUERY = set(DISCOVERY.get("parameters", {})) | {"alt"}


def _methods(resources: dict, prefix: str = ""):
    for name, resource in resources.items():
        for method_name, method in resource.get("methods", {}).items():
            yield f"{prefix}{name}.{method_name}", method
        yield from _methods(resource.get("resources", {}), f"{prefix}{name}.")


def _path_regex(method: dict) -> re.Pattern:
    def param(match: re.Match) -> str:
        spec = method["parameters"][match.group(1)]
        pattern = spec.get("pattern", "^[^/]+$").lstrip("^").rstrip("$")
        return f"(?P<{match.group(1)}>{pattern})"

    path = re.sub(r"\{\+?(\w+)\}", param, re.escape(method["path"]).replace(r"\{", "{")
                  .replace(r"\}", "}").replace(r"\+", "+"))
    return re.compile(f"^/{path}$")


METHODS = [(method_id, method, _path_regex(method)) for method_id, method in
           _methods(DISCOVERY["resources"])]


def _check_value(value, spec: dict, where: str) -> None:
    if "$ref" in spec:
        _check_object(value, DISCOVERY["schemas"][spec["$ref"]], where)
        return
    kind = spec.get("type")
    if kind == "array":
        assert isinstance(value, list), f"{where}: expected an array"
        for i, item in enumerate(value):
            _check_value(item, spec.get("items", {}), f"{where}[{i}]")
    elif kind == "string":
        assert isinstance(value, str), f"{where}: expected a string, got {value!r}"
        if "enum" in spec:
            assert value in spec["enum"], f"{where}: {value!r} is not one of {spec['enum']}"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{where}: expected a boolean"
    elif kind == "integer":
        assert isinstance(value, int | str), f"{where}: expected an integer"
    elif kind == "object" and "properties" in spec:
        _check_object(value, spec, where)


def _check_object(value, schema: dict, where: str) -> None:
    assert isinstance(value, dict), f"{where}: expected an object"
    properties = schema.get("properties", {})
    if not properties and schema.get("additionalProperties") is not None:
        return  # a free-form map (managedConfiguration, metadata)
    for key, item in value.items():
        assert key in properties, f"{where}: {key!r} is not a field of {schema.get('id')}"
        _check_value(item, properties[key], f"{where}.{key}")


class Request:
    def __init__(self, method_id: str, http_method: str, path_params: dict, query: dict,
                 body):
        self.method_id, self.http_method = method_id, http_method
        self.path_params, self.query, self.body = path_params, query, body

    def __repr__(self) -> str:
        return f"<{self.method_id} {self.path_params} {self.query}>"


def check_request(uri: str, http_method: str, body) -> Request:
    """Find the discovery method this request is, and check it against its description."""
    parts = urlsplit(uri)
    assert f"{parts.scheme}://{parts.netloc}/" == DISCOVERY["rootUrl"], uri
    for method_id, method, regex in METHODS:
        match = regex.match(parts.path)
        if match is None or method["httpMethod"] != http_method:
            continue
        query = {k: v for k, v in parse_qs(parts.query).items()}
        for key, values in query.items():
            assert key in method.get("parameters", {}) or key in STANDARD_QUERY, \
                f"{method_id}: unknown query parameter {key!r}"
            spec = method.get("parameters", {}).get(key, {})
            for value in values:
                if "enum" in spec:
                    assert value in spec["enum"], f"{method_id}: {key}={value!r}"
        for name, spec in method.get("parameters", {}).items():
            if spec.get("required") and spec.get("location") == "query":
                assert name in query, f"{method_id}: missing required {name}"
        parsed = json.loads(body) if body else None
        if "request" in method:
            assert parsed is not None, f"{method_id}: a body is required"
            _check_object(parsed, DISCOVERY["schemas"][method["request"]["$ref"]], method_id)
        return Request(method_id, http_method, match.groupdict(),
                       {k: v if len(v) > 1 else v[0] for k, v in query.items()
                        if k not in STANDARD_QUERY}, parsed)
    raise AssertionError(f"{http_method} {parts.path} is not an androidmanagement v1 method")


class CheckedHttp(HttpMockSequence):
    """HttpMockSequence that records and validates each request before answering."""

    def __init__(self, responses):
        super().__init__(responses)
        self.requests: list[Request] = []

    def request(self, uri, method="GET", body=None, headers=None, redirections=1,
                connection_type=None):
        self.requests.append(check_request(uri, method, body))
        return super().request(uri, method, body, headers, redirections, connection_type)


def ok(payload: dict | None = None, status: int = 200):
    return ({"status": str(status)}, json.dumps(payload or {}))


def error(status: int, message: str = "error", reason: str = ""):
    return ({"status": str(status)}, json.dumps(
        {"error": {"code": status, "message": message, "status": reason}}))


def device_resource(enterprise: str, device_id: str, *, android_version: str | None = "14",
                    serial: str = "", esid: str = "", previous: list[str] | None = None,
                    state: str = "ACTIVE", registration_id: int | None = None,
                    ownership: str = "PERSONALLY_OWNED", mode: str = "PROFILE_OWNER",
                    report_time: str = "2026-11-26T10:00:00Z") -> dict:
    resource = {
        "name": f"{enterprise}/devices/{device_id}", "state": state, "appliedState": state,
        "managementMode": mode, "ownership": ownership,
        "hardwareInfo": {"serialNumber": serial, "model": "Pixel 8", "brand": "google"},
        "enrollmentTime": "2026-11-26T09:00:00Z", "lastStatusReportTime": report_time,
        "policyName": f"{enterprise}/policies/default", "policyCompliant": True,
    }
    if android_version is not None:
        resource["softwareInfo"] = {"androidVersion": android_version,
                                    "securityPatchLevel": "2026-10-05"}
    if esid:
        resource["hardwareInfo"]["enterpriseSpecificId"] = esid
    if previous:
        resource["previousDeviceNames"] = previous
    if registration_id is not None:
        resource["enrollmentTokenData"] = f"registration:{registration_id}"
    return resource


def push_body(kind: str, resource: dict | None, *, message_id: str,
              publish_time: str = "2026-11-26T10:00:00.123456789Z") -> bytes:
    message = {"attributes": {"notificationType": kind}, "messageId": message_id,
               "publishTime": publish_time}
    if resource is not None:
        message["data"] = base64.b64encode(json.dumps(resource).encode()).decode()
    return json.dumps({"message": message,
                       "subscription": "projects/p/subscriptions/mdm"}).encode()
