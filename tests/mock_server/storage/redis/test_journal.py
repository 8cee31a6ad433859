"""Unit tests of the journal kept in Redis (`journal_redis.RedisJournal`), against a real redis-server.

Two journals on one prefix are two processes sharing a Redis. They check what the memory journal does
(every field kept, the bound, clears that keep `seq` counting) and what sharing adds: one `seq` order,
polls timed against another process's, recording that never fails while Redis is away (entries lost
and counted), and no secret ever written to Redis. The admin API's filters over it run in
`tests/mock_server/admin/test_api.py`, against a mock whose journal is in Redis.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

import mock_server.storage.redis.journal as journal_redis
from mock_server.core.callers import caller_fingerprint
from mock_server.core.errors import StoreUnavailable
from mock_server.journal import BODY_KEPT_BYTES, Entry, Recording
from mock_server.storage.redis.connection import RedisConnection
from mock_server.storage.redis.journal import RedisJournal
from tests.support import CREATE_PATH
from tests.support.recordings import AT, OWNER, TOKEN, judge, record, recorded, recorded_poll
from tests.support.redis_server import RedisServer, run_and_close


def _entry(recording: Recording) -> Entry:
    """The entry `recording` makes, before any journal keeps it."""
    return recording.entry()[0]


def _run(test: Callable[[], Awaitable[None]], *journals: RedisJournal) -> None:
    """The journals write what is on its way, then close their Redis: a journal only borrows it."""
    run_and_close(test, *(closing for journal in journals for closing in (journal, journal.connection)))


def test_an_entry_round_trips_with_everything_it_holds(backend_for: Callable[..., RedisConnection]) -> None:
    journal = RedisJournal(backend_for(), capacity=10)
    recording = recorded(
        body=b'{"input": {"mode": "text2video", "text": "\xff\xfe\n\x00 caf\xc3\xa9"}}', query="a=1&b=%20"
    )
    sent = _entry(recording)

    async def test() -> None:
        record(journal, recording)
        (kept,) = (await journal.snapshot()).entries
        assert kept.seq == 1
        assert kept.caller == caller_fingerprint(OWNER)
        # The body's bytes as sent, not valid UTF-8, newlines and all.
        assert kept.body == sent.body
        for name in ("request_id", "at", "duration_ms", "method", "path", "query", "operation_id", "caller"):
            assert getattr(kept, name) == getattr(sent, name), name
        for name in ("headers", "body_bytes", "body_truncated", "status", "code", "message", "refusal", "scenarios"):
            assert getattr(kept, name) == getattr(sent, name), name
        assert kept.since_last_poll_ms is None
        assert kept.to_json() | {"verdict": None} == sent.to_json() | {"seq": 1}
        assert judge().verdict(kept) == judge().verdict(_entry(recorded(body=sent.body, query=sent.query)))

    _run(test, journal)


def test_a_verdict_judged_before_keeping_is_kept_with_the_entry(backend_for: Callable[..., RedisConnection]) -> None:
    """A body over the kept size is judged whole, then cut: the verdict must come back from Redis as judged."""
    journal = RedisJournal(backend_for(), capacity=10)
    audio = b"A" * 100_000 + b"!!"
    body = b'{"input": {"video_url": "https://e.com/v.mp4", "mode": "audio2video", "audio_type": "file", '
    sent = recorded(body=body + b'"audio_file": "' + audio + b'"}}')

    async def test() -> None:
        record(journal, sent)
        (kept,) = (await journal.snapshot()).entries
        assert kept.body_truncated and len(kept.body) == BODY_KEPT_BYTES
        assert kept.verdict is not None
        assert [(finding.rule, finding.path) for finding in kept.verdict.errors] == [("pattern", "input.audio_file")]

    _run(test, journal)


def test_two_processes_write_one_journal_in_one_seq_order(backend_for: Callable[..., RedisConnection]) -> None:
    first, second = RedisJournal(backend_for(), capacity=100), RedisJournal(backend_for(), capacity=100)

    async def test() -> None:
        for i in range(10):
            record((first, second)[i % 2], recorded(path=f"{CREATE_PATH}-{i:02d}"))
            await (first, second)[i % 2].flush()
        seen = [await journal.snapshot() for journal in (first, second)]
        for snapshot in seen:
            assert [entry.seq for entry in snapshot.entries] == list(range(1, 11))
            assert [entry.path[-2:] for entry in snapshot.entries] == [f"{i:02d}" for i in range(10)]
            assert (snapshot.recorded, snapshot.dropped, snapshot.lost) == (10, 0, 0)

    _run(test, first, second)


def test_the_bound_keeps_the_newest_and_counts_what_it_dropped(backend_for: Callable[..., RedisConnection]) -> None:
    journal = RedisJournal(backend_for(), capacity=3)

    async def test() -> None:
        for i in range(5):
            record(journal, recorded(at=AT + i))
        snapshot = await journal.snapshot()
        assert [entry.at - AT for entry in snapshot.entries] == [2, 3, 4]
        assert [entry.seq for entry in snapshot.entries] == [3, 4, 5]
        assert (snapshot.recorded, snapshot.dropped) == (5, 2)

    _run(test, journal)


def test_a_clear_empties_it_and_seq_keeps_counting(backend_for: Callable[..., RedisConnection]) -> None:
    first, second = RedisJournal(backend_for(), capacity=10), RedisJournal(backend_for(), capacity=10)

    async def test() -> None:
        record(first, recorded())
        record(first, recorded_poll("task-a", AT))
        await first.flush()
        await second.clear()  # another process's clear
        snapshot = await first.snapshot()
        assert (len(snapshot.entries), snapshot.recorded, snapshot.dropped) == (0, 0, 0)
        record(first, recorded_poll("task-a", AT + 10))
        await first.flush()
        (entry,) = (await second.snapshot()).entries
        assert entry.seq == 3
        # The poll before the clear is forgotten, as the memory journal forgets it.
        assert entry.since_last_poll_ms is None

    _run(test, first, second)


def test_polls_are_timed_across_processes_per_caller_and_task(backend_for: Callable[..., RedisConnection]) -> None:
    first, second = RedisJournal(backend_for(), capacity=100), RedisJournal(backend_for(), capacity=100)

    async def test() -> None:
        record(first, recorded_poll("task-a", AT))
        await first.flush()
        record(second, recorded_poll("task-a", AT + 300))  # the same caller and task, through the other process
        record(second, recorded_poll("task-b", AT + 310))  # another task
        record(second, recorded_poll("task-a", AT + 320, owner="1" * 64))  # another caller
        record(second, recorded(at=AT + 330))  # not a poll
        await second.flush()
        record(first, recorded_poll("task-a", AT + 200))  # arrived before the last one kept, written after it
        entries = (await first.snapshot()).entries
        assert [entry.since_last_poll_ms for entry in entries] == [None, 300, None, None, None, 100]
        too_fast = [any(w.rule == "polling-too-fast" for w in judge().verdict(entry).warnings) for entry in entries]
        assert too_fast == [False, True, False, False, False, True]

    _run(test, first, second)


def test_no_secret_reaches_redis(backend_for: Callable[..., RedisConnection], redis_server: RedisServer) -> None:
    """A token sent in a poll's path, a query and a body is blanked before anything of it leaves the process."""
    backend = backend_for()
    journal = RedisJournal(backend, capacity=10)

    async def test() -> None:
        record(journal, recorded_poll(TOKEN, AT))
        record(journal, recorded_poll(TOKEN, AT + 5))
        record(journal, recorded(body=b'{"t": "' + TOKEN.encode() + b'"}', query=f"key={TOKEN}"))
        entries = (await journal.snapshot()).entries
        assert [entry.path for entry in entries[:2]] == [f"{CREATE_PATH}/<redacted>"] * 2
        # Judged before blanking, the second poll's verdict kept its timing.
        assert entries[1].since_last_poll_ms == 5
        assert entries[1].verdict is not None
        assert "polling-too-fast" in [finding.rule for finding in entries[1].verdict.warnings]
        assert "<redacted>" in entries[2].query and b"<redacted>" in entries[2].body

    _run(test, journal)
    with redis_server.client() as client:
        keys = list(client.scan_iter(match=f"{backend.prefix}*"))
        assert keys
        for key in keys:
            kind = client.type(key)
            values = [client.get(key)] if kind == b"string" else client.lrange(key, 0, -1) if kind == b"list" else []
            for held in [key, *values]:
                assert TOKEN.encode() not in (held or b"")


def test_while_redis_is_away_entries_are_lost_and_counted_never_raised(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    gone = RedisServer(redis_server.executable, tmp_path)
    journal = RedisJournal(RedisConnection(gone.url), capacity=10)

    async def test() -> None:
        record(journal, recorded())
        await journal.flush()
        gone.stop()
        for i in range(3):
            record(journal, recorded_poll("task-a", AT + i))
        await journal.flush()
        with pytest.raises(StoreUnavailable):
            await journal.snapshot()
        with pytest.raises(StoreUnavailable):
            await journal.clear()
        gone.start()  # empty: it saved nothing
        snapshot = await journal.snapshot()
        # The lost ones are counted once Redis is back, with nothing else to write.
        assert (snapshot.entries, snapshot.recorded, snapshot.lost) == ([], 0, 3)
        record(journal, recorded())
        assert [entry.seq for entry in (await journal.snapshot()).entries] == [1]

    with gone.start():
        _run(test, journal)


def test_past_the_queue_s_bound_entries_are_lost_and_counted(
    backend_for: Callable[..., RedisConnection], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_redis, "_QUEUE_LIMIT", 4)
    journal = RedisJournal(backend_for(), capacity=100)

    async def test() -> None:
        for i in range(10):  # no await between them: nothing is written meanwhile
            record(journal, recorded(at=AT + i))
        snapshot = await journal.snapshot()
        assert [entry.at - AT for entry in snapshot.entries] == [0, 1, 2, 3]
        assert (snapshot.recorded, snapshot.lost) == (4, 6)

    _run(test, journal)


def test_each_entry_is_parsed_and_judged_once_per_process(backend_for: Callable[..., RedisConnection]) -> None:
    journal = RedisJournal(backend_for(), capacity=2)

    async def test() -> None:
        record(journal, recorded(at=AT))
        record(journal, recorded(at=AT + 1))
        before = (await journal.snapshot()).entries
        verdict = judge().verdict(before[1])
        record(journal, recorded(at=AT + 2))
        after = (await journal.snapshot()).entries
        assert after[0] is before[1]
        assert after[0].verdict is verdict

    _run(test, journal)
