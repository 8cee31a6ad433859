"""The budget of billable calls: on the real API every task created is paid for.

A billable request reserves a unit before it is sent and gives it back when nothing was created,
so that however the target answers, it never creates more than the budget. A request the
contract says must be rejected costs nothing, unless the target accepts it: then it counts, and
is a finding of its own.
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

    def reserve(self, what: str) -> None:
        """Take a unit for a request about to be sent, or raise `BudgetSpent` without sending it."""
        remaining = self.remaining
        if remaining is not None and remaining < 1:
            self.not_sent += 1
            raise BudgetSpent(f"billable budget of {self.limit} spent: {what} not sent (--max-billable)")
        self.reserved += 1

    def settle(self, created: bool, must_reject: bool, what: str) -> None:
        """The reserved unit is spent when the request created something, and given back otherwise."""
        self.reserved -= 1
        if created:
            self.spent += 1
            if must_reject:
                self.accepted_rejections.append(what)

    def summary(self) -> str:
        limit = "no limit" if self.limit is None else f"a budget of {self.limit}"
        text = f"{self.spent} billable call(s) spent, {limit}"
        if self.not_sent:
            text += f"; budget spent, {self.not_sent} billable request(s) not sent"
        if self.accepted_rejections:
            text += f"; {len(self.accepted_rejections)} created by requests that must have been rejected"
        return text
