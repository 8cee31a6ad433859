"""The registry of verdict rules is the one list: the code names no rule outside it, the docs miss none."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mock_server.core import rules
from tests.support import ROOT

PACKAGE = ROOT / "mock_server"
SPECS = sorted((ROOT / "openapi").glob("*.yaml"))


def _calls(name: str) -> Iterator[tuple[Path, ast.Call]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == name:
                yield path, node


def test_findings_name_their_rule_through_the_registry() -> None:
    """A `Finding` whose rule is a string literal would be a name the registry may not have."""
    literal = [
        f"{path.relative_to(ROOT)}:{call.lineno}"
        for path, call in _calls("Finding")
        if call.args and isinstance(call.args[0], ast.Constant)
    ]
    assert literal == []


def test_every_refusal_names_a_registered_rule() -> None:
    """`KlingError` takes a `Rule`, never a string: the type checker holds the rest."""
    missing = [
        f"{path.relative_to(ROOT)}:{call.lineno}"
        for path, call in _calls("KlingError")
        if not any(keyword.arg == "rule" for keyword in call.keywords)
    ]
    assert missing == []


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@pytest.mark.parametrize("spec", SPECS, ids=[path.name for path in SPECS])
def test_every_rule_a_spec_names_is_registered(spec: Path) -> None:
    named = {
        name
        for node in _walk(yaml.safe_load(spec.read_text(encoding="utf-8")))
        for name in (node.get("x-kling-rules") or {}).values()
    }
    assert named - rules.RULES.keys() == set()


@pytest.mark.parametrize("spec", SPECS, ids=[path.name for path in SPECS])
def test_every_schema_keyword_that_can_fail_has_a_rule(spec: Path) -> None:
    """A failing keyword the registry does not have would be reported as the generic `schema` rule."""
    asserting = {"required", "type", "enum", "const", "pattern", "format", "anyOf", "oneOf", "not"}
    asserting |= {f"{bound}{what}" for bound in ("min", "max") for what in ("Length", "Items", "imum")}
    asserting |= {"exclusiveMinimum", "exclusiveMaximum", "additionalProperties"}
    used = {key for node in _walk(yaml.safe_load(spec.read_text(encoding="utf-8"))) for key in node}
    assert (used & asserting) - rules.RULES.keys() == set()


def test_the_docs_table_is_the_registry() -> None:
    """docs/journal.md shows the registry's table as `python -m mock_server.core.rules` prints it."""
    page = (ROOT / "docs" / "journal.md").read_text(encoding="utf-8")
    assert rules.markdown_table() in page, "regenerate the table: python -m mock_server.core.rules"


def test_rules_have_a_meaning_and_a_known_severity() -> None:
    for rule in rules.RULES.values():
        assert rule.meaning and rule.severity in ("error", "warning", "answer"), rule
        assert rule.side == "upstream" if rule.name.startswith("response-") else rule.side == "client"
