"""REST API of the devices app: devices, their MDM commands, Apple MDM settings."""
