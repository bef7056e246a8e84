"""unlock_admin SLUG EMAIL [--reset-password | --password-stdin]: the way back in for an admin
locked out of the admin portal (too many failed sign-ins, a disabled account, a forgotten
password), run by whoever operates the server. Audited in the tenant's trail."""

from __future__ import annotations

import secrets
import sys

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from users.models import Tenant, User, UserRole, UserSource
from users.services.accounts import do_unlock_admin

ACTOR = "manage.py unlock_admin"


class Command(BaseCommand):
    help = ("Unlock an admin of a tenant: re-enable the account and clear its sign-in lockout; "
            "optionally set a temporary password, to be changed at the next sign-in.")
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The tenant's slug (as in /t/<slug>/admin/).")
        parser.add_argument("email", help="The admin's email address.")
        password = parser.add_mutually_exclusive_group()
        password.add_argument("--reset-password", action="store_true",
                              help="Set a new random temporary password and print it once.")
        password.add_argument("--password-stdin", action="store_true",
                              help="Read the temporary password from standard input.")

    def handle(self, *args, slug: str, email: str, reset_password: bool, password_stdin: bool,
               **options):
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {slug!r}.")
        admin = (User.objects.for_tenant(tenant)
                 .filter(email__iexact=email.strip(), role=UserRole.ADMIN).first())
        if admin is None:
            raise CommandError(f"{tenant.slug!r} has no admin {email!r}.")
        temporary = None
        if reset_password or password_stdin:
            if admin.source != UserSource.LOCAL:
                raise CommandError(f"{admin.email} signs in with directory (LDAP) credentials: "
                                   "reset the password in the directory.")
            temporary = (self._read_password(options.get("stdin") or sys.stdin)
                         if password_stdin else secrets.token_urlsafe(12))
            try:
                validate_password(temporary, admin)
            except ValidationError as exc:
                raise CommandError("Password rejected: " + " ".join(exc.messages)) from None
        done = do_unlock_admin(tenant, admin, actor=ACTOR, temporary_password=temporary)
        self.stdout.write(self.style.SUCCESS(
            f"Unlocked {admin.email} in {tenant.slug!r}: sign-in lockout cleared"
            + ("; account re-enabled" if done.reenabled else "") + "."))
        if reset_password:
            self.stdout.write(f"Temporary password: {temporary}")
        if done.password_reset:
            self.stdout.write("It must be changed at the next sign-in to the admin portal.")

    @staticmethod
    def _read_password(stream) -> str:
        password = stream.readline().rstrip("\r\n")
        if not password:
            raise CommandError("No password on standard input.")
        return password
