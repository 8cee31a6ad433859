"""The Markdown drift report: per rule, passed or failed, the offending answer and a curl to reproduce it.

A pytest plugin (registered by `conftest.py` with `--contract-report-dir`) that collects each
test's outcome and, at the end of the run, writes `drift-report.md`. Its first lines say what
the target is (its dialect, when a probe found out) and whether it kept the contract, so that
the people reading it learn the news before the detail. Every text goes through the recorder's
scrubbing: no key, secret or token reaches the file.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .politeness import describe_rate
from .transport import SHOWN_BODY_BYTES, Exchange

if TYPE_CHECKING:
    from .target import Target

REPORT_NAME = "drift-report.md"
_MESSAGE_LINES = 40


@dataclass(frozen=True)
class RuleResult:
    outcome: str  # passed, failed or skipped
    message: str
    exchange: Exchange | None


class DriftReport:
    def __init__(self, target: Target, dialect_finding: str = "") -> None:
        self.target = target
        self.dialect_finding = dialect_finding
        self.results: dict[str, RuleResult] = {}

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.target.recorder.current = rule_name(item.location)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        rule = rule_name(report.location)
        if report.when != "call" and report.passed:
            return
        if report.when == "teardown" and rule in self.results and not report.failed:
            return
        message = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            message = str(report.longrepr[2])
        elif report.failed:
            message = report.longreprtext
        exchange = self.target.recorder.last_by_test.get(rule)
        self.results[rule] = RuleResult(report.outcome, self.target.recorder.scrub(message), exchange)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        assert self.target.report_dir is not None
        self.target.report_dir.mkdir(parents=True, exist_ok=True)
        path = self.target.report_dir / REPORT_NAME
        path.write_text(self.target.recorder.scrub(self.render()), encoding="utf-8")

    def render(self) -> str:
        failed = [rule for rule, result in self.results.items() if result.outcome == "failed"]
        skipped = sum(result.outcome == "skipped" for result in self.results.values())
        lines = ["# Contract drift report", ""]
        if self.dialect_finding:
            lines += [f"**{self.dialect_finding}**", ""]
        verdict = "FAILED" if failed else "passed"
        throttle = self.target.throttle
        lines += [
            f"**Result: {verdict}**: {len(failed)} of {len(self.results)} rules broken, {skipped} skipped. "
            f"Target `{self.target.base_url}`, held to the {self.target.dialect} dialect.",
            "",
            self.target.strictness.headline(),
            "",
            f"- Budget: {self.target.budget.summary()}.",
            f"- Politeness: {describe_rate(throttle.rps)}; {throttle.backoffs} backoff(s) after 429.",
            f"- Authentication: {self.target.credentials.kind}.",
        ]
        for what in self.target.budget.accepted_rejections:
            lines.append(f"- Finding: `{what}` must have been rejected, and created a billable task.")
        observed = self.target.observations.lines()
        if observed:
            lines += ["", "## Decisions observed", ""]
            lines += ["Where the contract is silent, what the target does (never a failure):", ""]
            lines += [f"- {line}" for line in observed]
        lines += ["", "| rule | result |", "|---|---|"]
        lines += [f"| `{rule}` | {result.outcome} |" for rule, result in self.results.items()]
        if failed:
            lines += ["", "## Broken rules", "", "Reproductions name `$KLING_TOKEN`: export a valid token first."]
        for rule in failed:
            lines += self._failure(rule, self.results[rule])
        return "\n".join(lines) + "\n"

    def _failure(self, rule: str, result: RuleResult) -> list[str]:
        message = "\n".join(result.message.strip().splitlines()[-_MESSAGE_LINES:])
        lines = ["", f"### `{rule}`", "", *_fenced("text", message)]
        exchange = result.exchange
        if exchange is None:
            return lines
        lines += [
            "",
            f"Offending response to `{exchange.method} {exchange.url}`: HTTP {exchange.status}",
            "",
            *_fenced("json", _shown(exchange.response_body)),
            "",
            "Reproduce:",
            "",
            *_fenced("sh", exchange.curl()),
        ]
        return lines


def rule_name(location: tuple[str, int | None, str]) -> str:
    """A test as the report names it: `test_rules.py::test_...[...]`, with its parameters (schemathesis's
    tests of each operation share a node id, not a name)."""
    return f"{Path(location[0]).name}::{location[2]}"


def _fenced(language: str, text: str) -> list[str]:
    """`text` in a Markdown code block whose fence no run of backticks in it can close (it is the target's)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + language, text, fence]


def _shown(body: bytes) -> str:
    text = body[:SHOWN_BODY_BYTES].decode("utf-8", "replace")
    with contextlib.suppress(ValueError):
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return text + ("\n… (cut)" if len(body) > SHOWN_BODY_BYTES else "")


def written_reports(report_dir: Path) -> list[Path]:
    """Every file of a report directory, for the last scrub and for tests."""
    return sorted(path for path in report_dir.rglob("*") if path.is_file())
