"""The `kling-mock` command line: `serve` runs the fake backend, `contract` tests any backend, `verify` a client."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .core.environment import ACCESS_KEY_ENV, ADMIN_TOKEN_ENV, KEYS_ENV, SECRET_KEY_ENV
from .core.errors import StoreUnreachable
from .http.serving import PortUnavailable
from .journal import DEFAULT_JOURNAL_SIZE
from .proxy.settings import DEFAULT_TIMEOUT_SECONDS, ProxySettings
from .settings import DEFAULT_HOST, DEFAULT_PORT, Settings
from .spec import DIALECTS, SpecBundleError
from .storage import DEFAULT_KEY_PREFIX, DEFAULT_MAX_TASKS, MEMORY, StateFileError, sqlite_url


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
        help="where state lives: memory (the default), sqlite:///FILE (as --state FILE), or redis://HOST:PORT/DB, "
        "which keeps tasks, the journal, scenarios and rate limits for every worker and mock given it",
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
    _add_spec_arguments(serve, "what identify-face speaks", "its operations decide what the mock answers")
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="the address clients reach the mock by, when it is not the one they send (behind a proxy, in a "
        "container): the URLs of results (face images, videos) start with it",
    )
    serve.add_argument(
        "--relax-decisions",
        action="store_true",
        help="accept whatever the contract allows: the kit's own decisions where the contract is silent (http(s)-only "
        "URLs, non-empty optional strings, body limits, ...) are not enforced",
    )
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
        help="the dialect to hold the target to (by-body: as documented); auto probes which it speaks (default: auto)",
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
        "--strictness",
        choices=["full", "contract", "auto"],
        default="auto",
        help="full: the contract and every decision of the kit's spec; contract: the contract alone, what the target "
        "does with each decision reported as an observation; auto (default): full for the kit's own mock, contract "
        "for any other target",
    )
    contract.add_argument(
        "--seed", type=int, help="Hypothesis's seed for the generated cases, to repeat a run's (default: a new one)"
    )
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
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST})")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to listen on, 0 for any free one (default: {DEFAULT_PORT})",
    )


def _add_admin_arguments(parser: argparse.ArgumentParser, admin_help: str) -> None:
    """A server's admin API and journal (`serve`, `proxy`), which their settings check."""
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
        help=f"{dialect_means} on every path: documented, the provider page's tasks; upstream, Kling's synchronous "
        "call (faces at once, no task); by-body, each request in the dialect its body speaks (default: upstream on "
        "Kling's own paths, /v1/..., by-body on the aggregators', /kling/v1/...); with --spec, the file must be of "
        "that dialect",
    )
    parser.add_argument(
        "--spec",
        type=Path,
        metavar="FILE",
        help=f"this OpenAPI spec on every path instead of the dialects' own (openapi/identify-face*.yaml): "
        f"{spec_means}",
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
        from .client.verify import run_verify

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
            strictness=args.strictness,
            seed=args.seed,
        )
    )


def _serve(args: argparse.Namespace) -> int:
    from .scenarios import ScenarioError, read_scenario_file
    from .server import WorkersFailed, serve

    problem = None
    if args.store is not None and args.state is not None:
        problem = "--store and --state do not mix: tasks live in one place"
    key_pairs, pairing_problem = _key_pairs(args.access_key, args.secret_key)
    try:
        scenarios = read_scenario_file(args.scenarios) if args.scenarios else ()
    except ScenarioError as exc:
        scenarios, problem = (), problem or str(exc)
    settings = Settings(
        dialect=args.dialect,
        spec_path=args.spec,
        public_url=args.public_url,
        relax_decisions=args.relax_decisions,
        host=args.host,
        port=args.port,
        keys=tuple(key.strip() for key in args.keys.split(",") if key.strip()),
        key_pairs=key_pairs,
        tick_ms=args.tick_ms,
        seed=args.seed,
        callback_allow_hosts=tuple(args.callback_allow_host),
        max_tasks=args.max_tasks,
        store=args.store or (sqlite_url(args.state) if args.state is not None else MEMORY),
        store_prefix=args.store_prefix,
        workers=args.workers,
        journal_size=args.journal_size,
        admin=args.admin,
        admin_token=args.admin_token,
        scenarios=scenarios,
        log_level=args.log_level,
    )
    problem = problem or pairing_problem or settings.problem()
    if problem:
        print(f"kling-mock: {problem}", file=sys.stderr)
        return 2
    try:
        serve(settings)
    except PortUnavailable as exc:
        hint = "Is another server running there? Choose another with --port (make run PORT=...)."
        print(f"kling-mock: {exc}. {hint}", file=sys.stderr)
        return 2
    except (StateFileError, StoreUnreachable, ScenarioError, SpecBundleError, WorkersFailed) as exc:
        print(f"kling-mock: {exc}", file=sys.stderr)
        return 2
    return 0


def _proxy(args: argparse.Namespace) -> int:
    from .proxy.app import serve_proxy

    settings = ProxySettings(
        upstream=args.upstream,
        dialect=args.dialect,
        spec_path=args.spec,
        host=args.host,
        port=args.port,
        timeout=args.timeout,
        journal_size=args.journal_size,
        admin=args.admin,
        admin_token=args.admin_token,
        log_level=args.log_level,
    )
    problem = settings.problem()
    if problem:
        print(f"kling-mock: {problem}", file=sys.stderr)
        return 2
    try:
        serve_proxy(settings)
    except PortUnavailable as exc:
        print(f"kling-mock: {exc}. Is another server running there? Choose another with --port.", file=sys.stderr)
        return 2
    except (OSError, SpecBundleError) as exc:  # the spec cannot be read
        print(f"kling-mock: {exc}", file=sys.stderr)
        return 2
    return 0


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


def reference() -> str:
    """The command line as docs/cli.md shows it: each command, each option with its help (a test keeps them equal).

    `python -c "from mock_server.cli import reference; print(reference(), end='')" > docs/cli.md` writes it.
    """
    parser = _build_parser()
    lines = [
        "# Command line",
        "",
        "<!-- Made by mock_server.cli.reference() from the parser itself; a test keeps this page equal to it. -->",
        "",
        f"`kling-mock`: {parser.description or ''} `python -m mock_server` is the same command.",
        "Flags that take secrets read them from the environment too, so that they stay out of the",
        "process list. Every command exits 0 when it did what it was asked, 2 when it could not start (saying why).",
    ]
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    helps = {choice.dest: choice.help for choice in commands._choices_actions}
    for name, command in commands.choices.items():
        said = helps.get(name) or ""
        lines += ["", f"## `kling-mock {name}`", "", f"{said[:1].upper()}{said[1:]}.", ""]
        lines += ["| option | what |", "| --- | --- |"]
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            spelled = ", ".join(
                f"`{flag}{'' if action.nargs == 0 else ' ' + (action.metavar or action.dest.upper())}`"
                for flag in action.option_strings
            )
            said = (action.help or "").replace("|", "\\|")
            if action.choices:
                said = (said + "; " if said else "") + "one of " + ", ".join(f"`{choice}`" for choice in action.choices)
            if action.required:
                said += " (required)"
            lines.append(f"| {spelled} | {said} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
