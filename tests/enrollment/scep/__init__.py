"""Tests of enrollment.scep: the pure protocol layer, and the endpoint against the tenant CA."""
