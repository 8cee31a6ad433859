"""Identifiers and timestamps shaped like Kling's."""

from __future__ import annotations

import secrets
import time


def new_id() -> str:
    """A fresh id of 22 characters from A-Z a-z 0-9 _ - (128 random bits, base64url)."""
    return secrets.token_urlsafe(16)


def now_ms() -> int:
    """Unix epoch in milliseconds, as Kling's `created_at` and `updated_at` are."""
    return time.time_ns() // 1_000_000
