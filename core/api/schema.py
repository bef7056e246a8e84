"""The OpenAPI schema and the promises it makes about requests.

- drf-spectacular extensions describing our authentication classes;
- `ApiAutoSchema`, the schema class of every API view: it declares the error answers each
  operation can give (the `Error` envelope of `errors.py`) by rule, once, so no view lists
  400/401/403/404/415 by hand; views declare only what is theirs (a 409, a 502);
- `StrictJsonInput`, the serializer mixin that keeps the request-body promise the schema
  makes (`additionalProperties: false`, JSON types as declared): a field the body names that
  the operation does not take, or a value of the wrong JSON type, is a 400 naming the field,
  never silently dropped or coerced;
- `CONTENT_FORMATS`, the named string formats of request fields whose content the server
  reads (keys, certificates, plists, LDAP syntax, passwords): a request serializer names its
  fields' formats in `content_formats`, and the schema gives each field its `format` and
  says in its description what the format is. JSON Schema cannot check such content; the
  format tells clients (and the property-based test, which generates valid values for each)
  what the server takes. A serializer's `any_of` states the rules between its fields (a
  body holds this field or those; that flag needs that field) as the body's `anyOf`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import relations, serializers


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "users.api.authentication.ApiTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "Tenant API token (Settings > API tokens, or create_tenant)."}


class AdminSessionScheme(OpenApiAuthenticationExtension):
    target_class = "users.api.authentication.AdminSessionAuthentication"
    name = "adminSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class AppSessionScheme(OpenApiAuthenticationExtension):
    target_class = "enrollment.api.app.AppSessionAuthentication"
    name = "agentAppSession"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "The app_... token returned by the agent app's register call."}


# --- the error envelope ----------------------------------------------------------------------

class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Why, for programs: invalid, not_found, "
                                           "not_authenticated, conflict, ...")
    message = serializers.CharField(help_text="Why, for people.")
    fields = serializers.DictField(
        required=False, child=serializers.JSONField(),
        help_text="Invalid input: each field named with its messages (a list of strings, "
                  "or an object for a nested value); non_field_errors for the body as a whole.")


class ErrorSerializer(serializers.Serializer):
    """Every API failure: `{"error": {"code", "message", "fields"?}}`."""

    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    "400": "Invalid input: `message` says what, `fields` names each field.",
    "401": "No valid credentials: missing, malformed or revoked.",
    "403": "Not allowed: a portal session's unsafe request without its CSRF token.",
    "404": "Not found: no such object in this organization (a foreign one alike), or a page "
           "past the last.",
    "409": "Conflicts with the current state (the message says what is missing or taken).",
    "415": "Unsupported media type: request bodies are application/json.",
    "502": "The upstream service (Google) failed; nothing was changed.",
}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Django and DRF refuse a NUL character in any text (PostgreSQL cannot store one).
NO_NUL = "^[^\\u0000]*$"


def _forbid_nul(schema: dict) -> None:
    if schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema):
        schema["pattern"] = NO_NUL


# --- string formats --------------------------------------------------------------------------

CONTENT_FORMATS = {
    "pem-private-key": "A private key as PEM text (-----BEGIN PRIVATE KEY----- or -----BEGIN "
                       "RSA PRIVATE KEY-----): clear, or encrypted with its password in "
                       "`password`.",
    "pem-ca-certificate": "A CA certificate as PEM text (-----BEGIN CERTIFICATE-----), "
                          "optionally followed by the certificates above it.",
    "pem-certificate-chain": "Certificates as PEM text, or DER certificates concatenated and "
                             "base64-encoded.",
    "pkcs12-base64": "A PKCS#12 file (.p12, .pfx) holding a private key and its certificate, "
                     "base64-encoded.",
    "key-password": "The password of the PKCS#12 file or encrypted PEM key sent with it; "
                    "empty or omitted for a key that is not encrypted.",
    "apns-certificate": "An Apple MDM push certificate (UID com.apple.mgmt.External.<uuid>): "
                        "PEM text with its key (or the key in `private_key`), or a .p12 as "
                        "base64; or Apple's certificate alone (PEM, or DER as base64) for a "
                        "certificate request made here.",
    "mdm-vendor-certificate": "An MDM vendor certificate (Apple Developer, MDM CSR) with its "
                              "RSA key and Apple's chain: PEM text (certificates and key), DER "
                              "as base64 (key in `private_key`, chain in `chain`), or a .p12 "
                              "as base64.",
    "apple-p8-key": "An APNs authentication key (.p8 from Apple Developer): a P-256 private "
                    "key as PEM text (-----BEGIN PRIVATE KEY-----).",
    "plist-payloads": "An XML property list: an array of payload dictionaries, each with a "
                      "PayloadType, or a whole .mobileconfig (its PayloadContent is taken).",
    "ldap-url": "ldap://host[:port] or ldaps://host[:port], without path, query or "
                "credentials.",
    "ldap-dn": "An LDAP distinguished name (RFC 4514), e.g. ou=People,dc=example,dc=com.",
    "ldap-filter": "An LDAP search filter (RFC 4515), e.g. (objectClass=inetOrgPerson).",
    "password": "A new account password: it must pass the server's password rules (long "
                "enough, not a common password, not only digits, not like the user's name or "
                "address).",
    "dns-name": "A DNS domain name such as example.com: at least two labels, no scheme, "
                "port, path or wildcard (capitals and a final dot are accepted and dropped).",
    "google-service-account-json": 'A Google Cloud service-account key file as JSON text: '
                                   '"type": "service_account", with client_email, private_key '
                                   '(PEM) and token_uri.',
}


def _with_format(schema: dict, name: str) -> None:
    """Give the string of `schema` (a list's items) the format `name`, and describe the format
    in the property's description. A field that may be blank says so in words: its
    blank-or-value `oneOf` becomes the one string (JSON Schema checks no format, so "" is
    still valid), which generators then draw from the format instead of from its length."""
    target = schema["items"] if schema.get("type") == "array" else schema
    blank = "oneOf" in target
    if blank:
        value = next(branch for branch in target.pop("oneOf") if branch.get("maxLength") != 0)
        target.update(value)
    assert target.get("type") == "string", f"format {name} on a {target.get('type')}"
    target["format"] = name
    if target.get("pattern") == NO_NUL:  # the format says what the text holds, NUL never
        del target["pattern"]
    text = f"Format `{name}`{', or empty' if blank else ''}: {CONTENT_FORMATS[name]}"
    schema["description"] = f"{schema['description']}\n\n{text}" if schema.get("description") \
        else text


class ApiAutoSchema(AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error = {"application/json": {"schema": self.resolve_serializer(
            ErrorSerializer, "response").ref}}
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query":
                _forbid_nul(parameter["schema"])
                if parameter["schema"].get("type") == "array":
                    _forbid_nul(parameter["schema"]["items"])
        responses = operation["responses"]
        for code in self._error_statuses(operation):
            responses.setdefault(code, {"description": ERROR_DESCRIPTIONS[code]})
        for code, response in responses.items():
            if code[0] in "45" and "content" not in response:
                response["content"] = error
                response["description"] = response.get("description") or \
                    ERROR_DESCRIPTIONS.get(code, "")
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_statuses(self, operation) -> list[str]:
        """What every operation of its kind can answer, whatever the view: input is checked
        (body, query), credentials are, objects named in the path are looked up, pages too."""
        parameters = operation.get("parameters", [])
        query = {p["name"] for p in parameters if p["in"] == "query"}
        has_body = "requestBody" in operation
        schemes = {name for requirement in operation.get("security", []) for name in requirement}
        statuses = []
        if has_body or query - {"page"}:
            statuses.append("400")
        if schemes:
            statuses.append("401")
        if "adminSession" in schemes and self.method in UNSAFE_METHODS:
            statuses.append("403")
        if "page" in query or any(p["in"] == "path" for p in parameters):
            statuses.append("404")
        if has_body:
            statuses.append("415")
        return statuses

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, StrictJsonInput):
            schema["additionalProperties"] = False
        if direction == "request":
            formats = getattr(serializer, "content_formats", {})
            for field_name, format_name in formats.items():
                _with_format(schema["properties"][field_name], format_name)
            if getattr(serializer, "any_of", None):
                schema["anyOf"] = copy.deepcopy(serializer.any_of)
                for rule in schema["anyOf"]:  # a rule on a formatted field keeps its format
                    for field_name, constraint in rule.get("properties", {}).items():
                        if field_name in formats:
                            constraint.setdefault("format", formats[field_name])
        return schema

    def _get_request_for_media_type(self, serializer, direction="request"):
        schema, required = super()._get_request_for_media_type(serializer, direction)
        # a body with rules between its fields is one to send
        return schema, required or bool(getattr(serializer, "any_of", None))

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and isinstance(field, serializers.CharField) and not any(
                isinstance(v, RegexValidator) for v in field.validators):
            _forbid_nul(schema)  # a RegexValidator's pattern comes instead
        if schema.get("type") == "array" and (
                getattr(field, "allow_empty", True) is False and "minItems" not in schema):
            schema["minItems"] = 1
        return schema


# --- the request bodies the schema describes ---------------------------------------------------

def _json_type_error(field: serializers.Field, value) -> str | None:
    """What is wrong with the JSON type of `value` for `field`, or None. DRF coerces ("true",
    1 and "yes" for a boolean, "12" for an integer, 12 for a string), as HTML forms need; the
    API reads JSON only, where the schema's types are what a client must send."""
    if value is None:
        return None if field.allow_null else "This field may not be null."
    if isinstance(field, (serializers.JSONField, serializers.HiddenField)):
        return None
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, (serializers.IntegerField, relations.PrimaryKeyRelatedField)):
        return None if isinstance(value, int) and not isinstance(value, bool) else \
            "Must be a whole number."
    if isinstance(field, (serializers.FloatField, serializers.DecimalField)):
        return None if isinstance(value, int | float) and not isinstance(value, bool) else \
            "Must be a number."
    if isinstance(field, (serializers.ListField, serializers.MultipleChoiceField,
                          relations.ManyRelatedField)):
        if not isinstance(value, list):
            return "Must be a list."
        child = getattr(field, "child", None) or getattr(field, "child_relation", None)
        if child is None or isinstance(field, serializers.MultipleChoiceField):
            return next((f"Item {i}: must be a string." for i, item in enumerate(value)
                         if not isinstance(item, str)), None)
        for i, item in enumerate(value):
            problem = _json_type_error(child, item)
            if problem:
                return f"Item {i}: {problem[0].lower()}{problem[1:]}"
        return None
    if isinstance(field, (serializers.DictField, serializers.Serializer)):
        return None if isinstance(value, dict) else "Must be an object."
    if isinstance(field, (serializers.CharField, serializers.ChoiceField,
                          serializers.DateTimeField, serializers.DateField)):
        return None if isinstance(value, str) else "Must be a string."
    return None


class StrictJsonInput:
    """Serializer mixin for request bodies: no unknown or read-only fields, JSON types as
    declared (see `_json_type_error`). The schema says the same (`additionalProperties:
    false`), so a client learns of a typo instead of having it ignored."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            problems = {}
            for name, value in data.items():
                field = self.fields.get(name)
                if field is None:
                    problems[name] = ["Unknown field."]
                elif field.read_only:
                    problems[name] = ["Read-only field."]
                else:
                    problem = _json_type_error(field, value)
                    if problem:
                        problems[name] = [problem]
            if problems:
                raise serializers.ValidationError(problems)
        return super().to_internal_value(data)
