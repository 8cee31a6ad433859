"""Unit tests of `mock_server.conformance`: reports built from JournalPage dicts shaped as admin.yaml says."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from mock_server.client.conformance import (
    REPORT_FORMAT,
    JournalFormatError,
    Report,
    build_report,
    summary_line,
    to_json,
    to_junit,
    to_text,
)
from mock_server.client.conformance.report import BODY_EXCERPT_BYTES, MAX_MESSAGES
from tests.support.journal_pages import CREATE, answer, entry, finding, page


def mixed_page() -> dict[str, Any]:
    return page(
        entry(1, errors=[finding("required", "input.video_id"), finding("required", "input.text")]),
        entry(2, errors=[finding("required", "input.video_id")], warnings=[finding("unknown-field", "input.foo")]),
        entry(3),
        entry(4, warnings=[finding("unknown-field", "input.bar"), finding("default-relied-on", "input.mode")]),
        entry(5, errors=[finding("enum", "input.mode")], query="x=1"),
    )


def test_totals_count_requests() -> None:
    totals = build_report(mixed_page()).totals
    assert (totals.judged, totals.clean, totals.with_errors, totals.with_warnings) == (5, 1, 3, 2)
    assert (totals.recorded, totals.dropped, totals.capacity, totals.not_returned) == (5, 0, 1000, 0)
    assert totals.lost == 0  # a page without `lost` (an older mock's) lost nothing it knows of


def test_findings_are_grouped_by_severity_and_rule_errors_first_most_requests_first() -> None:
    report = build_report(mixed_page())
    assert [(rule.severity, rule.rule) for rule in report.rules] == [
        ("error", "required"),
        ("error", "enum"),
        ("warning", "unknown-field"),
        ("warning", "default-relied-on"),
    ]
    required = report.errors[0]
    assert (required.requests, required.findings) == (2, 3)
    assert [(path.path, path.requests) for path in required.paths] == [("input.video_id", 2), ("input.text", 1)]
    assert required.messages == ("input.video_id: breaks required", "input.text: breaks required")
    unknown = report.warnings[0]
    assert (unknown.requests, unknown.findings) == (2, 2)
    assert {path.path for path in unknown.paths} == {"input.foo", "input.bar"}


def test_the_same_rule_and_path_twice_in_one_request_counts_that_request_once() -> None:
    report = build_report(page(entry(1, errors=[finding("type", "input.x", "a"), finding("type", "input.x", "b")])))
    (rule,) = report.rules
    assert (rule.requests, rule.findings) == (1, 2)
    assert [(path.path, path.requests) for path in rule.paths] == [("input.x", 1)]
    assert rule.messages == ("a", "b")


def test_the_example_is_the_first_request_with_the_rule() -> None:
    report = build_report(mixed_page())
    required, enum = report.errors
    assert required.example.seq == 1
    assert required.example.request_id == "req-0000000000000000001"
    assert [f.path for f in required.example.findings] == ["input.video_id", "input.text"]
    assert (required.example.method, required.example.target) == ("POST", CREATE)
    assert required.example.status == 400 and required.example.code == 1201
    assert enum.example.seq == 5
    assert enum.example.target == f"{CREATE}?x=1"
    assert enum.example.headers["authorization"] == "<redacted>"
    assert enum.example.body.startswith('{"input"')
    assert report.warnings[0].example.seq == 2


def test_the_example_body_is_cut_to_about_2_kb_on_a_character_boundary() -> None:
    body = '{"text": "' + "a" * (BODY_EXCERPT_BYTES - 11) + "é" * 3000 + '"}'
    report = build_report(page(entry(1, errors=[finding("maxLength", "input.text")], body=body, body_bytes=len(body))))
    example = report.rules[0].example
    assert example.body_cut
    assert len(example.body.encode("utf-8")) <= BODY_EXCERPT_BYTES
    assert body.startswith(example.body)
    assert "first" in to_text(report) and f"of {len(body)} bytes" in to_text(report)


def test_a_body_the_journal_cut_is_marked_cut() -> None:
    report = build_report(page(entry(1, errors=[finding("body-too-large", "body")], body_truncated=True)))
    assert report.rules[0].example.body_cut


def test_distinct_messages_are_kept_to_a_few() -> None:
    entries = [entry(n, errors=[finding("type", f"input.f{n % 8}", f"message {n % 8}")]) for n in range(1, 41)]
    (rule,) = build_report(page(*entries)).rules
    assert len(rule.messages) == MAX_MESSAGES
    assert rule.more_messages == 8 - MAX_MESSAGES
    assert rule.requests == 40 and sum(path.requests for path in rule.paths) == 40


def test_a_clean_client_gets_a_short_report() -> None:
    report = build_report(page(entry(1), entry(2), entry(3)))
    assert report.rules == ()
    assert not report.failed(fail_on_warnings=True)
    text = to_text(report)
    assert text == "kling-mock conformance: clean: 3 requests, no errors, no warnings"


def test_the_text_report_leads_with_a_summary_then_errors_then_warnings() -> None:
    text = to_text(build_report(mixed_page()))
    lines = text.splitlines()
    assert lines[0].startswith("kling-mock conformance: FAILED: 5 requests: 3 with errors (2 rules)")
    assert text.index("ERRORS") < text.index("[error] required") < text.index("[error] enum")
    assert text.index("[error] enum") < text.index("WARNINGS") < text.index("[warning] unknown-field")
    assert "paths: input.video_id (2), input.text (1)" in text
    # The example, as an HTTP exchange.
    assert f"> POST {CREATE}?x=1" in text
    assert "> content-type: application/json" in text
    assert "< 400 code 1201: input.mode: breaks enum" in text


def test_warnings_only_pass_unless_asked_to_fail() -> None:
    report = build_report(page(entry(1, warnings=[finding("unknown-field", "input.extra")]), entry(2)))
    assert not report.failed(fail_on_warnings=False)
    assert report.failed(fail_on_warnings=True)
    assert summary_line(report).startswith("kling-mock conformance: passed with warnings: 2 requests")
    assert summary_line(report, fail_on_warnings=True).startswith("kling-mock conformance: FAILED")


@pytest.mark.parametrize("fail_on_warnings", [False, True])
def test_errors_always_fail(fail_on_warnings: bool) -> None:
    assert build_report(mixed_page()).failed(fail_on_warnings)


def test_dropped_requests_are_said_not_judged() -> None:
    report = build_report(page(entry(1), dropped=40, capacity=1))
    assert report.totals.dropped == 40
    note = "the oldest 40 requests were pushed out of the journal (it holds 1) and are not judged"
    assert note in to_text(report)
    assert "40 older not judged" in to_text(report).splitlines()[0]
    assert any(note in text for text in json.loads(to_json(report))["notes"])
    assert note in to_junit(report, fail_on_warnings=False)


def test_no_dropped_notice_when_none_were_dropped() -> None:
    assert "pushed out" not in to_text(build_report(mixed_page()))


def test_lost_requests_are_said_not_judged_without_failing_the_report() -> None:
    """Answered but never journaled (the journal's Redis away): a clean report must not read as all of them clean."""
    report = build_report({**page(entry(1)), "lost": 3})
    assert report.totals.lost == 3
    assert not report.failed(fail_on_warnings=True)  # as dropped ones: said, not held against the client
    note = (
        "3 requests answered by the mock never reached the journal (its Redis was unavailable or could not keep up) "
        "and are not judged"
    )
    text = to_text(report)
    assert text.splitlines()[0].endswith("; 3 not judged (lost: answered but never journaled)")
    assert text.splitlines()[0].startswith("kling-mock conformance: clean: 1 request")
    assert note in text
    document = json.loads(to_json(report))
    assert document["passed"] is True
    assert document["totals"]["lost"] == 3
    assert any(note in text for text in document["notes"])
    assert "3 not judged (lost" in document["summary"]
    suite = junit(report, fail_on_warnings=False)
    assert suite.get("failures") == "0"
    lost = suite.find("properties/property[@name='lost']")
    assert lost is not None and lost.get("value") == "3"
    assert note in to_junit(report, fail_on_warnings=False)


def test_one_lost_request_is_said_in_the_singular() -> None:
    text = to_text(build_report({**page(entry(1)), "lost": 1}))
    assert "1 request answered by the mock never reached the journal" in text
    assert "and is not judged" in text


@pytest.mark.parametrize("lost", [0, -2, "3", True, None])
def test_no_lost_notice_unless_some_were_lost(lost: object) -> None:
    """Zero, or a value that is no count (an odd page), says nothing: the report only states what it knows."""
    report = build_report({**mixed_page(), "lost": lost})
    assert report.totals.lost == 0
    assert "never reached the journal" not in to_text(report)
    assert "lost" not in to_text(report).splitlines()[0]


def test_entries_the_admin_api_did_not_return_are_counted() -> None:
    report = build_report(page(entry(1), total=3))
    assert report.totals.not_returned == 2
    assert "2 journal entries counted by the admin API were not returned" in to_text(report)


def test_an_empty_journal_says_nothing_was_judged() -> None:
    report = build_report(page())
    assert not report.failed(fail_on_warnings=True)
    assert "nothing to judge" in to_text(report).splitlines()[0]
    assert "did the client under test reach this mock?" in to_text(report)


def test_json_report_structure() -> None:
    report = build_report(mixed_page(), redact=())
    document = json.loads(to_json(report))
    assert list(document) == ["format", "passed", "fail_on_warnings", "summary", "totals", "notes", "rules", "upstream"]
    assert document["format"] == REPORT_FORMAT
    assert document["upstream"] is None  # a mock's journal: no upstream answered
    assert document["passed"] is False
    assert document["totals"] == {
        "judged": 5,
        "clean": 1,
        "with_errors": 3,
        "with_warnings": 2,
        "recorded": 5,
        "dropped": 0,
        "lost": 0,
        "capacity": 1000,
        "not_returned": 0,
    }
    first = document["rules"][0]
    assert (first["severity"], first["rule"], first["requests"], first["findings"]) == ("error", "required", 2, 3)
    assert first["paths"] == [{"path": "input.video_id", "requests": 2}, {"path": "input.text", "requests": 1}]
    example = first["example"]
    assert example["request_id"] == "req-0000000000000000001"
    assert example["response"] == {
        "status": 400,
        "code": 1201,
        "message": "input.video_id: breaks required; input.text: breaks required",
    }
    assert set(example) >= {"seq", "method", "path", "query", "target", "headers", "body", "body_cut", "findings"}
    assert to_json(report) == to_json(build_report(mixed_page()))  # stable


def test_json_passed_follows_fail_on_warnings() -> None:
    report = build_report(page(entry(1, warnings=[finding("unknown-field", "input.extra")])))
    assert json.loads(to_json(report))["passed"] is True
    assert json.loads(to_json(report, fail_on_warnings=True))["passed"] is False


def junit(report: Report, fail_on_warnings: bool) -> ET.Element:
    root = ET.fromstring(to_junit(report, fail_on_warnings).encode("utf-8"))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "kling-mock conformance"
    return suite


def test_junit_has_a_testcase_per_rule_failing_for_errors() -> None:
    suite = junit(build_report(mixed_page()), fail_on_warnings=False)
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert set(cases) == {"required", "enum", "unknown-field", "default-relied-on"}
    assert cases["required"].find("failure") is not None
    assert "input.video_id (2)" in (cases["required"].findtext("failure") or "")
    assert cases["unknown-field"].find("failure") is None
    assert "input.foo" in (cases["unknown-field"].findtext("system-out") or "")
    assert (suite.get("tests"), suite.get("failures")) == ("4", "2")


def test_junit_fails_warnings_when_asked() -> None:
    suite = junit(build_report(mixed_page()), fail_on_warnings=True)
    assert all(case.find("failure") is not None for case in suite.findall("testcase"))
    assert suite.get("failures") == "4"


def test_junit_of_a_clean_client_is_one_passing_testcase() -> None:
    suite = junit(build_report(page(entry(1), entry(2))), fail_on_warnings=True)
    (case,) = suite.findall("testcase")
    assert case.find("failure") is None
    assert (suite.get("tests"), suite.get("failures")) == ("1", "0")


def test_hostile_journal_text_is_made_safe_for_each_format() -> None:
    """The body and headers are the client's: terminal escapes, NULs and lone surrogates must not pass."""
    hostile = entry(
        1,
        errors=[finding("type", "input.\x1b[31mred", "bad \x00 value")],
        body='{"a": "\x1b]0;owned\x07\ud800\u202e"}',
        headers={"x-evil": "\x1b[2J\r\nx-injected: 1"},
        response={"status": 400, "code": 1201, "message": "\x08\x08oops"},
    )
    report = build_report(page(hostile))
    text = to_text(report)
    assert not any(char in text for char in "\x1b\x00\x07\x08\r\u202e")
    assert "\\x1b" in text
    text.encode("utf-8")  # no lone surrogate left
    json.loads(to_json(report))
    to_json(report).encode("utf-8")
    suite = junit(report, fail_on_warnings=False)
    assert suite.find("testcase/failure") is not None


def test_redacted_secrets_never_reach_the_report_not_even_cut_in_half() -> None:
    secret = "admin-secret-1234567890"
    body = "x" * (BODY_EXCERPT_BYTES - 5) + secret
    leaky = entry(
        1,
        errors=[finding("enum", "input.mode", f"input.mode: {secret} is not one of")],
        body=body,
        query=f"token={secret}",
        headers={"x-admin": secret},
        response={"status": 400, "code": 1201, "message": secret},
    )
    report = build_report(page(leaky), redact=[secret])
    for rendered in (to_text(report), to_json(report), to_junit(report, True)):
        assert secret not in rendered
        assert secret[:8] not in rendered
    assert "<redacted>" in report.rules[0].example.query


@pytest.mark.parametrize(
    ("broken", "where"),
    [
        ({"total": 0}, "entries"),
        ({"entries": [1]}, "entries[0]"),
        ({"entries": [{"seq": 1}]}, "entries[0].verdict"),
        ({"entries": [{"verdict": {"result": "clean", "errors": []}}]}, "entries[0].verdict.warnings"),
        ({"entries": [{"verdict": {"errors": [{"rule": "x", "path": "y"}], "warnings": []}}]}, "message"),
    ],
)
def test_a_page_without_readable_verdicts_is_refused(broken: dict[str, Any], where: str) -> None:
    with pytest.raises(JournalFormatError, match=r"\S") as caught:
        build_report(broken)
    assert where in str(caught.value)


# Behind a proxy: the upstream's part.


def proxied_page() -> dict[str, Any]:
    unanswered = answer(status=None, error="the upstream could not be reached", verdict=None, body="", body_bytes=0)
    return page(
        entry(1, upstream=answer([finding("response-content-type", "header.Content-Type")])),
        entry(
            2,
            errors=[finding("required", "input.mode")],
            upstream=answer(
                [finding("response-schema", "data.created_at"), finding("response-schema", "request_id")],
                [finding("response-accepted-invalid-request", "status")],
            ),
        ),
        entry(3, upstream=answer()),
        entry(4, upstream=unanswered),
    )


def test_a_proxys_journal_has_an_upstream_part_kept_apart() -> None:
    report = build_report(proxied_page())
    assert (report.totals.judged, report.totals.with_errors) == (4, 1)
    assert [rule.rule for rule in report.rules] == ["required"]
    assert report.upstream is not None
    upstream = report.upstream
    assert (upstream.judged, upstream.clean, upstream.with_errors, upstream.with_warnings) == (3, 1, 2, 1)
    assert upstream.unanswered == 1
    assert [(rule.side, rule.severity, rule.rule, rule.requests) for rule in report.upstream_rules] == [
        ("upstream", "error", "response-content-type", 1),
        ("upstream", "error", "response-schema", 1),
        ("upstream", "warning", "response-accepted-invalid-request", 1),
    ]
    assert report.upstream_rules[0].example.answer is not None
    assert report.upstream_rules[0].example.answer.body == "OK, created"


def test_the_upstream_alone_fails_a_report() -> None:
    report = build_report(page(entry(1, upstream=answer([finding("response-status", "code")]))))
    assert report.failed(fail_on_warnings=False)
    warned = build_report(page(entry(1, upstream=answer(warnings=[finding("response-not-judged", "body")]))))
    assert not warned.failed(fail_on_warnings=False)
    assert warned.failed(fail_on_warnings=True)


def test_the_text_report_of_a_proxy_names_each_side() -> None:
    text = to_text(build_report(proxied_page()))
    lines = text.splitlines()
    assert lines[0] == (
        "kling-mock conformance: FAILED: 4 requests: 1 with errors (1 rule), 0 with warnings (0 rules), 3 clean; "
        "upstream: 3 answers: 2 with errors (2 rules), 1 with warnings (1 rule), 1 clean; 1 unanswered by the upstream"
    )
    assert any(line.startswith("note: 1 request got no answer from the upstream") for line in lines)
    sections = [line for line in lines if line.startswith(("THE ", "CLIENT ", "UPSTREAM ", "ERRORS", "WARNINGS"))]
    assert sections == [
        "THE CLIENT BROKE THE CONTRACT (1 rule)",
        "THE UPSTREAM BROKE THE CONTRACT (2 rules)",
        "UPSTREAM WARNINGS (1 rule)",
    ]
    client, upstream = text.split("THE UPSTREAM BROKE THE CONTRACT")
    assert "  [error] required: 1 request, 1 finding" in client
    assert "  [upstream error] response-schema: 1 answer, 2 findings" in upstream
    assert "      < content-type: text/plain" in upstream
    assert "      < OK, created" in upstream
    assert "< OK, created" not in client  # the answer's body is shown where the upstream is at fault


def test_a_clean_proxy_journal_says_so_for_both_sides() -> None:
    line = summary_line(build_report(page(entry(1, upstream=answer()))))
    assert line == (
        "kling-mock conformance: clean: 1 request, no errors, no warnings; upstream: 1 answer, no errors, no warnings"
    )


def test_json_and_junit_of_a_proxy() -> None:
    report = build_report(proxied_page())
    document = json.loads(to_json(report))
    assert document["passed"] is False
    assert document["upstream"]["totals"] == {
        "judged": 3,
        "clean": 1,
        "with_errors": 2,
        "with_warnings": 1,
        "unanswered": 1,
    }
    assert [rule["rule"] for rule in document["upstream"]["rules"]] == [
        "response-content-type",
        "response-schema",
        "response-accepted-invalid-request",
    ]
    assert document["upstream"]["rules"][0]["example"]["answer"] == {
        "status": 200,
        "headers": {"content-type": "text/plain"},
        "body": "OK, created",
        "body_cut": False,
    }
    suite = junit(report, fail_on_warnings=False)
    classes = {(case.get("classname"), case.get("name")) for case in suite.findall("testcase")}
    assert ("kling-mock.conformance.upstream.errors", "response-schema") in classes
    assert ("kling-mock.conformance.errors", "required") in classes
    properties = {item.get("name"): item.get("value") for item in suite.iter("property")}
    assert (properties["upstream_with_errors"], properties["upstream_unanswered"]) == ("2", "1")
    assert (suite.get("tests"), suite.get("failures")) == ("4", "3")
