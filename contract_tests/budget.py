"""The budget of billable calls: on the real API every task created is paid for.

A billable request reserves a unit before it is sent and gives it back when nothing was created,
so that however the target answers, it never creates more than the budget. A request the
contract says must be rejected costs nothing and is sent even when the budget is spent, unless
the target already accepted one such request beyond the budget: then nothing billable is sent
any more. So a target that keeps the contract is never charged beyond the budget, and one that
does not, by at most one call, which is a finding of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# What `pytest.skip()` raises; imported from its home, as `pytest.skip.Exception` is not typed.
from _pytest.outcomes import Skipped


class BudgetSpent(Skipped):
    """No billable unit left: the request was not sent. A test that meets it is skipped, saying so."""


@dataclass
class BillableBudget:
    # None: no limit (the default on loopback).
    limit: int | None = None
    spent: int = 0
    reserved: int = 0
    not_sent: int = 0
    # "METHOD URL" of each request that must have been rejected and created a task instead.
    accepted_rejections: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else self.limit - self.spent - self.reserved

    @property
    def limited(self) -> bool:
        return self.limit is not None

    @property
    def overdrawn(self) -> bool:
        """A request that had to be refused created a task beyond the budget: nothing billable is sent any more."""
        return self.limit is not None and self.spent > self.limit

    def reserve(self, what: str, must_reject: bool = False) -> None:
        """Take a unit for a request about to be sent, or raise `BudgetSpent` without sending it."""
        remaining = self.remaining
        spent = remaining is not None and remaining < 1
        if self.overdrawn or (spent and not must_reject):
            self.not_sent += 1
            raise BudgetSpent(f"billable budget of {self.limit} spent: {what} not sent (--max-billable)")
        self.reserved += 1

    def settle(self, created: bool | None, must_reject: bool, what: str) -> None:
        """The reserved unit is spent when the request created something, given back otherwise, and spent
        when nobody knows (`None`: the answer was lost, and a task may have been created)."""
        self.reserved -= 1
        if created is False:
            return
        self.spent += 1
        if created and must_reject:
            self.accepted_rejections.append(what)

    def summary(self) -> str:
        limit = "no limit" if self.limit is None else f"a budget of {self.limit}"
        text = f"{self.spent} billable call(s) spent, {limit}"
        if self.not_sent:
            text += f"; budget spent, {self.not_sent} billable request(s) not sent"
        if self.accepted_rejections:
            text += f"; {len(self.accepted_rejections)} created by requests that must have been rejected"
        return text
