"""The `kling-mock` command line: `serve` runs the fake backend, `contract` tests any backend, `verify` a client."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .journal import DEFAULT_JOURNAL_SIZE
from .proxy_settings import DEFAULT_TIMEOUT_SECONDS
from .spec import DIALECTS, SpecProblem, dialect_spec
from .spec_bundle import SpecBundleError
from .store import DEFAULT_KEY_PREFIX, DEFAULT_MAX_TASKS
from .verify import ADMIN_TOKEN_ENV

KEYS_ENV = "KLING_MOCK_KEYS"
# One access/secret key pair from the environment, so that the secret need not show in a process list.
ACCESS_KEY_ENV = "KLING_MOCK_ACCESS_KEY"
SECRET_KEY_ENV = "KLING_MOCK_SECRET_KEY"
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


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kling-mock", description="Mock server and contract tests for Kling's identify-face API."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the mock Kling backend")
    _add_address_arguments(serve)
    serve.add_argument(
        "--keys",
        default=os.environ.get(KEYS_ENV, ""),
        help=f"comma-separated API keys to accept, as the real API does (default: ${KEYS_ENV}, else any token)",
    )
    serve.add_argument(
        "--access-key",
        action="append",
        default=[],
        metavar="AK",
        help=f"accept Kling's HS256 JWTs whose iss is this access key (repeatable; default: ${ACCESS_KEY_ENV})",
    )
    serve.add_argument(
        "--secret-key",
        action="append",
        default=[],
        metavar="SK",
        help=f"the secret key of each --access-key, in the same order (default: ${SECRET_KEY_ENV})",
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
        help=f"tasks kept in memory (~0.4 KB each) or Redis (~0.8 KB); past N the oldest finished go first "
        f"(default {DEFAULT_MAX_TASKS})",
    )
    serve.add_argument(
        "--state", type=Path, metavar="FILE", help="keep tasks in this SQLite file, so that they survive a restart"
    )
    serve.add_argument(
        "--store",
        metavar="URL",
        help="keep tasks, the journal, scenarios and rate limits in this Redis, redis://HOST:PORT/DB: every worker "
        "and mock given it is one backend",
    )
    serve.add_argument(
        "--store-prefix",
        default=DEFAULT_KEY_PREFIX,
        metavar="PREFIX",
        help=f"what this mock's keys in --store's Redis start with; mocks meant to be one share it "
        f"(default {DEFAULT_KEY_PREFIX})",
    )
    serve.add_argument(
        "--workers", type=_positive, default=1, metavar="N", help="serve with N processes; above 1 needs --store"
    )
    _add_spec_arguments(serve, "what the mock speaks", "its operations decide what the mock answers")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    _add_admin_arguments(
        serve, "serve the admin API and page under /__admin: journal, verdicts, scenarios (openapi/admin.yaml)"
    )
    serve.add_argument(
        "--scenarios", type=Path, metavar="FILE", help="play the scenarios of this YAML file (`scenarios:` a list)"
    )

    contract = commands.add_parser("contract", help="run the contract suite against a base URL")
    contract.add_argument("--base-url", help="the API to test; without it, a mock is started on a free loopback port")
    contract.add_argument(
        "--dialect",
        choices=[*sorted(DIALECTS), "auto"],
        help="the dialect to hold the target to; auto probes which it speaks (default: auto off loopback, "
        "else documented)",
    )
    contract.add_argument(
        "--max-billable",
        type=_non_negative,
        metavar="N",
        help="at most N task-creating calls, each billed by the real API (default: 20 off loopback, else no limit)",
    )
    contract.add_argument(
        "--rps", type=_positive_float, help="at most this many requests per second (default: 2 off loopback, else none)"
    )
    contract.add_argument(
        "--report-dir", type=Path, metavar="DIR", help="write junit.xml, drift-report.md and schemathesis's record here"
    )
    contract.add_argument("--dry-run", action="store_true", help="print what would be sent, and send nothing")
    contract.add_argument(
        "--max-examples", type=_positive, default=None, help="generated cases per operation (default: 20 off loopback)"
    )
    contract.add_argument("--spec", type=Path, help="the OpenAPI spec to test against (default: the dialect's)")
    contract.add_argument(
        "--any-token",
        action="store_true",
        help="the target accepts any non-empty token (a mock without --keys): skip the unknown-key tests",
    )

    verify = commands.add_parser(
        "verify",
        help="report what a client under test sent wrong to a running mock (behind a proxy, the upstream's faults too)",
    )
    verify.add_argument("--base-url", required=True, help="the mock or the proxy, started with --admin")
    verify.add_argument("--admin-token", help=f"the mock's admin token (default: ${ADMIN_TOKEN_ENV})")
    verify.add_argument("--format", choices=["text", "json", "junit"], default="text", help="the report's format")
    verify.add_argument("--output", type=Path, help="write the report to this file (a summary still goes to stdout)")
    verify.add_argument("--fail-on-warnings", action="store_true", help="exit 1 on warnings too, not only on errors")
    _add_proxy_parser(commands)
    return parser


def _add_address_arguments(parser: argparse.ArgumentParser) -> None:
    """Where a server (`serve`, `proxy`) listens: loopback by default."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on, 0 for any free one (default: 8000)")


def _add_admin_arguments(parser: argparse.ArgumentParser, admin_help: str) -> None:
    """A server's admin API and journal (`serve`, `proxy`), which `_admin_problem` checks."""
    parser.add_argument("--admin", action="store_true", help=admin_help)
    parser.add_argument(
        "--admin-token",
        default=os.environ.get(ADMIN_TOKEN_ENV) or None,
        help=f"require this token for the admin API (default: ${ADMIN_TOKEN_ENV}; none on loopback)",
    )
    parser.add_argument(
        "--journal-size",
        type=_non_negative,
        default=DEFAULT_JOURNAL_SIZE,
        metavar="N",
        help=f"recent requests kept with their verdicts, 0 for none (default {DEFAULT_JOURNAL_SIZE})",
    )


def _add_spec_arguments(parser: argparse.ArgumentParser, dialect_means: str, spec_means: str) -> None:
    parser.add_argument(
        "--dialect",
        choices=sorted(DIALECTS),
        help=f"{dialect_means} on Kling's path: documented, the provider page's tasks (default), or upstream, "
        "the synchronous call other providers document (faces at once, no task); with --spec, the file must be "
        "of that dialect",
    )
    parser.add_argument(
        "--spec",
        type=Path,
        metavar="FILE",
        help="this OpenAPI spec instead of the dialect's own (openapi/identify-face.yaml, or "
        f"identify-face-upstream.yaml with --dialect upstream); {spec_means}",
    )


def _add_proxy_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    proxy = commands.add_parser(
        "proxy", help="forward to a real Kling backend, judging each request and each answer against the spec"
    )
    proxy.add_argument(
        "--upstream", required=True, metavar="URL", help="the backend to forward to: http(s)://host[/prefix]"
    )
    _add_address_arguments(proxy)
    _add_spec_arguments(proxy, "what both sides are judged as speaking", "both sides are judged by it")
    _add_admin_arguments(
        proxy, "journal each exchange with both verdicts, served under /__admin (openapi/admin.yaml); read by verify"
    )
    proxy.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    proxy.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="S",
        help="seconds to wait for the upstream (to connect, send, each read); past it the client gets 504/5002 "
        f"(default {DEFAULT_TIMEOUT_SECONDS:g})",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "proxy":
        return _proxy(args)
    if args.command == "verify":
        from .verify import run_verify

        return run_verify(args.base_url, args.admin_token, args.format, args.output, args.fail_on_warnings)
    from contract_tests.runner import RunOptions, run_contract

    return run_contract(
        RunOptions(
            base_url=args.base_url,
            dialect=args.dialect,
            max_examples=args.max_examples,
            max_billable=args.max_billable,
            rps=args.rps,
            report_dir=args.report_dir,
            spec_path=args.spec,
            any_token=args.any_token,
            dry_run=args.dry_run,
        )
    )


def _serve(args: argparse.Namespace) -> int:
    from .app import Settings
    from .scenarios import ScenarioError, read_scenario_file
    from .server import PortUnavailable, WorkersFailed, serve
    from .store import StoreUnreachable
    from .store_sqlite import StateFileError

    problem = None
    if args.seed is not None and args.state is not None:
        # A seeded mock draws the same ids at each start: they would collide with the tasks kept.
        problem = "--seed and --state do not mix: a seeded mock repeats its task ids"
    else:
        problem = _admin_problem(args) or _store_problem(args)
    key_pairs, pairing_problem = _key_pairs(args.access_key, args.secret_key)
    problem = problem or pairing_problem
    spec_path, spec_problem = _spec_to_serve(args.dialect, args.spec)
    problem = problem or spec_problem
    if problem:
        print(f"kling-mock: {problem}", file=sys.stderr)
        return 2
    keys = tuple(key.strip() for key in args.keys.split(",") if key.strip())
    try:
        scenarios = read_scenario_file(args.scenarios) if args.scenarios else ()
        settings = Settings(
            spec_path=spec_path,
            keys=keys,
            key_pairs=key_pairs,
            tick_ms=args.tick_ms,
            seed=args.seed,
            callback_allow_hosts=tuple(args.callback_allow_host),
            max_tasks=args.max_tasks,
            state_path=args.state,
            redis_url=args.store,
            redis_prefix=args.store_prefix,
            journal_size=args.journal_size,
            admin=args.admin,
            admin_token=args.admin_token,
            scenarios=scenarios,
        )
        serve(settings, args.host, args.port, args.log_level, args.workers)
    except PortUnavailable as exc:
        hint = "Is another server running there? Choose another with --port (make run PORT=...)."
        print(f"kling-mock: {exc}. {hint}", file=sys.stderr)
        return 2
    except (StateFileError, StoreUnreachable, ScenarioError, SpecBundleError, WorkersFailed) as exc:
        print(f"kling-mock: {exc}", file=sys.stderr)
        return 2
    return 0


def _store_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with `--store` and `--workers` as given to `serve`, if anything."""
    if args.store is not None:
        from .redis_backend import url_problem  # loads the Redis client: only for a mock that uses it

        if problem := url_problem(args.store):
            return problem
        if args.state is not None:
            return "--store and --state do not mix: tasks live in one place"
        if args.seed is not None:
            # Every process given the seed would draw the same ids, and so would the next start.
            return "--seed and --store do not mix: seeded mocks would repeat each other's task ids"
    if args.workers > 1:
        if args.state is not None:
            return "--workers above 1 cannot share --state's SQLite file: use --store redis://HOST:PORT/DB"
        if args.store is None:
            return (
                "--workers above 1 needs --store redis://HOST:PORT/DB: with tasks in memory each worker would "
                "hold its own, and a task created through one would be unknown to the next"
            )
    return None


def _admin_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with `--admin` as given to `serve` or `proxy`, if anything."""
    if args.admin and args.host not in _LOOPBACK_HOSTS and not args.admin_token:
        return f"--admin on {args.host}, beyond loopback, needs --admin-token (or ${ADMIN_TOKEN_ENV})"
    if args.admin and not args.journal_size:
        return "--admin needs a journal: --journal-size must be 1 or more"
    return None


def _proxy(args: argparse.Namespace) -> int:
    from .proxy import serve_proxy, upstream_problem
    from .proxy_settings import ProxySettings
    from .server import PortUnavailable

    spec_path, spec_problem = _spec_to_serve(args.dialect, args.spec)
    problem = upstream_problem(args.upstream) or _admin_problem(args) or spec_problem
    if problem:
        print(f"kling-mock: {problem}", file=sys.stderr)
        return 2
    settings = ProxySettings(
        upstream=args.upstream,
        spec_path=spec_path,
        timeout=args.timeout,
        journal_size=args.journal_size,
        admin=args.admin,
        admin_token=args.admin_token,
    )
    try:
        serve_proxy(settings, args.host, args.port, args.log_level)
    except PortUnavailable as exc:
        print(f"kling-mock: {exc}. Is another server running there? Choose another with --port.", file=sys.stderr)
        return 2
    except (OSError, SpecBundleError) as exc:  # the spec cannot be read
        print(f"kling-mock: {exc}", file=sys.stderr)
        return 2
    return 0


def _spec_to_serve(dialect: str | None, spec: Path | None) -> tuple[Path, str | None]:
    """The spec to load, the dialect's own or the one given (which must speak it); or what is wrong."""
    try:
        return dialect_spec(dialect, spec), None
    except SpecProblem as exc:
        return Path(), str(exc)


def _key_pairs(access_keys: list[str], secret_keys: list[str]) -> tuple[tuple[tuple[str, str], ...], str | None]:
    """Access keys paired with their secrets, from the flags or else the environment; or what is wrong."""
    if not access_keys and not secret_keys:
        access_keys = [os.environ.get(ACCESS_KEY_ENV, "")]
        secret_keys = [os.environ.get(SECRET_KEY_ENV, "")]
        if not any(access_keys + secret_keys):
            return (), None
    if len(access_keys) != len(secret_keys) or not all(access_keys + secret_keys):
        # Names only: a message about keys must not print them.
        return (), "each --access-key needs its --secret-key, in the same order, neither empty"
    return tuple(zip(access_keys, secret_keys, strict=True)), None


if __name__ == "__main__":
    sys.exit(main())
