"""The journal kept in this process: the mock's default, and the proxy's."""

from __future__ import annotations

import itertools
from collections import OrderedDict, deque
from dataclasses import dataclass

from .entries import DEFAULT_JOURNAL_SIZE, Entry, EntryJudge, JournalSnapshot, Recording, keep

# Remember this many (caller, task) pairs to tell how fast a task is polled.
_POLLS_REMEMBERED = 10_000


@dataclass(eq=False, slots=True)
class _Unmade:
    """A recording the memory journal holds until it is read, with the number and poll timing it got when recorded."""

    recording: Recording
    seq: int
    since_last_poll_ms: int | None
    judge: EntryJudge | None

    def make(self) -> Entry:
        entry, secrets = self.recording.entry()
        entry.seq, entry.since_last_poll_ms = self.seq, self.since_last_poll_ms
        keep(entry, secrets, self.judge)
        return entry


class Journal:
    """The last `capacity` entries in memory, oldest first: one process's.

    Each is held as its `Recording` until the journal is read, and made an entry then, once: a mock
    whose journal nobody reads does not pay for entries (see `Recording`).
    """

    def __init__(self, capacity: int = DEFAULT_JOURNAL_SIZE) -> None:
        self.capacity = capacity
        self._entries: deque[Entry | _Unmade] = deque(maxlen=capacity)
        self._seq = itertools.count(1)
        self._recorded = 0
        self._last_polls: OrderedDict[tuple[str | None, str], int] = OrderedDict()

    def record(self, recording: Recording, judge: EntryJudge | None, poll_interval_ms: int | None) -> None:
        since = (
            self._since_last_poll(recording.caller, recording.path, recording.at)
            if poll_interval_ms is not None
            else None
        )
        unmade = _Unmade(recording, next(self._seq), since, judge)
        self._entries.append(unmade.make() if recording.must_keep_now else unmade)
        self._recorded += 1

    def _since_last_poll(self, caller: str | None, path: str, now: int) -> int | None:
        """Milliseconds since `caller` last polled `path`, remembering this poll."""
        key = (caller, path)
        last = self._last_polls.pop(key, None)
        self._last_polls[key] = now
        if len(self._last_polls) > _POLLS_REMEMBERED:
            self._last_polls.popitem(last=False)
        return None if last is None else now - last

    async def snapshot(self) -> JournalSnapshot:
        entries = [held if isinstance(held, Entry) else held.make() for held in self._entries]
        self._entries = deque(entries, maxlen=self.capacity)
        return JournalSnapshot(entries, self._recorded)

    async def clear(self) -> None:
        self._entries.clear()
        self._recorded = 0
        self._last_polls.clear()

    async def aclose(self) -> None:
        """Nothing is on its way: entries are kept as they are recorded."""
