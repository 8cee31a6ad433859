"""The conformance report of a client under test, built from the mock's journal.

The mock judges every request it receives (admin.yaml, `JournalEntry.verdict`); this module turns a
`JournalPage` into what a developer or a CI job wants to read: which rules the client broke, how often,
where, and one request that shows it. Pure functions, no I/O, so `verify` and the tests share them.

Journal entries are hostile input (whatever the client sent), so every string taken from them is made
safe for where it goes: lone surrogates are escaped when the report is built, control characters when it
is printed to a terminal, characters XML cannot hold when it is written as JUnit.

`to_json` writes this structure (key order fixed; `format` changes if it ever does):

    {
      "format": "kling-mock-conformance/1",
      "passed": bool,                  # not failed(fail_on_warnings)
      "fail_on_warnings": bool,
      "summary": str,                  # the text report's first line
      "totals": {
        "judged": int,                 # journal entries read and judged
        "clean": int,                  # ... with no finding
        "with_errors": int,            # ... with at least one error
        "with_warnings": int,          # ... with at least one warning (errors or not)
        "recorded": int,               # requests the mock recorded since its journal was last cleared
        "dropped": int,                # of those, pushed out by the journal's bound: not judged
        "capacity": int,               # the journal's bound (`--journal-size`)
        "not_returned": int            # entries the admin API counted but did not return: not judged
      },
      "notes": [str],                  # what the numbers mean for the verdict, e.g. the dropped requests
      "rules": [                       # errors first, then warnings; most requests first, then by name
        {
          "severity": "error" | "warning",
          "rule": str,
          "requests": int,             # requests with at least one finding of this rule
          "findings": int,             # findings of this rule in all
          "paths": [{"path": str, "requests": int}],   # most requests first, at most MAX_PATHS
          "more_paths": int,
          "messages": [str],           # distinct messages, first seen first, at most MAX_MESSAGES
          "more_messages": int,
          "example": {                 # the oldest judged request with this rule
            "seq": int | null, "request_id": str, "at": int | null,
            "method": str, "path": str, "query": str, "target": str,   # target: path?query
            "operation": str | null,
            "headers": {str: str},     # as journalled: credentials already read <redacted>
            "body": str,               # at most BODY_EXCERPT_BYTES of UTF-8
            "body_bytes": int | null,  # the body's size as the mock received it
            "body_cut": bool,          # body is not the whole of it
            "response": {"status": int | null, "code": int | null, "message": str | null},
            "scenarios": [str],
            "findings": [{"path": str, "message": str}]   # this rule's findings in this request
          }
        }
      ]
    }
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]

REPORT_FORMAT = "kling-mock-conformance/1"
SUITE_NAME = "kling-mock conformance"
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

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


@dataclass(frozen=True)
class RuleSummary:
    """Every finding of one rule at one severity, over all the judged requests."""

    severity: Severity
    rule: str
    requests: int
    findings: int
    paths: tuple[PathCount, ...]
    more_paths: int
    messages: tuple[str, ...]
    more_messages: int
    example: Example


@dataclass(frozen=True)
class Totals:
    judged: int
    clean: int
    with_errors: int
    with_warnings: int
    recorded: int
    dropped: int
    capacity: int
    not_returned: int


@dataclass(frozen=True)
class Report:
    totals: Totals
    rules: tuple[RuleSummary, ...]

    @property
    def errors(self) -> tuple[RuleSummary, ...]:
        return tuple(rule for rule in self.rules if rule.severity == "error")

    @property
    def warnings(self) -> tuple[RuleSummary, ...]:
        return tuple(rule for rule in self.rules if rule.severity == "warning")

    def failed(self, fail_on_warnings: bool) -> bool:
        """Errors always fail a client; warnings only when the caller asks them to."""
        return bool(self.errors) or (fail_on_warnings and bool(self.warnings))

    @property
    def notes(self) -> tuple[str, ...]:
        """What the reader must know before trusting a pass: requests the report could not judge."""
        totals, notes = self.totals, []
        if totals.dropped > 0:
            notes.append(
                f"the oldest {_count(totals.dropped, 'request')} were pushed out of the journal "
                f"(it holds {totals.capacity}) and are not judged: start the mock with a larger --journal-size, "
                "or verify more often"
            )
        if totals.not_returned > 0:
            notes.append(
                f"{_count(totals.not_returned, 'journal entry', 'journal entries')} counted by the admin API "
                "were not returned and are not judged"
            )
        if totals.judged == 0:
            notes.append(
                "the journal holds no requests: nothing was judged (did the client under test reach this mock?)"
            )
        return tuple(notes)


# Building


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
    clean = with_errors = with_warnings = 0
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise JournalFormatError(f"entries[{index}]: not a JSON object")
        errors, warnings = _verdict(entry, index, secrets)
        with_errors += bool(errors)
        with_warnings += bool(warnings)
        clean += not errors and not warnings
        _add_findings(groups, "error", errors, entry, secrets)
        _add_findings(groups, "warning", warnings, entry, secrets)
    judged = len(entries)
    total = _int(page.get("total"))
    totals = Totals(
        judged=judged,
        clean=clean,
        with_errors=with_errors,
        with_warnings=with_warnings,
        recorded=_int(page.get("recorded")) or judged,
        dropped=max(0, _int(page.get("dropped")) or 0),
        capacity=_int(page.get("capacity")) or 0,
        not_returned=max(0, total - judged) if total is not None else 0,
    )
    ordered = sorted(groups.values(), key=lambda group: (group.severity != "error", -group.requests, group.rule))
    return Report(totals=totals, rules=tuple(_summary(group) for group in ordered))


def _verdict(entry: Mapping[str, Any], index: int, secrets: tuple[str, ...]) -> tuple[list[_Finding], list[_Finding]]:
    verdict = entry.get("verdict")
    if not isinstance(verdict, Mapping):
        raise JournalFormatError(f"entries[{index}].verdict: missing or not an object")
    lists: list[list[_Finding]] = []
    for severity in ("errors", "warnings"):
        raw = verdict.get(severity)
        if not isinstance(raw, list):
            raise JournalFormatError(f"entries[{index}].verdict.{severity}: missing or not a list")
        findings = []
        for number, finding in enumerate(raw):
            where = f"entries[{index}].verdict.{severity}[{number}]"
            if not isinstance(finding, Mapping):
                raise JournalFormatError(f"{where}: not an object")
            values = []
            for key in ("rule", "path", "message"):
                value = finding.get(key)
                if not isinstance(value, str):
                    raise JournalFormatError(f"{where}.{key}: missing or not a string")
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


def _summary(group: _Group) -> RuleSummary:
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
    )


def _example(entry: Mapping[str, Any], findings: Sequence[_Finding], secrets: tuple[str, ...]) -> Example:
    body = _safe(_str(entry.get("body")), secrets)
    encoded = body.encode("utf-8")
    cut = len(encoded) > BODY_EXCERPT_BYTES
    if cut:
        body = encoded[:BODY_EXCERPT_BYTES].decode("utf-8", "ignore")
    headers = entry.get("headers")
    response = entry.get("response")
    response = response if isinstance(response, Mapping) else {}
    scenarios = entry.get("scenarios")
    operation = entry.get("operation")
    message = response.get("message")
    return Example(
        seq=_int(entry.get("seq")),
        request_id=_safe(_str(entry.get("request_id")), secrets),
        at=_int(entry.get("at")),
        method=_safe(_str(entry.get("method")), secrets),
        path=_safe(_str(entry.get("path")), secrets),
        query=_safe(_str(entry.get("query")), secrets),
        operation=_safe(operation, secrets) if isinstance(operation, str) else None,
        headers={
            _safe(str(name), secrets): _safe(_str(value), secrets)
            for name, value in (headers.items() if isinstance(headers, Mapping) else ())
        },
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
    )


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


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


# Formatting


def summary_line(report: Report, fail_on_warnings: bool = False) -> str:
    """One line for a terminal or a CI log: the verdict and the numbers behind it."""
    totals = report.totals
    if totals.judged == 0:
        line = "nothing to judge: the journal holds no requests"
    elif not report.rules:
        line = f"clean: {_count(totals.judged, 'request')}, no errors, no warnings"
    else:
        verdict = "FAILED" if report.failed(fail_on_warnings) else "passed with warnings"
        line = (
            f"{verdict}: {_count(totals.judged, 'request')}: "
            f"{totals.with_errors} with errors ({_count(len(report.errors), 'rule')}), "
            f"{totals.with_warnings} with warnings ({_count(len(report.warnings), 'rule')}), "
            f"{totals.clean} clean"
        )
    if totals.dropped > 0:
        line += f"; {totals.dropped} older not judged (dropped from the journal)"
    return f"{SUITE_NAME}: {line}"


def to_text(report: Report, fail_on_warnings: bool = False) -> str:
    """The report for a terminal: summary line, notes, then errors, then warnings."""
    lines = [summary_line(report, fail_on_warnings)]
    lines += [f"note: {note}" for note in report.notes]
    for title, rules in (("ERRORS", report.errors), ("WARNINGS", report.warnings)):
        if rules:
            lines += ["", f"{title} ({_count(len(rules), 'rule')})"]
            for rule in rules:
                lines += ["", *(f"  {line}" for line in _rule_lines(rule))]
    return "\n".join(lines)


def _rule_lines(rule: RuleSummary) -> list[str]:
    """One rule's block, shared by the text report and the JUnit details."""
    lines = [
        f"[{rule.severity}] {_line(rule.rule)}: {_count(rule.requests, 'request')}, {_count(rule.findings, 'finding')}"
    ]
    paths = ", ".join(f"{_line(path.path)} ({path.requests})" for path in rule.paths)
    if rule.more_paths:
        paths += f", and {rule.more_paths} more"
    lines.append(f"  paths: {paths}")
    lines.append("  messages:")
    lines += [f"    {_line(message)}" for message in rule.messages]
    if rule.more_messages:
        lines.append(f"    ... and {rule.more_messages} more")
    lines += [f"  {line}" for line in _example_lines(rule.example)]
    return lines


def _example_lines(example: Example) -> list[str]:
    seq = f"#{example.seq} " if example.seq is not None else ""
    operation = f", operation {_line(example.operation)}" if example.operation else ""
    lines = [f"example: request {seq}(request_id {_line(example.request_id) or '-'}{operation})"]
    lines.append(f"  > {_line(example.method)} {_line(example.target)}")
    lines += [f"  > {_line(name)}: {_line(value)}" for name, value in example.headers.items()]
    if example.body:
        lines.append("  >")
        lines += [f"  > {_line(line)}" for line in example.body.splitlines()]
    if example.body_cut:
        size = f" of {example.body_bytes} bytes" if example.body_bytes is not None else ""
        lines.append(f"  > ... (body cut: first {len(example.body.encode('utf-8'))} bytes shown{size})")
    code = f" code {example.code}" if example.code is not None else " (no business code: answer cut off)"
    message = f": {_line(example.message)}" if example.message else ""
    lines.append(f"  < {example.status if example.status is not None else '-'}{code}{message}")
    if example.scenarios:
        lines.append(f"  scenarios: {', '.join(_line(name) for name in example.scenarios)}")
    for finding in example.findings:
        # The mock's messages name their field already; others get it put in front.
        named = finding.message if finding.message.startswith(finding.path) else f"{finding.path}: {finding.message}"
        lines.append(f"  ! {_line(named)}")
    return lines


def _line(text: str) -> str:
    """Journal text is the client's: escape what a terminal would act on (ANSI codes, bidi, newlines)."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)


def to_json(report: Report, fail_on_warnings: bool = False) -> str:
    """The report as JSON, in the structure this module's docstring documents."""
    document = {
        "format": REPORT_FORMAT,
        "passed": not report.failed(fail_on_warnings),
        "fail_on_warnings": fail_on_warnings,
        "summary": summary_line(report, fail_on_warnings),
        "totals": {
            "judged": report.totals.judged,
            "clean": report.totals.clean,
            "with_errors": report.totals.with_errors,
            "with_warnings": report.totals.with_warnings,
            "recorded": report.totals.recorded,
            "dropped": report.totals.dropped,
            "capacity": report.totals.capacity,
            "not_returned": report.totals.not_returned,
        },
        "notes": list(report.notes),
        "rules": [_rule_json(rule) for rule in report.rules],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def _rule_json(rule: RuleSummary) -> dict[str, Any]:
    example = rule.example
    return {
        "severity": rule.severity,
        "rule": rule.rule,
        "requests": rule.requests,
        "findings": rule.findings,
        "paths": [{"path": path.path, "requests": path.requests} for path in rule.paths],
        "more_paths": rule.more_paths,
        "messages": list(rule.messages),
        "more_messages": rule.more_messages,
        "example": {
            "seq": example.seq,
            "request_id": example.request_id,
            "at": example.at,
            "method": example.method,
            "path": example.path,
            "query": example.query,
            "target": example.target,
            "operation": example.operation,
            "headers": dict(example.headers),
            "body": example.body,
            "body_bytes": example.body_bytes,
            "body_cut": example.body_cut,
            "response": {"status": example.status, "code": example.code, "message": example.message},
            "scenarios": list(example.scenarios),
            "findings": [{"path": finding.path, "message": finding.message} for finding in example.findings],
        },
    }


def to_junit(report: Report, fail_on_warnings: bool) -> str:
    """JUnit XML for CI: one testcase per rule seen, failing for errors (and warnings if asked)."""
    suites = ET.Element("testsuites", name=SUITE_NAME)
    suite = ET.SubElement(suites, "testsuite", name=SUITE_NAME)
    properties = ET.SubElement(suite, "properties")
    for name in ("judged", "clean", "with_errors", "with_warnings", "recorded", "dropped", "capacity", "not_returned"):
        ET.SubElement(properties, "property", name=name, value=str(getattr(report.totals, name)))
    failures = 0
    for rule in report.rules:
        case = ET.SubElement(
            suite, "testcase", classname=f"kling-mock.conformance.{rule.severity}s", name=_xml(rule.rule)
        )
        detail = _xml("\n".join(_rule_lines(rule)))
        if rule.severity == "error" or fail_on_warnings:
            failures += 1
            first = f": {rule.messages[0]}" if rule.messages else ""
            headline = _xml(f"{_count(rule.requests, 'request')} broke {rule.rule}{first}")
            failure = ET.SubElement(case, "failure", message=headline, type=rule.severity)
            failure.text = detail
        else:
            ET.SubElement(case, "system-out").text = detail
    if not report.rules:
        ET.SubElement(suite, "testcase", classname="kling-mock.conformance", name="no findings")
    tests = max(1, len(report.rules))
    for element in (suites, suite):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", "0")
    suite.set("skipped", "0")
    ET.SubElement(suite, "system-out").text = _xml(
        "\n".join([summary_line(report, fail_on_warnings), *(f"note: {note}" for note in report.notes)])
    )
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")


def _xml(text: str) -> str:
    """XML 1.0 cannot hold most control characters, not even escaped: spell them out instead."""
    return "".join(char if _xml_char(char) else char.encode("unicode_escape").decode("ascii") for char in text)


def _xml_char(char: str) -> bool:
    code = ord(char)
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF
