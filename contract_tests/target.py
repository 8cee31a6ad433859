"""What the contract suite tests: the base URL, the token and how hard to try.

Filled in from the pytest command line (see `conftest.py`); the token comes only from the
environment, so that it never shows in a process list or a report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from mock_server.spec import DEFAULT_SPEC_PATH, Operation, Spec, load_spec

TOKEN_ENV = "KLING_API_KEY"
# A second caller's key, optional: with it, the suite checks that callers cannot see each other's tasks.
SECOND_TOKEN_ENV = "KLING_API_KEY_2"
CONFIG_PATH = Path(__file__).resolve().parent / "schemathesis.toml"


@dataclass(frozen=True)
class Target:
    base_url: str
    token: str
    spec_path: Path = DEFAULT_SPEC_PATH
    max_examples: int = 200
    # False for a target that accepts any non-empty token (`kling-mock serve` without --keys).
    checks_keys: bool = True
    second_token: str = ""

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    @cached_property
    def spec(self) -> Spec:
        return load_spec(self.spec_path)

    @cached_property
    def create(self) -> Operation:
        return next(op for op in self.spec.operations if op.operation_id == "createIdentifyFaceTask")

    @cached_property
    def request_examples(self) -> dict[str, Any]:
        """The create call's named request bodies in the spec, the documented `seedDocumented` among them."""
        body = self.spec.document["paths"][self.create.path]["post"]["requestBody"]
        examples: dict[str, Any] = body["content"]["application/json"]["examples"]
        return {name: example["value"] for name, example in examples.items()}


_current: Target | None = None


def configure(target: Target) -> None:
    global _current
    _current = target


def current() -> Target:
    if _current is None:
        raise RuntimeError("no target: run the suite with `kling-mock contract` or `pytest --base-url URL`")
    return _current


def token_from_env(name: str = TOKEN_ENV) -> str:
    return os.environ.get(name, "")
