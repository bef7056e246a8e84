"""Tests of the pure SCEP protocol layer (no Django)."""
