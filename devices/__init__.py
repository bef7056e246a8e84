"""Devices (Apple and Android), their lifecycle states, MDM channels and pushes."""
