"""The scenarios in Redis (`kling-mock serve --store redis://...`): one list for every worker and mock sharing it.

Keys, under the connection's prefix:

- `scenarios`: a hash, name → `GENERATION JSON`: the scenario as kept (its caller a token's digest,
  never the token). GENERATION, from `scenarios-version`, orders the list and tells a scenario from a
  later one of the same name.
- `scenario-uses`: a hash, name → `GENERATION LEFT`, for the scenarios with `times`: counted down by
  one script for all of a request's, so that `times: 2` means two uses across every process.
- `scenarios-version`: bumped by every change to the list.
- `scenarios-file`: a digest of the `--scenarios` file the list was last seeded or reset from.

Each process keeps the list as it last read it, and reads `scenarios-version` once per request (one
GET): unchanged, the list costs nothing more; changed, it is read again (one HGETALL). So a scenario
added through any process's admin API applies to the next request any process answers: a TTL would be
cheaper, but would let a test's request run before its scenario. While Redis is away, a process plays
the list it last read (requests that need nothing of Redis are still answered), but a scenario with
`times` cannot be counted: its request gets 503/5001.

The `--scenarios` file: every process, at start, seeds the list from its file when the list was last
seeded from another file (or never): the file's scenarios, counters full, replace the whole list.
When it holds the same file's already, it is left as it is, counters as spent and scenarios removed
through the admin API still removed: so workers starting, or a mock restarting, refill nothing.
`POST /__admin/reset` puts the answering process's file back, counters full. Mocks sharing a prefix
should share the file: each start with another file replaces the list. A Redis that comes back
without its data (or was away at start) is seeded again by the next request.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import orjson

from ...core.errors import StoreUnavailable
from ...scenarios import Scenario
from .connection import RedisConnection

logger = logging.getLogger("kling_mock.scenarios")

# What a scenario is kept as: its fields, not its own rate-limit buckets.
_FIELDS = tuple(field.name for field in dataclasses.fields(Scenario) if not field.name.startswith("_"))

# Defines put(scenarios, uses, version, name, record, times): times is '' for a scenario without.
_PUT_ONE = """
local function put(scenarios, uses, version, name, record, times)
  local generation = redis.call('INCR', version)
  redis.call('HSET', scenarios, name, generation .. ' ' .. record)
  if times == '' then
    redis.call('HDEL', uses, name)
  else
    redis.call('HSET', uses, name, generation .. ' ' .. times)
  end
end
"""

# KEYS: scenarios, scenario-uses, scenarios-version. ARGV: name, record, times.
_PUT = _PUT_ONE + "put(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3])"

# KEYS: scenarios, scenario-uses, scenarios-version. ARGV: name. Returns 1 when there was one.
_REMOVE = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('INCR', KEYS[3])
return 1
"""

# KEYS: scenarios, scenario-uses, scenarios-version, scenarios-file. ARGV: the file's digest ('' leaves
# the one kept), '1' to do nothing when it is the one kept, then name, record, times per scenario.
_REPLACE = (
    _PUT_ONE
    + """
if ARGV[2] == '1' and redis.call('GET', KEYS[4]) == ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('INCR', KEYS[3])
for i = 3, #ARGV, 3 do put(KEYS[1], KEYS[2], KEYS[3], ARGV[i], ARGV[i + 1], ARGV[i + 2]) end
if ARGV[1] ~= '' then redis.call('SET', KEYS[4], ARGV[1]) end
return 1
"""
)

# KEYS: scenario-uses. ARGV: name, generation per scenario. Returns per scenario 1 when a use was left
# (and is now taken), else 0: spent, or removed or replaced meanwhile.
_TAKE = """
local taken = {}
for i = 1, #ARGV, 2 do
  local kept = redis.call('HGET', KEYS[1], ARGV[i])
  local generation, left
  if kept then generation, left = string.match(kept, '^(%d+) (%d+)$') end
  if generation == ARGV[i + 1] and tonumber(left) > 0 then
    redis.call('HSET', KEYS[1], ARGV[i], generation .. ' ' .. (tonumber(left) - 1))
    taken[#taken + 1] = 1
  else
    taken[#taken + 1] = 0
  end
end
return taken
"""


class RedisScenarios:
    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection
        client = connection.client
        self._put = client.register_script(_PUT)
        self._remove = client.register_script(_REMOVE)
        self._replace = client.register_script(_REPLACE)
        self._take = client.register_script(_TAKE)
        self._scenarios = connection.key("scenarios")
        self._uses = connection.key("scenario-uses")
        self._version_key = connection.key("scenarios-version")
        self._file_key = connection.key("scenarios-file")
        # The `--scenarios` file's, once started: seeded again if Redis comes back without them.
        self._seed: list[Scenario] | None = None
        # The list as last read: at `_version`, by name, with each one's generation (by identity).
        self._version: bytes | None = None
        self._by_name: dict[str, Scenario] = {}
        self._generations: dict[Scenario, bytes] = {}

    async def start(self, file: list[Scenario]) -> None:
        self._seed = file
        try:
            await self._replace_with(file, _digest(file), only_if_new=True)
        except StoreUnavailable:
            logger.warning("the --scenarios file's scenarios will be put in Redis when it is back")

    async def current(self) -> Mapping[str, Scenario]:
        try:
            version = await self.connection.call(self.connection.client.get(self._version_key))
            if version is None and self._seed is not None:
                # Never seeded: Redis was away at start, or came back without its data.
                await self._replace_with(self._seed, _digest(self._seed), only_if_new=True)
                version = b""
            if version != self._version:
                await self._read()
        except StoreUnavailable:
            pass  # the list last read; `count_uses` tells the request when it needs Redis
        return self._by_name

    async def count_uses(self, chosen: list[Scenario]) -> list[Scenario]:
        counted = [scenario for scenario in chosen if scenario.remaining is not None]
        if not counted:
            return chosen
        args: list[Any] = []
        for scenario in counted:
            args += [scenario.name, self._generations.get(scenario, b"")]
        taken = await self.connection.call(self._take(keys=[self._uses], args=args))
        spent = {scenario for scenario, took in zip(counted, taken, strict=True) if not took}
        return [scenario for scenario in chosen if scenario not in spent]

    async def listed(self) -> list[Scenario]:
        async with self.connection.client.pipeline(transaction=True) as pipe:
            pipe.hgetall(self._scenarios)
            pipe.hgetall(self._uses)
            kept, uses = await self.connection.call(pipe.execute())
        listed = []
        for generation, scenario in _parsed(kept):
            left = uses.get(scenario.name.encode(), b"").partition(b" ")
            scenario.remaining = int(left[2]) if left[0] == generation else None
            listed.append(scenario)
        return listed

    async def put(self, scenario: Scenario) -> None:
        keys = [self._scenarios, self._uses, self._version_key]
        await self.connection.call(self._put(keys=keys, args=_put_args(scenario)))

    async def remove(self, name: str) -> bool:
        keys = [self._scenarios, self._uses, self._version_key]
        return bool(await self.connection.call(self._remove(keys=keys, args=[name])))

    async def replace(self, scenarios: list[Scenario], *, from_file: bool) -> None:
        await self._replace_with(scenarios, _digest(scenarios) if from_file else "", only_if_new=False)

    async def _replace_with(self, scenarios: list[Scenario], digest: str, *, only_if_new: bool) -> None:
        args: list[Any] = [digest, "1" if only_if_new else "0"]
        for scenario in scenarios:
            args += _put_args(scenario)
        keys = [self._scenarios, self._uses, self._version_key, self._file_key]
        await self.connection.call(self._replace(keys=keys, args=args))

    async def _read(self) -> None:
        async with self.connection.client.pipeline(transaction=True) as pipe:
            pipe.get(self._version_key)
            pipe.hgetall(self._scenarios)
            version, kept = await self.connection.call(pipe.execute())
        parsed = _parsed(kept)
        self._version = version
        self._by_name = {scenario.name: scenario for _, scenario in parsed}
        self._generations = {scenario: generation for generation, scenario in parsed}


def _record(scenario: Scenario) -> bytes:
    return orjson.dumps({name: getattr(scenario, name) for name in _FIELDS})


def _put_args(scenario: Scenario) -> list[Any]:
    return [scenario.name, _record(scenario), "" if scenario.remaining is None else scenario.remaining]


def _digest(scenarios: list[Scenario]) -> str:
    """Which file a list was seeded from, by its scenarios as kept: no token enters it, only their digests."""
    return hashlib.sha256(b"\n".join(_record(scenario) for scenario in scenarios)).hexdigest()


def _parsed(kept: dict[bytes, bytes]) -> list[tuple[bytes, Scenario]]:
    """The scenarios of the `scenarios` hash, oldest first, each with its generation."""
    found = []
    for value in kept.values():
        generation, _, record = value.partition(b" ")
        found.append((generation, Scenario(**orjson.loads(record))))
    return sorted(found, key=lambda item: int(item[0]))
