"""Tests of the contract suite itself: it must fail against servers that break the contract."""
