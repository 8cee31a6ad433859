"""Scenarios: the faults the mock plays on purpose (errors, rate limits, latency, dropped connections, slow or
failing tasks), so that a client's error handling can be tested. Their shape is `openapi/admin.yaml`'s `Scenario`."""

from .book import (
    MAX_RETRY_AFTER,
    SCENARIO_HEADER,
    Effects,
    MemoryRateLimits,
    MemoryScenarios,
    RateLimits,
    Scenario,
    ScenarioBook,
    ScenarioError,
    ScenarioList,
    read_scenario_file,
)

__all__ = [
    "MAX_RETRY_AFTER",
    "SCENARIO_HEADER",
    "Effects",
    "MemoryRateLimits",
    "MemoryScenarios",
    "RateLimits",
    "Scenario",
    "ScenarioBook",
    "ScenarioError",
    "ScenarioList",
    "read_scenario_file",
]
