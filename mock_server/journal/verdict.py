"""A verdict: the errors and warnings found in one request (or in an upstream's answer to it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.errors import Finding
from ..core.secrets import blank_text


@dataclass(frozen=True)
class Verdict:
    errors: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()

    @property
    def result(self) -> str:
        return "error" if self.errors else "warning" if self.warnings else "clean"

    def redacted(self, secrets: tuple[str, ...]) -> Verdict:
        """The verdict with `secrets` blanked from its findings (a message may quote a path that held one)."""
        errors = tuple(redacted_finding(finding, secrets) for finding in self.errors)
        return Verdict(errors, tuple(redacted_finding(finding, secrets) for finding in self.warnings))

    def to_json(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "errors": [vars(finding) for finding in self.errors],
            "warnings": [vars(finding) for finding in self.warnings],
        }


def redacted_finding(finding: Finding, secrets: tuple[str, ...]) -> Finding:
    return Finding(finding.rule, blank_text(finding.path, secrets), blank_text(finding.message, secrets))
