"""A journal entry: one request the mock received, kept so that a client's conformance can be judged.

Recording sits on every request's path, so it only keeps facts (a `Recording`); making them an `Entry`
(credentials redacted from headers and blanked wherever else the request repeated them) and judging it
(`judge.Judge`) wait, in this process, until someone reads the journal. No entry holds a credential, and
nothing leaves the process before it is an entry.

Where entries are kept is a `JournalStore`: in this process (`memory.Journal`, the default, and the
proxy's), or in Redis for every process sharing it (`storage.redis`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

from ..core.callers import caller_fingerprint
from ..core.errors import Finding
from ..core.secrets import REDACTED, blank, blank_text
from .verdict import Verdict, redacted_finding

DEFAULT_JOURNAL_SIZE = 1000
# Bodies are kept up to this size; a larger one is judged as it arrives, then cut.
BODY_KEPT_BYTES = 64 * 1024
# `set-cookie` too: a proxied upstream's answer is journaled with its headers.
_CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)
_HEADER_NAMES: dict[bytes, tuple[str, bool]] = {}
_HEADER_NAMES_KEPT = 1024


@dataclass(eq=False, slots=True)
class UpstreamAnswer:
    """What the upstream answered a request `kling-mock proxy` forwarded, or why it did not answer.

    The answer went to the client unchanged; what is kept here is for judging it: the body with its
    Content-Encoding undone (`undecoded` says why it could not be), headers with credentials redacted.
    `verdict` is filled in when first judged (`judge.Judge.upstream_verdict`).
    """

    # None when no answer came (`error` says why) and the proxy answered the client itself.
    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    body_bytes: int = 0
    body_truncated: bool = False
    undecoded: str | None = None
    error: str | None = None
    verdict: Verdict | None = field(default=None, repr=False)

    def keep(self, body: bytes, secrets: tuple[str, ...]) -> None:
        """Keep `body` (this one's, cut and blanked), and blank `secrets` everywhere else: once judged."""
        self.body_truncated = self.body_truncated or len(self.body) > BODY_KEPT_BYTES
        self.body = body
        if secrets:
            self.headers = {name: blank_text(value, secrets) for name, value in self.headers.items()}
            self.error = blank_text(self.error, secrets) if self.error else self.error
            self.verdict = self.verdict.redacted(secrets) if self.verdict else None

    def to_json(self) -> dict[str, Any]:
        """The answer as the admin API's `UpstreamAnswer` (openapi/admin.yaml)."""
        return {
            "status": self.status,
            "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"),
            "body_bytes": self.body_bytes,
            "body_truncated": self.body_truncated,
            "error": self.error,
            "verdict": self.verdict.to_json() if self.verdict is not None else None,
        }


@dataclass(eq=False, slots=True)
class Entry:
    """One request as recorded; `verdict` is filled in when first judged.

    `seq` is the journal's to give (`JournalStore.record`): 0 until then.
    """

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
    # The upstream's answer, when a proxy forwarded the request; None for the mock's own answers.
    upstream: UpstreamAnswer | None = None

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
            "upstream": self.upstream.to_json() if self.upstream is not None else None,
        }


RawHeaders: TypeAlias = list[tuple[bytes, bytes]]


class EntryJudge(Protocol):
    """What judges an entry (`judge.Judge`): keeping an entry may need its verdicts first."""

    def judge(self, entry: Entry) -> None:
        """Work out the entry's verdicts, while it still holds what they are made from."""
        ...


@dataclass(eq=False, slots=True)
class Recording:
    """A request as answered: the facts its journal entry is made of, as `RequestLog` hands them over.

    Making the entry (`entry()`: every header read to redact credentials, secrets blanked wherever the
    request repeated them) costs as much as the rest of the request, so the memory journal makes it
    only when read. Until then the recording holds the request's credentials: it stays in the process,
    and its repr shows none of what could carry them.
    """

    method: str
    # Any of these may carry a token: no repr shows them.
    path: str = field(repr=False)
    query_string: bytes = field(repr=False)
    raw_headers: RawHeaders = field(repr=False)
    # What the app noted while answering (`server.fast_path` lists it): the operation, the body, the caller...
    state: dict[str, Any] = field(repr=False)
    status: int
    at: int
    duration_ms: float

    @property
    def caller(self) -> str | None:
        owner: str | None = self.state.get("owner")
        return caller_fingerprint(owner) if owner else None

    @property
    def must_keep_now(self) -> bool:
        """Holding it until read would hold a large body (or a proxied answer): make its entry at once."""
        return self.state.get("upstream") is not None or len(self.state.get("body") or b"") > BODY_KEPT_BYTES

    def entry(self) -> tuple[Entry, tuple[str, ...]]:
        """Its entry (not yet numbered or kept: see `keep`), and the secrets the request carried."""
        secrets, headers = read_headers(self.raw_headers)
        state = self.state
        # A body refused before it was read (the mock) or streamed on past the limit (a proxy) is
        # longer than what was kept of it: `body_bytes` then says how long.
        body: bytes = state.get("body") or b""
        body_bytes: int = state.get("body_bytes", len(body))
        operation = state.get("operation")
        dropped = state.get("dropped", False)
        entry = Entry(
            seq=0,
            request_id=state["request_id"],
            at=self.at,
            duration_ms=self.duration_ms,
            method=self.method,
            path=self.path,
            query=self.query_string.decode("latin-1"),
            operation_id=operation.operation_id if operation else None,
            caller=self.caller,
            headers=headers,
            body=body,
            body_bytes=body_bytes,
            body_truncated=len(body) < body_bytes,
            status=self.status,
            code=None if dropped else state.get("business_code"),
            message=None if dropped else state.get("message"),
            refusal=state.get("refusal"),
            scenarios=state.get("scenarios", ()),
            upstream=state.get("upstream"),
        )
        return entry, secrets


def read_headers(raw: RawHeaders) -> tuple[tuple[str, ...], dict[str, str]]:
    """A request's secrets, and its headers as the journal shows them, in one pass over them.

    Secrets: what its credential headers carry, to blank wherever else the request repeats them: an
    Authorization value's words after its scheme (whatever the scheme), a cookie's values, and the
    whole value of any other credential header (`X-Api-Key: ...`).

    Headers: by lower-case name (repeats joined), credentials replaced by `<redacted>`. An
    Authorization value keeps its scheme word, so that `Basic ...` sent where `Bearer ...` is
    expected still shows what went wrong. A header no rule calls a credential may still repeat one
    (`X-Original-Authorization`, a debug header): the secrets are blanked in every other value.
    """
    found: list[str] = []
    headers: dict[str, str] = {}
    plain: list[str] = []
    for raw_name, raw_value in raw:
        name, credential = _header_name(raw_name)
        value = raw_value.decode("latin-1")
        if credential:
            carried, value = _credential(name, value)
            found += carried
        else:
            plain.append(name)
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    secrets = _secrets(found)
    if secrets:
        for name in dict.fromkeys(plain):
            headers[name] = blank_text(headers[name], secrets)
    return secrets, headers


def credentials(raw: RawHeaders) -> tuple[str, ...]:
    """A request's secrets alone, as `read_headers` finds them, without making its headers' record."""
    found: list[str] = []
    for raw_name, raw_value in raw:
        name, credential = _header_name(raw_name)
        if credential:
            found += _credential(name, raw_value.decode("latin-1"))[0]
    return _secrets(found)


def _credential(name: str, value: str) -> tuple[list[str], str]:
    """What a credential header's value carries, and the value as the journal shows it."""
    if name.endswith("authorization"):
        words = value.split()
        return words[1:] or words, f"{words[0]} {REDACTED}" if len(words) > 1 else REDACTED
    stripped = value.strip()
    if name == "cookie":
        return [pair.partition("=")[2].strip() for pair in stripped.split(";")], REDACTED
    return [stripped], REDACTED


def _secrets(found: list[str]) -> tuple[str, ...]:
    """The credentials' words that are blanked elsewhere: those of 4 characters or more."""
    return tuple([secret for secret in found if len(secret) >= 4])


def _header_name(raw_name: bytes) -> tuple[str, bool]:
    """A header's name as the journal shows it (lower case), and whether it is a credential's.

    Remembered: every request repeats the same few names, and this sits on every journaled request's path
    (a plain dict, cheaper to ask than `lru_cache`; emptied when a client sends too many distinct names).
    """
    known = _HEADER_NAMES.get(raw_name)
    if known is None:
        name = raw_name.decode("latin-1").lower()
        known = name, name in _CREDENTIAL_HEADERS or "token" in name or "secret" in name
        if len(_HEADER_NAMES) >= _HEADER_NAMES_KEPT:
            _HEADER_NAMES.clear()
        _HEADER_NAMES[raw_name] = known
    return known


def keep(entry: Entry, secrets: tuple[str, ...], judge: EntryJudge | None) -> None:
    """Make `entry` fit to keep: no secret left in it, at most BODY_KEPT_BYTES of each body.

    Its verdicts are of the exchange as it happened: when keeping changes what they are made from, the
    entry is judged first, while it can be (with `since_last_poll_ms` already known).
    """
    upstream = entry.upstream
    shown = (
        blank(entry.body[:BODY_KEPT_BYTES], secrets),
        blank_text(entry.path, secrets),
        blank_text(entry.query, secrets),
    )
    upstream_shown = blank(upstream.body[:BODY_KEPT_BYTES], secrets) if upstream is not None else b""
    changed = shown != (entry.body, entry.path, entry.query)
    if (changed or (upstream is not None and upstream_shown != upstream.body)) and judge is not None:
        judge.judge(entry)
    entry.body_truncated = entry.body_truncated or len(entry.body) > BODY_KEPT_BYTES
    entry.body, entry.path, entry.query = shown
    if upstream is not None:
        upstream.keep(upstream_shown, secrets)
    if secrets:
        entry.message = blank_text(entry.message, secrets) if entry.message else entry.message
        entry.refusal = redacted_finding(entry.refusal, secrets) if entry.refusal else None
        entry.verdict = entry.verdict.redacted(secrets) if entry.verdict else None


@dataclass
class JournalSnapshot:
    """The journal as read at one moment: its entries, oldest first, and its counters since the last clear."""

    entries: list[Entry]
    # Requests recorded; of those, `dropped` were pushed out by the bound since.
    recorded: int
    # Requests answered but never recorded: the journal's Redis was unavailable, or could not keep up.
    lost: int = 0

    @property
    def dropped(self) -> int:
        return max(0, self.recorded - len(self.entries))


class JournalStore(Protocol):
    """Where the journal is kept. Reading may raise `StoreUnavailable` (Redis); recording never does."""

    capacity: int

    def record(self, recording: Recording, judge: EntryJudge | None, poll_interval_ms: int | None) -> None:
        """Keep `recording`'s entry (as `keep` makes it), numbered; never waits, never fails the request.

        `poll_interval_ms`: the request polled a resource the spec asks to poll at most this often, so the
        entry is given `since_last_poll_ms`, the time since its caller last polled the same one.
        """
        ...

    async def snapshot(self) -> JournalSnapshot:
        """Everything kept, with what this process recorded so far."""
        ...

    async def clear(self) -> None:
        """Forget every entry and the counters; `seq` keeps counting."""
        ...

    async def aclose(self) -> None:
        """Write what is still on its way; at shutdown, before the store closes the Redis it borrows."""
        ...
