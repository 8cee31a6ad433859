"""The mock's clock: Unix epoch milliseconds, as Kling's `created_at` and `updated_at` are.

Injectable, so that what depends on time (task lifecycles, sessions valid for 24 hours) can be tested without
waiting: `ManualClock` stands still until told, and every clock can be moved forward (`advance`), which the admin
API exposes to tests over HTTP.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Now, in Unix epoch milliseconds."""
        ...

    def advance(self, ms: int) -> None:
        """Move this clock `ms` milliseconds forward (never back)."""
        ...


def system_ms() -> int:
    return time.time_ns() // 1_000_000


class SystemClock:
    """The system's time, plus however far it was moved forward."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.offset_ms

    def advance(self, ms: int) -> None:
        if ms < 0:
            raise ValueError("a clock moves forward only")
        self.offset_ms += ms


class ManualClock:
    """A clock that stands still until moved: for tests in process."""

    def __init__(self, now_ms: int) -> None:
        self._now = now_ms

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: int) -> None:
        if ms < 0:
            raise ValueError("a clock moves forward only")
        self._now += ms
