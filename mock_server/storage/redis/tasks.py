"""Tasks in Redis (`kling-mock serve --store redis://...`): workers, and mocks on several machines, as one backend.

Keys, under the connection's prefix (`kling-mock:` by default):

- `task:ID`: the task, one string: `S UUUUUUUUUUUUUUUU CCCCCCCCCCCCCCCC` (no spaces) then JSON. S is the
  step (one digit), U `updated_at` and C `created_at` (16 digits each), so that an update rewrites 17
  bytes in place (SETRANGE) and eviction never parses the JSON,
  `[owner, kind, callback_url, fate, payload, external_id]`.
  The documented example's task is about 330 bytes: about 0.8 KB of Redis's memory with its key and
  sorted-set entries (the storage tests keep it under 1 KB).
- `owner:DIGEST:KIND`: the owner's tasks of one kind, a sorted set scored by creation order: newest first, paged.
- `external:DIGEST:KIND`: a hash, the owner's external ids of that kind → task id, which keeps them unique.
- `tasks`: every task id, likewise: the admin API's `recent`, and the bound's oldest-first order.
- `seq`: the creation counter scoring both, so that tasks created in the same millisecond keep their order.
- `clock`: the last stamp given, in epoch milliseconds.

One clock for what is ordered: a task's `created_at` (and `updated_at`, the same at first) is stamped by the
create script itself, from Redis's `TIME`, never before the last stamp (`clock`), in the same atomic step that
takes its `seq`. So `created_at` never decreases as `seq` grows, and every list, read newest first, has
`created_at` non-increasing, however many workers and machines create tasks and whatever their clocks say.
A poll that advances a task (`--tick-ms 0`) stamps its `updated_at` from Redis's `TIME` too (`now_ms`).

Each call is one round trip: a script for what touches several keys (create, update, list), a GET to read.
Updates only move a task forward: two workers advancing the same task at once can both write, and
the later step wins, whichever arrives last. The store is bounded like the memory store: past
`max_tasks`, each create evicts the oldest finished task among the `scan` oldest, else the oldest.
Mocks sharing a prefix share the bound: give them the same `--max-tasks`.
"""

from __future__ import annotations

import dataclasses

import orjson

from ...domain import FINAL_STEP, ExternalIdTaken, Task
from .connection import RedisConnection

_SCAN = 32
# At most this many evictions per create: mocks with a smaller bound than the rest drain the excess gradually.
_MAX_EVICTIONS = 8
_HEADER = 33  # step, updated_at, created_at
# Records of versions before tasks had kinds, `[owner, callback_url, fate, video]`, are identify-face tasks all
# (listed under `owner:DIGEST`, which this version no longer reads).
_LEGACY_KIND = "identify-face"

# KEYS: seq, tasks, task, owner's tasks of the kind, owner's external ids of the kind, clock. ARGV: id, record
# (its times to be stamped), max_tasks, scan, tick_ms, task key prefix, owner key prefix, evictions at most, the
# lifecycle's final step, external id ('' for none), external key prefix. Returns the stamp, or -1 when the
# external id is taken.
_ADD = """
if ARGV[10] ~= '' and redis.call('HSETNX', KEYS[5], ARGV[10], ARGV[1]) == 0 then return -1 end
local last = tonumber(redis.call('GET', KEYS[6]) or '')
if not last then  -- a store kept by an earlier version: never before its newest task
  local newest = redis.call('ZREVRANGE', KEYS[2], 0, 0)[1]
  local record = newest and redis.call('GET', ARGV[6] .. newest)
  last = record and tonumber(string.sub(record, 18, 33)) or 0
end
local time = redis.call('TIME')
local stamp = math.max(tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000), last)
local stamped = string.format('%016.0f', stamp)
redis.call('SET', KEYS[6], stamped)
redis.call('SET', KEYS[3], string.sub(ARGV[2], 1, 1) .. stamped .. stamped .. string.sub(ARGV[2], 34))
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[4], seq, ARGV[1])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
local excess = math.min(redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3]), tonumber(ARGV[8]))
local now, tick, final = stamp, tonumber(ARGV[5]), tonumber(ARGV[9])
local function finished(record)
  if tick == 0 then return tonumber(string.sub(record, 1, 1)) >= final end
  return now - tonumber(string.sub(record, 18, 33)) >= final * tick
end
for _ = 1, excess do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[4]) - 1)
  local victim, record = oldest[1], nil
  for i, id in ipairs(oldest) do
    local candidate = redis.call('GET', ARGV[6] .. id)
    if i == 1 then record = candidate end
    if not candidate or finished(candidate) then
      victim, record = id, candidate
      break
    end
  end
  redis.call('ZREM', KEYS[2], victim)
  if record then
    redis.call('DEL', ARGV[6] .. victim)
    local fields = cjson.decode(string.sub(record, 34))
    if #fields == 6 then
      local suffix = fields[1] .. ':' .. fields[2]
      redis.call('ZREM', ARGV[7] .. suffix, victim)
      if type(fields[6]) == 'string' then redis.call('HDEL', ARGV[11] .. suffix, fields[6]) end
    else
      redis.call('ZREM', ARGV[7] .. fields[1], victim)  -- a record of an earlier version: `owner:DIGEST`
    end
  end
end
return stamp
"""

# KEYS: task. ARGV: step, the new header's first 17 bytes (step, updated_at). A task evicted meanwhile stays gone.
_UPDATE = """
local stored = redis.call('GETRANGE', KEYS[1], 0, 0)
if stored == '' or tonumber(stored) >= tonumber(ARGV[1]) then return 0 end
redis.call('SETRANGE', KEYS[1], 0, ARGV[2])
return 1
"""

# KEYS: a sorted set of ids. ARGV: offset, limit, task key prefix. Returns id, record, id, record, ...
_PAGE = """
local offset, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
if limit < 1 then return {} end
local found = {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], offset, offset + limit - 1)) do
  local record = redis.call('GET', ARGV[3] .. id)
  if record then
    found[#found + 1] = id
    found[#found + 1] = record
  end
end
return found
"""


class RedisTaskStore:
    """`tick_ms` is the lifecycle's: it tells eviction which tasks are finished, as the memory store's `is_finished`."""

    def __init__(self, connection: RedisConnection, max_tasks: int, tick_ms: int, scan: int = _SCAN) -> None:
        if max_tasks < 1:
            raise ValueError("max_tasks must be at least 1")
        self.connection = connection
        self.max_tasks = max_tasks
        self.tick_ms = tick_ms
        self.scan = scan
        client = connection.client
        self._add = client.register_script(_ADD)
        self._update = client.register_script(_UPDATE)
        self._page = client.register_script(_PAGE)
        self._seq = connection.key("seq")
        self._clock = connection.key("clock")
        self._all = connection.key("tasks")
        self._task_prefix = connection.key("task", "")
        self._owner_prefix = connection.key("owner", "")
        self._external_prefix = connection.key("external", "")

    async def add(self, task: Task) -> Task:
        suffix = f"{task.owner}:{task.kind}"
        keys = [
            self._seq,
            self._all,
            self._task_prefix + task.task_id,
            self._owner_prefix + suffix,
            self._external_prefix + suffix,
            self._clock,
        ]
        args: list[bytes | str | int] = [
            task.task_id,
            _record(task),
            self.max_tasks,
            self.scan,
            self.tick_ms,
            self._task_prefix,
            self._owner_prefix,
            _MAX_EVICTIONS,
            FINAL_STEP,
            task.external_id or "",
            self._external_prefix,
        ]
        stamp: int = await self.connection.call(self._add(keys=keys, args=args))
        if stamp == -1:
            raise ExternalIdTaken(task.external_id)
        return dataclasses.replace(task, created_at=stamp, updated_at=stamp)

    async def now_ms(self, local_ms: int) -> int:
        """Redis's `TIME`, the clock every create is stamped by; `local_ms` is not needed."""
        seconds, microseconds = await self.connection.call(self.connection.client.time())
        return int(seconds) * 1000 + int(microseconds) // 1000

    async def get(self, task_id: str) -> Task | None:
        record = await self.connection.call(self.connection.client.get(self._task_prefix + task_id))
        return None if record is None else _task(task_id, record)

    async def update(self, task: Task) -> None:
        # Only what moves: a task's input, owner and creation time never change.
        head = f"{task.step}{task.updated_at:016d}"
        await self.connection.call(self._update(keys=[self._task_prefix + task.task_id], args=[task.step, head]))

    async def list_owned(self, owner: str, kind: str, offset: int, limit: int) -> list[Task]:
        return await self._tasks(f"{self._owner_prefix}{owner}:{kind}", offset, limit)

    async def recent(self, limit: int) -> list[Task]:
        return await self._tasks(self._all, 0, limit)

    async def aclose(self) -> None:
        """Nothing of its own: the backend closes the connection it shares."""

    async def _tasks(self, ids_key: str, offset: int, limit: int) -> list[Task]:
        found: list[bytes] = await self.connection.call(
            self._page(keys=[ids_key], args=[offset, limit, self._task_prefix])
        )
        return [_task(found[i].decode(), found[i + 1]) for i in range(0, len(found), 2)]


def _record(task: Task) -> bytes:
    head = f"{task.step}{task.updated_at:016d}{task.created_at:016d}".encode()
    fields = [task.owner, task.kind, task.callback_url, task.fate, task.payload, task.external_id]
    return head + orjson.dumps(fields)


def _task(task_id: str, record: bytes | str) -> Task:
    fields = orjson.loads(record[_HEADER:])
    if len(fields) == 4:  # a record of an earlier version
        owner, callback_url, fate, payload = fields
        kind, external_id = _LEGACY_KIND, None
    else:
        owner, kind, callback_url, fate, payload, external_id = fields
    step, updated_at, created_at = int(record[0:1]), int(record[1:17]), int(record[17:_HEADER])
    return Task(task_id, kind, owner, created_at, updated_at, payload, callback_url, step, fate, external_id)
