"""Validators shared by the portal forms and the API serializers."""

from django.core.exceptions import ValidationError


def x509_name_component(value: str) -> None:
    """X.509 name attributes hold at most 64 characters; cryptography counts UTF-8 bytes."""
    if not value.strip() or len(value.encode()) > 64:
        raise ValidationError("Use 1 to 64 characters (fewer if they are not ASCII).")
