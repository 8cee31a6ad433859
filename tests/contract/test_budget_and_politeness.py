"""Unit tests of the suite's cost and rate safety: `BillableBudget` and `Throttle`, with a fake clock."""

from __future__ import annotations

import email.utils

import pytest
import requests

from contract_tests.budget import BillableBudget, BudgetSpent
from contract_tests.politeness import MAX_WAIT_S, Throttle


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


def test_retry_after_as_an_http_date() -> None:
    throttle = Throttle(None)
    later = email.utils.formatdate(__import__("time").time() + 30, usegmt=True)
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
