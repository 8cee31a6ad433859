"""`kling-mock contract`: run the suite with pytest against a base URL, or against a fresh mock.

Off loopback the target may be the real API, which bills every task and limits every caller's
rate: there the run has a small budget of billable calls, a rate cap and fewer generated cases
unless told otherwise, and finds out first which dialect the target speaks.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

import pytest
import requests

from mock_server.client.process import MockProcess, MockProcessError
from mock_server.core.secrets import secret_spellings
from mock_server.core.urls import is_loopback
from mock_server.spec import BY_BODY, DIALECTS, SpecProblem, dialect_spec

from . import target as suite_target
from .budget import BillableBudget
from .credentials import (
    ACCESS_KEY_ENV,
    API_KEY_ENV,
    SECOND_API_KEY_ENV,
    SECRET_KEY_ENV,
    Credentials,
    CredentialsMissing,
)
from .dialects import probe, probe_targets
from .politeness import SharedThrottle, Throttle, describe_rate
from .report import written_reports
from .strictness import AUTO as AUTO_STRICTNESS
from .strictness import CONTRACT, chosen

SUITE_DIR = Path(__file__).resolve().parent
AUTO = "auto"
# Off loopback, unless told otherwise.
REMOTE_MAX_BILLABLE = 20
REMOTE_RPS = 2.0
REMOTE_MAX_EXAMPLES = 20
# Stands in for missing credentials in a dry run, which sends nothing.
DRY_RUN_KEY = "dry-run-sends-nothing"


@dataclass(frozen=True)
class RunOptions:
    base_url: str | None = None
    dialect: str | None = None  # documented, upstream, by-body, auto; None: auto
    max_examples: int | None = None
    max_billable: int | None = None
    rps: float | None = None
    report_dir: Path | None = None
    spec_path: Path | None = None
    any_token: bool = False
    dry_run: bool = False
    # full, contract, or auto: full for the kit's own mock, contract for any other target (strictness.py).
    strictness: str = AUTO_STRICTNESS
    # Hypothesis's seed, to repeat a run's generated cases; None: a new seed each run.
    seed: int | None = None
    extra_pytest_args: tuple[str, ...] = ()


def run_contract(options: RunOptions) -> int:
    """Run the suite: exit status 0 when the target keeps the contract, 1 when it breaks it, 2 when
    the run could not start (no credentials, target unreachable)."""
    if options.base_url is not None:
        return _run_against(options.base_url, options)
    # No target given: a mock that checks keys as the real API does, with two callers' keys made for this run.
    keys = {API_KEY_ENV: secrets.token_urlsafe(24), SECOND_API_KEY_ENV: secrets.token_urlsafe(24)}
    # A key pair in the environment (for staging) would win over these keys, which is all the fresh mock knows.
    unset = {ACCESS_KEY_ENV: "", SECRET_KEY_ENV: ""}
    serve_args = ["--log-level", "warning"]
    if options.dialect in DIALECTS:
        serve_args += ["--dialect", str(options.dialect)]
    if options.spec_path:
        serve_args += ["--spec", str(options.spec_path)]
    try:
        with MockProcess(*serve_args, env={"KLING_MOCK_KEYS": ",".join(keys.values())}) as mock:
            _say(f"testing a fresh mock at {mock.base_url}")
            with _environment({**keys, **unset}):
                return _run_against(mock.base_url, options)
    except MockProcessError as exc:
        _say(f"could not start a mock to test: {exc}")
        return 2


def _run_against(base_url: str, options: RunOptions) -> int:
    remote = not is_loopback(base_url)
    # Even on loopback the dialect is found out: the mock's own paths each speak their own (docs/contract.md,
    # "Which dialect answers where"), so a base URL with or without `/kling` gets the suite of what it serves.
    dialect = _held_dialect(options.dialect) or AUTO
    max_billable = options.max_billable if options.max_billable is not None else REMOTE_MAX_BILLABLE if remote else None
    rps = options.rps if options.rps is not None else REMOTE_RPS if remote else None
    max_examples = options.max_examples or (REMOTE_MAX_EXAMPLES if remote else None)
    try:
        credentials = Credentials.from_env()
    except CredentialsMissing as exc:
        if not options.dry_run:
            _say(f"{exc} (credentials for {base_url})")
            return 2
        credentials = Credentials(api_key=DRY_RUN_KEY)
    budget = BillableBudget(max_billable)
    held_to = suite_target.DOCUMENTED if dialect == AUTO else dialect
    kind = "no credentials (a dry run needs none)" if credentials.api_key == DRY_RUN_KEY else credentials.kind
    _say(f"testing {base_url} with {kind}")
    spend = "no limit on billable calls" if max_billable is None else f"at most {max_billable} billable call(s)"
    _say(f"budget: {spend}; {describe_rate(rps)}")
    try:
        spec_path = dialect_spec(held_to, options.spec_path)
    except SpecProblem as exc:
        _say(str(exc))
        return 2
    if options.dry_run:
        return _dry_run(base_url, held_to, spec_path, options, max_examples, credentials)
    unreachable = _unreachable(base_url)
    if unreachable:
        _say(f"cannot reach {base_url}: {unreachable}")
        return 2
    # One throttle for the probe and the suite, which pytest runs in this process.
    throttle = Throttle(rps)
    # The probe sets the dialect and its spec for each of its requests.
    probe_target = suite_target.Target(base_url, credentials, budget=budget, throttle=throttle)
    finding = probe(probe_target, first=held_to)
    if dialect == AUTO and finding.speaks is not None and finding.speaks != held_to:
        held_to = finding.speaks
        try:
            spec_path = dialect_spec(held_to, options.spec_path)
        except SpecProblem as exc:
            _say(str(exc))
            return 2
    headline = finding.headline(held_to)
    _say(headline)
    with probe_target.session() as session:
        strictness = chosen(options.strictness, base_url, session)
    _say(strictness.headline())
    args = _pytest_args(base_url, held_to, spec_path, options, max_examples, max_billable, rps, headline)
    args += ["--contract-billable-spent", str(budget.spent), "--contract-strictness", strictness.level]
    status = int(pytest.main(args, [SharedThrottle(throttle)]))
    suite = suite_target.current()
    _say(headline)
    for line in suite.observations.lines():
        _say(line)
    _say(suite.budget.summary())
    if options.report_dir is not None:
        _scrub_reports(options.report_dir, suite.credentials)
        _say(f"reports in {options.report_dir}: junit.xml, drift-report.md, schemathesis/")
    return status


def _held_dialect(dialect: str | None) -> str | None:
    """The dialect the suite holds the target to: answering by body, it takes the documented dialect's requests as
    the documented dialect does, and the suite's negative cases never send a body of the other dialect."""
    return suite_target.DOCUMENTED if dialect == BY_BODY else dialect


def _pytest_args(
    base_url: str,
    dialect: str,
    spec_path: Path,
    options: RunOptions,
    max_examples: int | None,
    max_billable: int | None,
    rps: float | None,
    headline: str,
) -> list[str]:
    args = [str(SUITE_DIR), "--contract-base-url", base_url, "-p", "no:cacheprovider"]
    args += ["--contract-dialect", dialect, "--contract-spec", str(spec_path), *options.extra_pytest_args]
    # The kit's pytest plugin marks mock_server for assertion rewriting, but this process imported it
    # already (the CLI lives there); nothing of it is asserted in, so pytest's warning is noise.
    args += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    # Short tracebacks: a long one shows each frame's locals, the headers that carried a token among them.
    args += ["--tb=short"]
    if max_examples is not None:
        args += ["--contract-max-examples", str(max_examples)]
    if max_billable is not None:
        args += ["--contract-max-billable", str(max_billable)]
    if rps is not None:
        args += ["--contract-rps", str(rps)]
    if options.report_dir is not None:
        args += ["--contract-report-dir", str(options.report_dir), "--contract-dialect-finding", headline]
        args += ["--junitxml", str(options.report_dir / "junit.xml")]
    if options.any_token:
        args.append("--contract-any-token")
    if options.seed is not None:
        args.append(f"--hypothesis-seed={options.seed}")
    return args


def _dry_run(
    base_url: str,
    first: str,
    spec_path: Path,
    options: RunOptions,
    max_examples: int | None,
    credentials: Credentials,
) -> int:
    """Say what a run would send, and send nothing: not even the reachability check."""
    _say("dry run: nothing is sent")
    _say(f"first, the dialect probe (billable): the {first} dialect's minimal request, then, if it fails, the other's:")
    for probe_target in probe_targets(suite_target.Target(base_url, credentials), first):
        body = json.dumps(probe_target.minimal_example)
        _say(f"  {probe_target.dialect}: POST {probe_target.url(probe_target.create.path)} {body}")
    cases = f"up to {max_examples} generated cases" if max_examples else "schemathesis's default number of cases"
    _say(f"then the {first} dialect's suite (or the dialect the probe finds), {cases} per operation:")
    _say(
        "the strictness: "
        + (options.strictness if options.strictness != AUTO_STRICTNESS else "auto, decided by GET /openapi.yaml")
    )
    # Nor does it write reports: a report of a run that never was would read as a passed one.
    args = _pytest_args(base_url, first, spec_path, replace(options, report_dir=None), max_examples, None, None, "")
    level = options.strictness if options.strictness != AUTO_STRICTNESS else CONTRACT
    args += ["--contract-strictness", level]
    # The suite wants credentials to configure itself, though it sends nothing here.
    with _environment({} if credentials.api_key != DRY_RUN_KEY else {API_KEY_ENV: DRY_RUN_KEY}):
        return int(pytest.main([*args, "--collect-only", "-q"]))


def _unreachable(base_url: str) -> str | None:
    """Why the target cannot be reached at all, or None: a dead target is not a broken contract."""
    try:
        requests.get(base_url, timeout=10)
    except requests.RequestException as exc:
        return type(exc).__name__
    return None


def _scrub_reports(report_dir: Path, credentials: Credentials) -> None:
    """The last line of defence: no written file keeps a key, the secret or a token, whoever wrote it,
    however it spelled it (JUnit XML escapes, JSON escapes, a URL encodes)."""
    replacements = _spelled_placeholders(credentials.placeholders())
    for path in written_reports(report_dir):
        text = path.read_bytes().decode("utf-8", "surrogateescape")
        scrubbed = text
        for spelling, placeholder in replacements:
            scrubbed = scrubbed.replace(spelling, placeholder)
        if scrubbed != text:
            path.write_bytes(scrubbed.encode("utf-8", "surrogateescape"))
            _say(f"a secret was blanked from {path.name}")


# How XML writers spell quotes (`&`, `<` and `>` always escaped): as they are in text, ElementTree's
# attributes, XML's named entities, numeric references.
_XML_QUOTES: tuple[dict[str, str], ...] = (
    {},
    {'"': "&quot;"},
    {'"': "&quot;", "'": "&apos;"},
    {'"': "&#34;", "'": "&#39;"},
    {'"': "&quot;", "'": "&#x27;"},
)


def _spelled_placeholders(placeholders: Mapping[str, str]) -> list[tuple[str, str]]:
    """Each spelling of each secret with its placeholder, longest first: a secret inside another (a key in a
    longer token) must not break the longer one's match."""
    spelled: dict[str, str] = {}
    for value, placeholder in placeholders.items():
        _, spellings = secret_spellings(value)  # as is, URL-encoded, JSON-escaped
        for spelling in spellings:
            spelled.setdefault(spelling, placeholder)
            for quotes in _XML_QUOTES:
                spelled.setdefault(xml_escape(spelling, quotes), placeholder)
    return sorted(spelled.items(), key=lambda pair: -len(pair[0]))


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _say(text: str) -> None:
    print(f"kling-mock contract: {text}", file=sys.stderr, flush=True)
