"""`kling-mock verify`: did the client under test keep the contract, judging by the mock's journal?

Run after a client's tests against a mock started with `--admin`: the mock has judged every request
(errors: what the real API would reject; warnings: what a careful client would not do), and this reads
that journal, builds the conformance report and turns it into an exit status for CI. Against
`kling-mock proxy --admin`, the journal holds the upstream's answers judged too: the report gives them
a part of their own, and the upstream breaking the contract fails the run as the client would.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from ..core.environment import ADMIN_TOKEN_ENV
from .admin_client import AdminClient, AdminClientError
from .conformance import JournalFormatError, build_report, summary_line, to_json, to_junit, to_text

FORMATS = ("text", "json", "junit")
EXIT_PASSED = 0
EXIT_BROKE_CONTRACT = 1
EXIT_UNREADABLE = 2
# What replaces the admin token if it ever survives into the output (a last check, see below).
_REDACTED = "[redacted]"


def run_verify(
    base_url: str,
    admin_token: str | None,
    output_format: str = "text",
    output: Path | None = None,
    fail_on_warnings: bool = False,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Judge the client by the journal of the mock at `base_url`; returns the exit status.

    0: the client passed (and, behind a proxy, the upstream); 1: either broke the contract (errors, or
    warnings with `fail_on_warnings`);
    2: the journal could not be read, or the report not written (the reason on stderr).
    The report goes to stdout, or to `output` with its summary line on stdout. With `admin_token`
    None, `$KLING_MOCK_ADMIN_TOKEN` is used if set, so the CLI passes its option through as is.
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    if output_format not in FORMATS:
        raise ValueError(f"output_format must be one of {', '.join(FORMATS)}, not {output_format!r}")
    token = admin_token if admin_token is not None else os.environ.get(ADMIN_TOKEN_ENV) or None
    try:
        with AdminClient(base_url, token) as admin:
            page = admin.journal()
        report = build_report(page, redact=[token] if token else [])
    except AdminClientError as exc:
        print(f"kling-mock verify: cannot read the journal: {exc.message}", file=err)
        return EXIT_UNREADABLE
    except JournalFormatError as exc:
        print(
            f"kling-mock verify: cannot read the journal: not a journal page as admin.yaml describes: {exc}", file=err
        )
        return EXIT_UNREADABLE

    if output_format == "json":
        rendered = to_json(report, fail_on_warnings)
    elif output_format == "junit":
        rendered = to_junit(report, fail_on_warnings)
    else:
        rendered = to_text(report, fail_on_warnings)
    # build_report already blanked the token in what the journal held; this catches the pathological
    # token that escaping for the format would spell out again.
    if token:
        rendered = rendered.replace(token, _REDACTED)

    if output is None:
        print(rendered, file=out)
    else:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(rendered + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"kling-mock verify: cannot write the report to {output}: {exc.strerror or exc}", file=err)
            return EXIT_UNREADABLE
        summary = summary_line(report, fail_on_warnings)
        print(summary.replace(token, _REDACTED) if token else summary, file=out)
        print(f"kling-mock verify: {output_format} report written to {output}", file=out)
    return EXIT_BROKE_CONTRACT if report.failed(fail_on_warnings) else EXIT_PASSED
