"""What a target did where the contract is silent: observations, reported beside the verdict, never failing it.

Against a target other than the kit's own mock, the suite sends each decision's example (a request that breaks
the kit's decision and nothing the contract states) and notes what the target did with it, so that the people
reading the drift report learn how the provider decided, and notice the day it decides differently.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Observation:
    decision: str
    says: str
    # What the example was: the operation and what it breaks ("input.task_id is empty").
    request: str
    # The target's answer: HTTP status and business code (None: no envelope), or why nothing was sent.
    status: int | None
    code: int | None
    not_sent: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == 200

    def line(self) -> str:
        """One line of the report: `observed: accepts ...; the kit's mock refuses it`."""
        if self.not_sent is not None:
            return f"`{self.decision}`: not observed ({self.not_sent})"
        if self.accepted:
            return f"`{self.decision}`: observed: accepts {self.request}; the kit's mock refuses it"
        answer = f"{self.status}/{self.code}" if self.code is not None else f"HTTP {self.status}"
        return f"`{self.decision}`: observed: refuses {self.request} ({answer}), as the kit's mock does"


class Observations:
    """The run's observations, in the order they were made."""

    def __init__(self) -> None:
        self.items: list[Observation] = []

    def add(self, observation: Observation) -> None:
        self.items.append(observation)

    def lines(self) -> list[str]:
        return [observation.line() for observation in self.items]
