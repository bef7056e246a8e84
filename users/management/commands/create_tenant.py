"""create_tenant SLUG --name NAME --admin-email EMAIL --admin-password PASSWORD
[--api-token-file PATH]: a tenant, its first admin and optionally an API token."""

from __future__ import annotations

import os
from pathlib import Path

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from users.models import Tenant
from users.services.accounts import do_create_api_token, do_create_tenant


class Command(BaseCommand):
    help = "Create a tenant with its first administrator (and optionally an API token)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-password", required=True)
        parser.add_argument("--api-token-file", type=Path)

    def handle(self, *args, slug, name, admin_email, admin_password, api_token_file, **options):
        if Tenant.objects.filter(slug=slug).exists():
            raise CommandError(f"A tenant with slug {slug!r} already exists.")
        try:
            validate_password(admin_password)
        except ValidationError as exc:
            raise CommandError("Admin password rejected: " + " ".join(exc.messages)) from None
        try:
            with transaction.atomic():
                tenant, admin = do_create_tenant(slug, name, admin_email=admin_email,
                                                 admin_password=admin_password,
                                                 actor="create_tenant")
                raw = None
                if api_token_file:
                    raw = do_create_api_token(tenant, "create_tenant", actor=admin).raw
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in
                                         exc.message_dict.items())) from None
        if raw:
            api_token_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(api_token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(raw + "\n")
        self.stdout.write(self.style.SUCCESS(
            f"Created tenant {tenant.slug!r} with admin {admin.email}"
            + (f"; API token written to {api_token_file}" if raw else "")
        ))
