"""The conformance report of a client under test, built from the mock's journal (or a proxy's): the model.

The mock judges every request it receives (admin.yaml, `JournalEntry.verdict`); this module turns a
`JournalPage` into what a developer or a CI job wants to read: which rules the client broke, how often,
where, and one request that shows it. Pure functions, no I/O, so `verify` and the tests share them.

Behind `kling-mock proxy`, each entry also holds the upstream's answer with its own verdict
(`JournalEntry.upstream`): the report then has a second part, the rules the upstream broke, kept apart
from the client's, and it fails when either side broke the contract.

Journal entries are hostile input (whatever the client sent), so every string taken from them is made
safe for where it goes: lone surrogates are escaped when the report is built, control characters when it
is printed to a terminal, characters XML cannot hold when it is written as JUnit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]
Side = Literal["client", "upstream"]

# An example request shows this much of its body: enough to see the fault, short enough to read.
BODY_EXCERPT_BYTES = 2048
MAX_MESSAGES = 5
MAX_PATHS = 20
# A finding's message names a field path, and unknown fields are named by the client: keep it readable.
MAX_MESSAGE_CHARS = 500
REDACTED = "<redacted>"


class JournalFormatError(ValueError):
    """The page is not a `JournalPage` as admin.yaml describes it: no verdict can be read from it."""


@dataclass(frozen=True)
class PathCount:
    path: str
    requests: int


@dataclass(frozen=True)
class ExampleFinding:
    path: str
    message: str


@dataclass(frozen=True)
class Answer:
    """The upstream's answer in the example of a rule it broke (behind a proxy)."""

    status: int | None
    headers: dict[str, str]
    body: str
    body_cut: bool


@dataclass(frozen=True)
class Example:
    """One request that broke a rule, as much of it as a developer needs to reproduce the fault."""

    seq: int | None
    request_id: str
    at: int | None
    method: str
    path: str
    query: str
    operation: str | None
    headers: dict[str, str]
    body: str
    body_bytes: int | None
    body_cut: bool
    status: int | None
    code: int | None
    message: str | None
    scenarios: tuple[str, ...]
    findings: tuple[ExampleFinding, ...]
    answer: Answer | None = None

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


@dataclass(frozen=True)
class RuleSummary:
    """Every finding of one rule at one severity, over all the judged requests (or the upstream's answers)."""

    severity: Severity
    rule: str
    requests: int
    findings: int
    paths: tuple[PathCount, ...]
    more_paths: int
    messages: tuple[str, ...]
    more_messages: int
    example: Example
    side: Side = "client"


@dataclass(frozen=True)
class Totals:
    judged: int
    clean: int
    with_errors: int
    with_warnings: int
    recorded: int
    dropped: int
    # Answered but never journaled (`JournalPage.lost`: the journal's Redis was away): not judged, not in `recorded`.
    lost: int
    capacity: int
    not_returned: int


@dataclass(frozen=True)
class UpstreamTotals:
    """The upstream's answers, behind a proxy."""

    judged: int
    clean: int
    with_errors: int
    with_warnings: int
    # Requests the upstream never answered (unreachable, timed out): the proxy answered them itself.
    unanswered: int


@dataclass(frozen=True)
class Report:
    totals: Totals
    # The client's.
    rules: tuple[RuleSummary, ...]
    # Behind a proxy, the upstream's answers and the rules they broke; None for a mock's journal.
    upstream: UpstreamTotals | None = None
    upstream_rules: tuple[RuleSummary, ...] = ()

    @property
    def errors(self) -> tuple[RuleSummary, ...]:
        return _of_severity(self.rules, "error")

    @property
    def warnings(self) -> tuple[RuleSummary, ...]:
        return _of_severity(self.rules, "warning")

    @property
    def upstream_errors(self) -> tuple[RuleSummary, ...]:
        return _of_severity(self.upstream_rules, "error")

    @property
    def upstream_warnings(self) -> tuple[RuleSummary, ...]:
        return _of_severity(self.upstream_rules, "warning")

    def failed(self, fail_on_warnings: bool) -> bool:
        """Errors of either side always fail; warnings only when the caller asks them to."""
        errors = self.errors or self.upstream_errors
        return bool(errors) or (fail_on_warnings and bool(self.warnings or self.upstream_warnings))

    @property
    def notes(self) -> tuple[str, ...]:
        """What the reader must know before trusting a pass: requests the report could not judge."""
        totals, notes = self.totals, []
        if totals.dropped > 0:
            notes.append(
                f"the oldest {count(totals.dropped, 'request')} were pushed out of the journal "
                f"(it holds {totals.capacity}) and are not judged: start the mock with a larger --journal-size, "
                "or verify more often"
            )
        if totals.lost > 0:
            notes.append(
                f"{count(totals.lost, 'request')} answered by the mock never reached the journal (its Redis was "
                f"unavailable or could not keep up) and {'is' if totals.lost == 1 else 'are'} not judged: the verdict "
                "cannot speak for them"
            )
        if totals.not_returned > 0:
            notes.append(
                f"{count(totals.not_returned, 'journal entry', 'journal entries')} counted by the admin API "
                "were not returned and are not judged"
            )
        if totals.judged == 0:
            notes.append(
                "the journal holds no requests: nothing was judged (did the client under test reach this mock?)"
            )
        if self.upstream is not None and self.upstream.unanswered > 0:
            notes.append(
                f"{count(self.upstream.unanswered, 'request')} got no answer from the upstream (unreachable or timed "
                "out): the proxy answered 503/5001 or 504/5002 itself, and judged no answer"
            )
        return tuple(notes)


def _of_severity(rules: tuple[RuleSummary, ...], severity: Severity) -> tuple[RuleSummary, ...]:
    return tuple(rule for rule in rules if rule.severity == severity)


# Building


@dataclass
class _Tally:
    """How the verdicts of one side came out."""

    judged: int = 0
    clean: int = 0
    with_errors: int = 0
    with_warnings: int = 0

    def add(self, errors: Sequence[_Finding], warnings: Sequence[_Finding]) -> None:
        self.judged += 1
        self.with_errors += bool(errors)
        self.with_warnings += bool(warnings)
        self.clean += not errors and not warnings


@dataclass
class _Group:
    severity: Severity
    rule: str
    example: Example
    requests: int = 0
    findings: int = 0
    paths: Counter[str] = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)
    seen_messages: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Finding:
    rule: str
    path: str
    message: str


def build_report(page: Mapping[str, Any], redact: Iterable[str] = ()) -> Report:
    """The report of a `JournalPage` dict (admin.yaml): findings grouped by (severity, rule).

    `redact` lists secrets (the admin token) to blank wherever the journal repeats them, before any
    cutting, so not even a part of one reaches the report. Raises `JournalFormatError` when the page
    has no readable verdicts.
    """
    secrets = tuple(sorted({secret for secret in redact if secret}, key=len, reverse=True))
    if not isinstance(page, Mapping):
        raise JournalFormatError("the journal page is not a JSON object")
    entries = page.get("entries")
    if not isinstance(entries, list):
        raise JournalFormatError("the journal page has no `entries` list")
    groups: dict[tuple[Severity, str], _Group] = {}
    upstream_groups: dict[tuple[Severity, str], _Group] = {}
    client, upstream = _Tally(), _Tally()
    proxied = unanswered = 0
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise JournalFormatError(f"entries[{index}]: not a JSON object")
        errors, warnings = _verdict(entry.get("verdict"), f"entries[{index}].verdict", secrets)
        client.add(errors, warnings)
        _add_findings(groups, "error", errors, entry, secrets)
        _add_findings(groups, "warning", warnings, entry, secrets)
        answer = entry.get("upstream")
        if not isinstance(answer, Mapping):
            continue  # the mock's own answer
        proxied += 1
        if answer.get("verdict") is None:
            unanswered += 1
            continue
        errors, warnings = _verdict(answer.get("verdict"), f"entries[{index}].upstream.verdict", secrets)
        upstream.add(errors, warnings)
        _add_findings(upstream_groups, "error", errors, entry, secrets)
        _add_findings(upstream_groups, "warning", warnings, entry, secrets)
    judged = len(entries)
    total = _int(page.get("total"))
    totals = Totals(
        judged=judged,
        clean=client.clean,
        with_errors=client.with_errors,
        with_warnings=client.with_warnings,
        recorded=_int(page.get("recorded")) or judged,
        dropped=max(0, _int(page.get("dropped")) or 0),
        lost=max(0, _int(page.get("lost")) or 0),
        capacity=_int(page.get("capacity")) or 0,
        not_returned=max(0, total - judged) if total is not None else 0,
    )
    upstream_totals = None
    if proxied:
        upstream_totals = UpstreamTotals(
            upstream.judged, upstream.clean, upstream.with_errors, upstream.with_warnings, unanswered
        )
    return Report(totals, _summaries(groups, "client"), upstream_totals, _summaries(upstream_groups, "upstream"))


def _summaries(groups: dict[tuple[Severity, str], _Group], side: Side) -> tuple[RuleSummary, ...]:
    ordered = sorted(groups.values(), key=lambda group: (group.severity != "error", -group.requests, group.rule))
    return tuple(_summary(group, side) for group in ordered)


def _verdict(verdict: Any, where: str, secrets: tuple[str, ...]) -> tuple[list[_Finding], list[_Finding]]:
    if not isinstance(verdict, Mapping):
        raise JournalFormatError(f"{where}: missing or not an object")
    lists: list[list[_Finding]] = []
    for severity in ("errors", "warnings"):
        raw = verdict.get(severity)
        if not isinstance(raw, list):
            raise JournalFormatError(f"{where}.{severity}: missing or not a list")
        findings = []
        for number, finding in enumerate(raw):
            at = f"{where}.{severity}[{number}]"
            if not isinstance(finding, Mapping):
                raise JournalFormatError(f"{at}: not an object")
            values = []
            for key in ("rule", "path", "message"):
                value = finding.get(key)
                if not isinstance(value, str):
                    raise JournalFormatError(f"{at}.{key}: missing or not a string")
                values.append(_safe(value, secrets))
            findings.append(_Finding(values[0], values[1], _shorten(values[2])))
        lists.append(findings)
    return lists[0], lists[1]


def _add_findings(
    groups: dict[tuple[Severity, str], _Group],
    severity: Severity,
    findings: Sequence[_Finding],
    entry: Mapping[str, Any],
    secrets: tuple[str, ...],
) -> None:
    by_rule: dict[str, list[_Finding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    for rule, found in by_rule.items():
        group = groups.get((severity, rule))
        if group is None:
            group = groups[(severity, rule)] = _Group(severity, rule, _example(entry, found, secrets))
        group.requests += 1
        group.findings += len(found)
        group.paths.update({finding.path for finding in found})
        for finding in found:
            if finding.message not in group.seen_messages:
                group.seen_messages.add(finding.message)
                if len(group.messages) < MAX_MESSAGES:
                    group.messages.append(finding.message)


def _summary(group: _Group, side: Side) -> RuleSummary:
    paths = sorted(group.paths.items(), key=lambda item: (-item[1], item[0]))
    return RuleSummary(
        severity=group.severity,
        rule=group.rule,
        requests=group.requests,
        findings=group.findings,
        paths=tuple(PathCount(path, count) for path, count in paths[:MAX_PATHS]),
        more_paths=max(0, len(paths) - MAX_PATHS),
        messages=tuple(group.messages),
        more_messages=len(group.seen_messages) - len(group.messages),
        example=group.example,
        side=side,
    )


def _example(entry: Mapping[str, Any], findings: Sequence[_Finding], secrets: tuple[str, ...]) -> Example:
    body, cut = _excerpt(entry.get("body"), secrets)
    response = entry.get("response")
    response = response if isinstance(response, Mapping) else {}
    scenarios = entry.get("scenarios")
    operation = entry.get("operation")
    message = response.get("message")
    upstream = entry.get("upstream")
    return Example(
        seq=_int(entry.get("seq")),
        request_id=_safe(_str(entry.get("request_id")), secrets),
        at=_int(entry.get("at")),
        method=_safe(_str(entry.get("method")), secrets),
        path=_safe(_str(entry.get("path")), secrets),
        query=_safe(_str(entry.get("query")), secrets),
        operation=_safe(operation, secrets) if isinstance(operation, str) else None,
        headers=_headers(entry.get("headers"), secrets),
        body=body,
        body_bytes=_int(entry.get("body_bytes")),
        body_cut=cut or entry.get("body_truncated") is True,
        status=_int(response.get("status")),
        code=_int(response.get("code")),
        message=_shorten(_safe(message, secrets)) if isinstance(message, str) else None,
        scenarios=tuple(_safe(name, secrets) for name in scenarios if isinstance(name, str))
        if isinstance(scenarios, list)
        else (),
        findings=tuple(ExampleFinding(finding.path, finding.message) for finding in findings),
        answer=_answer(upstream, secrets) if isinstance(upstream, Mapping) else None,
    )


def _answer(upstream: Mapping[str, Any], secrets: tuple[str, ...]) -> Answer:
    body, cut = _excerpt(upstream.get("body"), secrets)
    headers = _headers(upstream.get("headers"), secrets)
    return Answer(_int(upstream.get("status")), headers, body, cut or upstream.get("body_truncated") is True)


def _excerpt(value: object, secrets: tuple[str, ...]) -> tuple[str, bool]:
    """A body as an example shows it: at most `BODY_EXCERPT_BYTES`, cut on a character; and whether it was cut."""
    body = _safe(_str(value), secrets)
    encoded = body.encode("utf-8")
    if len(encoded) <= BODY_EXCERPT_BYTES:
        return body, False
    return encoded[:BODY_EXCERPT_BYTES].decode("utf-8", "ignore"), True


def _headers(value: object, secrets: tuple[str, ...]) -> dict[str, str]:
    items = value.items() if isinstance(value, Mapping) else ()
    return {_safe(str(name), secrets): _safe(_str(text), secrets) for name, text in items}


def _safe(text: str, secrets: tuple[str, ...]) -> str:
    """Blank the secrets, and escape lone surrogates (JSON can carry them, UTF-8 cannot)."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"
