"""`kling-mock contract`: run the suite with pytest against a base URL, or against a fresh mock."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import pytest
import requests

from mock_server.process import MockProcess

from .target import SECOND_TOKEN_ENV, TOKEN_ENV

SUITE_DIR = Path(__file__).resolve().parent


def run_contract(
    *,
    base_url: str | None,
    max_examples: int | None = None,
    junit: Path | None = None,
    spec_path: Path | None = None,
    any_token: bool = False,
    extra_pytest_args: tuple[str, ...] = (),
) -> int:
    """Run the suite: exit status 0 when the target keeps the contract, 1 when it breaks it, 2 when
    the run could not start (no token, target unreachable)."""
    if base_url is not None:
        if not os.environ.get(TOKEN_ENV):
            print(
                f"kling-mock contract: set ${TOKEN_ENV} to the API key to send to {base_url} "
                "(any value for a mock started without --keys, then add --any-token)",
                file=sys.stderr,
            )
            return 2
        unreachable = _unreachable(base_url)
        if unreachable:
            print(f"kling-mock contract: cannot reach {base_url}: {unreachable}", file=sys.stderr)
            return 2
        return _pytest(base_url, max_examples, junit, spec_path, any_token, extra_pytest_args)
    # No target given: a mock that checks keys as the real API does, with two callers' keys made for this run.
    keys = {TOKEN_ENV: secrets.token_urlsafe(24), SECOND_TOKEN_ENV: secrets.token_urlsafe(24)}
    serve_args = ("--log-level", "warning") + (("--spec", str(spec_path)) if spec_path else ())
    with MockProcess(*serve_args, env={"KLING_MOCK_KEYS": ",".join(keys.values())}) as mock:
        print(f"kling-mock contract: testing a fresh mock at {mock.base_url}", file=sys.stderr)
        previous = {name: os.environ.get(name) for name in keys}
        os.environ.update(keys)
        try:
            return _pytest(mock.base_url, max_examples, junit, spec_path, False, extra_pytest_args)
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _unreachable(base_url: str) -> str | None:
    """Why the target cannot be reached at all, or None: a dead target is not a broken contract."""
    try:
        requests.get(base_url, timeout=10)
    except requests.RequestException as exc:
        return type(exc).__name__
    return None


def _pytest(
    base_url: str,
    max_examples: int | None,
    junit: Path | None,
    spec_path: Path | None,
    any_token: bool,
    extra: tuple[str, ...],
) -> int:
    args = [str(SUITE_DIR), "--contract-base-url", base_url, "-p", "no:cacheprovider", *extra]
    # The kit's pytest plugin marks mock_server for assertion rewriting, but this process imported it
    # already (the CLI lives there); nothing of it is asserted in, so pytest's warning is noise.
    args += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    if max_examples is not None:
        args += ["--contract-max-examples", str(max_examples)]
    if spec_path is not None:
        args += ["--contract-spec", str(spec_path)]
    if junit is not None:
        args += ["--junitxml", str(junit)]
    if any_token:
        args.append("--contract-any-token")
    return int(pytest.main(args))
