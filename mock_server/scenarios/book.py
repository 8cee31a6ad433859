"""Scenarios: the faults the mock plays on purpose, so that a client's error handling can be tested.

A scenario's shape is the admin spec's `Scenario` schema (openapi/admin.yaml), which validates
every scenario, from the `--scenarios` file, the admin API or a request's header. Each request
gets the `Effects` of the scenarios that apply to it; the server plays them.

Where the scenarios are kept is a `ScenarioList`: in this process (`MemoryScenarios`, the default),
or, for a server whose tasks are in Redis, in Redis for every worker and mock sharing it
(`storage.redis`), `times` counted there too. Rate limits likewise count in each scenario's own
buckets, or in Redis (`RateLimits`, `storage.redis`).
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from ..core import rules
from ..core.callers import caller_fingerprint, token_digest
from ..core.errors import BusinessCode, KlingError
from ..spec import ADMIN_SPEC_PATH, Operation, Spec, load_spec, resolve_response
from ..validation import body_findings

SCENARIO_HEADER = "x-kling-mock-scenario"
_HEADER_PATH = "header.X-Kling-Mock-Scenario"
# Fields a request's header may not set inline: matching, counting and rate limits need a scenario
# that outlives one request.
_NOT_INLINE = frozenset({"name", "when", "times", "rate_limit"})
_MAX_BUCKETS = 10_000
# The admin spec's bound on `retry_after`, which a computed wait respects too.
MAX_RETRY_AFTER = 3600
# Plain ASCII numerals only: `int` and `float` also take "1_000" and other scripts' digits.
_NUMERALS = {"integer": re.compile(r"-?[0-9]{1,9}"), "number": re.compile(r"-?[0-9]{1,9}(\.[0-9]{1,9})?")}


class ScenarioError(ValueError):
    """A scenario the mock cannot play, with a message naming the field."""


def read_scenario_file(path: Path) -> tuple[dict[str, Any], ...]:
    """The scenarios of a `--scenarios` YAML file: a mapping with a list under `scenarios`.

    Only read here; `ScenarioBook` checks each one when the app starts.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: cannot read scenarios ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("scenarios"), list):
        raise ScenarioError(f"{path}: must be a mapping with a list under `scenarios`")
    return tuple(raw["scenarios"])


@dataclass(eq=False)
class Scenario:
    """One scenario; compared by identity, so that one named twice for a request plays once."""

    name: str
    source: str
    # Applies by itself to the requests it matches; otherwise only when a request names it.
    automatic: bool = False
    caller: str | None = None
    operation: str | None = None
    remaining: int | None = None
    code: int | None = None
    message: str | None = None
    retry_after: int | None = None
    latency_ms: int = 0
    jitter_ms: int = 0
    rate_limit: float | None = None
    task: str | None = None
    drop_connection: bool = False
    slow_body_ms: int = 0
    # Per caller, the tokens left in its bucket and when they were counted.
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)

    def matches(self, operation_id: str, owner: str) -> bool:
        return (self.caller is None or self.caller == owner) and self.operation in (None, operation_id)

    def take(self) -> bool:
        """Count one use, in this process; False once `times` is spent."""
        if self.remaining is None:
            return True
        if self.remaining == 0:
            return False
        self.remaining -= 1
        return True

    def rate_limited(self, owner: str, now: float) -> int | None:
        """Seconds to wait when `owner` is over `rate_limit`, else None (and one request is counted)."""
        if self.rate_limit is None:
            return None
        burst = max(1.0, self.rate_limit)
        tokens, counted_at = self._buckets.get(owner, (burst, now))
        tokens = min(burst, tokens + (now - counted_at) * self.rate_limit)
        if len(self._buckets) >= _MAX_BUCKETS and owner not in self._buckets:
            self._buckets.clear()  # callers long gone would otherwise pile up; a fresh bucket is full anyway
        if tokens < 1:
            self._buckets[owner] = (tokens, now)
            return min(MAX_RETRY_AFTER, max(1, math.ceil((1 - tokens) / self.rate_limit)))
        self._buckets[owner] = (tokens - 1, now)
        return None

    def to_json(self) -> dict[str, Any]:
        """The scenario as the admin API shows it: its caller as a fingerprint, never a token."""
        shown: dict[str, Any] = {"name": self.name, "source": self.source, "remaining": self.remaining}
        if self.automatic:
            when: dict[str, Any] = {}
            if self.caller is not None:
                when["caller"] = caller_fingerprint(self.caller)
            if self.operation is not None:
                when["operation"] = self.operation
            shown["when"] = when
        for key in ("code", "message", "retry_after", "rate_limit", "task"):
            if getattr(self, key) is not None:
                shown[key] = getattr(self, key)
        for key in ("latency_ms", "jitter_ms", "drop_connection", "slow_body_ms"):
            if getattr(self, key):
                shown[key] = getattr(self, key)
        return shown


class RateLimits(Protocol):
    """The scenarios' token buckets: in this process (`MemoryRateLimits`), or shared by every process that
    plays them (`storage.redis`)."""

    async def take(self, owner: str, scenarios: Sequence[Scenario]) -> list[int | None]:
        """For each scenario (each has a `rate_limit`), seconds to wait, or None: passed, and counted."""
        ...


class MemoryRateLimits:
    """The buckets kept in each scenario, in this process (`Scenario.rate_limited`)."""

    async def take(self, owner: str, scenarios: Sequence[Scenario]) -> list[int | None]:
        now = time.monotonic()
        return [scenario.rate_limited(owner, now) for scenario in scenarios]


@dataclass
class Effects:
    """What the scenarios that apply to one request make of it."""

    names: tuple[str, ...]
    error: KlingError | None = None
    delay_seconds: float = 0.0
    task: str | None = None
    drop_connection: bool = False
    slow_body_ms: int = 0


class ScenarioList(Protocol):
    """Where the scenarios in play are kept. In Redis, any method but `current` may raise `StoreUnavailable`."""

    async def start(self, file: list[Scenario]) -> None:
        """At start, with the `--scenarios` file's scenarios (checked, counters full)."""
        ...

    async def current(self) -> Mapping[str, Scenario]:
        """The scenarios in play, by name, oldest first: asked once per request, so cheap."""
        ...

    async def count_uses(self, chosen: list[Scenario]) -> list[Scenario]:
        """Those of `chosen` that still apply, each use counted once against its `times`."""
        ...

    async def listed(self) -> list[Scenario]:
        """The scenarios in play, oldest first, each with the uses it has left (`remaining`)."""
        ...

    async def put(self, scenario: Scenario) -> None:
        """Add `scenario`, or replace the one of its name (its counters start afresh)."""
        ...

    async def remove(self, name: str) -> bool: ...

    async def replace(self, scenarios: list[Scenario], *, from_file: bool) -> None:
        """Play only `scenarios`: the file's, with `from_file` (a reset), or none (a clear)."""
        ...


class MemoryScenarios:
    """The scenarios of this process alone: each counts its own `times`."""

    def __init__(self, scenarios: list[Scenario]) -> None:
        self._by_name = {scenario.name: scenario for scenario in scenarios}

    async def start(self, file: list[Scenario]) -> None:
        """Nothing to do: it holds the file's from its construction."""

    async def current(self) -> Mapping[str, Scenario]:
        return self._by_name

    async def count_uses(self, chosen: list[Scenario]) -> list[Scenario]:
        return [scenario for scenario in chosen if scenario.take()]

    async def listed(self) -> list[Scenario]:
        return list(self._by_name.values())

    async def put(self, scenario: Scenario) -> None:
        self._by_name.pop(scenario.name, None)
        self._by_name[scenario.name] = scenario

    async def remove(self, name: str) -> bool:
        return self._by_name.pop(name, None) is not None

    async def replace(self, scenarios: list[Scenario], *, from_file: bool) -> None:
        self._by_name = {scenario.name: scenario for scenario in scenarios}


class ScenarioBook:
    """The scenarios in play: those of the file given at start, those added through the admin API.

    `shared` keeps them elsewhere (Redis), for every process given it; None keeps them in this one.
    `rate_limits` keeps the rate limits' buckets elsewhere (Redis); None keeps them in each scenario
    (`MemoryRateLimits`).
    """

    def __init__(
        self,
        spec: Spec | Sequence[Spec],
        file_scenarios: Iterable[dict[str, Any]] = (),
        seed: int | None = None,
        rate_limits: RateLimits | None = None,
        shared: ScenarioList | None = None,
    ) -> None:
        """`spec`: the spec (or the specs, one per path a mock serves) whose operations scenarios may name."""
        specs = (spec,) if isinstance(spec, Spec) else tuple(spec)
        # The business-code table is every spec's alike.
        self.spec = specs[0]
        self._operation_ids = {operation.operation_id for each in specs for operation in each.operations}
        self._rate_limits: RateLimits = rate_limits if rate_limits is not None else MemoryRateLimits()
        self._admin = load_spec(ADMIN_SPEC_PATH)
        self._validator = self._admin.validator("#/components/schemas/Scenario")
        properties = self._admin.document["components"]["schemas"]["Scenario"]["properties"]
        self._types = {name: schema["type"] for name, schema in properties.items()}
        self._inline_types = {name: kind for name, kind in self._types.items() if name not in _NOT_INLINE}
        self._file = list(file_scenarios)
        self._random = random.Random(seed)
        file = self.file_scenarios()  # a file the mock cannot play is refused now, at start
        self._list: ScenarioList = shared if shared is not None else MemoryScenarios(file)

    # Keeping scenarios.

    def file_scenarios(self) -> list[Scenario]:
        """The `--scenarios` file's, checked, with their counters full."""
        scenarios = []
        for index, raw in enumerate(self._file):
            try:
                scenarios.append(self.parse(raw, source="file"))
            except ScenarioError as exc:
                raise ScenarioError(f"scenarios[{index}]: {exc}") from None
        return scenarios

    async def start(self) -> None:
        """Before serving: the file's scenarios into play (a shared list may already hold them)."""
        await self._list.start(self.file_scenarios())

    async def reset(self) -> None:
        """Back to the file's scenarios, with their counters full."""
        await self._list.replace(self.file_scenarios(), from_file=True)

    async def add(self, raw: Any, source: str = "api") -> Scenario:
        scenario = self.parse(raw, source)
        await self._list.put(scenario)
        return scenario

    async def remove(self, name: str) -> bool:
        return await self._list.remove(name)

    async def clear(self) -> None:
        await self._list.replace([], from_file=False)

    async def listed(self) -> list[Scenario]:
        return await self._list.listed()

    def parse(self, raw: Any, source: str) -> Scenario:
        """A scenario from its JSON shape, checked against the admin spec and the Kling spec's table."""
        findings = body_findings(self._admin.document, self._validator, raw)
        if findings:
            raise ScenarioError("; ".join(finding.message.removeprefix("body.") for finding in findings))
        # JSON Schema's integers include 1302.0; a client must see 1302.
        raw = {key: int(value) if self._types.get(key) == "integer" else value for key, value in raw.items()}
        when = raw.get("when")
        code = raw.get("code")
        if code is not None and code not in self.spec.status_by_code:
            raise ScenarioError(f"code: {code} is not a business code of the contract's table")
        if when and when.get("operation") not in (None, *self._operation_ids):
            raise ScenarioError(f"when.operation: must be one of {', '.join(sorted(self._operation_ids))}")
        return Scenario(
            name=raw["name"],
            source=source,
            automatic=when is not None,
            caller=token_digest(when["token"]) if when and "token" in when else None,
            operation=when.get("operation") if when else None,
            remaining=raw.get("times"),
            code=code,
            message=raw.get("message"),
            retry_after=raw.get("retry_after"),
            latency_ms=raw.get("latency_ms", 0),
            jitter_ms=raw.get("jitter_ms", 0),
            rate_limit=raw.get("rate_limit"),
            task=raw.get("task"),
            drop_connection=raw.get("drop_connection", False),
            slow_body_ms=raw.get("slow_body_ms", 0),
        )

    # Choosing and playing them.

    async def effects(self, operation: Operation, owner: str, header: str | None, prefer: str | None) -> Effects | None:
        """The effects of every scenario that applies to this request, or None when none does.

        Each is counted once against its `times`, and against its rate limit in `rate_limits` (one call for
        all). Raises `KlingError` (400/1200) for a header naming an unknown scenario or malformed.
        """
        scenarios = await self._list.current()
        if not scenarios and header is None and prefer is None:
            return None
        chosen = [*self._from_header(scenarios, header), *self._from_prefer(operation, prefer)]
        chosen += [s for s in scenarios.values() if s.automatic and s.matches(operation.operation_id, owner)]
        chosen = await self._list.count_uses(list(dict.fromkeys(chosen)))
        if not chosen:
            return None
        limited = [scenario for scenario in chosen if scenario.rate_limit is not None]
        taken = iter(await self._rate_limits.take(owner, limited) if limited else ())
        waits = [next(taken) if scenario.rate_limit is not None else None for scenario in chosen]
        return self._effects(chosen, waits)

    def _effects(self, chosen: list[Scenario], waits: list[int | None]) -> Effects:
        """What the chosen scenarios do, given the rate limits' waits (None where a request passed)."""
        effects = Effects(names=tuple(dict.fromkeys(scenario.name for scenario in chosen)))
        for scenario, wait in zip(chosen, waits, strict=True):
            if wait is not None and effects.error is None:
                effects.error = self._error(BusinessCode.RATE_LIMITED, None, wait)
            if scenario.code is not None and effects.error is None:
                effects.error = self._error(scenario.code, scenario.message, scenario.retry_after)
            jitter = self._random.uniform(-scenario.jitter_ms, scenario.jitter_ms) if scenario.jitter_ms else 0.0
            effects.delay_seconds += max(0.0, scenario.latency_ms + jitter) / 1000
            effects.task = effects.task or scenario.task
            effects.drop_connection = effects.drop_connection or scenario.drop_connection
            effects.slow_body_ms = max(effects.slow_body_ms, scenario.slow_body_ms)
        return effects

    def _error(self, code: int, message: str | None, retry_after: int | None) -> KlingError:
        headers = {}
        if self.spec.status_by_code[code] == 429:
            headers["Retry-After"] = str(1 if retry_after is None else retry_after)
        text = message or f"{self.spec.meaning_by_code[code]} (scenario)"
        return KlingError(code, text, headers, rule=rules.SCENARIO, path="")

    def _from_header(self, scenarios: Mapping[str, Scenario], header: str | None) -> list[Scenario]:
        """Scenarios a request names (`flaky, slow`), or one it spells inline (`code=1302, retry_after=2`)."""
        if header is None:
            return []
        chosen: list[Scenario] = []
        inline: dict[str, Any] = {}
        for item in (part.strip() for part in header.split(",")):
            if not item:
                continue
            key, has_value, value = (part.strip() for part in item.partition("="))
            if has_value or self._inline_types.get(key) == "boolean":
                inline[key] = self._inline_value(key, value if has_value else "true")
            elif key in scenarios:
                chosen.append(scenarios[key])
            else:
                raise _header_error(f"no scenario named {key!r}")
        if inline:
            try:
                chosen.append(self.parse({"name": "header", **inline}, source="header"))
            except ScenarioError as exc:
                raise _header_error(str(exc)) from None
        return chosen

    def _inline_value(self, key: str, value: str) -> Any:
        kind = self._inline_types.get(key)
        if key in _NOT_INLINE:
            raise _header_error(f"{key}: needs a scenario that outlives one request (the file or the admin API)")
        if kind is None:
            raise _header_error(f"{key}: not a scenario field; use {', '.join(sorted(self._inline_types))}")
        if kind in _NUMERALS:
            if not _NUMERALS[kind].fullmatch(value):
                raise _header_error(f"{key}: must be {'an integer' if kind == 'integer' else 'a number'}")
            return int(value) if kind == "integer" else float(value)
        if kind == "boolean":
            if value not in ("true", "false"):
                raise _header_error(f"{key}: must be true or false")
            return value == "true"
        return value

    def _from_prefer(self, operation: Operation, prefer: str | None) -> list[Scenario]:
        """Prism's `Prefer: code=429` and `Prefer: example=name`, as one-request scenarios."""
        if prefer is None:
            return []
        preferences = dict(
            (part.partition("=")[0].strip().lower(), part.partition("=")[2].strip().strip('"'))
            for part in prefer.replace(";", ",").split(",")
        )
        responses = operation.document["paths"][operation.path][operation.method.lower()]["responses"]
        wanted_status = preferences.get("code")
        wanted_example = preferences.get("example")
        if wanted_status is None and wanted_example is None:
            return []
        for status, response in responses.items():
            if status.startswith("2"):
                continue
            content = resolve_response(operation.document, response).get("content", {})
            for name, example in content.get("application/json", {}).get("examples", {}).items():
                if name == wanted_example:
                    value = example["value"]
                    return [Scenario(f"prefer:{name}", "header", code=value["code"], message=value["message"])]
                if status == wanted_status:
                    # The example's code, but not its message: that names another request's problem.
                    return [Scenario(f"prefer:{name}", "header", code=example["value"]["code"])]
        asked = f"code={wanted_status}" if wanted_status is not None else f"example={wanted_example}"
        raise KlingError(
            BusinessCode.INVALID_REQUEST,
            f"Prefer: {asked}: {operation.operation_id} has no such error response in the spec",
            rule=rules.SCENARIO_HEADER,
            path="header.Prefer",
        )


def _header_error(message: str) -> KlingError:
    return KlingError(
        BusinessCode.INVALID_REQUEST, f"X-Kling-Mock-Scenario: {message}", rule=rules.SCENARIO_HEADER, path=_HEADER_PATH
    )
