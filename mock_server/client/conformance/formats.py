"""The conformance report's formats: a line for a log, text for a terminal, JSON, JUnit XML for CI.

Journal text is the client's: escaped for where it goes (control characters for a terminal, characters XML
cannot hold for JUnit).

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
        "lost": int,                   # requests answered but never journaled (its Redis away): not judged
        "capacity": int,               # the journal's bound (`--journal-size`)
        "not_returned": int            # entries the admin API counted but did not return: not judged
      },
      "notes": [str],                  # what the numbers mean for the verdict, e.g. the dropped or lost requests
      "rules": [                       # the client's: errors first, then warnings; most requests first, then by name
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
            "findings": [{"path": str, "message": str}],  # this rule's findings in this request
            "answer": null | {         # the upstream's answer, in the examples of the upstream's rules
              "status": int | null, "headers": {str: str}, "body": str, "body_cut": bool
            }
          }
        }
      ],
      "upstream": null | {             # behind a proxy: the upstream's answers; null for a mock's journal
        "totals": {
          "judged": int,               # answers judged
          "clean": int, "with_errors": int, "with_warnings": int,
          "unanswered": int            # requests the upstream never answered (the proxy answered 503 or 504)
        },
        "rules": [...]                 # as "rules" above, counting answers ("requests") the upstream gave
      }
    }
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from .report import Example, Report, RuleSummary, Totals, UpstreamTotals, count

REPORT_FORMAT = "kling-mock-conformance/1"
SUITE_NAME = "kling-mock conformance"


def summary_line(report: Report, fail_on_warnings: bool = False) -> str:
    """One line for a terminal or a CI log: the verdict and the numbers behind it, the upstream's too behind a proxy."""
    totals, upstream = report.totals, report.upstream
    if totals.judged == 0:
        line = "nothing to judge: the journal holds no requests"
    elif not report.rules and not report.upstream_rules:
        line = f"clean: {count(totals.judged, 'request')}, no errors, no warnings"
        if upstream is not None:
            line += f"; upstream: {count(upstream.judged, 'answer')}, no errors, no warnings"
    else:
        verdict = "FAILED" if report.failed(fail_on_warnings) else "passed with warnings"
        line = f"{verdict}: {_side_counts(totals, report.errors, report.warnings, 'request')}"
        if upstream is not None:
            line += f"; upstream: {_side_counts(upstream, report.upstream_errors, report.upstream_warnings, 'answer')}"
    if upstream is not None and upstream.unanswered > 0:
        line += f"; {upstream.unanswered} unanswered by the upstream"
    if totals.dropped > 0:
        line += f"; {totals.dropped} older not judged (dropped from the journal)"
    if totals.lost > 0:
        line += f"; {totals.lost} not judged (lost: answered but never journaled)"
    return f"{SUITE_NAME}: {line}"


def _side_counts(
    totals: Totals | UpstreamTotals, errors: tuple[RuleSummary, ...], warnings: tuple[RuleSummary, ...], noun: str
) -> str:
    return (
        f"{count(totals.judged, noun)}: "
        f"{totals.with_errors} with errors ({count(len(errors), 'rule')}), "
        f"{totals.with_warnings} with warnings ({count(len(warnings), 'rule')}), "
        f"{totals.clean} clean"
    )


def to_text(report: Report, fail_on_warnings: bool = False) -> str:
    """The report for a terminal: summary line, notes, then errors, then warnings; behind a proxy, the client's
    and then the upstream's."""
    lines = [summary_line(report, fail_on_warnings)]
    lines += [f"note: {note}" for note in report.notes]
    sections = [("ERRORS", report.errors), ("WARNINGS", report.warnings)]
    if report.upstream is not None:
        sections = [
            ("THE CLIENT BROKE THE CONTRACT", report.errors),
            ("CLIENT WARNINGS", report.warnings),
            ("THE UPSTREAM BROKE THE CONTRACT", report.upstream_errors),
            ("UPSTREAM WARNINGS", report.upstream_warnings),
        ]
    for title, rules in sections:
        if rules:
            lines += ["", f"{title} ({count(len(rules), 'rule')})"]
            for rule in rules:
                lines += ["", *(f"  {line}" for line in _rule_lines(rule))]
    return "\n".join(lines)


def _rule_lines(rule: RuleSummary) -> list[str]:
    """One rule's block, shared by the text report and the JUnit details."""
    upstream = rule.side == "upstream"
    severity = f"upstream {rule.severity}" if upstream else rule.severity
    counted = count(rule.requests, "answer" if upstream else "request")
    lines = [f"[{severity}] {_line(rule.rule)}: {counted}, {count(rule.findings, 'finding')}"]
    paths = ", ".join(f"{_line(path.path)} ({path.requests})" for path in rule.paths)
    if rule.more_paths:
        paths += f", and {rule.more_paths} more"
    lines.append(f"  paths: {paths}")
    lines.append("  messages:")
    lines += [f"    {_line(message)}" for message in rule.messages]
    if rule.more_messages:
        lines.append(f"    ... and {rule.more_messages} more")
    lines += [f"  {line}" for line in _example_lines(rule.example, with_answer=upstream)]
    return lines


def _example_lines(example: Example, with_answer: bool) -> list[str]:
    seq = f"#{example.seq} " if example.seq is not None else ""
    operation = f", operation {_line(example.operation)}" if example.operation else ""
    lines = [f"example: request {seq}(request_id {_line(example.request_id) or '-'}{operation})"]
    lines.append(f"  > {_line(example.method)} {_line(example.target)}")
    lines += _message_lines(">", example.headers, example.body)
    if example.body_cut:
        size = f" of {example.body_bytes} bytes" if example.body_bytes is not None else ""
        lines.append(f"  > ... (body cut: first {len(example.body.encode('utf-8'))} bytes shown{size})")
    code = f" code {example.code}" if example.code is not None else " (no business code: answer cut off)"
    message = f": {_line(example.message)}" if example.message else ""
    lines.append(f"  < {example.status if example.status is not None else '-'}{code}{message}")
    if with_answer and example.answer is not None:
        lines += _message_lines("<", example.answer.headers, example.answer.body)
        if example.answer.body_cut:
            lines.append(f"  < ... (body cut: first {len(example.answer.body.encode('utf-8'))} bytes shown)")
    if example.scenarios:
        lines.append(f"  scenarios: {', '.join(_line(name) for name in example.scenarios)}")
    for finding in example.findings:
        # The mock's messages name their field already; others get it put in front.
        named = finding.message if finding.message.startswith(finding.path) else f"{finding.path}: {finding.message}"
        lines.append(f"  ! {_line(named)}")
    return lines


def _message_lines(arrow: str, headers: Mapping[str, str], body: str) -> list[str]:
    """Headers, then the body after an empty line, as a request (`>`) or an answer (`<`) is shown."""
    lines = [f"  {arrow} {_line(name)}: {_line(value)}" for name, value in headers.items()]
    if body:
        lines.append(f"  {arrow}")
        lines += [f"  {arrow} {_line(line)}" for line in body.splitlines()]
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
            "lost": report.totals.lost,
            "capacity": report.totals.capacity,
            "not_returned": report.totals.not_returned,
        },
        "notes": list(report.notes),
        "rules": [_rule_json(rule) for rule in report.rules],
        "upstream": None,
    }
    if report.upstream is not None:
        document["upstream"] = {
            "totals": vars(report.upstream),
            "rules": [_rule_json(rule) for rule in report.upstream_rules],
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
            "answer": vars(example.answer) if example.answer is not None else None,
        },
    }


def to_junit(report: Report, fail_on_warnings: bool) -> str:
    """JUnit XML for CI: one testcase per rule seen, failing for errors (and warnings if asked)."""
    suites = ET.Element("testsuites", name=SUITE_NAME)
    suite = ET.SubElement(suites, "testsuite", name=SUITE_NAME)
    properties = ET.SubElement(suite, "properties")
    totals = {"": vars(report.totals), "upstream_": vars(report.upstream) if report.upstream else {}}
    for prefix, values in totals.items():
        for name, value in values.items():
            ET.SubElement(properties, "property", name=prefix + name, value=str(value))
    failures = 0
    rules = (*report.rules, *report.upstream_rules)
    for rule in rules:
        # Behind a proxy, the upstream's rules are a class of their own: `kling-mock.conformance.upstream.errors`.
        side = ".upstream" if rule.side == "upstream" else ""
        case = ET.SubElement(
            suite, "testcase", classname=f"kling-mock.conformance{side}.{rule.severity}s", name=_xml(rule.rule)
        )
        detail = _xml("\n".join(_rule_lines(rule)))
        if rule.severity == "error" or fail_on_warnings:
            failures += 1
            first = f": {rule.messages[0]}" if rule.messages else ""
            counted = count(rule.requests, "answer" if side else "request")
            headline = _xml(f"{counted} broke {rule.rule}{first}")
            failure = ET.SubElement(case, "failure", message=headline, type=rule.severity)
            failure.text = detail
        else:
            ET.SubElement(case, "system-out").text = detail
    if not rules:
        ET.SubElement(suite, "testcase", classname="kling-mock.conformance", name="no findings")
    tests = max(1, len(rules))
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
