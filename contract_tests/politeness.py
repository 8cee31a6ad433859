"""Politeness towards the target: a global cap on requests per second, and backing off on 429.

After a 429 for a rate limit (1302, 1303) the suite waits what `Retry-After` says (or an
exponential backoff without it) and halves its own rate, so that a run does not trip the
limit twice in a row. A 429 for the account (1100-1102) is not transient: it is not retried.
"""

from __future__ import annotations

import email.utils
import time
from collections import deque
from collections.abc import Callable

import orjson
import requests

RATE_LIMIT_CODES = frozenset({1302, 1303})
MAX_RETRIES = 4
FIRST_BACKOFF_S = 1.0
# A Retry-After longer than this is not waited for (nor retried): the 429 stands.
MAX_WAIT_S = 300.0
# The rate that tripped a limit is measured over this many recent requests.
_RATE_WINDOW = 20


class Throttle:
    def __init__(
        self,
        rps: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rps = rps
        self.clock = clock
        self.sleep = sleep
        self._next_at = 0.0
        self._backoff = FIRST_BACKOFF_S
        self._recent: deque[float] = deque(maxlen=_RATE_WINDOW)
        self.backoffs = 0

    def wait(self) -> None:
        """Block until the next request may go."""
        delay = self._next_at - self.clock()
        if delay > 0:
            self.sleep(delay)
        now = self.clock()
        self._recent.append(now)
        self._next_at = max(self._next_at, now) + (1 / self.rps if self.rps else 0)

    def _observed_rps(self) -> float:
        if len(self._recent) < 2:
            return 1.0
        return (len(self._recent) - 1) / max(self._recent[-1] - self._recent[0], 1e-3)

    def retry_after(self, response: requests.Response) -> float | None:
        """Seconds to wait before sending the request again, or None when it is not to be retried."""
        if response.status_code != 429:
            self._backoff = FIRST_BACKOFF_S
            return None
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        code = body.get("code") if isinstance(body, dict) else None
        if isinstance(code, int) and code not in RATE_LIMIT_CODES:
            return None
        delay = _retry_after_seconds(response.headers.get("retry-after"), time.time())
        if delay is None:
            delay = self._backoff
            self._backoff = min(self._backoff * 2, MAX_WAIT_S)
        elif delay > MAX_WAIT_S:
            # Longer than a run should wait: the answer stands, and the test that met it says so.
            return None
        # Half as fast as the rate that tripped the limit from now on, and nothing at all until the
        # target said to come back.
        self.rps = min(self.rps or float("inf"), self._observed_rps()) / 2
        self._next_at = max(self._next_at, self.clock() + delay)
        self.backoffs += 1
        return delay


def _retry_after_seconds(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, when.timestamp() - now)
    return seconds if 0 <= seconds < float("inf") else None


def describe_rate(rps: float | None) -> str:
    return f"at most {rps:g} requests/s" if rps else "no rate cap"
