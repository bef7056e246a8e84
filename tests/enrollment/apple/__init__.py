"""Tests of Apple enrollment: the enrollment profile and the whole enrollment end to end."""
