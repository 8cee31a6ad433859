"""The journal in Redis (`kling-mock serve --store redis://... --admin`): every worker and mock sharing it as one.

Keys, under the connection's prefix:

- `journal`: the entries, a list, oldest first, cut to the last `capacity` (LTRIM). Each is
  `SEQ SINCE JSON\\nBODY`: the sequence number and `since_last_poll_ms` (`-` for none), which the
  writing script fills in, the entry's other fields as a JSON array (in `Entry`'s order), then its
  body's bytes as kept.
- `journal-seq`: the sequence, INCRBY'd by each batch; never reset, so entries are never confused
  across clears. Entries are numbered in the order they reach Redis, which across processes is
  their order of answering to within a batch's round trip.
- `journal-recorded`, `journal-lost`: the counters since the last clear. Lost entries are those a
  process could not write (Redis away, or the queue full); it adds them when it next can.
- `poll:CLEARS:DIGEST`: when a caller last polled a task, in milliseconds of the mocks' clocks
  (machines sharing a Redis should agree on the time), expiring after the spec's minimum poll interval,
  past which it no longer matters. DIGEST hashes the caller and the path, so that a token a client put
  in the path never reaches Redis; CLEARS, `journal-clears`, makes a clear forget them.

Recording never waits for Redis: entries queue in the process (at most `_QUEUE_LIMIT`; more are lost,
and counted) and one background task writes them in batches, one script per batch. Entries are made fit
to keep (no secret, bodies cut) before they leave the process; a poll that repeated a secret is judged
first, which needs its `since_last_poll_ms`, so polls get theirs from Redis before the batch is written.

Reading parses each stored record once per process and keeps the entry, with its verdict once judged,
for as long as the record is in the journal: verdicts are worked out by the reader, once per process,
never written back. A proxy's entries (`upstream`) are not kept here: the proxy has no `--store`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson

from ...core.errors import Finding, StoreUnavailable
from ...journal import Entry, EntryJudge, JournalSnapshot, Recording, Verdict, keep
from .connection import RedisConnection

logger = logging.getLogger("kling_mock.journal")

# Entries waiting for Redis in one process; past it they are lost (counted): Redis is away or too slow.
_QUEUE_LIMIT = 1000
# Entries per script call: few round trips, and no call holds Redis for long.
_BATCH = 100
# What a record's JSON array holds, in `Entry`'s order: not what the script writes in front (`seq`,
# `since_last_poll_ms`), the body (after it), nor a proxy's `upstream` (the proxy has no `--store`).
_STORED = tuple(
    field.name
    for field in dataclasses.fields(Entry)
    if field.name not in {"seq", "since_last_poll_ms", "body", "upstream"}
)

# KEYS: journal-clears. ARGV: the poll key prefix, then per poll its digest, `at`, and the interval.
# Returns per poll the milliseconds to the caller's nearest other poll of the task, or -1 for none.
# Batches of several processes arrive in any order: a poll older than the one kept is timed against it too.
_SINCE = """
local prefix = ARGV[1] .. (redis.call('GET', KEYS[1]) or '0') .. ':'
local since = {}
for i = 2, #ARGV, 3 do
  local key, at = prefix .. ARGV[i], tonumber(ARGV[i + 1])
  local last = tonumber(redis.call('GET', key))
  since[#since + 1] = last and math.abs(at - last) or -1
  if not last or at > last then redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[i + 2]) end
end
return since
"""

# KEYS: journal, journal-seq, journal-recorded, journal-lost. ARGV: capacity, entries lost meanwhile,
# then per entry its `since_last_poll_ms` (or `-`) and the rest of its record.
_APPEND = """
local count = (#ARGV - 2) / 2
local seq = redis.call('INCRBY', KEYS[2], count) - count
for i = 3, #ARGV, 2 do
  seq = seq + 1
  redis.call('RPUSH', KEYS[1], seq .. ' ' .. ARGV[i] .. ' ' .. ARGV[i + 1])
end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
redis.call('INCRBY', KEYS[3], count)
redis.call('INCRBY', KEYS[4], ARGV[2])
"""


@dataclass(slots=True)
class _Pending:
    """An entry on its way; a poll's is kept (blanked of `secrets`, judged) only once its timing is known."""

    entry: Entry
    secrets: tuple[str, ...] = ()
    judge: EntryJudge | None = None
    poll_interval_ms: int | None = None


class RedisJournal:
    def __init__(self, connection: RedisConnection, capacity: int) -> None:
        self.connection = connection
        self.capacity = capacity
        client = connection.client
        self._since = client.register_script(_SINCE)
        self._append = client.register_script(_APPEND)
        self._journal = connection.key("journal")
        self._seq = connection.key("journal-seq")
        self._recorded = connection.key("journal-recorded")
        self._lost_key = connection.key("journal-lost")
        self._clears = connection.key("journal-clears")
        self._poll_prefix = connection.key("poll", "")
        self._pending: deque[_Pending] = deque()
        # Entries this process lost and has not counted in Redis yet.
        self._lost = 0
        self._writing: asyncio.Task[None] | None = None
        # Each record read, parsed once: its entry carries its verdict once judged.
        self._parsed: dict[bytes, Entry] = {}

    def record(self, recording: Recording, judge: EntryJudge | None, poll_interval_ms: int | None) -> None:
        if len(self._pending) >= _QUEUE_LIMIT:
            self._lost += 1
            return
        entry, secrets = recording.entry()
        if poll_interval_ms is None:
            keep(entry, secrets, judge)  # now: what waits in the queue holds no secret and no large body
            self._pending.append(_Pending(entry))
        else:
            self._pending.append(_Pending(entry, secrets, judge, poll_interval_ms))
        self._start_writing()

    async def snapshot(self) -> JournalSnapshot:
        await self.flush()
        async with self.connection.client.pipeline(transaction=True) as pipe:
            pipe.lrange(self._journal, 0, -1)
            pipe.get(self._recorded)
            pipe.get(self._lost_key)
            records, recorded, lost = await self.connection.call(pipe.execute())
        self._parsed = {record: self._parsed.get(record) or _entry(record) for record in records}
        return JournalSnapshot(list(self._parsed.values()), int(recorded or 0), int(lost or 0))

    async def clear(self) -> None:
        await self.flush()  # what this process recorded before the clear goes with it
        async with self.connection.client.pipeline(transaction=True) as pipe:
            pipe.delete(self._journal, self._recorded, self._lost_key)
            pipe.incr(self._clears)
            await self.connection.call(pipe.execute())

    async def flush(self) -> None:
        """Wait until what this process recorded so far is written (or counted lost)."""
        if self._lost:
            self._start_writing()
        if self._writing is not None:
            await asyncio.shield(self._writing)

    async def aclose(self) -> None:
        await self.flush()

    # Writing.

    def _start_writing(self) -> None:
        if self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(self._write_all())

    async def _write_all(self) -> None:
        """Batches until the queue is empty; a failed one is counted lost, and the next is tried: it fails fast."""
        try:
            while self._pending or self._lost:
                batch = [self._pending.popleft() for _ in range(min(_BATCH, len(self._pending)))]
                if not await self._write(batch) and not self._pending:
                    break  # Redis is away: the count waits for the next entry, or the next read
        finally:
            self._writing = None

    async def _write(self, batch: list[_Pending]) -> bool:
        lost = self._lost
        try:
            polls = [pending for pending in batch if pending.poll_interval_ms is not None]
            if polls:
                await self._time_polls(polls)
            args: list[Any] = [self.capacity, lost]
            for pending in batch:
                since = pending.entry.since_last_poll_ms
                args += ["-" if since is None else since, _record(pending.entry)]
            keys = [self._journal, self._seq, self._recorded, self._lost_key]
            await self.connection.call(self._append(keys=keys, args=args))
        except StoreUnavailable:
            self._lost += len(batch)
            return False
        except Exception:
            logger.exception("journal entries could not be written to Redis")
            self._lost += len(batch)
            return False
        self._lost -= lost
        return True

    async def _time_polls(self, polls: list[_Pending]) -> None:
        args: list[Any] = [self._poll_prefix]
        for pending in polls:
            entry = pending.entry
            args += [_poll_digest(entry.caller, entry.path), entry.at, pending.poll_interval_ms]
        found: list[int] = await self.connection.call(self._since(keys=[self._clears], args=args))
        for pending, since in zip(polls, found, strict=True):
            pending.entry.since_last_poll_ms = None if since < 0 else since
            keep(pending.entry, pending.secrets, pending.judge)


def _poll_digest(caller: str | None, path: str) -> str:
    return hashlib.blake2b(f"{caller}\n{path}".encode(), digest_size=12).hexdigest()


def _finding(finding: Finding | None) -> list[str] | None:
    return None if finding is None else [finding.rule, finding.path, finding.message]


def _findings(found: list[list[str]]) -> tuple[Finding, ...]:
    return tuple(Finding(*finding) for finding in found)


def _record(entry: Entry) -> bytes:
    """The entry but its `seq` and `since_last_poll_ms`, which the script writes in front."""
    stored = {name: getattr(entry, name) for name in _STORED}
    stored["refusal"] = _finding(entry.refusal)
    verdict = entry.verdict
    if verdict is not None:
        stored["verdict"] = [[_finding(f) for f in verdict.errors], [_finding(f) for f in verdict.warnings]]
    return orjson.dumps(list(stored.values())) + b"\n" + entry.body


def _entry(record: bytes) -> Entry:
    seq, since, rest = record.split(b" ", 2)
    fields, _, body = rest.partition(b"\n")  # JSON escapes every newline it holds
    stored = dict(zip(_STORED, orjson.loads(fields), strict=True))
    refusal, scenarios, verdict = stored["refusal"], stored["scenarios"], stored["verdict"]
    stored["refusal"] = None if refusal is None else Finding(*refusal)
    stored["scenarios"] = tuple(scenarios)
    stored["verdict"] = None if verdict is None else Verdict(_findings(verdict[0]), _findings(verdict[1]))
    return Entry(seq=int(seq), body=body, since_last_poll_ms=None if since == b"-" else int(since), **stored)
