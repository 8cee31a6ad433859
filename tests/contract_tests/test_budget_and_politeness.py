"""Unit tests of the suite's cost and rate safety: `BillableBudget` and `Throttle`, with a fake clock."""

from __future__ import annotations

import email.utils
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

from contract_tests import conftest as suite_conftest
from contract_tests import politeness, runner
from contract_tests import target as suite_target
from contract_tests.budget import BillableBudget, BudgetSpent
from contract_tests.dialects import DialectFinding
from contract_tests.politeness import (
    MAX_RETRIES,
    MAX_WAIT_S,
    RECOVER_AFTER,
    SharedThrottle,
    Throttle,
    suite_throttle,
)
from contract_tests.strictness import CONTRACT, Strictness
from contract_tests.transport import Recorder, SuiteSession


def test_a_rejected_request_gives_its_unit_back() -> None:
    budget = BillableBudget(limit=1)
    budget.reserve("POST /x")
    budget.settle(created=False, must_reject=True, what="POST /x")
    assert (budget.spent, budget.remaining, budget.accepted_rejections) == (0, 1, [])


def test_an_accepted_request_that_must_be_rejected_counts_and_is_a_finding() -> None:
    budget = BillableBudget(limit=3)
    budget.reserve("POST /x")
    budget.settle(created=True, must_reject=True, what="POST /x")
    assert budget.spent == 1
    assert budget.accepted_rejections == ["POST /x"]
    assert "must have been rejected" in budget.summary()


def test_a_spent_budget_sends_nothing_more_and_says_so() -> None:
    budget = BillableBudget(limit=1)
    budget.reserve("POST /x")
    # Reserved but not yet answered: a second request may not go, however the first ends.
    with pytest.raises(BudgetSpent, match="billable budget of 1 spent: POST /x not sent"):
        budget.reserve("POST /x")
    budget.settle(created=True, must_reject=False, what="POST /x")
    with pytest.raises(BudgetSpent):
        budget.reserve("POST /x")
    assert budget.not_sent == 2
    assert "2 billable request(s) not sent" in budget.summary()


def test_a_request_that_must_be_refused_is_sent_even_when_the_budget_is_spent() -> None:
    budget = BillableBudget(limit=1)
    budget.reserve("POST /x")
    budget.settle(created=True, must_reject=False, what="POST /x")
    budget.reserve("POST /x", must_reject=True)
    budget.settle(created=False, must_reject=True, what="POST /x")
    assert (budget.spent, budget.not_sent) == (1, 0)


def test_one_accepted_beyond_the_budget_stops_everything_billable() -> None:
    """A target that accepts what it must refuse is charged one call beyond the budget, never more."""
    budget = BillableBudget(limit=1)
    budget.reserve("POST /x")
    budget.settle(created=True, must_reject=False, what="POST /x")
    budget.reserve("POST /x", must_reject=True)
    budget.settle(created=True, must_reject=True, what="POST /x")
    with pytest.raises(BudgetSpent):
        budget.reserve("POST /x", must_reject=True)
    assert (budget.spent, budget.accepted_rejections) == (2, ["POST /x"])


def test_a_lost_answer_counts_as_spent_but_is_no_finding() -> None:
    budget = BillableBudget(limit=2)
    budget.reserve("POST /x", must_reject=True)
    budget.settle(created=None, must_reject=True, what="POST /x")
    assert (budget.spent, budget.accepted_rejections) == (1, [])


def test_no_limit_never_refuses() -> None:
    budget = BillableBudget()
    for _ in range(1000):
        budget.reserve("POST /x")
        budget.settle(created=True, must_reject=False, what="POST /x")
    assert budget.remaining is None and budget.spent == 1000


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def answer(status: int, body: bytes = b"{}", **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers.update(headers)
    return response


def test_the_rate_cap_spaces_requests() -> None:
    time = FakeTime()
    throttle = Throttle(4, clock=time.clock, sleep=time.sleep)
    for _ in range(5):
        throttle.wait()
    assert time.slept == [0.25] * 4


def test_a_rate_limit_waits_retry_after_and_halves_the_rate() -> None:
    time = FakeTime()
    throttle = Throttle(10, clock=time.clock, sleep=time.sleep)
    for _ in range(3):
        throttle.wait()
    delay = throttle.retry_after(answer(429, b'{"code": 1302}', **{"Retry-After": "3"}))
    assert delay == 3
    assert throttle.rps is not None and throttle.rps <= 5
    time.slept.clear()
    throttle.wait()
    assert sum(time.slept) >= 3 - 0.2  # nothing until the target said to come back
    assert throttle.backoffs == 1


class AlwaysLimited(requests.adapters.BaseAdapter):
    """A target that answers every request 429/1302, Retry-After 1 s."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.sent += 1
        response = answer(429, b'{"code": 1302}', **{"Retry-After": "1"})
        response.request, response.url = request, request.url or ""
        return response

    def close(self) -> None:
        pass


def test_the_last_retry_s_429_still_slows_what_follows() -> None:
    time = FakeTime()
    throttle = Throttle(8, clock=time.clock, sleep=time.sleep)
    session = SuiteSession(frozenset(), BillableBudget(None), throttle, Recorder(dict))
    target = AlwaysLimited()
    session.mount("http://127.0.0.1:9/", target)
    assert session.request("GET", "http://127.0.0.1:9/tasks").status_code == 429
    assert target.sent == MAX_RETRIES + 1
    assert throttle.backoffs == MAX_RETRIES + 1  # the answer to the last retry was heeded too
    time.slept.clear()
    throttle.wait()
    assert sum(time.slept) >= 1 - 0.01  # the next request waits what the last answer said


def test_retry_after_as_an_http_date(monkeypatch: pytest.MonkeyPatch) -> None:
    now = 1_795_000_000.0
    monkeypatch.setattr(politeness.time, "time", lambda: now)
    throttle = Throttle(None)
    later = email.utils.formatdate(now + 30, usegmt=True)
    delay = throttle.retry_after(answer(429, b'{"code": 1303}', **{"Retry-After": later}))
    assert delay is not None and 25 <= delay <= 31


def test_without_retry_after_the_backoff_doubles_up_to_a_bound() -> None:
    throttle = Throttle(None, sleep=lambda seconds: None)
    delays = [throttle.retry_after(answer(429, b'{"code": 1302}')) for _ in range(12)]
    assert delays[:3] == [1.0, 2.0, 4.0]
    assert max(delay or 0 for delay in delays) == MAX_WAIT_S


def test_a_retry_after_longer_than_a_run_waits_is_not_retried() -> None:
    assert Throttle(None).retry_after(answer(429, b'{"code": 1302}', **{"Retry-After": "3600"})) is None


def test_a_fractional_retry_after_is_waited_in_full() -> None:
    assert Throttle(None).retry_after(answer(429, b'{"code": 1302}', **{"Retry-After": "1.5"})) == 1.5


@pytest.mark.parametrize(
    ("body", "retry_after"),
    [(b'{"code": [1302]}', "1"), (b"[]", "1"), (b"not json", "\u00b2"), (b'{"code": 1302}', "Tue, 99 Foo")],
    ids=["code-a-list", "body-a-list", "retry-after-superscript", "retry-after-bad-date"],
)
def test_hostile_429_answers_never_crash(body: bytes, retry_after: str) -> None:
    throttle = Throttle(None, sleep=lambda seconds: None)
    response = answer(429, body)
    response.headers["Retry-After"] = retry_after.encode().decode("unicode_escape")
    delay = throttle.retry_after(response)
    assert delay is not None and 0 <= delay <= MAX_WAIT_S


@pytest.mark.parametrize("code", [1100, 1101, 1102, 1304])
def test_an_account_refusal_is_not_retried(code: int) -> None:
    assert Throttle(None).retry_after(answer(429, b'{"code": %d}' % code)) is None


def test_other_statuses_are_not_retried() -> None:
    assert Throttle(None).retry_after(answer(200)) is None
    assert Throttle(None).retry_after(answer(503, b'{"code": 5001}')) is None


RATE_LIMITED = b'{"code": 1302}'


def succeed(throttle: Throttle, times: int) -> list[float | None]:
    """`times` requests answered 200, each after its wait: the rate after each."""
    rates = []
    for _ in range(times):
        throttle.wait()
        throttle.retry_after(answer(200))
        rates.append(throttle.rps)
    return rates


def test_after_a_429_the_rate_climbs_back_to_the_cap_step_by_step() -> None:
    time = FakeTime()
    throttle = Throttle(10, clock=time.clock, sleep=time.sleep)
    for _ in range(3):
        throttle.wait()
    throttle.retry_after(answer(429, RATE_LIMITED, **{"Retry-After": "1"}))
    assert throttle.rps == pytest.approx(5)
    rates = succeed(throttle, 5 * RECOVER_AFTER)
    # Nothing faster until a whole run of successes: the request after a 429 goes at half the rate.
    assert rates[: RECOVER_AFTER - 1] == pytest.approx([5] * (RECOVER_AFTER - 1))
    # Then a tenth of the cap per run of successes, additively.
    steps = rates[RECOVER_AFTER - 1 :: RECOVER_AFTER]
    assert steps == pytest.approx([6, 7, 8, 9, 10])
    # Never above the cap however long it goes on; and the spacing follows the rate.
    assert max(rate or 0 for rate in succeed(throttle, 10 * RECOVER_AFTER)) == 10
    time.slept.clear()
    succeed(throttle, 3)
    assert time.slept == pytest.approx([0.1] * 3)


def test_a_new_429_halves_the_recovering_rate_and_starts_the_count_again() -> None:
    time = FakeTime()
    throttle = Throttle(8, clock=time.clock, sleep=time.sleep)
    for _ in range(3):
        throttle.wait()
    throttle.retry_after(answer(429, RATE_LIMITED, **{"Retry-After": "1"}))
    succeed(throttle, 2 * RECOVER_AFTER + RECOVER_AFTER - 1)  # 4, then 4.8, 5.6; one short of 6.4
    assert throttle.rps == pytest.approx(5.6)
    throttle.retry_after(answer(429, RATE_LIMITED, **{"Retry-After": "1"}))
    # Half the rate that tripped it, as measured over the last requests: at most half of 5.6.
    lowered = throttle.rps
    assert lowered is not None and lowered <= 2.8
    assert succeed(throttle, RECOVER_AFTER)[-2:] == pytest.approx([lowered, lowered + 0.8])
    assert throttle.backoffs == 2


def test_without_a_cap_the_rate_climbs_back_to_no_limit() -> None:
    time = FakeTime()
    throttle = Throttle(None, clock=time.clock, sleep=time.sleep)
    for _ in range(5):
        throttle.wait()
        time.now += 0.01  # 100 requests a second, all the target allows
    throttle.retry_after(answer(429, RATE_LIMITED, **{"Retry-After": "1"}))
    assert throttle.rps == pytest.approx(50)
    rates = succeed(throttle, 5 * RECOVER_AFTER)
    # A tenth of the rate that tripped the limit per step, then no limit once back at that rate.
    assert rates[RECOVER_AFTER - 1 :: RECOVER_AFTER] == pytest.approx([60, 70, 80, 90, None])
    assert throttle.rps is None


@pytest.mark.parametrize(
    "answered", [answer(429, b'{"code": 1101}'), answer(429, RATE_LIMITED, **{"Retry-After": "3600"})]
)
def test_a_429_that_is_not_retried_neither_lowers_nor_raises_the_rate(answered: requests.Response) -> None:
    time = FakeTime()
    throttle = Throttle(10, clock=time.clock, sleep=time.sleep)
    throttle.wait()
    throttle.retry_after(answer(429, RATE_LIMITED, **{"Retry-After": "1"}))
    lowered = throttle.rps
    for _ in range(2 * RECOVER_AFTER):
        throttle.wait()
        assert throttle.retry_after(answered) is None
    assert throttle.rps == lowered


def test_an_unlowered_rate_stays_where_it_was() -> None:
    assert set(succeed(Throttle(4, clock=FakeTime().clock, sleep=lambda s: None), 3 * RECOVER_AFTER)) == {4}
    assert set(succeed(Throttle(None, sleep=lambda s: None), 3 * RECOVER_AFTER)) == {None}


def test_a_plain_pytest_run_makes_its_own_throttle() -> None:
    throttle = suite_throttle([object()], 3.0)
    assert (throttle.rps, throttle.cap) == (3.0, 3.0)
    shared = Throttle(1.0)
    assert suite_throttle([object(), SharedThrottle(shared)], 3.0) is shared


class SuiteConfig:
    """What the suite's `pytest_configure` reads of a `pytest.Config`: the runner's arguments and plugins."""

    _TYPES: ClassVar[dict[str, Any]] = {
        "--contract-rps": float,
        "--contract-billable-spent": int,
        "--contract-spec": Path,
    }
    _DEFAULTS: ClassVar[dict[str, Any]] = {"--contract-max-examples": 200, "--contract-billable-spent": 0}

    def __init__(self, args: list[str], plugins: list[object]) -> None:
        self.options = {
            name: self._TYPES.get(name, str)(value)
            for name, value in pairwise(args)
            if name.startswith("--contract-") and not value.startswith("--")
        }
        self.plugins = plugins
        self.pluginmanager = self

    def getoption(self, name: str) -> Any:
        return self.options.get(name, self._DEFAULTS.get(name))

    def get_plugins(self) -> list[object]:
        return self.plugins


def test_the_probe_and_the_suite_keep_to_one_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's first request waits for the probe's last: one throttle across the pytest.main boundary."""
    time = FakeTime()
    sent: list[tuple[str, float]] = []

    def probe(target: suite_target.Target, first: str) -> DialectFinding:
        for _ in range(2):  # both dialects' minimal requests
            target.throttle.wait()
            sent.append(("probe", time.now))
        return DialectFinding(first, ("stand-in",))

    def chosen(level: str, base_url: str, session: SuiteSession) -> Strictness:
        session.throttle.wait()  # its GET of the spec: not billable, but a request like any other
        sent.append(("strictness", time.now))
        return Strictness(CONTRACT, "a stand-in")

    def pytest_main(args: list[str], plugins: list[object]) -> int:
        suite_conftest.pytest_configure(SuiteConfig(args, plugins))  # type: ignore[arg-type]
        for _ in range(2):
            suite_target.current().throttle.wait()
            sent.append(("suite", time.now))
        return 0

    monkeypatch.setattr(suite_target, "_current", None)
    monkeypatch.setattr(runner, "Throttle", lambda rps: Throttle(rps, clock=time.clock, sleep=time.sleep))
    monkeypatch.setattr(runner, "probe", probe)
    monkeypatch.setattr(runner, "chosen", chosen)
    monkeypatch.setattr(runner, "_unreachable", lambda base_url: None)
    monkeypatch.setattr(runner.pytest, "main", pytest_main)
    for name in ("KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_API_KEY_2"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KLING_API_KEY", "politeness-test-key")
    options = runner.RunOptions(base_url="https://staging.example.invalid", rps=4.0, dialect="documented")
    assert runner.run_contract(options) == 0
    assert [who for who, _ in sent] == ["probe", "probe", "strictness", "suite", "suite"]
    times = [at for _, at in sent]
    assert [later - earlier for earlier, later in pairwise(times)] == pytest.approx([0.25] * 4)
