"""The scenarios' rate limits counted in Redis, so that a caller's requests count across workers and mocks.

The same token bucket as `Scenario.rate_limited` (a burst of `max(1, rate)`, refilled at `rate` per
second), kept per scenario name and caller under `rate:NAME:DIGEST`, taken and refilled atomically by
one script for all the request's limits, on Redis's clock so that machines' clocks need not agree. A
bucket expires once it would be full again, so idle callers leave nothing behind; a scenario replaced
or reset under the same name keeps its bucket until then.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...scenarios import MAX_RETRY_AFTER, Scenario
from .connection import RedisConnection

# KEYS: one bucket per limit. ARGV: each one's rate, then the longest wait to tell.
# Returns per bucket the seconds to wait, or -1 when the request passes (and is counted).
_TAKE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local longest = tonumber(ARGV[#KEYS + 1])
local waits = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[i])
  local burst = math.max(1, rate)
  local kept = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(kept[1]) or burst
  local at = tonumber(kept[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
  if tokens < 1 then
    waits[i] = math.min(longest, math.max(1, math.ceil((1 - tokens) / rate)))
  else
    tokens = tokens - 1
    waits[i] = -1
  end
  redis.call('HSET', key, 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', now))
  redis.call('PEXPIRE', key, math.min(86400000, math.ceil((burst - tokens) / rate * 1000) + 1000))
end
return waits
"""


class RedisRateLimits:
    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection
        self._take = connection.client.register_script(_TAKE)

    async def take(self, owner: str, scenarios: Sequence[Scenario]) -> list[int | None]:
        keys = [self.connection.key("rate", scenario.name, owner) for scenario in scenarios]
        rates = [scenario.rate_limit or 0.0 for scenario in scenarios]  # each has one: the book asks only for those
        waits: list[int] = await self.connection.call(self._take(keys=keys, args=[*rates, MAX_RETRY_AFTER]))
        return [None if wait < 0 else wait for wait in waits]
