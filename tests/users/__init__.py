"""Tests of the users app: accounts, LDAP connector."""
