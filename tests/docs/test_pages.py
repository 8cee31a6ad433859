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


def test_every_include_is_one_the_docs_build_reads() -> None:
    """A page shows an example by including it (`--8<-- "docs/examples/..."`); Markdown formatters that read the
    line as Python rewrite it to `--8 < --"..."`, which the build shows as text instead of the example."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    mangled = [
        f"{page.name}:{number}: {line}"
        for page in pages
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if re.match(r"\s*-+\s*8\s*<\s*-+", line) and not re.match(r'\s*-+8<-+ "[^"]+"$', line)
    ]
    assert mangled == []
