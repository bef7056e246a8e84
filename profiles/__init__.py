"""Configuration profiles: payload builders, signing, admin-defined profiles and their scope."""
