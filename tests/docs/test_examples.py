"""The code the README and the docs show runs, against a real mock, and answers as they say.

- Every `curl` block followed by a `json` block is run (its address pointed at the test's mock),
  and what it prints has the shown answer's shape: the same keys, the same code and message; ids and times are
  each run's own.
- Every `python` block that talks to `http://127.0.0.1:8000` is run as a script, and must exit 0.
- Every script of `docs/examples/` (which the pages include) is run with the mock's URL; each `test_*.py` there is
  run by pytest, with the kit's pytest plugin, as a user would run it.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_server.client.process import MockProcess
from tests.support import ROOT

DOCUMENTED_URL = "http://127.0.0.1:8000"
# How the pages spell the mock's address: each run points them at the test's mock.
SHOWN_URLS = (DOCUMENTED_URL, "http://localhost:8000")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLES = ROOT / "docs" / "examples"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.DOTALL | re.MULTILINE)
_ID = re.compile(r"[A-Za-z0-9_-]{22}")


def _blocks(page: Path) -> list[tuple[str, str]]:
    return [(match.group(1), match.group(2)) for match in _FENCE.finditer(page.read_text(encoding="utf-8"))]


def _curl_examples() -> Iterator[Any]:
    for page in PAGES:
        blocks = _blocks(page)
        for (language, code), (next_language, shown) in itertools.pairwise(blocks):
            if language == "sh" and code.lstrip().startswith("curl") and next_language == "json":
                yield pytest.param(code, shown, id=f"{page.name}:{code.split(chr(10))[0][:60]}")


def _python_examples() -> Iterator[Any]:
    for page in PAGES:
        for number, (language, code) in enumerate(_blocks(page)):
            if language == "python" and any(url in code for url in SHOWN_URLS):
                yield pytest.param(code, id=f"{page.name}:block-{number}")


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    """The mock as `make run` starts it."""
    with MockProcess() as server:
        yield server


def _same_shape(shown: Any, got: Any, where: str = "answer") -> None:
    """The answer a page shows, and the one the mock gave: same keys and kinds, same code and message; lists item by
    item."""
    if isinstance(shown, dict):
        assert isinstance(got, dict) and shown.keys() == got.keys(), f"{where}: {sorted(got)} vs shown {sorted(shown)}"
        for key in shown:
            _same_shape(shown[key], got[key], f"{where}.{key}")
    elif isinstance(shown, list):
        assert isinstance(got, list) and len(got) == len(shown), f"{where}: {got!r} vs shown {shown!r}"
        for index, (one_shown, one_got) in enumerate(zip(shown, got, strict=True)):
            _same_shape(one_shown, one_got, f"{where}[{index}]")
    elif shown == "...":
        assert isinstance(got, str), f"{where}: {got!r} is not a string"
    elif isinstance(shown, str) and shown.startswith(DOCUMENTED_URL + "/files/"):
        # A download link: made for this run's session, at this run's address.
        assert isinstance(got, str) and got.startswith("http://127.0.0.1:") and "/files/" in got, f"{where}: {got!r}"
    elif isinstance(shown, str) and _ID.fullmatch(shown):
        assert isinstance(got, str) and _ID.fullmatch(got), f"{where}: {got!r} is not an id"
    elif isinstance(shown, int) and shown > 10**12:
        assert isinstance(got, int) and got > 10**12, f"{where}: {got!r} is not a time in milliseconds"
    else:
        assert shown == got, f"{where}: the page shows {shown!r}, the mock answered {got!r}"


def _pointed_at(code: str, base_url: str) -> str:
    for shown in SHOWN_URLS:
        code = code.replace(shown, base_url)
    return code


@pytest.mark.parametrize(("command", "shown"), list(_curl_examples()))
def test_a_curl_example_answers_as_shown(mock: MockProcess, command: str, shown: str) -> None:
    done = subprocess.run(
        ["bash", "-c", _pointed_at(command, mock.base_url)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    _same_shape(json.loads(shown), json.loads(done.stdout))


@pytest.mark.parametrize("code", list(_python_examples()))
def test_a_python_example_runs(mock: MockProcess, code: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(_pointed_at(code, mock.base_url), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "script", sorted(EXAMPLES.glob("[!t]*.py")), ids=lambda path: path.name if isinstance(path, Path) else ""
)
def test_an_example_script_runs(mock: MockProcess, script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), mock.base_url], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "an example shows what it got"


@pytest.mark.parametrize("suite", sorted(EXAMPLES.glob("test_*.py")), ids=lambda path: path.name)
def test_an_example_test_suite_passes_with_the_plugin(suite: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(suite)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout, done.stdout[-2000:]


def test_every_example_file_is_shown_on_a_page() -> None:
    """An example no page includes would be tested but never read."""
    shown = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)
    unshown = [path.name for path in EXAMPLES.glob("*.py") if f'"docs/examples/{path.name}"' not in shown]
    assert unshown == []
