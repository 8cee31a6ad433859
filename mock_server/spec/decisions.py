"""The kit's decisions: constraints the spec holds the mock to that the contract does not state.

Where docs/contract.md is silent, the spec still decides (an http(s)-only URL, a non-empty optional string, a body
limit), so that the mock behaves one definite way. Each such constraint is marked where it stands, with
`x-kling-decision` naming the decision, and every decision is listed once in the document's
`components.x-kling-decisions`: what it says, and requests that break it and nothing else.

So one spec gives two views: as written (`enforced`, what the mock does), and the contract alone (`relaxed`),
which is what the contract suite may hold a server other than the kit's own mock to (docs/contract.md, "What the
contract suite holds a real target to").

A mark names the keywords of its node it decides: `x-kling-decision: {pattern: url-scheme}` removes the node's
`pattern` in the contract view; `{x-kling-max-body-bytes: {decision: body-size, relaxed: 67108864}}` replaces a
value instead, where removing it would not relax it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

MARK = "x-kling-decision"
CATALOG = "x-kling-decisions"
ENFORCED, RELAXED = "enforced", "relaxed"
Decisions = Literal["enforced", "relaxed"]


class DecisionError(ValueError):
    """A mark that names no decision of the catalog, or a catalog entry that is malformed."""


@dataclass(frozen=True)
class Decision:
    name: str
    says: str
    # What it shapes: what a client sends (`request`), or what a server answers (`response`).
    scope: Literal["request", "response"]
    # Requests that break this decision and nothing else, each for one operation: its first example with `input`
    # or `body` merged in, or padded to `padded_to_bytes`, or nested `nested_levels` deep. None for a response's.
    examples: tuple[dict[str, Any], ...] = ()
    # Where a decision is not a schema's constraint, what enforces it (the mock's code): it has no marks.
    enforced_by: str | None = None
    # The business code the mock refuses the examples with (HTTP 400).
    code: int | None = None


@dataclass(frozen=True)
class Mark:
    """One marked keyword: where it stands (a JSON pointer's tokens), which keyword, which decision."""

    where: tuple[str, ...]
    keyword: str
    decision: str
    # The value the contract view gives it; None removes the keyword.
    relaxed: Any = None


def catalog(document: dict[str, Any]) -> dict[str, Decision]:
    """The decisions the document lists, by name."""
    found = {}
    for name, entry in (document.get("components", {}).get(CATALOG) or {}).items():
        try:
            examples = tuple(entry.get("examples", ()))
            found[name] = Decision(
                name, entry["says"], entry["scope"], examples, entry.get("enforced_by"), entry.get("code")
            )
        except (KeyError, TypeError, AttributeError):
            raise DecisionError(f"components.{CATALOG}.{name}: needs `says` and `scope`") from None
    return found


def marks(document: dict[str, Any]) -> Iterator[Mark]:
    """Every marked keyword of the document, where it stands."""
    yield from _marks(document, ())


def _marks(node: Any, where: tuple[str, ...]) -> Iterator[Mark]:
    if isinstance(node, dict):
        for keyword, said in (node.get(MARK) or {}).items():
            if isinstance(said, dict):
                yield Mark(where, keyword, said.get("decision", ""), said.get("relaxed"))
            else:
                yield Mark(where, keyword, said)
        for key, value in node.items():
            if key != MARK:
                yield from _marks(value, (*where, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _marks(value, (*where, str(index)))


def check(document: dict[str, Any]) -> None:
    """Every mark names a listed decision, and marks a keyword its node has."""
    listed = catalog(document)
    for mark in marks(document):
        if mark.decision not in listed:
            raise DecisionError(f"{'/'.join(mark.where)}: {MARK} names {mark.decision!r}, not in components.{CATALOG}")
        if mark.keyword not in _node(document, mark.where):
            raise DecisionError(f"{'/'.join(mark.where)}: {MARK} marks {mark.keyword!r}, which the node does not have")


def contract_view(document: dict[str, Any], keep: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The document with every decision relaxed but those in `keep` (their marks stay, with them)."""
    view = copy.deepcopy(document)
    for mark in list(marks(document)):
        if mark.decision in keep:
            continue
        node = _node(view, mark.where)
        if mark.relaxed is None:
            node.pop(mark.keyword, None)
        else:
            node[mark.keyword] = mark.relaxed
        node[MARK].pop(mark.keyword, None)
    for mark in marks(document):
        node = _node(view, mark.where)
        if MARK in node and not node[MARK]:
            del node[MARK]
    return view


def scoped(document: dict[str, Any], scope: str) -> frozenset[str]:
    """The names of the decisions of one scope (`request` or `response`)."""
    return frozenset(name for name, decision in catalog(document).items() if decision.scope == scope)


def _node(document: dict[str, Any], where: tuple[str, ...]) -> dict[str, Any]:
    node: Any = document
    for token in where:
        node = node[int(token)] if isinstance(node, list) else node[token]
    assert isinstance(node, dict)
    return node
