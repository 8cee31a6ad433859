"""The `kling-mock` command line: `serve` runs the fake backend, `contract` tests any backend, `verify` a client."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .journal import DEFAULT_JOURNAL_SIZE
from .spec import DEFAULT_SPEC_PATH
from .store import DEFAULT_MAX_TASKS
from .verify import ADMIN_TOKEN_ENV

KEYS_ENV = "KLING_MOCK_KEYS"
_LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kling-mock", description="Mock server and contract tests for Kling's identify-face API."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the mock Kling backend")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on, 0 for any free one (default: 8000)")
    serve.add_argument(
        "--keys",
        default=os.environ.get(KEYS_ENV, ""),
        help=f"comma-separated API keys to accept, as the real API does (default: ${KEYS_ENV}, else any token)",
    )
    serve.add_argument(
        "--tick-ms",
        type=_non_negative,
        default=1000,
        help="milliseconds per task step, submitted → processing → done; 0 advances a task at each poll (default 1000)",
    )
    serve.add_argument(
        "--seed", type=int, help="make ids and results repeatable: same seed, same requests, same answers"
    )
    serve.add_argument(
        "--callback-allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="a host callbacks may go to besides loopback ones (repeatable)",
    )
    serve.add_argument(
        "--max-tasks",
        type=_positive,
        default=DEFAULT_MAX_TASKS,
        metavar="N",
        help=f"tasks kept in memory, ~1.1 KB each; past N the oldest finished go first (default {DEFAULT_MAX_TASKS})",
    )
    serve.add_argument(
        "--state", type=Path, metavar="FILE", help="keep tasks in this SQLite file, so that they survive a restart"
    )
    serve.add_argument("--spec", type=Path, default=DEFAULT_SPEC_PATH, help="the OpenAPI spec to serve")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--admin",
        action="store_true",
        help="serve the admin API and page under /__admin: journal, verdicts, scenarios (openapi/admin.yaml)",
    )
    serve.add_argument(
        "--admin-token",
        default=os.environ.get(ADMIN_TOKEN_ENV) or None,
        help=f"require this token for the admin API (default: ${ADMIN_TOKEN_ENV}; none on loopback)",
    )
    serve.add_argument(
        "--journal-size",
        type=_non_negative,
        default=DEFAULT_JOURNAL_SIZE,
        metavar="N",
        help=f"recent requests kept with their verdicts, 0 for none (default {DEFAULT_JOURNAL_SIZE})",
    )
    serve.add_argument(
        "--scenarios", type=Path, metavar="FILE", help="play the scenarios of this YAML file (`scenarios:` a list)"
    )

    contract = commands.add_parser("contract", help="run the contract suite against a base URL")
    contract.add_argument("--base-url", help="the API to test; without it, a mock is started on a free loopback port")
    contract.add_argument("--max-examples", type=int, default=None, help="hypothesis examples per test")
    contract.add_argument("--junit", type=Path, help="write a JUnit XML report to this file")
    contract.add_argument("--spec", type=Path, default=DEFAULT_SPEC_PATH, help="the OpenAPI spec to test against")
    contract.add_argument(
        "--any-token",
        action="store_true",
        help="the target accepts any non-empty token (a mock without --keys): skip the unknown-key tests",
    )

    verify = commands.add_parser("verify", help="report what a client under test sent wrong to a running mock")
    verify.add_argument("--base-url", required=True, help="the mock, started with --admin")
    verify.add_argument("--admin-token", help=f"the mock's admin token (default: ${ADMIN_TOKEN_ENV})")
    verify.add_argument("--format", choices=["text", "json", "junit"], default="text", help="the report's format")
    verify.add_argument("--output", type=Path, help="write the report to this file (a summary still goes to stdout)")
    verify.add_argument("--fail-on-warnings", action="store_true", help="exit 1 on warnings too, not only on errors")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "verify":
        from .verify import run_verify

        return run_verify(args.base_url, args.admin_token, args.format, args.output, args.fail_on_warnings)
    from contract_tests.runner import run_contract

    return run_contract(
        base_url=args.base_url,
        max_examples=args.max_examples,
        junit=args.junit,
        spec_path=args.spec,
        any_token=args.any_token,
    )


def _serve(args: argparse.Namespace) -> int:
    from .app import Settings
    from .scenarios import ScenarioError, read_scenario_file
    from .server import PortUnavailable, serve
    from .store_sqlite import StateFileError

    problem = None
    if args.seed is not None and args.state is not None:
        # A seeded mock draws the same ids at each start: they would collide with the tasks kept.
        problem = "--seed and --state do not mix: a seeded mock repeats its task ids"
    elif args.admin and args.host not in _LOOPBACK_HOSTS and not args.admin_token:
        problem = f"--admin on {args.host}, beyond loopback, needs --admin-token (or ${ADMIN_TOKEN_ENV})"
    elif args.admin and not args.journal_size:
        problem = "--admin needs a journal: --journal-size must be 1 or more"
    if problem:
        print(f"kling-mock: {problem}", file=sys.stderr)
        return 2
    keys = tuple(key.strip() for key in args.keys.split(",") if key.strip())
    try:
        scenarios = read_scenario_file(args.scenarios) if args.scenarios else ()
        settings = Settings(
            spec_path=args.spec,
            keys=keys,
            tick_ms=args.tick_ms,
            seed=args.seed,
            callback_allow_hosts=tuple(args.callback_allow_host),
            max_tasks=args.max_tasks,
            state_path=args.state,
            journal_size=args.journal_size,
            admin=args.admin,
            admin_token=args.admin_token,
            scenarios=scenarios,
        )
        serve(settings, args.host, args.port, args.log_level)
    except PortUnavailable as exc:
        hint = "Is another server running there? Choose another with --port (make run PORT=...)."
        print(f"kling-mock: {exc}. {hint}", file=sys.stderr)
        return 2
    except (StateFileError, ScenarioError) as exc:
        print(f"kling-mock: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
