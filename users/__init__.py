"""Tenants, accounts (admins and end users), API tokens, and later LDAP and PINs."""
