"""Unit tests of the memory journal (`journal.Journal`): recordings held until read, made entries once.

What a journal keeps, over HTTP and through the admin API, is tested in `tests/mock_server/admin/test_api.py`;
here, what holding recordings until they are read must not change.
"""

from __future__ import annotations

import asyncio

from mock_server.core.callers import caller_fingerprint
from mock_server.journal import BODY_KEPT_BYTES, Entry, Journal
from tests.support.recordings import AT, OWNER, TOKEN, judge, record, recorded, recorded_poll


def _entries(journal: Journal) -> list[Entry]:
    return asyncio.run(journal.snapshot()).entries


def test_entries_are_made_when_read_once_numbered_in_order_of_recording() -> None:
    journal = Journal(capacity=3)
    for i in range(5):
        record(journal, recorded(at=AT + i))
    first = _entries(journal)
    assert [(entry.seq, entry.at - AT) for entry in first] == [(3, 2), (4, 3), (5, 4)]
    assert first[0].caller == caller_fingerprint(OWNER)
    record(journal, recorded(at=AT + 5))
    second = _entries(journal)
    # Made once: the entries read before are the same objects, verdicts and all.
    assert second[:2] == first[1:] and all(a is b for a, b in zip(second, first[1:], strict=False))
    assert asyncio.run(journal.snapshot()).recorded == 6


def test_polls_are_timed_when_recorded_not_when_read() -> None:
    journal = Journal()
    record(journal, recorded_poll("task-a", AT))
    record(journal, recorded_poll("task-a", AT + 300))
    record(journal, recorded_poll("task-a", AT + 320, owner="1" * 64))  # another caller
    record(journal, recorded_poll("task-a", AT + 400))
    assert [entry.since_last_poll_ms for entry in _entries(journal)] == [None, 300, None, 100]
    too_fast = [any(w.rule == "polling-too-fast" for w in judge().verdict(e).warnings) for e in _entries(journal)]
    assert too_fast == [False, True, False, True]


def test_no_entry_holds_a_secret_and_no_recording_shows_one() -> None:
    journal = Journal()
    poll = recorded_poll(TOKEN, AT)
    assert TOKEN not in repr(poll)
    record(journal, poll)
    record(journal, recorded(body=b'{"t": "' + TOKEN.encode() + b'"}', query=f"key={TOKEN}"))
    (polled, created) = _entries(journal)
    assert polled.path.endswith("/<redacted>") and polled.headers["authorization"] == "Bearer <redacted>"
    assert "<redacted>" in created.query and b"<redacted>" in created.body
    for entry in (polled, created):
        assert TOKEN not in str(entry.to_json())


def test_a_large_body_is_judged_whole_and_cut_at_once() -> None:
    """Holding recordings must not hold megabytes: an entry whose body is over the kept size is made as it comes."""
    journal = Journal()
    audio = b"A" * 100_000 + b"!!"
    body = b'{"input": {"video_url": "https://e.com/v.mp4", "mode": "audio2video", "audio_type": "file", '
    large = recorded(body=body + b'"audio_file": "' + audio + b'"}}')
    record(journal, large)
    large.state["body"] = b"{}"  # what the recording holds afterwards no longer matters
    (kept,) = _entries(journal)
    assert kept.body_truncated and len(kept.body) == BODY_KEPT_BYTES
    assert kept.verdict is not None
    assert [(finding.rule, finding.path) for finding in kept.verdict.errors] == [("pattern", "input.audio_file")]
