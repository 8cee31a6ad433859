"""The callback queue in Redis: callbacks delivered once, in order, by whichever worker or mock claims them.

Keys, under the connection's prefix:

- `callback:ID`: a hash, task ID's job: `url`; per status not delivered yet, `#ORDER` → `DUE JSON` (its place
  in the task's life, when it is due, the task as the query renders it); `sent`, the highest order delivered
  (or given up on); `holder`, the process holding the job's lease, while one does. Statuses go out one at a
  time, lowest order first: a later one waits for the one before, as within one process. An order at or
  below `sent`, or pending already, is not added again: two workers advancing one task, or a stale one, queue
  its status once. Once nothing is pending, the hash expires after `RETAIN_MS`, which remembers `sent` far
  longer than any stale read lasts.
- `callbacks`: a sorted set of task ids scored by when their job is next due: its first pending status's time
  while nobody holds it, the end of its lease while someone does. So "due" also takes in a dead holder's jobs.

Times are Redis's (its TIME, in milliseconds): a callback due in 200 ms is due 200 ms after it reached Redis,
and leases do not depend on the mocks' clocks agreeing. Each operation is one script, atomic: a claim hands
a job to one process only, and an acknowledgement, a renewal or a hand-back applies only while the process
still holds the lease (`holder` is its token).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from typing import Any

import orjson

from ...domain.outbox import Callback, Claimed
from .connection import RedisConnection

# A claim holds this long unrenewed; the holder renews it four times as often while it delivers.
# Long enough for a loaded machine's pauses, short enough that a dead process's jobs soon go to another.
LEASE_MS = 5000
# How long a task's delivered statuses are remembered once nothing is pending.
RETAIN_MS = 600_000

# Redis's clock in milliseconds, and a job's first pending status (its order, `DUE JSON`), or nil.
_COMMON = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function head(key)
  local fields = redis.call('HGETALL', key)
  local best, record = nil, nil
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 1) == '#' then
      local order = tonumber(string.sub(fields[i], 2))
      if not best or order < best then best, record = order, fields[i + 1] end
    end
  end
  return best, record
end
local function due(record) return tonumber(string.match(record, '^(%d+)')) end
"""

# KEYS: callbacks, callback:ID. ARGV: id, url, then per callback its order, milliseconds until due, JSON.
# Returns how many were added.
_PUT = (
    _COMMON
    + """
local sent = tonumber(redis.call('HGET', KEYS[2], 'sent') or '-1')
local added = 0
for i = 3, #ARGV, 3 do
  local field = '#' .. ARGV[i]
  if tonumber(ARGV[i]) > sent and redis.call('HEXISTS', KEYS[2], field) == 0 then
    redis.call('HSET', KEYS[2], field, (now + math.max(0, tonumber(ARGV[i + 1]))) .. ' ' .. ARGV[i + 2])
    added = added + 1
  end
end
if added == 0 then return 0 end
redis.call('HSET', KEYS[2], 'url', ARGV[2])
redis.call('PERSIST', KEYS[2])
if not redis.call('HGET', KEYS[2], 'holder') then
  local _, record = head(KEYS[2])
  redis.call('ZADD', KEYS[1], due(record), ARGV[1])
end
return added
"""
)

# KEYS: callbacks. ARGV: holder, lease, limit, callback: prefix. Returns the milliseconds until the next job is
# due (-1: none), then per job claimed its id, order, url and JSON.
_CLAIM = (
    _COMMON
    + """
local found = {-1}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))) do
  local key = ARGV[4] .. id
  local order, record = head(key)
  if order then
    redis.call('HSET', key, 'holder', ARGV[1])
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
    found[#found + 1] = id
    found[#found + 1] = order
    found[#found + 1] = redis.call('HGET', key, 'url')
    found[#found + 1] = string.sub(record, string.find(record, ' ', 1, true) + 1)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
local next = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if next[2] then found[1] = math.max(0, tonumber(next[2]) - now) end
return found
"""
)

# KEYS: callbacks. ARGV: holder, lease, callback: prefix, then ids. Returns per id 1 while still held, else 0.
_RENEW = (
    _COMMON
    + """
local kept = {}
for i = 4, #ARGV do
  if redis.call('HGET', ARGV[3] .. ARGV[i], 'holder') == ARGV[1] then
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[i])
    kept[#kept + 1] = 1
  else
    kept[#kept + 1] = 0
  end
end
return kept
"""
)

# KEYS: callbacks, callback:ID. ARGV: id, holder, order, retain. Returns 0 when the job was not held by holder.
_ACK = (
    _COMMON
    + """
if redis.call('HGET', KEYS[2], 'holder') ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[2], '#' .. ARGV[3], 'holder')
if tonumber(ARGV[3]) > tonumber(redis.call('HGET', KEYS[2], 'sent') or '-1') then
  redis.call('HSET', KEYS[2], 'sent', ARGV[3])
end
local order, record = head(KEYS[2])
if order then
  redis.call('ZADD', KEYS[1], due(record), ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return 1
"""
)

# KEYS: callbacks. ARGV: holder, callback: prefix, then ids. Each job still held is due again now.
_RELEASE = (
    _COMMON
    + """
for i = 3, #ARGV do
  local key = ARGV[2] .. ARGV[i]
  if redis.call('HGET', key, 'holder') == ARGV[1] then
    redis.call('HDEL', key, 'holder')
    redis.call('ZADD', KEYS[1], now, ARGV[i])
  end
end
"""
)


class RedisCallbackQueue:
    """`domain.outbox.CallbackQueue` in Redis; each process holds leases under a token of its own."""

    def __init__(self, connection: RedisConnection, lease_ms: int = LEASE_MS, retain_ms: int = RETAIN_MS) -> None:
        self.connection = connection
        self.lease_ms = lease_ms
        self.retain_ms = retain_ms
        self.holder = f"{os.getpid()}-{secrets.token_hex(8)}"
        client = connection.client
        self._put = client.register_script(_PUT)
        self._claim = client.register_script(_CLAIM)
        self._renew = client.register_script(_RENEW)
        self._ack = client.register_script(_ACK)
        self._release = client.register_script(_RELEASE)
        self._due = connection.key("callbacks")
        self._job_prefix = connection.key("callback", "")

    async def put(self, callbacks: Sequence[Callback], now_ms: int) -> None:
        """One script per task (`TaskService` enqueues one task's at a time)."""
        by_task: dict[str, list[Any]] = {}
        for callback in callbacks:
            args = by_task.setdefault(callback.task_id, [callback.task_id, callback.url])
            args += [callback.order, callback.due_ms - now_ms, orjson.dumps(callback.task)]
        for task_id, args in by_task.items():
            await self.connection.call(self._put(keys=[self._due, self._job_prefix + task_id], args=args))

    async def claim(self, limit: int) -> tuple[list[Claimed], int | None]:
        args: list[Any] = [self.holder, self.lease_ms, limit, self._job_prefix]
        found: list[Any] = await self.connection.call(self._claim(keys=[self._due], args=args))
        jobs = [
            Claimed(found[i].decode(), int(found[i + 1]), found[i + 2].decode(), orjson.loads(found[i + 3]))
            for i in range(1, len(found), 4)
        ]
        return jobs, None if found[0] < 0 else int(found[0])

    async def renew(self, task_ids: Sequence[str]) -> list[bool]:
        args: list[Any] = [self.holder, self.lease_ms, self._job_prefix, *task_ids]
        kept: list[int] = await self.connection.call(self._renew(keys=[self._due], args=args))
        return [bool(one) for one in kept]

    async def ack(self, job: Claimed) -> bool:
        keys = [self._due, self._job_prefix + job.task_id]
        args: list[Any] = [job.task_id, self.holder, job.order, self.retain_ms]
        return bool(await self.connection.call(self._ack(keys=keys, args=args)))

    async def release(self, task_ids: Sequence[str]) -> None:
        args = [self.holder, self._job_prefix, *task_ids]
        await self.connection.call(self._release(keys=[self._due], args=args))
