"""Unit tests of the mock's parts."""
