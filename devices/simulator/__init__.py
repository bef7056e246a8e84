"""Simulated devices that drive the real HTTP endpoints (profile download, SCEP, MDM check-in
and commands; Android Pub/Sub notifications) for demos, load and end-to-end tests."""
