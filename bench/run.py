"""Benchmark the mock against a bare Starlette endpoint (the ceiling) and Prism (the peer), with wrk.

Why ratios: absolute requests/s depend on the machine; the share of the ceiling that the mock keeps
does not, much. Measured, in one run and with the same load generator:

- `bare`: `bench/bare_app.py`, Starlette reading the body and answering constant JSON: the ceiling;
- `mock create`: `kling-mock serve --admin --journal-size 1000 --tick-ms 1000`, everything on
  (validation, store, journal, access log), POST of the spec's documented example;
- `mock query`: the same server, GET of a task created before the run;
- `mock identify`, `mock lip-sync create`, `mock lip-sync query`, `mock download`: the same server, the lip-sync
  flow on Kling's own paths (identify-face answered at once, advanced lip-sync created and queried, the result's
  MP4 downloaded);
- `mock create (redis)`, `mock query (redis)`: the same mock with `--store redis://...`, and again with
  `--workers 2`: what sharing state through Redis costs (when redis-server is installed; skipped with a note
  otherwise). Each round starts a redis-server of its own, on the server's CPU;
- `prism` and `prism quiet`: `prism mock openapi/identify-face.yaml`, default logging and `-v silent`,
  when npm is available (skipped with a note otherwise).

How: each server (with its workers and its redis-server) runs on 127.0.0.1 pinned to CPU 0, wrk (1 thread,
32 connections) pinned to CPU 1.
Rounds alternate between targets so that the drift of a shared machine hits all of them alike, and
the median of the rounds is reported. Every server is started fresh for its round, timed from spawn
to its first good answer, and always stopped; its peak RSS is read before it stops. A run with any
wrk error is invalid, never "fast"; a noisy run (see `noise.py`) is retried (`--retries`), the
quietest attempt kept, and any noisy run left is starred. Then `memory.py` stores 100,000 and
1,000,000 tasks. The report goes to bench/results/latest.md (and every number to latest.json).

Usage: python -m bench.run [--duration 10] [--warmup 3] [--rounds 3] [--memory-sizes 100000,1000000] ...
Exit status: 0 when every target is met, 1 when one is not, 2 when a measurement is invalid.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from bench import memory, noise, report, servers, workload, wrk
from bench.report import Round, Summary
from bench.servers import Target
from bench.workload import ROOT, SPEC

RESULTS = ROOT / "bench" / "results"
PRISM = ROOT / "node_modules" / ".bin" / "prism"
SERVER_CPU, LOAD_CPU = 0, 1
MOCK_FLAGS = ("--admin", "--journal-size", "1000", "--tick-ms", "1000")
# The lip-sync flow as a client of Kling's own paths runs it, each step a row of its own (same server, same flags).
FLOW_WORKLOADS = {
    "identify": f"POST {workload.IDENTIFY} (Kling's own path: faces answered at once, a session opened)",
    "lip-sync create": f"POST {workload.LIP_SYNC}, a face of a session opened before the run, audio by URL",
    "lip-sync query": f"GET {workload.LIP_SYNC}/{{task_id}} of a task created before the run",
    "download": "GET of a finished lip-sync task's MP4 (`task_result.videos[0].url`, served by the mock)",
}


class BenchError(RuntimeError):
    """The benchmark cannot measure."""


def find_prism() -> tuple[str | None, str]:
    """Prism's path, installing the project's npm packages when npm is there and Prism is not; else a note why not."""
    if PRISM.exists():
        return str(PRISM), ""
    npm = shutil.which("npm")
    if npm is None:
        return None, "Prism not measured: npm is not available"
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not PRISM.exists():
        return None, f"Prism not measured: `npm ci` did not install it ({done.stderr.strip()[-300:]})"
    return str(PRISM), ""


def plan(access_log: Path, prism: str | None, redis: bool = False) -> list[Target]:
    """The ceiling first: every ratio is taken against it. `redis`: with the Redis rows."""
    python = sys.executable
    console_script = Path(python).with_name("kling-mock")
    kling_mock = (str(console_script),) if console_script.exists() else (python, "-m", "mock_server")
    mock = (*kling_mock, "serve", "--host", servers.HOST, "--port", servers.PORT_FIELD, *MOCK_FLAGS)
    shown_mock = "`kling-mock serve " + " ".join(MOCK_FLAGS) + "`"
    targets = [
        Target(
            "bare",
            (python, str(ROOT / "bench" / "bare_app.py"), "--port", servers.PORT_FIELD),
            "the ceiling: `bench/bare_app.py`, Starlette reads the body, answers constant JSON",
            "ceiling",
            uvloop=True,
        ),
        Target(
            "mock create",
            mock,
            f"POST, {shown_mock}: validation, store, journal, access log to {access_log}",
            "mock",
            "create",
            uvloop=True,
            stdout=access_log,
        ),
        Target(
            "mock query",
            mock,
            "GET of a task created before the run, same server",
            "mock",
            "query",
            uvloop=True,
            stdout=access_log,
        ),
        *(
            Target(f"mock {name}", mock, note, "mock", name, uvloop=True, stdout=access_log)
            for name, note in FLOW_WORKLOADS.items()
        ),
    ]
    if redis:
        targets += redis_targets(mock, access_log)
    if prism is not None:
        base = (prism, "mock", str(SPEC.relative_to(ROOT)), "-h", servers.HOST, "-p", servers.PORT_FIELD)
        targets += [
            Target("prism", base, "the peer: `prism mock openapi/identify-face.yaml`, default logging", "peer"),
            Target("prism quiet", (*base, "-v", "silent"), "the peer, `-v silent`: logging off", "peer"),
        ]
    return targets


def redis_targets(mock: tuple[str, ...], access_log: Path) -> list[Target]:
    """The mock with its state in Redis, with one worker and with two: create and query each."""
    targets = []
    for workers in (1, 2):
        flags = ("--store", servers.STORE_FIELD, *(("--workers", str(workers)) if workers > 1 else ()))
        shown = " ".join(flags).replace(servers.STORE_FIELD, "redis://...")
        label = "redis" if workers == 1 else f"redis, {workers} workers"
        for workload_name in ("create", "query"):
            what = "POST" if workload_name == "create" else "GET of a task created before the run"
            targets.append(
                Target(
                    f"mock {workload_name} ({label})",
                    (*mock, *flags),
                    f"{what}, the same mock with `{shown}`: a redis-server of its own, on CPU {SERVER_CPU} too; "
                    "peak RSS counts it",
                    "redis",
                    workload_name,
                    uvloop=True,
                    stdout=access_log,
                    redis=True,
                    workers=workers,
                )
            )
    return targets


def create_for(target: Target, documented: workload.Request) -> workload.Request:
    """The documented create where the target serves it: Prism at the spec's path, the others under `/kling`,
    where the seed page documents it (the mock answers Kling's own path in the synchronous dialect)."""
    if target.role == "peer":
        return documented
    return workload.Request(documented.method, workload.DOCUMENTED_PREFIX + documented.path, documented.body)


def measure(
    target: Target,
    create: workload.Request,
    wrk_path: str,
    workdir: Path,
    args: argparse.Namespace,
    redis: str | None = None,
) -> Round:
    """One round of one target: a fresh server (and Redis), a good answer, a warm-up, the measured run, a good answer.

    `redis`: redis-server's path, for a target that keeps its state there.
    """
    if target.redis and redis is None:
        raise BenchError(f"{target.name} needs redis-server")
    with (
        servers.redis_serving(redis, workdir, SERVER_CPU)
        if redis and target.redis
        else contextlib.nullcontext() as store
    ):
        fields = {} if store is None else {servers.STORE_FIELD: store.url}
        beside = [] if store is None else [store.pid]  # the target's processes besides the server's own
        with servers.serving(target, create, ROOT, workdir, SERVER_CPU, fields=fields) as server:
            found = measure_served(target, server, create, wrk_path, workdir, args, beside)
    return found


def measure_served(
    target: Target,
    server: servers.Server,
    create: workload.Request,
    wrk_path: str,
    workdir: Path,
    args: argparse.Namespace,
    beside: list[int],
) -> Round:
    """The run on a server that answers: `beside` are the target's other processes (CPU and peak RSS count them)."""
    if target.uvloop:
        servers.check_runtime(server)
    request = workload.prepare(target.name, server.base_url, target.workload, create)
    workload.check_answer(target.name, server.base_url, request, target.workload)
    script = workdir / f"{target.workload}.lua"
    script.write_text(wrk.lua_script(request.method, request.body, workload.TOKEN), encoding="utf-8")
    url = server.base_url + request.path
    if args.warmup:
        wrk.run(wrk_path, url, script, args.warmup, args.connections, LOAD_CPU)
    pids = [*servers.process_tree(server.pid), *beside]
    before = noise.sample(pids, SERVER_CPU, LOAD_CPU)
    run = wrk.run(wrk_path, url, script, args.duration, args.connections, LOAD_CPU)
    contention = noise.contention(before, noise.sample(pids, SERVER_CPU, LOAD_CPU), run.duration_s)
    peak = servers.peak_rss_bytes(server.pid) + sum(1024 * servers.status_kb(pid, "VmHWM") for pid in beside)
    workload.check_answer(target.name, server.base_url, request, target.workload)
    return Round(run, contention, server.startup_s, peak)


def measure_quietest(
    target: Target,
    create: workload.Request,
    wrk_path: str,
    workdir: Path,
    args: argparse.Namespace,
    redis: str | None = None,
) -> Round:
    """A run that others disturbed is run again, a bounded number of times; a run with errors never is."""
    attempts = [measure(target, create, wrk_path, workdir, args, redis)]
    while attempts[-1].noisy and attempts[-1].valid and len(attempts) <= args.retries:
        print(f"{target.name}: noisy ({attempts[-1].contention.other_load:.0%} other load), again", file=sys.stderr)
        attempts.append(measure(target, create, wrk_path, workdir, args, redis))
    invalid = [attempt for attempt in attempts if not attempt.valid]
    return invalid[0] if invalid else min(attempts, key=lambda attempt: attempt.contention.other_load)


def version_of(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine(wrk_path: str, prism: str | None, redis: str | None = None) -> dict[str, str]:
    """What the numbers were measured on: they mean little without it."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    info = {
        "cpu": model.group(1).strip() if model else platform.processor() or "unknown",
        "cores": str(os.cpu_count()),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "uvicorn": version_of("uvicorn"),
        "starlette": version_of("starlette"),
        "wrk": wrk.version(wrk_path),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    if prism is not None:
        info["prism"] = subprocess.run([prism, "--version"], capture_output=True, text=True, check=False).stdout.strip()
        info["node"] = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    if redis is not None:
        info["redis"] = servers.redis_version(redis)
        info["redis-py"] = version_of("redis")
    return info


def setup_lines(info: dict[str, str], args: argparse.Namespace, create: workload.Request) -> list[str]:
    node = f", Prism {info['prism']} on Node {info['node']}" if "prism" in info else ""
    redis = f", Redis {info['redis']} (redis-py {info['redis-py']})" if "redis" in info else ""
    beside = (
        f" (its workers, and for the Redis rows a redis-server of its own started for each round, on CPU "
        f"{SERVER_CPU} too: `--save ''`, no append-only file)"
        if redis
        else ""
    )
    return [
        f"Machine: {info['cpu']}, {info['cores']} cores, Linux {info['kernel']}; Python {info['python']}, "
        f"uvicorn {info['uvicorn']}, Starlette {info['starlette']}{node}{redis}; {info['wrk']}; {info['date']}.",
        "",
        f"Setup: each server alone on CPU {SERVER_CPU}{beside}, wrk on CPU {LOAD_CPU} (`taskset`), 127.0.0.1; "
        f"wrk -t1 -c{args.connections} --timeout {wrk.TIMEOUT_S}s; {args.warmup} s warm-up + {args.duration} s "
        f"measured; {args.rounds} interleaved rounds, each on a freshly started server, medians. Python servers: "
        "uvicorn, 1 worker unless the row says 2, uvloop + httptools, no uvicorn access log, PYTHONUNBUFFERED unset. "
        "Request: "
        f"{create.method} {create.path} with the spec's `{workload.EXAMPLE}` example, "
        f"`Authorization: Bearer {workload.TOKEN}`. Startup: spawn to the first HTTP 200 on that request. "
        "Peak RSS: VmHWM at the end of the run (the mock's grows with the tasks it stores).",
    ]


def notes(prism_note: str, redis_note: str = "") -> list[str]:
    shown = [
        "The query's ratio is taken against the same ceiling, a POST that reads a body; a bare GET would be a "
        "few per cent faster.",
    ]
    return shown + [note for note in (prism_note, redis_note) if note]


def raw_results(
    summaries: list[Summary], memory_results: list[report.MemoryResult], info: dict[str, str], args: argparse.Namespace
) -> str:
    """Every number behind the table, for whoever wants to look closer or compare runs."""
    raw = {
        "machine": info,
        "settings": {
            **{key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()},
            "server_cpu": SERVER_CPU,
            "load_cpu": LOAD_CPU,
            "noisy_share": noise.NOISY_SHARE,
            "saturated": noise.SATURATED,
        },
        "targets": [
            {
                "name": summary.name,
                "role": summary.role,
                "workload": summary.workload,
                "workers": summary.workers,
                "note": summary.note,
                "valid": summary.valid,
                "rounds": [
                    {
                        **asdict(one.run),
                        **asdict(one.contention),
                        "startup_s": one.startup_s,
                        "peak_rss_bytes": one.peak_rss_bytes,
                        "valid": one.valid,
                        "noisy": one.noisy,
                    }
                    for one in summary.rounds
                ],
            }
            for summary in summaries
        ],
        "memory": [asdict(result) for result in memory_results],
    }
    return json.dumps(raw, indent=2) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Never leave a half-written result behind (`*.tmp` is git-ignored)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def sizes(text: str) -> list[int]:
    """`100000,1000000` → [100000, 1000000]; empty or `0`: no memory benchmark."""
    found = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if any(size < 0 for size in found):
        raise argparse.ArgumentTypeError("sizes must be positive")
    return [size for size in found if size > 0]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds of each measured run (default: 10)")
    parser.add_argument("--warmup", type=int, default=None, help="seconds of warm-up before each run (default: 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default: 32)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per target (default: 3)")
    parser.add_argument("--retries", type=int, default=2, help="reruns of a noisy run, the quietest kept (default: 2)")
    parser.add_argument("--no-prism", action="store_true", help="skip Prism even when npm is available")
    parser.add_argument("--no-redis", action="store_true", help="skip the Redis rows even when redis-server is there")
    parser.add_argument(
        "--memory-sizes",
        type=sizes,
        default=[100_000, 1_000_000],
        help="tasks to store for the memory benchmark, comma-separated; empty skips it (default: 100000,1000000)",
    )
    parser.add_argument("--no-tracemalloc", action="store_true", help="memory by RSS only, without tracemalloc's count")
    parser.add_argument(
        "--access-log",
        type=Path,
        default=Path(os.devnull),
        help="where the mock's access log goes (default: /dev/null)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where latest.md and latest.json go")
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = min(3, args.duration)
    if min(args.duration, args.connections, args.rounds) < 1 or min(args.warmup, args.retries) < 0:
        parser.error("--duration, --connections and --rounds must be >= 1, --warmup and --retries >= 0")
    return args


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so the `finally` blocks stop the servers."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    if len(os.sched_getaffinity(0)) < 2 or not {SERVER_CPU, LOAD_CPU} <= os.sched_getaffinity(0):
        raise BenchError(f"needs CPUs {SERVER_CPU} and {LOAD_CPU}: one for the server, one for wrk")
    wrk_path = wrk.ensure_wrk()
    prism, prism_note = (None, "Prism not measured: --no-prism") if args.no_prism else find_prism()
    redis, redis_note = (None, "Redis rows not measured: --no-redis") if args.no_redis else servers.find_redis()
    info = machine(wrk_path, prism, redis)
    # Our own small work (checks, bookkeeping, the memory benchmark) must not land on the server's CPU.
    os.sched_setaffinity(0, {LOAD_CPU})
    documented = workload.documented_request(SPEC)
    targets = plan(args.access_log, prism, redis is not None)
    summaries = [
        Summary(target.name, target.note, target.role, target.workload, workers=target.workers) for target in targets
    ]
    with tempfile.TemporaryDirectory(prefix="kling-bench-") as tmp:
        for number in range(1, args.rounds + 1):
            for target, summary in zip(targets, summaries, strict=True):
                one = measure_quietest(target, create_for(target, documented), wrk_path, Path(tmp), args, redis)
                summary.rounds.append(one)
                state = ("ok" if one.valid else f"INVALID {one.run.errors}") + (", noisy" if one.noisy else "")
                print(
                    f"round {number}/{args.rounds} {target.name}: {one.run.requests_per_s:,.0f} req/s, "
                    f"p50 {one.run.p50_ms:.2f} ms, p99 {one.run.p99_ms:.2f} ms, startup {one.startup_s:.3f} s, "
                    f"peak RSS {one.peak_rss_bytes / 2**20:.0f} MB, server busy {one.contention.server_busy:.0%}, "
                    f"CPU {one.cpu_us_per_request:,.0f} µs/request, "
                    f"other load {one.contention.other_load:.0%} ({state})",
                    file=sys.stderr,
                    flush=True,
                )
    memory_results = memory.measure_sizes(args.memory_sizes, traced=not args.no_tracemalloc)
    found = report.goals(summaries, memory_results, prism_note or None)
    text = report.markdown(
        summaries,
        memory_results,
        setup_lines(info, args, create_for(targets[0], documented)),
        notes(prism_note, redis_note),
        memory.METHOD,
        prism_note or None,
        found,
        cores=os.cpu_count(),
    )
    args.results.mkdir(parents=True, exist_ok=True)
    write_atomically(args.results / "latest.md", text)
    write_atomically(args.results / "latest.json", raw_results(summaries, memory_results, info, args))
    print(text)
    return {"PASS": 0, "FAIL": 1}.get(report.verdict(found, summaries), 2)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BenchError, wrk.WrkError, servers.ServerError, workload.WorkloadError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("bench: interrupted, servers stopped", file=sys.stderr)
        sys.exit(130)
