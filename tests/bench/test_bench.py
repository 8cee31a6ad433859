"""The benchmark harness's pure parts: wrk's output read, the Lua script, ratios, targets and the table.

No load and no timing here: `make bench` measures; these check that what it reports is computed right.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from bench import bare_app, memory, noise, report, run, servers, workload, wrk
from bench.noise import Contention, CpuSample, contention
from bench.report import Goal, MemoryResult, Round, Summary
from mock_server.client.process import MockProcess
from tests.support import ROOT

SPEC = ROOT / "openapi" / "identify-face.yaml"


def wrk_line(requests: int = 100_000, duration_us: int = 10_000_000, **errors: int) -> str:
    numbers = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0, **errors}
    raw = {
        "duration_us": duration_us,
        "requests": requests,
        "bytes": requests * 300,
        **numbers,
        "p50_us": 1200.5,
        "p99_us": 2500.0,
        "mean_us": 1300.0,
        "max_us": 9000.0,
    }
    return "Running 10s test @ http://127.0.0.1:1/x\n" + "BENCH_JSON " + json.dumps(raw) + "\n"


def test_wrk_output_is_read_from_the_done_line() -> None:
    parsed = wrk.parse_output(wrk_line())
    assert parsed.requests_per_s == pytest.approx(10_000)
    assert parsed.p50_ms == pytest.approx(1.2005)
    assert (parsed.p99_ms, parsed.max_ms) == (2.5, 9.0)
    assert parsed.valid


def test_a_run_with_any_error_is_invalid() -> None:
    assert not wrk.parse_output(wrk_line(status=3)).valid
    assert not wrk.parse_output(wrk_line(timeout=1)).valid
    assert not wrk.parse_output(wrk_line(requests=0)).valid


def test_wrk_output_without_the_done_line_is_an_error() -> None:
    with pytest.raises(wrk.WrkError):
        wrk.parse_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_the_lua_script_carries_the_request() -> None:
    post = wrk.lua_script("POST", b'{"a":"q\\"uote"}', "tok")
    assert 'wrk.method = "POST"' in post
    assert 'wrk.body = "{\\"a\\":\\"q\\\\\\"uote\\"}"' in post
    assert 'wrk.headers["Authorization"] = "Bearer tok"' in post
    assert "done = function" in post
    get = wrk.lua_script("GET", None, "tok")
    assert "wrk.body" not in get and "Content-Type" not in get


def test_the_documented_request_and_its_query() -> None:
    create = workload.documented_request(SPEC)
    assert (create.method, create.path) == ("POST", "/v1/videos/identify-face")
    assert json.loads(create.body or b"")["input"]["video_id"] == "de1b86d9-8e40-4f1c-a6a5-6459f8eb42f2"
    query = workload.query_of(create, "abc_-1")
    assert (query.method, query.path, query.body) == ("GET", "/v1/videos/identify-face/abc_-1", None)


def test_the_documented_create_goes_where_each_target_serves_it() -> None:
    """Prism serves the spec's paths; the mock answers Kling's own path at once, so the seed's create goes under
    `/kling`, where the seed page documents it (and the ceiling listens)."""
    documented = workload.documented_request(SPEC)
    targets = {target.name: target for target in run.plan(Path("/dev/null"), "/x/prism")}
    prism, bare, mock = targets["prism"], targets["bare"], targets["mock create"]
    assert run.create_for(prism, documented).path == "/v1/videos/identify-face"
    assert run.create_for(mock, documented).path == run.create_for(bare, documented).path == bare_app.PATH


def test_the_lip_sync_create_voices_the_first_face_where_it_appears() -> None:
    identified = {
        "code": 0,
        "data": {"session_id": "s1", "face_data": [{"face_id": "7", "start_time": 1200, "end_time": 4200}]},
    }
    request = workload.lip_sync_request(identified)
    body = json.loads(request.body or b"")
    assert (request.method, request.path, body["session_id"]) == ("POST", "/v1/videos/advanced-lip-sync", "s1")
    (choice,) = body["face_choose"]
    assert (choice["face_id"], choice["sound_insert_time"], choice["sound_end_time"]) == ("7", 1200, 3000)


@pytest.mark.parametrize("name", ["create", "query", *run.FLOW_WORKLOADS])
def test_each_workload_is_answered_well_by_the_mock(name: str) -> None:
    """What wrk repeats is checked against a real mock before and after each run: here, once, as the bench does."""
    documented = workload.documented_request(SPEC)
    with MockProcess("--tick-ms", "100") as mock:
        request = workload.prepare(
            name, mock.base_url, name, run.create_for(run.plan(Path("/dev/null"), None)[1], documented)
        )
        workload.check_answer(name, mock.base_url, request, name)
        workload.check_answer(name, mock.base_url, request, name)


def test_a_workload_the_bench_does_not_know_is_an_error() -> None:
    with pytest.raises(workload.WorkloadError, match="no workload"):
        workload.prepare("x", "http://127.0.0.1:9", "upload", workload.identify_request())  # asks nothing of it


def test_a_good_answer_is_200_with_a_task() -> None:
    good = {"code": 0, "data": {"task_id": "t"}}
    assert workload.is_good(200, good, kling_envelope=True)
    assert not workload.is_good(200, {"code": 1000, "data": {}}, kling_envelope=True)
    assert not workload.is_good(400, good, kling_envelope=True)
    assert workload.is_good(200, None, kling_envelope=False)


def test_contention_counts_what_is_not_the_server_or_us() -> None:
    before = CpuSample(busy=(0.0, 0.0), steal=(0.0, 0.0), server=0.0, ours=0.0)
    quiet = contention(before, CpuSample(busy=(10.0, 9.0), steal=(0.0, 0.0), server=10.0, ours=9.0), 10.0)
    assert quiet == Contention(server_busy=1.0, other_load=0.0) and not quiet.noisy
    shared = contention(before, CpuSample(busy=(10.0, 10.0), steal=(1.0, 0.0), server=8.0, ours=9.0), 10.0)
    assert shared.other_load == pytest.approx(0.3) and shared.noisy


def one_round(rps: float, p99_ms: float = 2.0, startup_s: float = 0.2, errors: int = 0, noisy: bool = False) -> Round:
    run_ = wrk.WrkRun(rps, 1.0, p99_ms, 1.0, 5.0, int(rps * 10), 10.0, {"status": errors})
    return Round(run_, Contention(1.0, 0.5 if noisy else 0.0), startup_s, 100 * 2**20)


def summaries(create_rps: float = 15_000, with_peer: bool = True) -> list[Summary]:
    found = [
        Summary("bare", "ceiling", "ceiling", "create", [one_round(r) for r in (20_000, 19_000, 21_000)]),
        Summary("mock create", "m", "mock", "create", [one_round(create_rps, p99_ms=4.0)] * 3),
        Summary("mock query", "q", "mock", "query", [one_round(10_000, p99_ms=6.0, noisy=True)] * 3),
    ]
    if with_peer:
        found += [
            Summary("prism", "p", "peer", "create", [one_round(1_000, startup_s=1.0)]),
            Summary("prism quiet", "p", "peer", "create", [one_round(2_000, startup_s=1.0)]),
        ]
    return found


def test_ratios_are_taken_against_the_ceilings_median() -> None:
    shown = summaries()
    assert report.ratio(shown[1], shown[0], "requests_per_s") == pytest.approx(0.75)
    assert report.ratio(shown[1], shown[0], "p99_ms") == pytest.approx(2.0)
    assert report.round_spread(shown[0]) == pytest.approx(21_000 / 19_000 - 1)


def test_targets_met_and_not() -> None:
    memory_results = [MemoryResult(100_000, 80_000_000, None, 1.0), MemoryResult(1_000_000, 1_200_000_000, 1, 9.0)]
    found = {goal.text: goal for goal in report.goals(summaries(), memory_results, None)}
    assert found["create requests/s >= 0.5 x ceiling"].met is True
    assert found["query requests/s >= 0.6 x ceiling"] == Goal(
        "query requests/s >= 0.6 x ceiling", "0.50 x", False, unreliable=True
    )
    assert found["create >= 3 x Prism's best (prism quiet)"].measured == "7.5 x"
    assert found["create p99 < 5 ms"].met is True and found["query p99 < 5 ms"].met is False
    assert found["mock startup < 0.5 s"].met is True
    assert found["memory per task < 1,024 B at 100,000 tasks (RSS)"].met is True
    assert found["memory per task < 1,024 B at 1,000,000 tasks (RSS)"].met is False


def test_without_prism_its_target_is_not_applicable() -> None:
    found = report.goals(summaries(with_peer=False), [], "Prism not measured: npm is not available")
    peer = next(goal for goal in found if "Prism" in goal.text)
    assert peer.met is None and peer.verdict == "n/a" and "npm" in peer.measured


def test_the_table_shows_each_figure_with_its_ratio() -> None:
    text = report.markdown(summaries(), [MemoryResult(100_000, 80_000_000, 90_000_000, 1.0)], ["Machine: x."])
    assert "| mock create | 15,000 (0.75x) | 1.00 (1.00x) | 4.00 (2.00x) | 100 (1.00x) | 0.200 (1.00x) |" in text
    assert "10,000* / 10,000* / 10,000*" in text
    assert "## Targets: FAIL" in text and "**not met** (noisy)" in text
    assert "| 100,000 | 76 | 800 | 900 | 1.0 |" in text


def test_a_run_with_errors_makes_the_report_invalid() -> None:
    shown = summaries()
    shown[1].rounds[0] = one_round(15_000, errors=2)
    assert report.verdict(report.goals(shown, [], None), shown) == "INVALID"
    assert "| mock create | INVALID (2 errors)" in report.markdown(shown, [], [])


def test_command_line_defaults_and_a_short_run() -> None:
    args = run.parse_args([])
    assert (args.duration, args.warmup, args.rounds, args.memory_sizes) == (10, 3, 3, [100_000, 1_000_000])
    short = run.parse_args(["--duration", "2", "--memory-sizes", "1_000"])
    assert (short.warmup, short.memory_sizes) == (2, [1_000])
    assert run.parse_args(["--memory-sizes", ""]).memory_sizes == []


def test_the_plan_puts_the_ceiling_first_and_prism_last() -> None:
    names = [target.name for target in run.plan(Path("/dev/null"), "/x/prism")]
    flow = [f"mock {name}" for name in run.FLOW_WORKLOADS]
    assert names == ["bare", "mock create", "mock query", *flow, "prism", "prism quiet"]
    assert flow == ["mock identify", "mock lip-sync create", "mock lip-sync query", "mock download"]
    assert [target.name for target in run.plan(Path("/dev/null"), None)] == names[:-2]


def test_the_redis_rows_run_the_same_mock_on_a_redis_of_their_own() -> None:
    targets = run.plan(Path("/dev/null"), "/x/prism", redis=True)
    assert [target.name for target in targets] == [
        "bare",
        "mock create",
        "mock query",
        *(f"mock {name}" for name in run.FLOW_WORKLOADS),
        "mock create (redis)",
        "mock query (redis)",
        "mock create (redis, 2 workers)",
        "mock query (redis, 2 workers)",
        "prism",
        "prism quiet",
    ]
    flow = len(run.FLOW_WORKLOADS)
    memory_create, redis_create, two_workers = targets[1], targets[3 + flow], targets[5 + flow]
    assert redis_create.role == "redis" and redis_create.redis and redis_create.uvloop
    # The same command as the memory row's, plus the store (filled in per round) and, for two, the workers.
    assert redis_create.argv == (*memory_create.argv, "--store", servers.STORE_FIELD)
    assert two_workers.argv == (*redis_create.argv, "--workers", "2") and two_workers.workers == 2
    assert [target.workload for target in targets[3 + flow : 7 + flow]] == ["create", "query"] * 2


def with_redis_rows(create_rps: float = 6_000, workers_rps: float = 5_000) -> list[Summary]:
    found = summaries()
    found[3:3] = [
        Summary("mock create (redis)", "r", "redis", "create", [one_round(create_rps, p99_ms=9.0)] * 3),
        Summary("mock query (redis)", "r", "redis", "query", [one_round(8_000)] * 3),
        Summary("mock create (redis, 2 workers)", "r", "redis", "create", [one_round(workers_rps)] * 3, workers=2),
    ]
    return found


def test_the_redis_rows_have_no_target_and_a_section_of_their_own() -> None:
    shown = with_redis_rows()
    assert report.goals(shown, [], None) == report.goals(summaries(), [], None), "their p99 of 9 ms fails nothing"
    text = report.markdown(shown, [], ["Machine: x."], cores=2)
    assert "## Targets: FAIL" in text  # as without them: the query's own rows fail (made-up numbers)
    assert "## Redis mode: what scaling out costs" in text and "Cores on this machine: 2." in text
    # Against the ceiling's 20,000 and the memory store's rows (create 15,000, query 10,000); the CPU per request
    # of a server busy all the time is its inverse.
    assert "| mock create | 1 | 15,000 | 0.75 x | 1.00 x | 67 | 1.00 x | 1.00 | 4.00 |" in text
    assert "| mock create (redis) | 1 | 6,000 | 0.30 x | 0.40 x | 167 | 2.50 x | 1.00 | 9.00 |" in text
    assert "| mock query (redis) | 1 | 8,000 | 0.40 x | 0.80 x | 125 | 1.25 x |" in text
    assert "| mock create (redis, 2 workers) | 2 | 5,000 | 0.25 x | 0.33 x | 200 | 3.00 x |" in text
    assert "cannot show what workers buy" in text
    assert "Redis mode" not in report.markdown(summaries(), [], [])


def test_a_redis_row_with_errors_makes_the_report_invalid() -> None:
    shown = with_redis_rows()
    shown[3].rounds = [one_round(6_000, errors=1)]
    assert report.verdict(report.goals(shown, [], None), shown) == "INVALID"
    assert "| mock create (redis) | 1 | INVALID |" in report.markdown(shown, [], [])


def test_cpu_per_request_is_the_target_s_cpu_time_over_its_requests() -> None:
    """Half busy over 10 s for 20,000 requests: 250 µs each."""
    one = Round(wrk.WrkRun(2_000, 1.0, 2.0, 1.0, 5.0, 20_000, 10.0, {}), Contention(0.5, 0.4), 0.2, 0)
    assert one.cpu_us_per_request == pytest.approx(250.0)
    assert one.figure("cpu_us_per_request") == pytest.approx(250.0)


def test_noise_counts_every_process_of_the_target() -> None:
    """Workers and a redis-server are the target's: their CPU is the server's, not another's load."""
    gone = 2**22 + 12_345  # no such process: counts nothing
    alone, with_gone = noise.sample([os.getpid()], 0, 1), noise.sample([os.getpid(), gone], 0, 1)
    assert with_gone.server == pytest.approx(alone.server, abs=0.05)
    twice = noise.sample([os.getpid(), os.getpid()], 0, 1)
    assert twice.server == pytest.approx(2 * alone.server, abs=0.05)


def test_the_memory_benchmark_stores_every_task() -> None:
    # A handful of tasks: this checks that the store is filled through the service, not what it costs.
    measured = asyncio.run(memory._fill(20, traced=True))
    assert measured["tasks"] == 20 and measured["traced_bytes"] is not None
