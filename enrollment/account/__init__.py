"""Apple account-driven enrollment: service discovery, the device's enrollment request and
the access tokens a web sign-in hands to the device (see README "Account-driven
enrollment")."""
