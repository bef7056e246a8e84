"""Tests of Android enrollment: enterprise binding, enrollment tokens, Google's messages."""
