"""The conformance report of a client under test, from a mock's (or a proxy's) journal: `report` builds the
model, `formats` writes it as a summary line, text, JSON or JUnit XML."""

from .formats import REPORT_FORMAT, SUITE_NAME, summary_line, to_json, to_junit, to_text
from .report import JournalFormatError, Report, RuleSummary, build_report

__all__ = [
    "REPORT_FORMAT",
    "SUITE_NAME",
    "JournalFormatError",
    "Report",
    "RuleSummary",
    "build_report",
    "summary_line",
    "to_json",
    "to_junit",
    "to_text",
]
