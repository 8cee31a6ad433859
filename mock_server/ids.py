"""Identifiers and timestamps shaped like Kling's."""

from __future__ import annotations

import base64
import random
import secrets
import time


class IdGenerator:
    """Ids of 22 characters from A-Z a-z 0-9 _ - (128 random bits, base64url).

    With a seed, the same seed and the same requests give the same ids, so recorded fixtures
    stay valid; without one, ids come from the system's secure random source.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed) if seed is not None else None

    def new(self) -> str:
        if self._random is None:
            return secrets.token_urlsafe(16)
        return base64.urlsafe_b64encode(self._random.randbytes(16)).rstrip(b"=").decode()


def now_ms() -> int:
    """Unix epoch in milliseconds, as Kling's `created_at` and `updated_at` are."""
    return time.time_ns() // 1_000_000
