"""Tests of core: configuration, caches, locks and the other Django-only building blocks."""
