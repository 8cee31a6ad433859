"""The docs say what the code does: the command line page is the parser's, and nothing cites a document the
repository does not have."""

from __future__ import annotations

import re
import subprocess

from mock_server.cli import reference
from tests.support import ROOT


def test_the_command_line_page_is_the_parser_s() -> None:
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert page == reference(), (
        "regenerate docs/cli.md: python -c \"from mock_server.cli import reference; print(reference(), end='')\""
    )


def test_nothing_cites_a_document_the_repository_does_not_have() -> None:
    """The team's CONTRACT.md is not the users': code, messages and the spec cite docs/contract.md instead."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    citing = [
        name
        for name in tracked
        if name.endswith((".py", ".md", ".yaml", ".yml", ".toml", ".html"))
        and re.search(r"\bCONTRACT\.md\b", (ROOT / name).read_text(encoding="utf-8", errors="replace"))
        and name != "tests/docs/test_pages.py"
    ]
    assert citing == []


def test_the_readme_opens_the_door() -> None:
    """A README of about 150 lines at most: the rest is the docs site's."""
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 150
