"""A pytest plugin: test your Kling client against the real mock, one clean slate per test.

Installed with the kit and registered through the `pytest11` entry point `kling_mock`, so it is active in
any pytest run of an environment where `kling-mock` is installed (`-p no:kling_mock` switches it off).
It starts nothing until a test asks for one of its fixtures:

- `kling_mock_server` (session): the real mock (`kling-mock serve --admin`) on a free 127.0.0.1 port, with a
  random admin token, plus the serve arguments of the `kling_mock_args` ini option (default `--tick-ms 0`) or
  of `--kling-mock-args` on the command line; stopped when the session ends.
- `kling_mock` (function): a `KlingMock` for one test. The mock is reset first (`POST /__admin/reset`: empty
  journal, no scenarios but the `--scenarios` file's), so the test sees only its own requests and scenarios,
  and it gets a fresh Kling API token of its own, so its tasks and per-token scenarios are its alone.

`--tick-ms 0` by default: each poll moves a task one step (submitted, then processing, then done), so a
client's polling loop ends at its second poll whatever its wait between polls, and a client test never waits
for the mock's clock. A client polling faster than the contract's once a second gets `polling-too-fast` warnings,
which fail `assert_conformant` only with `fail_on_warnings=True`.

Not for tests that run at the same time against one server: each test's reset wipes the journal and the
scenarios of any other test in flight. Under pytest-xdist each worker process has its own session, hence its
own mock, so that is fine; threads sharing one session are not.
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from ..core.callers import caller_fingerprint, token_digest
from .admin_client import AdminClient, AdminClientError, AdminError
from .conformance import Report, build_report, to_text
from .process import MockProcess, MockProcessError

__all__ = ["ARGS_INI", "DEFAULT_ARGS", "KlingMock", "KlingMockServer", "MockScenario"]

ARGS_INI = "kling_mock_args"
ARGS_OPTION = "--kling-mock-args"
DEFAULT_ARGS = ("--tick-ms", "0")
# Serve options the plugin sets itself: a free port, its own admin token, and any token accepted, since
# each test gets a fresh one (play a refused key with `kling_mock.scenario(code=1000)` instead of --keys).
_OWNED_OPTIONS = ("--port", "--admin-token", "--keys")
_NOT_OWNED = ("--admin",)  # a prefix of --admin-token, but an option of its own
# Serve options naming a file: relative to the ini file's folder when they come from the ini option.
_PATH_OPTIONS = ("--scenarios", "--state", "--spec")
_STDERR_LINES_SHOWN = 20


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kling-mock", "kling-mock: the mock Kling identify-face server for client tests")
    group.addoption(
        ARGS_OPTION,
        dest="kling_mock_args",
        default=None,
        metavar="ARGS",
        help=f"serve arguments for the kling_mock_server fixture, one shell-quoted string; replaces the "
        f"{ARGS_INI} ini option (e.g. --kling-mock-args='--tick-ms 0 --seed 7')",
    )
    parser.addini(
        ARGS_INI,
        type="args",
        default=list(DEFAULT_ARGS),
        help="`kling-mock serve` arguments for the kling_mock_server fixture (default: --tick-ms 0, so that each "
        "poll advances a task and client tests never wait for the mock's clock)",
    )


def pytest_configure(config: pytest.Config) -> None:
    serve_args(config)  # a usage error at start-up rather than in the first test that asks for the mock


def serve_args(config: pytest.Config) -> tuple[str, ...]:
    """The serve arguments asked for: the command line's, else the ini option's; checked for owned options."""
    given: str | None = config.getoption("kling_mock_args")
    if given is not None:
        args = tuple(shlex.split(given))
    else:
        ini_dir = config.inipath.parent if config.inipath is not None else config.rootpath
        args = _paths_resolved(tuple(config.getini(ARGS_INI)), ini_dir)
    for arg in args:
        name = arg.partition("=")[0]
        if len(name) > 2 and name not in _NOT_OWNED and any(owned.startswith(name) for owned in _OWNED_OPTIONS):
            raise pytest.UsageError(
                f"kling-mock: {arg!r} in the serve arguments: the plugin sets --port, --admin-token and no --keys "
                "itself (each test gets its own token; play a refused key with kling_mock.scenario(code=1000))"
            )
    return args


def _paths_resolved(args: tuple[str, ...], base: Path) -> tuple[str, ...]:
    """The ini's arguments, the files they name made absolute from the ini file's folder (as pytest's `paths`)."""
    resolved = list(args)
    for index, arg in enumerate(args):
        name, equals, value = arg.partition("=")
        if name not in _PATH_OPTIONS:
            continue
        if equals and not Path(value).is_absolute():
            resolved[index] = f"{name}={base / value}"
        elif not equals and index + 1 < len(args) and not Path(args[index + 1]).is_absolute():
            resolved[index + 1] = str(base / args[index + 1])
    return tuple(resolved)


class KlingMockServer:
    """The session's mock: `base_url`, the admin API's client (`admin`), the process and how it was started."""

    def __init__(self, process: MockProcess, admin_token: str, args: tuple[str, ...]) -> None:
        self.process = process
        self.base_url = process.base_url
        self.admin_token = admin_token
        self.args = args
        self.admin = AdminClient(self.base_url, admin_token)

    def __repr__(self) -> str:
        return f"KlingMockServer(base_url={self.base_url!r}, args={self.args!r})"

    def stderr_tail(self) -> str:
        return "".join(self.process.stderr_lines[-_STDERR_LINES_SHOWN:])


class MockScenario:
    """A scenario `KlingMock.scenario` added; as a context manager, removed when the block ends.

    `state` is the scenario as the mock kept it (admin.yaml `ScenarioState`, its token as a fingerprint).
    """

    def __init__(self, admin: AdminClient, state: dict[str, Any]) -> None:
        self._admin = admin
        self.state = state
        self.name: str = state["name"]

    def __repr__(self) -> str:
        return f"MockScenario({self.state!r})"

    def remove(self) -> None:
        """Remove the scenario from the mock; nothing happens when it is gone already."""
        try:
            self._admin.remove_scenario(self.name)
        except AdminError as exc:
            if exc.status != 404:
                raise

    def __enter__(self) -> MockScenario:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.remove()


class KlingMock:
    """The mock, as one test sees it (the `kling_mock` fixture).

    - `base_url`: where to point the client under test;
    - `token`: a Kling API token of this test's own (`headers` carries it as `Authorization: Bearer ...`);
      the mock accepts any token, and ties tasks and per-token scenarios to it;
    - `journal(**filters)`: the requests the mock received during this test, oldest first, each with its
      verdict (admin.yaml `JournalEntry`); filters as `GET /__admin/journal` takes them (`operation`,
      `method`, `path`, `status`, `code`, `verdict`, `rule`, `since`, `limit`);
    - `scenario(**fields)`: play a fault (admin.yaml `Scenario`) on this test's requests;
    - `tasks()`: this test's tasks, newest first, as the query answers them;
    - `report()`, `assert_conformant()`: the conformance verdict on this test's requests.
    """

    def __init__(self, server: KlingMockServer, token: str | None = None) -> None:
        self.server = server
        self.base_url = server.base_url
        self.token = token or f"kling-mock-test-{secrets.token_urlsafe(16)}"
        self._names = 0

    def __repr__(self) -> str:
        return f"KlingMock(base_url={self.base_url!r})"

    @property
    def headers(self) -> dict[str, str]:
        """The header that authenticates as this test's caller."""
        return {"Authorization": f"Bearer {self.token}"}

    def journal(self, **filters: str | int | None) -> list[dict[str, Any]]:
        """The journal entries matching `filters` (None ones left out), oldest first."""
        entries: list[dict[str, Any]] = self.server.admin.journal(**filters)["entries"]
        return entries

    def scenario(self, name: str | None = None, **fields: Any) -> MockScenario:
        """Add a scenario (or replace the one of its name) and return it; `with` removes it at the block's end.

        It applies by itself to this test's requests (`when: {"token": self.token}`) unless `when` is given:
        `when={}` applies it to every caller, `when={"operation": "getIdentifyFaceTask", "token": ...}` to some
        requests, and `when=None` to none but those naming it in `X-Kling-Mock-Scenario`. Without `name`, one
        is made up. A field the mock refuses raises `AdminError` with the mock's reason.

            kling_mock.scenario(name="rate-limited", code=1302, retry_after=1, times=2)
        """
        if name is None:
            self._names += 1
            name = f"kling-mock-test-{self._names}"
        if "when" not in fields:
            fields["when"] = {"token": self.token}
        elif fields["when"] is None:
            del fields["when"]
        state = self.server.admin.add_scenario({"name": name, **fields})
        return MockScenario(self.server.admin, state)

    def scenarios(self) -> list[dict[str, Any]]:
        """Every scenario in play (admin.yaml `ScenarioState`), with how many uses each has left."""
        return self.server.admin.scenarios()

    def tasks(self, limit: int = 1000, kind: str | None = None) -> list[dict[str, Any]]:
        """This test's tasks (its token's) among the mock's newest `limit` (at most 1000), newest first; with `kind`,
        only that operation's (`identify-face`, `advanced-lip-sync`, `lip-sync`).

        Each as its operation's query answers its `data`.
        """
        caller = caller_fingerprint(token_digest(self.token))
        return [
            item["task"]
            for item in self.server.admin.tasks(limit)
            if item.get("caller") == caller and kind in (None, item.get("kind"))
        ]

    def advance_clock(self, ms: int) -> int:
        """Move the mock's clock forward, so that a session expires (24 hours) or a task finishes without waiting.

        The clock is the mock's, shared by every test of the session: a test that moves it cannot move it back.
        """
        return self.server.admin.advance_clock(ms)

    def report(self) -> Report:
        """The conformance report of every request the mock received during this test."""
        return build_report(self.server.admin.journal(), redact=[self.server.admin_token])

    def assert_conformant(self, fail_on_warnings: bool = False) -> Report:
        """Fail the test, with the text report, when a request of this test broke the contract.

        Errors always fail; warnings (`polling-too-fast`, `unknown-field`, ...) only with `fail_on_warnings`.
        Errors a scenario injected are not held against the client. Returns the report when it passes.
        """
        __tracebackhide__ = True
        report = self.report()
        if report.failed(fail_on_warnings):
            text = to_text(report, fail_on_warnings).replace(self.server.admin_token, "<redacted>")
            pytest.fail(text, pytrace=False)
        return report


@pytest.fixture(scope="session")
def kling_mock_server(pytestconfig: pytest.Config) -> Iterator[KlingMockServer]:
    """The real mock for the whole session, with its admin API, on a free 127.0.0.1 port."""
    args = serve_args(pytestconfig)
    admin_token = secrets.token_urlsafe(24)
    # Keys or an admin token in the environment must not reach the mock: the plugin sets both.
    # The admin token goes by the environment, not argv, where any process could read it.
    process = MockProcess("--admin", *args, env={"KLING_MOCK_KEYS": "", "KLING_MOCK_ADMIN_TOKEN": admin_token})
    failure = None
    try:
        process.start()
    except MockProcessError as exc:
        failure = f"kling-mock: `kling-mock serve {shlex.join(args)}` failed: {exc}"
    if failure is not None:  # outside the `except`, so that pytest shows the reason alone
        pytest.fail(failure, pytrace=False)
    server = KlingMockServer(process, admin_token, args)
    try:
        yield server
    finally:
        server.admin.close()
        process.stop()


@pytest.fixture
def kling_mock(kling_mock_server: KlingMockServer) -> KlingMock:
    """The mock for one test, reset first: an empty journal, the start-up scenarios only, a fresh token."""
    server = kling_mock_server
    failure = None
    try:
        server.admin.reset()
    except AdminClientError as exc:
        failure = f"kling-mock: cannot reset the mock at {server.base_url}: {exc.message}"
    if failure is not None:
        if not server.process.running:
            failure += "\nthe mock has stopped; its last words:\n" + server.stderr_tail()
        pytest.fail(failure, pytrace=False)
    return KlingMock(server)
