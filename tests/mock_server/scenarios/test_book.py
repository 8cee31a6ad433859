"""Fast unit tests of `mock_server.scenarios.ScenarioBook`: parsing, choosing and playing scenarios, no server.

A scenario's faults are what a client's error handling is tested with, so the book must refuse a scenario it
cannot play (naming the field), apply each one exactly to the requests it should, and count `times` and rate
limits per request. Time is a fake clock here: rate limits are driven by many calls within one instant.
The book kept in this process (its default); `tests/mock_server/storage/redis/test_scenarios.py` plays it kept in Redis.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import types
from collections.abc import Callable, Coroutine, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import pytest

import mock_server.scenarios.book as scenarios_module
from mock_server.core.errors import KlingError
from mock_server.scenarios import Effects, RateLimits, Scenario, ScenarioBook, ScenarioError, read_scenario_file
from mock_server.spec import Operation, Spec, load_spec

CREATE = "createIdentifyFaceTask"
GET = "getIdentifyFaceTask"
LIST = "listIdentifyFaceTasks"
TOKEN = "sk-scenario-unit-token-5b1e"
OTHER_TOKEN = "sk-someone-else-9d0c"
HEADER_PATH = "header.X-Kling-Mock-Scenario"
_T = TypeVar("_T")


@cache
def _spec() -> Spec:
    return load_spec()


def operation(operation_id: str) -> Operation:
    return next(op for op in _spec().operations if op.operation_id == operation_id)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


OWNER = digest(TOKEN)
OTHER = digest(OTHER_TOKEN)


class SyncBook:
    """A `ScenarioBook` whose calls are run to completion: the tests read as the admin API and the app use it."""

    def __init__(self, book: ScenarioBook) -> None:
        self.book = book

    def add(self, raw: Any) -> Scenario:
        return _run(self.book.add(raw))

    def remove(self, name: str) -> bool:
        return _run(self.book.remove(name))

    def clear(self) -> None:
        _run(self.book.clear())

    def reset(self) -> None:
        _run(self.book.reset())

    def __iter__(self) -> Iterator[Scenario]:
        return iter(_run(self.book.listed()))


def _run(pending: Coroutine[Any, Any, _T]) -> _T:
    return asyncio.run(pending)


def book(*file_scenarios: dict[str, Any], rate_limits: RateLimits | None = None) -> SyncBook:
    return SyncBook(ScenarioBook(_spec(), file_scenarios, seed=1, rate_limits=rate_limits))


def play(
    scenarios: SyncBook,
    operation_id: str = CREATE,
    owner: str = OWNER,
    header: str | None = None,
    prefer: str | None = None,
) -> Effects | None:
    return _run(scenarios.book.effects(operation(operation_id), owner, header, prefer))


def refused_header(scenarios: SyncBook, header: str) -> KlingError:
    with pytest.raises(KlingError) as caught:
        play(scenarios, header=header)
    return caught.value


def shown(scenarios: SyncBook) -> dict[str, dict[str, Any]]:
    return {state["name"]: state for state in (scenario.to_json() for scenario in scenarios)}


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[float], None]]:
    """`time.monotonic` as the scenarios module sees it, standing still until advanced."""
    now = [1000.0]
    monkeypatch.setattr(scenarios_module, "time", types.SimpleNamespace(monotonic=lambda: now[0]))

    def advance(seconds: float) -> None:
        now[0] += seconds

    yield advance


# Parsing: every scenario is checked against admin.yaml's `Scenario` and the contract's code table.


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        ({"name": "s", "bogus": 1}, ["bogus"]),
        ({"name": "s", "code": 9999}, ["code"]),
        ({"name": "s", "code": "1302"}, ["code"]),
        ({"name": "s", "when": {"operation": "deleteEverything"}}, ["when.operation"]),
        ({"name": "s", "when": {"tokn": "x"}}, ["when.tokn"]),
        ({"name": "s", "when": {"token": ""}}, ["when.token"]),
        ({"name": "s", "times": 0}, ["times"]),
        ({"name": "s", "times": -3}, ["times"]),
        ({"name": "s", "task": "exploded"}, ["task"]),
        ({"name": "s", "retry_after": 3601}, ["retry_after"]),
        ({"name": "s", "latency_ms": -1}, ["latency_ms"]),
        ({"name": "s", "rate_limit": 0}, ["rate_limit"]),
        ({"name": "s", "drop_connection": "yes"}, ["drop_connection"]),
        ({"name": "s", "message": ""}, ["message"]),
        ({"name": "no spaces allowed"}, ["name"]),
        ({"code": 1302}, ["name"]),
        ({"name": "s", "times": 0, "bogus": True}, ["times", "bogus"]),
    ],
    ids=lambda value: json.dumps(value) if isinstance(value, dict) else ",".join(value),
)
def test_a_scenario_the_mock_cannot_play_is_refused_naming_the_field(raw: dict[str, Any], fields: list[str]) -> None:
    with pytest.raises(ScenarioError) as caught:
        book().add(raw)
    message = str(caught.value)
    for field_name in fields:
        assert re.search(rf"(^|; ){re.escape(field_name)}: ", message), message


def test_a_refused_scenario_leaves_the_book_as_it_was() -> None:
    scenarios = book()
    scenarios.add({"name": "kept", "code": 5001})
    with pytest.raises(ScenarioError):
        scenarios.add({"name": "kept", "code": 9999})
    assert shown(scenarios)["kept"]["code"] == 5001


def test_a_bad_file_scenario_is_refused_at_start_with_its_index() -> None:
    with pytest.raises(ScenarioError, match=r"^scenarios\[1\]: times: must be >= 1"):
        book({"name": "fine", "code": 5001}, {"name": "broken", "times": 0})


def test_a_scenario_of_the_same_name_replaces_the_first() -> None:
    scenarios = book()
    scenarios.add({"name": "s", "code": 5001})
    scenarios.add({"name": "s", "code": 1103})
    assert list(shown(scenarios)) == ["s"]
    assert shown(scenarios)["s"]["code"] == 1103


def test_read_scenario_file_reads_a_yaml_list(tmp_path: Path) -> None:
    path = tmp_path / "scenarios.yaml"
    path.write_text(
        "scenarios:\n  - name: maintenance\n    when: {operation: createIdentifyFaceTask}\n    code: 5001\n"
    )
    assert read_scenario_file(path) == ({"name": "maintenance", "when": {"operation": CREATE}, "code": 5001},)


@pytest.mark.parametrize(
    "text", ["- name: a\n", "scenarios: {name: a}\n", "scenarios: [\n", "just text\n", ""], ids=repr
)
def test_read_scenario_file_refuses_another_shape_naming_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=re.escape(str(path))):
        read_scenario_file(path)


def test_read_scenario_file_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        read_scenario_file(tmp_path / "absent.yaml")


# Which requests a scenario applies to.


def test_no_scenario_no_effects() -> None:
    assert play(book()) is None


def test_a_scenario_with_when_applies_by_itself() -> None:
    scenarios = book()
    scenarios.add({"name": "maintenance", "when": {}, "code": 5001})
    for operation_id in (CREATE, GET, LIST):
        effects = play(scenarios, operation_id)
        assert effects is not None and effects.error is not None
        assert effects.error.code == 5001
        assert effects.names == ("maintenance",)


def test_a_scenario_without_when_applies_only_when_named() -> None:
    scenarios = book()
    scenarios.add({"name": "flaky", "code": 5000})
    assert play(scenarios) is None
    effects = play(scenarios, header="flaky")
    assert effects is not None and effects.error is not None
    assert (effects.error.code, effects.names) == (5000, ("flaky",))


def test_when_operation_restricts_to_that_operation() -> None:
    scenarios = book()
    scenarios.add({"name": "slow-create", "when": {"operation": CREATE}, "latency_ms": 250})
    effects = play(scenarios, CREATE)
    assert effects is not None and effects.delay_seconds == pytest.approx(0.25)
    assert play(scenarios, GET) is None
    assert play(scenarios, LIST) is None


def test_several_scenarios_combine_their_effects() -> None:
    scenarios = book()
    scenarios.add({"name": "slow", "when": {}, "latency_ms": 100})
    scenarios.add({"name": "broken", "code": 5001, "latency_ms": 50})
    effects = play(scenarios, header="broken")
    assert effects is not None and effects.error is not None
    assert effects.error.code == 5001
    assert effects.delay_seconds == pytest.approx(0.15)
    assert set(effects.names) == {"slow", "broken"}


def test_an_injected_error_has_the_tables_status_and_is_marked_as_a_scenarios() -> None:
    scenarios = book()
    spec = _spec()
    for code, status in ((1302, 429), (5001, 503), (1103, 403), (1201, 400), (5002, 504)):
        scenarios.add({"name": f"c{code}", "code": code})
        effects = play(scenarios, header=f"c{code}")
        assert effects is not None and effects.error is not None
        assert spec.status_by_code[effects.error.code] == status
        assert effects.error.rule.name == "scenario"
        assert effects.error.message.strip()
        assert ("Retry-After" in effects.error.headers) == (status == 429)


def test_a_scenarios_message_replaces_the_tables_meaning() -> None:
    scenarios = book()
    scenarios.add({"name": "m", "when": {}, "code": 1303, "message": "QPS over your pack", "retry_after": 7})
    effects = play(scenarios)
    assert effects is not None and effects.error is not None
    assert effects.error.message == "QPS over your pack"
    assert effects.error.headers == {"Retry-After": "7"}


# `times`: fail the first N calls, then succeed.


def test_times_fails_the_first_n_calls_then_succeeds() -> None:
    scenarios = book()
    scenarios.add({"name": "flaky", "when": {"operation": CREATE}, "times": 2, "code": 5000})
    assert shown(scenarios)["flaky"]["remaining"] == 2
    outcomes = []
    for _ in range(4):
        effects = play(scenarios)
        outcomes.append(effects.error.code if effects and effects.error else None)
    assert outcomes == [5000, 5000, None, None]
    assert shown(scenarios)["flaky"]["remaining"] == 0


def test_times_is_not_spent_by_requests_the_scenario_does_not_match() -> None:
    scenarios = book()
    scenarios.add({"name": "flaky", "when": {"operation": CREATE, "token": TOKEN}, "times": 1, "code": 5000})
    assert play(scenarios, GET) is None
    assert play(scenarios, owner=OTHER) is None
    assert shown(scenarios)["flaky"]["remaining"] == 1
    effects = play(scenarios)
    assert effects is not None and effects.error is not None


def test_times_counts_requests_naming_the_scenario() -> None:
    scenarios = book()
    scenarios.add({"name": "once", "times": 1, "code": 5001})
    first = play(scenarios, header="once")
    assert first is not None and first.error is not None
    assert play(scenarios, header="once") is None
    assert shown(scenarios)["once"]["remaining"] == 0


def test_unlimited_scenarios_show_remaining_null() -> None:
    scenarios = book()
    scenarios.add({"name": "always", "when": {}, "code": 5001})
    play(scenarios)
    assert shown(scenarios)["always"]["remaining"] is None


def test_a_scenario_named_and_matched_counts_once_per_request() -> None:
    scenarios = book()
    scenarios.add({"name": "flaky", "when": {}, "times": 2, "latency_ms": 100, "code": 5000})
    effects = play(scenarios, header="flaky")
    assert effects is not None
    assert effects.delay_seconds == pytest.approx(0.1)
    assert shown(scenarios)["flaky"]["remaining"] == 1


# Per-token matching: the token is kept only as its digest.


def test_when_token_matches_only_that_callers_requests() -> None:
    scenarios = book()
    scenarios.add({"name": "mine", "when": {"token": TOKEN}, "code": 1103})
    effects = play(scenarios, owner=OWNER)
    assert effects is not None and effects.error is not None and effects.error.code == 1103
    assert play(scenarios, owner=OTHER) is None


def test_a_token_is_kept_only_as_its_digest_and_shown_as_a_fingerprint() -> None:
    scenarios = book()
    kept = scenarios.add({"name": "mine", "when": {"token": TOKEN, "operation": GET}, "code": 1103})
    assert kept.caller == digest(TOKEN)
    assert TOKEN not in repr(vars(kept))
    state = kept.to_json()
    assert state["when"] == {"caller": digest(TOKEN)[:12], "operation": GET}
    assert re.fullmatch(r"[0-9a-f]{12}", state["when"]["caller"])
    assert TOKEN not in json.dumps(state)
    assert TOKEN not in json.dumps([scenario.to_json() for scenario in scenarios])


def test_to_json_is_a_scenario_state_of_admin_yaml() -> None:
    from mock_server.spec import ADMIN_SPEC_PATH

    validator = load_spec(ADMIN_SPEC_PATH).validator("#/components/schemas/ScenarioState")
    scenarios = book({"name": "from-file", "when": {"token": TOKEN}, "times": 3, "rate_limit": 2.5})
    scenarios.add({"name": "named", "latency_ms": 5, "jitter_ms": 2, "drop_connection": True, "slow_body_ms": 9})
    scenarios.add({"name": "failing", "when": {"operation": CREATE}, "task": "failed"})
    for state in shown(scenarios).values():
        assert validator.is_valid(state), (state, [e.message for e in validator.iter_errors(state)])
    assert shown(scenarios)["from-file"]["source"] == "file"
    assert shown(scenarios)["named"]["source"] == "api"
    assert "when" not in shown(scenarios)["named"]


# Rate limits: N per second per caller, then 1302 with Retry-After.


def test_rate_limit_lets_n_through_within_an_instant_then_answers_1302(
    frozen_clock: Callable[[float], None],
) -> None:
    scenarios = book()
    scenarios.add({"name": "rl", "when": {}, "rate_limit": 3})
    errors = []
    for _ in range(10):
        effects = play(scenarios)
        assert effects is not None and effects.names == ("rl",)
        errors.append(effects.error)
    assert errors[:3] == [None, None, None]
    for error in errors[3:]:
        assert error is not None
        assert error.code == 1302
        assert _spec().status_by_code[error.code] == 429
        assert int(error.headers["Retry-After"]) >= 1


def test_rate_limit_is_per_caller(frozen_clock: Callable[[float], None]) -> None:
    scenarios = book()
    scenarios.add({"name": "rl", "when": {}, "rate_limit": 2})
    mine = [play(scenarios, owner=OWNER) for _ in range(3)]
    theirs = [play(scenarios, owner=OTHER) for _ in range(3)]
    for outcomes in (mine, theirs):
        assert [effects.error is not None for effects in outcomes if effects] == [False, False, True]


def test_rate_limit_refills_as_the_clock_moves(frozen_clock: Callable[[float], None]) -> None:
    scenarios = book()
    scenarios.add({"name": "rl", "when": {}, "rate_limit": 2})
    assert [getattr(play(scenarios), "error", None) is None for _ in range(3)] == [True, True, False]
    frozen_clock(1.0)
    assert [getattr(play(scenarios), "error", None) is None for _ in range(3)] == [True, True, False]


def test_a_slow_rate_limit_asks_to_wait_long_enough(frozen_clock: Callable[[float], None]) -> None:
    scenarios = book()
    scenarios.add({"name": "rl", "when": {}, "rate_limit": 0.25})
    first, second = play(scenarios), play(scenarios)
    assert first is not None and first.error is None
    assert second is not None and second.error is not None
    assert int(second.error.headers["Retry-After"]) >= 4


def test_rate_limit_combines_with_a_scenario_code_rate_limit_first(frozen_clock: Callable[[float], None]) -> None:
    scenarios = book()
    scenarios.add({"name": "rl", "when": {}, "rate_limit": 1, "latency_ms": 10})
    first, second = play(scenarios), play(scenarios)
    assert first is not None and first.error is None and first.delay_seconds == pytest.approx(0.01)
    assert second is not None and second.error is not None and second.error.code == 1302


class _SharedBuckets:
    """Rate limits kept elsewhere (Redis, for a server's workers), answering with the waits it is given."""

    def __init__(self, *waits: int | None) -> None:
        self.waits = list(waits)
        self.asked: list[tuple[str, list[str]]] = []

    async def take(self, owner: str, scenarios: Sequence[Scenario]) -> list[int | None]:
        self.asked.append((owner, [scenario.name for scenario in scenarios]))
        return [self.waits.pop(0) for _ in scenarios]


def test_shared_rate_limits_are_asked_once_per_request_for_every_limit_in_play() -> None:
    shared = _SharedBuckets(None, 7)
    scenarios = book(rate_limits=shared)
    scenarios.add({"name": "slow", "when": {}, "latency_ms": 5})
    scenarios.add({"name": "per-second", "when": {}, "rate_limit": 1})
    scenarios.add({"name": "per-minute", "when": {"operation": CREATE}, "rate_limit": 0.0167})
    effects = play(scenarios)
    assert shared.asked == [(OWNER, ["per-second", "per-minute"])]
    assert effects is not None and effects.names == ("slow", "per-second", "per-minute")
    assert effects.error is not None and effects.error.code == 1302
    assert effects.error.headers["Retry-After"] == "7"
    assert effects.delay_seconds == pytest.approx(0.005)


def test_without_a_limit_in_play_shared_buckets_are_not_asked() -> None:
    shared = _SharedBuckets()
    scenarios = book(rate_limits=shared)
    scenarios.add({"name": "failing", "when": {"operation": CREATE}, "code": 1303})
    assert play(scenarios, LIST) is None
    effects = play(scenarios)
    assert effects is not None and effects.error is not None and effects.error.code == 1303
    assert shared.asked == []


# The header's inline form, and its errors.


def test_inline_code_with_retry_after() -> None:
    effects = play(book(), header="code=1302, retry_after=2")
    assert effects is not None and effects.error is not None
    assert effects.error.code == 1302
    assert effects.error.headers == {"Retry-After": "2"}
    assert effects.error.rule.name == "scenario"


def test_inline_bare_boolean_is_true() -> None:
    effects = play(book(), header="drop_connection")
    assert effects is not None
    assert effects.drop_connection is True
    assert effects.error is None


@pytest.mark.parametrize(
    ("header", "check"),
    [
        ("latency_ms=120, drop_connection", lambda e: e.delay_seconds == pytest.approx(0.12) and e.drop_connection),
        ("drop_connection=false", lambda e: e.drop_connection is False),
        ("task=failed", lambda e: e.task == "failed"),
        ("task=processing", lambda e: e.task == "processing"),
        ("slow_body_ms=400", lambda e: e.slow_body_ms == 400),
        (" code = 5001 ,  ", lambda e: e.error is not None and e.error.code == 5001),
        ("code=1302", lambda e: e.error is not None and e.error.headers == {"Retry-After": "1"}),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_inline_forms(header: str, check: Callable[[Effects], bool]) -> None:
    effects = play(book(), header=header)
    assert effects is not None
    assert check(effects), effects


def test_header_names_kept_scenarios_and_adds_an_inline_one() -> None:
    scenarios = book()
    scenarios.add({"name": "slow", "latency_ms": 100})
    scenarios.add({"name": "slower", "latency_ms": 200})
    effects = play(scenarios, header="slow, slower, code=5001")
    assert effects is not None and effects.error is not None
    assert effects.error.code == 5001
    assert effects.delay_seconds == pytest.approx(0.3)
    assert effects.names == ("slow", "slower", "header")


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("bogus=1", "bogus"),
        ("bogus", "bogus"),
        ("times=2", "times"),
        ("when=x", "when"),
        ("latency_ms=fast", "latency_ms"),
        ("latency_ms=1.5", "latency_ms"),
        ("latency_ms=", "latency_ms"),
        ("code=²", "code"),
        ("retry_after=-1, code=1302", "retry_after"),
        ("latency_ms=60001", "latency_ms"),
        ("code=9999", "code"),
        ("drop_connection=maybe", "drop_connection"),
        ("task=exploded", "task"),
        ("rate_limit=0", "rate_limit"),
        ("rate_limit=nan", "rate_limit"),
        ("flaky", "flaky"),
    ],
)
def test_a_bad_header_is_a_1200_naming_the_field(header: str, named: str) -> None:
    error = refused_header(book(), header)
    assert error.code == 1200
    assert (error.rule.name, error.path) == ("scenario-header", HEADER_PATH)
    assert error.message.startswith("X-Kling-Mock-Scenario: ")
    assert named in error.message


def test_an_unknown_scenario_name_is_refused_even_beside_known_ones() -> None:
    scenarios = book()
    scenarios.add({"name": "slow", "when": {}, "times": 1, "latency_ms": 5})
    error = refused_header(scenarios, "slow, nosuch")
    assert "no scenario named 'nosuch'" in error.message
    # Refused before anything was counted.
    assert shown(scenarios)["slow"]["remaining"] == 1


@pytest.mark.parametrize("value", ["1_000", "\uff11\uff12\uff10"])
def test_inline_integers_are_ascii_digits_only(value: str) -> None:
    error = refused_header(book(), f"latency_ms={value}")
    assert "latency_ms" in error.message


# Prism's `Prefer` aliases.


@pytest.mark.parametrize(
    ("prefer", "code"),
    [
        ("code=429", 1302),
        ("code=403", 1103),
        ("code=503", 5001),
        ("code=500", 5000),
        ("example=rateLimited", 1302),
        ('example="maintenance"', 5001),
        ("code=429, dynamic=true", 1302),
        ("dynamic=true; code=503", 5001),
    ],
)
def test_prefer_answers_the_specs_example(prefer: str, code: int) -> None:
    effects = play(book(), LIST, prefer=prefer)
    assert effects is not None and effects.error is not None
    assert effects.error.code == code
    assert effects.error.rule.name == "scenario"
    assert all(name.startswith("prefer:") for name in effects.names)
    assert ("Retry-After" in effects.error.headers) == (_spec().status_by_code[code] == 429)


def test_prefer_example_carries_the_examples_message() -> None:
    effects = play(book(), GET, prefer="example=rateLimited")
    assert effects is not None and effects.error is not None
    assert effects.error.message == "requests too fast: rate limit exceeded"
    assert effects.names == ("prefer:rateLimited",)


@pytest.mark.parametrize("prefer", ["dynamic=true", "dynamic=false", "respond-async", "wait=5", ""])
def test_other_preferences_are_ignored(prefer: str) -> None:
    assert play(book(), prefer=prefer) is None


@pytest.mark.parametrize("prefer", ["code=418", "code=299", "code=abc", "example=nosuchExample"])
def test_prefer_of_an_unknown_status_or_example_is_a_1200(prefer: str) -> None:
    with pytest.raises(KlingError) as caught:
        play(book(), prefer=prefer)
    assert caught.value.code == 1200
    assert (caught.value.rule.name, caught.value.path) == ("scenario-header", "header.Prefer")
    assert prefer.split("=")[1] in caught.value.message


# Reset and clear.


def test_reset_restores_the_file_scenarios_with_counters_full(frozen_clock: Callable[[float], None]) -> None:
    scenarios = book(
        {"name": "flaky", "when": {}, "times": 1, "code": 5000},
        {"name": "limited", "when": {"token": TOKEN}, "rate_limit": 1},
    )
    scenarios.add({"name": "from-api", "code": 1103})
    first = play(scenarios)
    assert first is not None and first.error is not None and first.error.code == 5000
    second = play(scenarios)
    assert second is not None and second.error is not None and second.error.code == 1302
    scenarios.remove("limited")
    assert shown(scenarios)["flaky"]["remaining"] == 0

    scenarios.reset()
    assert {name: state["source"] for name, state in shown(scenarios).items()} == {"flaky": "file", "limited": "file"}
    assert shown(scenarios)["flaky"]["remaining"] == 1
    assert "from-api" not in shown(scenarios)
    # The rate limit's bucket is full again too: with `flaky` out of the way, a request gets through it.
    scenarios.remove("flaky")
    then = play(scenarios)
    assert then is not None and then.error is None


def test_clear_removes_every_scenario_file_ones_included() -> None:
    scenarios = book({"name": "f", "when": {}, "code": 5000})
    scenarios.add({"name": "a", "code": 1103})
    scenarios.clear()
    assert shown(scenarios) == {}
    assert play(scenarios) is None
    with pytest.raises(KlingError):
        play(scenarios, header="f")


def test_remove_says_whether_there_was_one() -> None:
    scenarios = book()
    scenarios.add({"name": "a", "code": 1103})
    assert scenarios.remove("a") is True
    assert scenarios.remove("a") is False
