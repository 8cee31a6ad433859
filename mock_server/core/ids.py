"""Identifiers shaped like Kling's: 22 characters from A-Z a-z 0-9 _ -."""

from __future__ import annotations

import base64
import os
import random

# Unseeded ids are made this many at a time from one read of the system's secure random source:
# every request takes two (its request id, its task's), and a system call each was a measurable
# share of a request.
_BATCH = 256


class IdGenerator:
    """Ids of 22 characters from A-Z a-z 0-9 _ - (128 random bits, base64url).

    With a seed, the same seed and the same requests give the same ids, so recorded fixtures
    stay valid; without one, ids come from the system's secure random source.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed) if seed is not None else None
        self._ready: list[str] = []

    def new(self) -> str:
        if self._random is not None:
            return _encoded(self._random.randbytes(16))
        if not self._ready:
            block = os.urandom(16 * _BATCH)
            self._ready = [_encoded(block[start : start + 16]) for start in range(0, len(block), 16)]
        return self._ready.pop()


def _encoded(sixteen: bytes) -> str:
    return base64.urlsafe_b64encode(sixteen)[:22].decode()
