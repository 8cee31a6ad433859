"""Tasks in Redis (`kling-mock serve --store redis://...`): workers, and mocks on several machines, as one backend.

Keys, under the backend's prefix (`kling-mock:` by default):

- `task:ID`: the task, one string: `S UUUUUUUUUUUUUUUU CCCCCCCCCCCCCCCC` (no spaces) then JSON. S is the
  step (one digit), U `updated_at` and C `created_at` (16 digits each), so that an update rewrites 17
  bytes in place (SETRANGE) and eviction never parses the JSON, `[owner, callback_url, fate, video]`
  (the owner, a hex digest, is matched where it starts).
  The documented example's task is about 320 bytes: 0.75 KB of Redis's memory with its key and
  sorted-set entries (measured over 20,000 tasks; `test_mock_store_redis.py` keeps it under 1 KB).
- `owner:DIGEST`: the owner's task ids, a sorted set scored by creation order: newest first, paged.
- `tasks`: every task id, likewise: the admin API's `recent`, and the bound's oldest-first order.
- `seq`: the creation counter scoring both, so that tasks created in the same millisecond keep their order.

Each call is one round trip: a script for what touches several keys (create, update, list), a GET to read.
Updates only move a task forward: two workers advancing the same task at once can both write, and
the later step wins, whichever arrives last. The store is bounded like the memory store: past
`max_tasks`, each create evicts the oldest finished task among the `scan` oldest, else the oldest.
Mocks sharing a prefix share the bound: give them the same `--max-tasks`.
"""

from __future__ import annotations

import orjson

from .lifecycle import FINAL_STEP
from .redis_backend import RedisBackend
from .store import Task

_SCAN = 32
# At most this many evictions per create: mocks with a smaller bound than the rest drain the excess gradually.
_MAX_EVICTIONS = 8
_HEADER = 33  # step, updated_at, created_at

# KEYS: seq, tasks, task, owner. ARGV: id, record, max_tasks, scan, now, tick_ms, task key prefix,
# owner key prefix, evictions at most, the lifecycle's final step.
_ADD = """
redis.call('SET', KEYS[3], ARGV[2])
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[4], seq, ARGV[1])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
local excess = math.min(redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3]), tonumber(ARGV[9]))
local now, tick, final = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[10])
local function finished(record)
  if tick == 0 then return tonumber(string.sub(record, 1, 1)) >= final end
  return now - tonumber(string.sub(record, 18, 33)) >= final * tick
end
for _ = 1, excess do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[4]) - 1)
  local victim, record = oldest[1], nil
  for i, id in ipairs(oldest) do
    local candidate = redis.call('GET', ARGV[7] .. id)
    if i == 1 then record = candidate end
    if not candidate or finished(candidate) then
      victim, record = id, candidate
      break
    end
  end
  redis.call('ZREM', KEYS[2], victim)
  if record then
    redis.call('DEL', ARGV[7] .. victim)
    local owner = string.match(record, '^%["([^"]*)"', 34)
    if owner then redis.call('ZREM', ARGV[8] .. owner, victim) end
  end
end
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

    def __init__(self, backend: RedisBackend, max_tasks: int, tick_ms: int, scan: int = _SCAN) -> None:
        if max_tasks < 1:
            raise ValueError("max_tasks must be at least 1")
        self.backend = backend
        self.max_tasks = max_tasks
        self.tick_ms = tick_ms
        self.scan = scan
        client = backend.client
        self._add = client.register_script(_ADD)
        self._update = client.register_script(_UPDATE)
        self._page = client.register_script(_PAGE)
        self._seq = backend.key("seq")
        self._all = backend.key("tasks")
        self._task_prefix = backend.key("task", "")
        self._owner_prefix = backend.key("owner", "")

    async def add(self, task: Task) -> None:
        keys = [self._seq, self._all, self._task_prefix + task.task_id, self._owner_prefix + task.owner]
        args: list[bytes | str | int] = [
            task.task_id,
            _record(task),
            self.max_tasks,
            self.scan,
            task.created_at,
            self.tick_ms,
            self._task_prefix,
            self._owner_prefix,
            _MAX_EVICTIONS,
            FINAL_STEP,
        ]
        await self.backend.call(self._add(keys=keys, args=args))

    async def get(self, task_id: str) -> Task | None:
        record = await self.backend.call(self.backend.client.get(self._task_prefix + task_id))
        return None if record is None else _task(task_id, record)

    async def update(self, task: Task) -> None:
        # Only what moves: a task's input, owner and creation time never change.
        head = f"{task.step}{task.updated_at:016d}"
        await self.backend.call(self._update(keys=[self._task_prefix + task.task_id], args=[task.step, head]))

    async def list_owned(self, owner: str, offset: int, limit: int) -> list[Task]:
        return await self._tasks(self._owner_prefix + owner, offset, limit)

    async def recent(self, limit: int) -> list[Task]:
        return await self._tasks(self._all, 0, limit)

    async def aclose(self) -> None:
        """Close the backend's pool: the store is the last of its users to stop (the service closes it last)."""
        await self.backend.aclose()

    async def _tasks(self, ids_key: str, offset: int, limit: int) -> list[Task]:
        found: list[bytes] = await self.backend.call(
            self._page(keys=[ids_key], args=[offset, limit, self._task_prefix])
        )
        return [_task(found[i].decode(), found[i + 1]) for i in range(0, len(found), 2)]


def _record(task: Task) -> bytes:
    head = f"{task.step}{task.updated_at:016d}{task.created_at:016d}".encode()
    return head + orjson.dumps([task.owner, task.callback_url, task.fate, task.video])


def _task(task_id: str, record: bytes | str) -> Task:
    owner, callback_url, fate, video = orjson.loads(record[_HEADER:])
    step, updated_at, created_at = int(record[0:1]), int(record[1:17]), int(record[17:_HEADER])
    return Task(task_id, owner, created_at, updated_at, video, callback_url, step, fate)
