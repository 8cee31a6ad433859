"""Politeness towards the target: a global cap on requests per second, and backing off on 429.

After a 429 for a rate limit (1302, 1303) the suite waits what `Retry-After` says (or an
exponential backoff without it) and halves its own rate, so that a run does not trip the
limit twice in a row. It climbs back a step at a time as requests keep succeeding, up to the
`--rps` cap (or, without one, to no limit): one 429 early in a long run does not slow all of it.
A 429 for the account (1100-1102) is not transient: it is not retried.

`kling-mock contract` probes the target's dialect before pytest runs the suite in the same
process; `SharedThrottle` hands the probe's throttle to the suite, so the cap holds across both.
"""

from __future__ import annotations

import email.utils
import time
from collections import deque
from collections.abc import Callable, Iterable

import orjson
import requests

RATE_LIMIT_CODES = frozenset({1302, 1303})
MAX_RETRIES = 4
FIRST_BACKOFF_S = 1.0
# A Retry-After longer than this is not waited for (nor retried): the 429 stands.
MAX_WAIT_S = 300.0
# The rate that tripped a limit is measured over this many recent requests.
_RATE_WINDOW = 20
# After a 429 lowered the rate, each run of this many successes raises it by one step: a tenth of
# the cap (or, without a cap, of the rate that tripped the limit). Halved from the cap, it is back
# there after 50 successes.
RECOVER_AFTER = 10
RECOVER_STEP = 0.1


class Throttle:
    def __init__(
        self,
        rps: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rps = rps
        # `--rps` as given: recovery never climbs above it (None: back to no limit).
        self.cap = rps
        self.clock = clock
        self.sleep = sleep
        self._next_at = 0.0
        self._backoff = FIRST_BACKOFF_S
        self._recent: deque[float] = deque(maxlen=_RATE_WINDOW)
        # The rate that last tripped a limit, and the successes since the rate was last lowered or raised.
        self._tripped_at: float | None = None
        self._successes = 0
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
            self._recover()
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
        self._tripped_at = min(self.rps or float("inf"), self._observed_rps())
        self.rps = self._tripped_at / 2
        self._successes = 0
        self._next_at = max(self._next_at, self.clock() + delay)
        self.backoffs += 1
        return delay

    def _recover(self) -> None:
        """One more success: after `RECOVER_AFTER` of them at a lowered rate, one step back up (additive
        increase; a 429 halves again), never above the cap, and without one, to no limit."""
        ceiling = self.cap or self._tripped_at
        if self.rps is None or ceiling is None or (self.cap is not None and self.rps >= self.cap):
            return
        self._successes += 1
        if self._successes < RECOVER_AFTER:
            return
        self._successes = 0
        raised = self.rps + RECOVER_STEP * ceiling
        self.rps = raised if raised < ceiling else self.cap


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


class SharedThrottle:
    """A pytest plugin that only carries the runner's throttle to the suite (`pytest.main(plugins=...)`):
    with a throttle each, the suite's first request could follow the probe's last sooner than `--rps`
    allows, and would forget a rate a 429 lowered."""

    def __init__(self, throttle: Throttle) -> None:
        self.throttle = throttle


def suite_throttle(plugins: Iterable[object], rps: float | None) -> Throttle:
    """The throttle the runner handed over, or, in a plain pytest run, a new one at `rps`."""
    for plugin in plugins:
        if isinstance(plugin, SharedThrottle):
            return plugin.throttle
    return Throttle(rps)


def describe_rate(rps: float | None) -> str:
    return f"at most {rps:g} requests/s" if rps else "no rate cap"
