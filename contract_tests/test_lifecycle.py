"""Following tasks across calls: the spec's links, and the lifecycle's properties.

Two state machines. Schemathesis's follows the spec's `links` (create, then query the new task: identify-face's
and the lip-sync ones, an advanced lip-sync create voicing the run's session) with every check on each step. The
hand-written one, for the documented dialect's tasks, creates tasks, polls and lists them, and checks what no
single response can show: status only moves forward across polls, a finished task has its result or its reason,
and the list pages through every task the caller created, newest first, with no repeats or gaps and `pageSize`
honoured.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)

from . import (
    checks,  # noqa: F401  (registers the contract's checks)
    lip_sync,
    rules,
)
from .schemathesis_setup import load_schema
from .target import current

_target = current()
if _target.budget.limited:
    # Their steps create tasks at Hypothesis's choice; test_rules_documented.py follows one task instead.
    pytest.skip("the lifecycle machines create tasks without bound: not with --max-billable", allow_module_level=True)
_spec = _target.spec
_create = _target.create
_examples = _target.request_examples
_machine_settings = settings(
    max_examples=max(5, _target.max_examples // 20),
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# --- the spec's links ----------------------------------------------------------------------------------------

_schema = load_schema(_target, "linked-calls", _target.positive_document)
# Negative steps in a chain make hypothesis's draws unstable against a server whose state persists.
_schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE])
_session = _target.session()


class LinkedCalls(_schema.as_state_machine()):  # type: ignore[misc]
    def before_call(self, case: schemathesis.Case[Any]) -> None:
        lip_sync.fit_to_session(case, _session)

    def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
        return {"session": _session}


TestLinkedCalls = LinkedCalls.TestCase
TestLinkedCalls.settings = _machine_settings


# --- the lifecycle's properties ------------------------------------------------------------------------------


class TaskLifecycle(RuleBasedStateMachine):
    tasks = Bundle("tasks")

    def __init__(self) -> None:
        super().__init__()
        self.http = _target.session()
        self.created: list[str] = []
        self.history = rules.TaskHistory()

    def _get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.http.get(_target.url(path), params=params, headers=_target.auth_headers, timeout=30)
        body = rules.envelope_of(response, _spec.status_by_code)
        assert response.status_code == 200, body
        return body

    @initialize(target=tasks)
    def create_two(self) -> MultipleResults[str]:
        """Every run starts with two tasks, so that the list's order is always tested, however short the run."""
        first, second = sorted(_examples)[:2] if len(_examples) > 1 else [next(iter(_examples))] * 2
        return multiple(self._create(first), self._create(second))

    @rule(target=tasks, example=st.sampled_from(sorted(_examples)))
    def create(self, example: str) -> str:
        return self._create(example)

    def _create(self, example: str) -> str:
        headers = _target.auth_headers
        response = self.http.post(_target.url(_create.path), json=_examples[example], headers=headers, timeout=30)
        body = rules.envelope_of(response, _spec.status_by_code)
        assert response.status_code == 200, body
        task_id: str = body["data"]["task_id"]
        self.history.observe(body)
        self.created.append(task_id)
        return task_id

    @rule(task_id=tasks)
    def poll(self, task_id: str) -> None:
        body = self._get(f"{_create.path}/{task_id}")
        task = body["data"]
        assert task["task_id"] == task_id
        self.history.observe(body)
        rules.timestamps(body, recent=False)
        rules.faces(body)
        if task["task_status"] == "failed":
            assert task.get("task_status_msg"), f"failed task {task_id} has no task_status_msg"
        if task["task_status"] == "succeed":
            assert task.get("task_result", {}).get("face_data"), f"succeeded task {task_id} has no face_data"

    @rule(page_size=st.integers(min_value=1, max_value=7))
    def list_pages(self, page_size: int) -> None:
        """Page through the newest tasks: every task this run created is there, once, in creation order reversed."""
        pages_needed = math.ceil(len(self.created) / page_size) if self.created else 1
        listed: list[str] = []
        for page_num in range(1, pages_needed + 1):
            body = self._get(_create.path, pageNum=page_num, pageSize=page_size)
            page = [task["task_id"] for task in body["data"]]
            assert len(page) <= page_size, f"page {page_num} has {len(page)} tasks, pageSize was {page_size}"
            self.history.observe(body)
            listed.extend(page)
        assert len(listed) == len(set(listed)), f"a task was listed twice across pages of {page_size}: {listed}"
        ours = [task_id for task_id in listed if task_id in set(self.created)]
        assert ours == self.created[::-1], (
            f"the newest {len(self.created)} tasks, pages of {page_size}, should be this run's, newest first"
        )

    @invariant()
    def ids_are_unique(self) -> None:
        assert len(self.created) == len(set(self.created))

    def teardown(self) -> None:
        self.http.close()


if _target.documented:
    TestTaskLifecycle = TaskLifecycle.TestCase
    TestTaskLifecycle.settings = _machine_settings
# Else identify-face's tasks are the documented dialect's: the upstream one answers at once (the lip-sync tasks
# follow the spec's links above, and test_lip_sync.py's properties).
