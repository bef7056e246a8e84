"""The /go entry flow of registration URLs and invitations (SPEC S8-S10, S14-S16).

/r/<format_version>/<link token>/go (and .../i/<invitation token>/go): on a desktop, tell the
user to open it on the phone (S15), and offer a Mac "register this Mac"; on a phone (or a Mac
that chose to register itself), sign in (password, LDAP network credentials, or one-time PIN),
set a password when the account has none or a temporary one, then continue in the self-service
portal's registration page (for a Mac: the enrollment profile download).
"""
