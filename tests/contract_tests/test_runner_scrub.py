"""Unit tests of the runner's last scrub of written reports: every spelling of a secret is blanked."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape, quoteattr

import pytest

from contract_tests.credentials import Credentials
from contract_tests.runner import _scrub_reports

# Every character an encoding changes: `&<>"'` for XML, `/"` for JSON, `+/=& ` for a URL.
SECRET = 'sk/with+odd&chars<"quoted">\'=end'
API_KEY = "plain-key-0123456789"
SPELLINGS = {
    "raw": SECRET,
    "url-encoded": quote(SECRET, safe=""),
    "url-encoded-keeping-slashes": quote(SECRET, safe="/"),
    "form-encoded": quote_plus(SECRET),
    "json-escaped": json.dumps(SECRET)[1:-1],
    "json-escaped-slashes": json.dumps(SECRET)[1:-1].replace("/", "\\/"),
    "xml-text": escape(SECRET),
    "xml-attribute": quoteattr(SECRET)[1:-1],
    "xml-named-entities": escape(SECRET, {'"': "&quot;", "'": "&apos;"}),
    "xml-numeric-references": escape(SECRET, {'"': "&#34;", "'": "&#39;"}),
    "xml-escaped-json": escape(json.dumps(SECRET)[1:-1], {'"': "&quot;"}),
}


def credentials() -> Credentials:
    return Credentials(access_key="ak-scrub-test", secret_key=SECRET)


@pytest.mark.parametrize("spelling", list(SPELLINGS.values()), ids=list(SPELLINGS))
def test_each_spelling_of_a_secret_is_blanked(tmp_path: Path, spelling: str) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(f'<testcase message="before {spelling} after">{spelling}</testcase>\n')
    _scrub_reports(tmp_path, credentials())
    text = report.read_text()
    assert spelling not in text
    assert text == '<testcase message="before $KLING_SECRET_KEY after">$KLING_SECRET_KEY</testcase>\n'


def test_every_file_and_every_secret_is_scrubbed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keyed = Credentials(api_key=API_KEY, second_api_key="second-key-9876543210")
    (tmp_path / "schemathesis").mkdir()
    files = {
        tmp_path / "junit.xml": f"<failure>Bearer {escape(API_KEY)}</failure>",
        tmp_path / "drift-report.md": f"curl -H 'Authorization: Bearer {API_KEY}'",
        tmp_path / "schemathesis" / "cassette.yaml": f"uri: https://x.example/?key={quote('second-key-9876543210')}",
    }
    for path, text in files.items():
        path.write_text(text)
    _scrub_reports(tmp_path, keyed)
    for path in files:
        text = path.read_text()
        assert API_KEY not in text and "second-key-9876543210" not in text
    assert (tmp_path / "junit.xml").read_text() == "<failure>Bearer $KLING_TOKEN</failure>"
    assert "second-key" not in capsys.readouterr().err  # it says where, never what


def test_a_clean_file_is_left_as_it_was(tmp_path: Path) -> None:
    report = tmp_path / "drift-report.md"
    report.write_bytes(b"nothing secret here \xff\n")
    # An mtime no rewrite can leave as it is, however soon after this one it comes.
    os.utime(report, ns=(0, 0))
    before = report.stat().st_mtime_ns
    _scrub_reports(tmp_path, credentials())
    assert report.read_bytes() == b"nothing secret here \xff\n"
    assert report.stat().st_mtime_ns == before
