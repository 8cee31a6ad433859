"""The journal: the recent requests the mock received, kept so that a client's conformance can be judged.

Recording sits on every request's path, so it only stores facts; judging a request against the
spec (`verdicts.Judge`) waits until someone reads the journal. Credentials never enter it:
they are redacted from headers and blanked wherever else the request repeated them.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

from .errors import Finding

if TYPE_CHECKING:
    from .verdicts import Verdict

DEFAULT_JOURNAL_SIZE = 1000
# Bodies are kept up to this size; a larger one is judged as it arrives, then cut.
BODY_KEPT_BYTES = 64 * 1024
REDACTED = "<redacted>"
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"})
# Remember this many (caller, task) pairs to tell how fast a task is polled.
_POLLS_REMEMBERED = 10_000


def caller_fingerprint(token_digest: str) -> str:
    """A caller as the journal shows it: enough of its token's digest to tell callers apart, nothing more."""
    return token_digest[:12]


@dataclass(eq=False, slots=True)
class Entry:
    """One request as recorded; `verdict` is filled in when first judged."""

    seq: int
    request_id: str
    at: int
    duration_ms: float
    method: str
    path: str
    query: str
    operation_id: str | None
    caller: str | None
    # As received, but for credentials: `redacted_headers` has already blanked them.
    headers: dict[str, str]
    body: bytes
    body_bytes: int
    status: int
    code: int | None
    message: str | None
    # The check that refused the request (or "scenario" when a scenario chose the answer).
    refusal: Finding | None = None
    scenarios: tuple[str, ...] = ()
    # Milliseconds since the same caller last polled the same resource, for polling-too-fast.
    since_last_poll_ms: int | None = None
    # The body was cut at `BODY_KEPT_BYTES`.
    body_truncated: bool = False
    verdict: Verdict | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The entry as the admin API's `JournalEntry` (openapi/admin.yaml)."""
        return {
            "seq": self.seq,
            "request_id": self.request_id,
            "at": self.at,
            "duration_ms": self.duration_ms,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "operation": self.operation_id,
            "caller": self.caller,
            "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"),
            "body_bytes": self.body_bytes,
            "body_truncated": self.body_truncated,
            "response": {"status": self.status, "code": self.code, "message": self.message},
            "scenarios": list(self.scenarios),
            "verdict": self.verdict.to_json() if self.verdict is not None else None,
        }


def credentials(raw: list[tuple[bytes, bytes]]) -> tuple[str, ...]:
    """The secrets a request's credential headers carry, to blank wherever else the request repeats them.

    An Authorization value's words after its scheme (whatever the scheme), a cookie's values, and
    the whole value of any other credential header (`X-Api-Key: ...`).
    """
    found: list[str] = []
    for raw_name, raw_value in raw:
        name = raw_name.decode("latin-1").lower()
        if not _is_credential(name):
            continue
        value = raw_value.decode("latin-1").strip()
        if name.endswith("authorization"):
            words = value.split()
            found += words[1:] or words
        elif name == "cookie":
            found += [pair.partition("=")[2].strip() for pair in value.split(";")]
        else:
            found.append(value)
    return tuple(secret for secret in found if len(secret) >= 4)


def redacted_headers(raw: list[tuple[bytes, bytes]], secrets: tuple[str, ...]) -> dict[str, str]:
    """Headers by lower-case name (repeats joined), credentials replaced by `<redacted>`.

    An Authorization value keeps its scheme word, so that `Basic ...` sent where `Bearer ...` is
    expected still shows what went wrong. A header no rule calls a credential may still repeat one
    (`X-Original-Authorization`, a debug header): `secrets` are blanked in every value.
    """
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if _is_credential(name):
            words = value.split()
            value = f"{words[0]} {REDACTED}" if len(words) > 1 and name.endswith("authorization") else REDACTED
        else:
            value = blank_text(value, secrets)
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _is_credential(name: str) -> bool:
    return name in _CREDENTIAL_HEADERS or "token" in name or "secret" in name


def redacted_finding(finding: Finding, secrets: tuple[str, ...]) -> Finding:
    return Finding(finding.rule, blank_text(finding.path, secrets), blank_text(finding.message, secrets))


def blank(data: bytes, secrets: tuple[str, ...]) -> bytes:
    """`blank_text` for bytes: a body may be any bytes; latin-1 maps each to one character and back."""
    if not secrets:
        return data
    text = data.decode("latin-1")
    shown = blank_text(text, secrets)
    return data if shown == text else shown.encode("latin-1")


def blank_text(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every spelling of each secret replaced by `<redacted>`: as is, URL-encoded, JSON-escaped."""
    for secret in secrets:
        core, spellings = _spellings(secret)
        if core in text:
            for spelling in spellings:
                text = text.replace(spelling, REDACTED)
    return text


@functools.lru_cache(maxsize=1024)
def _spellings(secret: str) -> tuple[str, tuple[str, ...]]:
    """The ways a request may spell `secret`, longest first, and a run of it that every spelling keeps.

    Encodings escape punctuation but leave letters and digits alone, so the longest run of those is
    in every spelling: when it is absent, so is the secret, and the common case costs one search.
    """
    runs = re.findall(r"[A-Za-z0-9]+", secret) or [secret]
    core = max(runs, key=len)
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret, safe="/"),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret)[1:-1].replace("/", "\\/"),
    }
    return core, tuple(sorted(forms, key=len, reverse=True))


class Journal:
    """The last `capacity` entries in memory, oldest first."""

    def __init__(self, capacity: int = DEFAULT_JOURNAL_SIZE) -> None:
        self.capacity = capacity
        self._entries: deque[Entry] = deque(maxlen=capacity)
        self._seq = itertools.count(1)
        self.recorded = 0
        self._last_polls: OrderedDict[tuple[str | None, str], int] = OrderedDict()

    @property
    def dropped(self) -> int:
        return self.recorded - len(self._entries)

    def next_seq(self) -> int:
        return next(self._seq)

    def since_last_poll(self, caller: str | None, path: str, now: int) -> int | None:
        """Milliseconds since `caller` last polled `path`, remembering this poll."""
        key = (caller, path)
        last = self._last_polls.pop(key, None)
        self._last_polls[key] = now
        if len(self._last_polls) > _POLLS_REMEMBERED:
            self._last_polls.popitem(last=False)
        return None if last is None else now - last

    def record(self, entry: Entry) -> None:
        self._entries.append(entry)
        self.recorded += 1

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._entries))

    def clear(self) -> None:
        self._entries.clear()
        self.recorded = 0
        self._last_polls.clear()
