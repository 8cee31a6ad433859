"""The kit tests itself scaled out: two mocks on one Redis (one with two workers), as real processes on 127.0.0.1.

Several callers create 3,000 tasks at once through both (64 in flight), then each caller's list is read back
page by page through each mock: newest first (`created_at` never increasing), nothing lost or repeated. Before
one clock (Redis's, stamped in the script that indexes the task), each worker stamped its own time and lists
followed arrival order: a few inversions per 3,000 tasks. The contract suite then passes against either mock.
The longer run (10 x 5,000) is `python -m bench.scale_out`, recorded in docs/scaling.md.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.scale_out import check_listing, run_once, two_mocks
from mock_server.client.process import MockProcess
from tests.contract_tests.harness import HANG_GUARD_SECONDS, KEY, SECOND_KEY, command_env
from tests.support.redis_server import RedisServer

CALLERS = tuple(f"scale-out-caller-{n}" for n in range(4))
TASKS, CONCURRENCY = 3000, 64
# Short: the suite's own tests are elsewhere; here it only has to pass against a scaled-out mock.
CONTRACT_EXAMPLES = 5


@pytest.fixture(scope="module")
def mocks(redis_server: RedisServer) -> Iterator[tuple[MockProcess, MockProcess]]:
    """The contract suite's two keys, and the scale-out callers' own tokens (so their lists hold only theirs)."""
    keys = ",".join((KEY, SECOND_KEY, *CALLERS))
    with two_mocks(redis_server.url, "--keys", keys) as both:
        yield both


def test_the_check_finds_an_inversion_a_repeat_a_loss_and_a_stranger() -> None:
    """The load test below is only as good as its check: each fault it must catch, caught."""
    listed = [{"task_id": "c", "created_at": 3}, {"task_id": "b", "created_at": 2}, {"task_id": "a", "created_at": 2}]
    assert check_listing(listed, {"a", "b", "c"}, "here") == []
    inverted = [listed[1], listed[0], listed[2]]
    assert check_listing(inverted, {"a", "b", "c"}, "here") == ["here: c (created_at 3) listed below b (created_at 2)"]
    assert check_listing([*listed, listed[2]], {"a", "b", "c"}, "here") == ["here: 1 tasks listed twice"]
    assert check_listing(listed[:2], {"a", "b", "c"}, "here") == ["here: 1 tasks lost, e.g. ['a']"]
    assert check_listing(listed, {"a", "b"}, "here") == ["here: 1 tasks not the caller's, e.g. ['c']"]


def test_concurrent_creates_through_two_mocks_are_listed_newest_first_and_whole_by_each(
    mocks: tuple[MockProcess, MockProcess],
) -> None:
    result = run_once(mocks, TASKS, CONCURRENCY, CALLERS)
    assert result.created == TASKS
    assert result.problems == []
    for mock in mocks:
        assert not any("Traceback" in line for line in mock.stderr_lines), "".join(mock.stderr_lines[-40:])


@pytest.mark.parametrize("which", [0, 1], ids=["two-workers", "one-worker"])
def test_the_contract_suite_passes_against_each_mock(
    mocks: tuple[MockProcess, MockProcess], which: int, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "mock_server", "contract", "--base-url", mocks[which].base_url]
    result = subprocess.run(
        [*command, "--max-examples", str(CONTRACT_EXAMPLES)],
        cwd=tmp_path,
        env=command_env(),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout, result.stdout[-2000:]
