"""Benchmark the mock's create endpoint against a bare Starlette endpoint, with wrk.

Why a ratio: absolute requests/s depend on the machine; the share of the bare ceiling that the
validating mock keeps does not, much. The target is `validating mock >= 0.35 x bare`.

How: each target runs as its own uvicorn process on 127.0.0.1 pinned to CPU 0, wrk (1 thread) is
pinned to CPU 1. Rounds alternate between targets (bare, mock, mock-quiet, bare, ...) so that the drift
of a shared machine hits all of them alike, and the median of the rounds is reported. Every server is
started fresh for its round and always stopped. A run with any wrk error is invalid, never "fast".

A run is noisy when other processes took a share of a pinned CPU or the server was not saturated; it
is run again (`--retries`), the quietest attempt kept, and any noisy run left is starred in the table.

Usage: python bench/run.py [--duration 10] [--warmup 3] [--connections 32] [--rounds 3] [--retries 2]
Exit status: 0 when the target is met, 1 when it is not, 2 when a measurement is invalid.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi" / "identify-face.yaml"
RESULTS = ROOT / "bench" / "results"
OPERATION_ID = "createIdentifyFaceTask"
EXAMPLE = "seedDocumented"
TOKEN = "bench-token"
TARGET_RATIO = 0.35
SERVER_CPU, LOAD_CPU = 0, 1
# A run is flagged noisy when other processes or the hypervisor took more than this share of either pinned
# CPU, or when the server was busy less than SATURATED of the time (then wrk, not the server, set the pace).
NOISY_SHARE = 0.05
SATURATED = 0.9
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STARTUP_TIMEOUT = 30.0
_LISTENING = re.compile(r"listening on (http://\S+)")
_WRK_JSON = re.compile(r"^BENCH_JSON (\{.*\})$", re.MULTILINE)
# wrk calls done() once at the end; printing JSON from it avoids parsing wrk's human output.
_LUA = """\
wrk.method = {method}
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = {auth}

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {{"duration_us":%.0f,"requests":%.0f,"bytes":%.0f,"connect":%.0f,"read":%.0f,'
    .. '"write":%.0f,"status":%.0f,"timeout":%.0f,"p50_us":%.1f,"p99_us":%.1f,"mean_us":%.1f,"max_us":%.1f}}\\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
"""


# Method, path and body of the request that wrk repeats.
Request = tuple[str, str, bytes]


class BenchError(RuntimeError):
    """The benchmark cannot measure (a server did not start, or answered wrongly)."""


@dataclass(frozen=True)
class Target:
    """One server to measure: how to start it, and whether its answer must carry `code: 0`."""

    name: str
    argv: tuple[str, ...]
    stdout: Path
    kling_answer: bool
    note: str


@dataclass
class Run:
    """One wrk run's numbers; `errors` counts wrk's socket errors and non-2xx/3xx answers."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    requests: int
    duration_s: float
    errors: dict[str, int]
    server_busy: float = 0.0
    other_load: float = 0.0

    @property
    def valid(self) -> bool:
        return self.requests > 0 and not any(self.errors.values())

    @property
    def noisy(self) -> bool:
        return self.other_load > NOISY_SHARE or self.server_busy < SATURATED


@dataclass
class Summary:
    """The median over the rounds of one target, and whether every round was valid."""

    target: str
    note: str
    rounds: list[Run] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return bool(self.rounds) and all(run.valid for run in self.rounds)

    def median(self, attribute: str) -> float:
        return float(statistics.median(float(getattr(run, attribute)) for run in self.rounds))


def ensure_wrk() -> str:
    """wrk's path, installing Debian's package when missing (we run as root on the bench machine)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise BenchError("wrk is missing and we are not root: install it with `apt-get install -y wrk`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=False).returncode != 0:
        # A fresh machine has no package lists yet.
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=True)
        subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=True)
    found = shutil.which("wrk")
    if not found:
        raise BenchError("apt-get installed wrk but it is not on PATH")
    return found


def documented_request() -> Request:
    """Method, path and body of the spec's documented example, so the bench follows the spec."""
    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and operation.get("operationId") == OPERATION_ID:
                example = operation["requestBody"]["content"]["application/json"]["examples"][EXAMPLE]
                body = json.dumps(example["value"], separators=(",", ":")).encode()
                return method.upper(), path, body
    raise BenchError(f"{SPEC}: no operation {OPERATION_ID}")


def lua_string(text: str) -> str:
    """A Lua string literal; `text` is ASCII JSON, so only backslashes and quotes need escaping."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_lua(directory: Path, method: str, body: bytes) -> Path:
    script = directory / "request.lua"
    script.write_text(
        _LUA.format(
            method=lua_string(method), body=lua_string(body.decode("ascii")), auth=lua_string(f"Bearer {TOKEN}")
        ),
        encoding="utf-8",
    )
    return script


@contextlib.contextmanager
def serving(target: Target, workdir: Path) -> Iterator[tuple[str, int]]:
    """Start `target` pinned to the server CPU; yield its base URL and pid; always stop it."""
    stderr_path = workdir / f"{target.name}.stderr"
    with stderr_path.open("w") as stderr, target.stdout.open("ab") as stdout:
        # A session of its own: Ctrl-C reaches only us, and we stop the server in order below.
        process = subprocess.Popen(
            ["taskset", "-c", str(SERVER_CPU), *target.argv],
            cwd=ROOT,
            env=server_environment(),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not (match := _LISTENING.search(stderr_path.read_text())):
            if process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"{target.name} did not start:\n{stderr_path.read_text()[-2000:]}")
            time.sleep(0.05)
        yield match.group(1), process.pid
        if process.poll() is not None:
            raise BenchError(f"{target.name} died during the run:\n{stderr_path.read_text()[-2000:]}")
    finally:
        stop(process)


def server_environment() -> dict[str, str]:
    """Our environment minus PYTHONUNBUFFERED, so that the servers' stdout is buffered, Python's default.

    Some shells and images set it; an unbuffered stdout changes what the mock's access log costs.
    """
    return {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn's graceful stop), then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def check_runtime(target: Target, pid: int) -> None:
    """Both targets must run on uvloop and httptools, or the comparison is not like for like."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    missing = [name for name in ("uvloop", "httptools") if f"/{name}/" not in maps]
    if missing:
        raise BenchError(f"{target.name} is not running on {', '.join(missing)}")


def check_answer(target: Target, url: str, method: str, body: bytes) -> None:
    """The request wrk will repeat must succeed, or its requests/s mean nothing."""
    request = urllib.request.Request(
        url,
        data=body,
        method=method,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    answer = json.loads(raw) if raw else None
    if status != 200 or (target.kling_answer and (not isinstance(answer, dict) or answer.get("code") != 0)):
        raise BenchError(f"{target.name} answered {status}: {raw[:500]!r}")


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds so far: busy and stolen per pinned CPU, the server's, and ours with wrk's."""

    busy: tuple[float, float]
    steal: tuple[float, float]
    server: float
    ours: float


def cpu_sample(pid: int) -> CpuSample:
    """Read before and after a run: on a shared machine, other work on the pinned CPUs skews the numbers."""
    stat = Path("/proc/stat").read_text().splitlines()
    rows = {row.split()[0]: [int(value) for value in row.split()[1:9]] for row in stat if row.startswith("cpu")}
    cpus = [rows[f"cpu{cpu}"] for cpu in (SERVER_CPU, LOAD_CPU)]
    # Fields 14 and 15 of /proc/PID/stat (utime, stime), counted after the parenthesised command name.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuSample(
        busy=(
            (cpus[0][0] + cpus[0][1] + cpus[0][2]) / CLOCK_TICKS,
            (cpus[1][0] + cpus[1][1] + cpus[1][2]) / CLOCK_TICKS,
        ),
        steal=(cpus[0][7] / CLOCK_TICKS, cpus[1][7] / CLOCK_TICKS),
        server=(int(fields[11]) + int(fields[12])) / CLOCK_TICKS,
        ours=own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
    )


def note_contention(run: Run, before: CpuSample, after: CpuSample) -> None:
    """Record how busy the server was, and the largest share of a pinned CPU that someone else took."""
    seconds = run.duration_s
    run.server_busy = (after.server - before.server) / seconds
    others_on_server_cpu = after.busy[0] - before.busy[0] - (after.server - before.server)
    others_on_load_cpu = after.busy[1] - before.busy[1] - (after.ours - before.ours)
    stolen = [after.steal[cpu] - before.steal[cpu] for cpu in (0, 1)]
    run.other_load = max(0.0, others_on_server_cpu + stolen[0], others_on_load_cpu + stolen[1]) / seconds


def run_wrk(wrk: str, url: str, script: Path, duration: int, connections: int) -> Run:
    """One wrk run of `duration` seconds on the load CPU, 1 thread, `connections` connections."""
    command = ["taskset", "-c", str(LOAD_CPU), wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    command += ["-s", str(script), url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=False)
    match = _WRK_JSON.search(done.stdout)
    if done.returncode != 0 or not match:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(match.group(1))
    seconds = raw["duration_us"] / 1e6
    return Run(
        requests_per_s=raw["requests"] / seconds,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        mean_ms=raw["mean_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        requests=int(raw["requests"]),
        duration_s=seconds,
        errors={key: int(raw[key]) for key in ("connect", "read", "write", "status", "timeout")},
    )


def targets(log_file: Path) -> list[Target]:
    """The ceiling first: every ratio is taken against it."""
    python = sys.executable
    serve = (python, "-m", "mock_server", "serve", "--host", "127.0.0.1", "--port", "0")
    return [
        Target(
            "bare",
            (python, str(ROOT / "bench" / "bare_app.py"), "--port", "0"),
            Path(os.devnull),
            False,
            "bench/bare_app.py: read body, constant JSON",
        ),
        Target("mock", serve, log_file, True, f"`python -m mock_server serve`, access log on, stdout > {log_file}"),
        Target(
            "mock-quiet",
            (*serve, "--log-level", "warning"),
            Path(os.devnull),
            True,
            "`... serve --log-level warning`, no access log",
        ),
    ]


def machine(wrk: str) -> dict[str, str]:
    """What the numbers were measured on: they mean little without it."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    wrk_version = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False).stdout
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": model.group(1).strip() if model else platform.processor() or "unknown",
        "python": platform.python_version(),
        "wrk": wrk_version.split("[")[0].strip() or "unknown",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def verdict(summaries: list[Summary]) -> tuple[str, float | None]:
    by_name = {summary.target: summary for summary in summaries}
    bare, mock = by_name["bare"], by_name["mock"]
    if not (bare.valid and mock.valid):
        return "INVALID (a run had errors)", None
    ratio = mock.median("requests_per_s") / bare.median("requests_per_s")
    return ("PASS" if ratio >= TARGET_RATIO else "FAIL"), ratio


def markdown(summaries: list[Summary], info: dict[str, str], args: argparse.Namespace) -> str:
    bare = summaries[0]
    lines = [
        "# Benchmark: identify-face create vs bare Starlette",
        "",
        f"Machine: nproc {info['nproc']}, {info['cpu']}, Python {info['python']}, {info['wrk']}, {info['date']}.",
        f"Setup: server on CPU {SERVER_CPU}, wrk on CPU {LOAD_CPU}, wrk -t1 -c{args.connections}, "
        f"{args.warmup} s warm-up + {args.duration} s measured, median of {args.rounds} interleaved rounds; "
        "uvicorn 1 worker, uvloop + httptools, no uvicorn access log, PYTHONUNBUFFERED unset. "
        f"Body: the spec's `{EXAMPLE}` example, `Authorization: Bearer {TOKEN}`.",
        "",
        "| target | requests/s | p50 (ms) | p99 (ms) | x bare | rounds, req/s | notes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for summary in summaries:
        if not summary.valid:
            errors = sum(sum(run.errors.values()) for run in summary.rounds)
            lines.append(f"| {summary.target} | INVALID ({errors} errors) | | | | | {summary.note} |")
            continue
        rps = summary.median("requests_per_s")
        share = f"{rps / bare.median('requests_per_s'):.2f}" if bare.valid else "n/a"
        spread = " / ".join(f"{run.requests_per_s:,.0f}{'*' if run.noisy else ''}" for run in summary.rounds)
        lines.append(
            f"| {summary.target} | {rps:,.0f} | {summary.median('p50_ms'):.2f} | {summary.median('p99_ms'):.2f} "
            f"| {share} | {spread} | {summary.note} |"
        )
    result, ratio = verdict(summaries)
    runs = [run for summary in summaries for run in summary.rounds]
    noisy = sum(run.noisy for run in runs)
    # A median is sound while most of its rounds are quiet; the verdict rests on bare's and mock's.
    shaky = [
        s.target
        for s in summaries
        if s.target in ("bare", "mock") and 2 * sum(r.noisy for r in s.rounds) >= len(s.rounds)
    ]
    shown = (f" ({ratio:.2f})" if ratio is not None else "") + (
        f", unreliable: {' and '.join(shaky)} mostly noisy" if shaky else ""
    )
    lines += [
        "",
        f"Target `validating mock >= {TARGET_RATIO} x bare` (access log on): **{result}**{shown}.",
        "",
        f"Noise: the server was busy {min(run.server_busy for run in runs):.0%} of a run at least; other processes "
        f"and the hypervisor took up to {max(run.other_load for run in runs):.0%} of a pinned CPU; "
        + (f"{noisy} of {len(runs)} runs noisy (*), rerun on a quieter machine." if noisy else "quiet."),
        "",
    ]
    return "\n".join(lines)


def write_atomically(path: Path, text: str) -> None:
    """Never leave a half-written result behind (`*.tmp` is git-ignored)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds of each measured run (default: 10)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up before each run (default: 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default: 32)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per target (default: 3)")
    parser.add_argument(
        "--retries", type=int, default=2, help="reruns of a noisy run, keeping the quietest (default: 2)"
    )
    parser.add_argument(
        "--access-log",
        type=Path,
        default=Path(os.devnull),
        help="where the mock's access log goes (default: /dev/null)",
    )
    args = parser.parse_args(argv)
    if min(args.duration, args.connections, args.rounds) < 1 or min(args.warmup, args.retries) < 0:
        parser.error("--duration, --connections and --rounds must be >= 1, --warmup and --retries >= 0")
    return args


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so the `finally` blocks stop the servers."""
    raise KeyboardInterrupt


def measure(target: Target, wrk: str, script: Path, workdir: Path, args: argparse.Namespace, request: Request) -> Run:
    """One round of one target: a fresh server, a correct answer, a warm-up, the measured run, a correct answer."""
    method, path, body = request
    with serving(target, workdir) as (base_url, pid):
        url = base_url + path
        check_answer(target, url, method, body)
        # After the first answer: uvicorn loads its HTTP protocol lazily, so only now is httptools mapped.
        check_runtime(target, pid)
        if args.warmup:
            run_wrk(wrk, url, script, args.warmup, args.connections)
        before = cpu_sample(pid)
        run = run_wrk(wrk, url, script, args.duration, args.connections)
        note_contention(run, before, cpu_sample(pid))
        check_answer(target, url, method, body)
    return run


def raw_results(summaries: list[Summary], info: dict[str, str], args: argparse.Namespace, request: Request) -> str:
    """Every number behind the table, for whoever wants to look closer or compare runs."""
    method, path, body = request
    result, ratio = verdict(summaries)
    settings = {**vars(args), "access_log": str(args.access_log), "server_cpu": SERVER_CPU, "load_cpu": LOAD_CPU}
    raw = {
        "machine": info,
        "settings": {**settings, "target_ratio": TARGET_RATIO, "noisy_share": NOISY_SHARE, "saturated": SATURATED},
        "request": {"method": method, "path": path, "body": body.decode(), "example": EXAMPLE},
        "targets": [
            {
                "name": summary.target,
                "note": summary.note,
                "valid": summary.valid,
                "rounds": [{**asdict(run), "valid": run.valid, "noisy": run.noisy} for run in summary.rounds],
            }
            for summary in summaries
        ],
        "result": result,
        "ratio": ratio,
    }
    return json.dumps(raw, indent=2) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    if len(os.sched_getaffinity(0)) < 2:
        raise BenchError("needs 2 CPUs: one for the server, one for wrk")
    wrk = ensure_wrk()
    info = machine(wrk)
    # Our own small work (checks, bookkeeping) must not land on the server's CPU.
    os.sched_setaffinity(0, {LOAD_CPU})
    request = documented_request()
    plan = targets(args.access_log)
    summaries = [Summary(target.name, target.note) for target in plan]
    with tempfile.TemporaryDirectory(prefix="kling-bench-") as tmp:
        workdir = Path(tmp)
        script = write_lua(workdir, request[0], request[2])
        for round_number in range(1, args.rounds + 1):
            for target, summary in zip(plan, summaries, strict=True):
                # A shared machine: a run that others disturbed is run again, a bounded number of times;
                # a run with errors is never retried away.
                attempts = [measure(target, wrk, script, workdir, args, request)]
                while attempts[-1].noisy and attempts[-1].valid and len(attempts) <= args.retries:
                    print(f"{target.name}: noisy ({attempts[-1].other_load:.0%} other load), again", file=sys.stderr)
                    attempts.append(measure(target, wrk, script, workdir, args, request))
                invalid = [attempt for attempt in attempts if not attempt.valid]
                run = invalid[0] if invalid else min(attempts, key=lambda attempt: attempt.other_load)
                summary.rounds.append(run)
                state = ("ok" if run.valid else f"INVALID {run.errors}") + (", noisy" if run.noisy else "")
                print(
                    f"round {round_number}/{args.rounds} {target.name}: {run.requests_per_s:,.0f} req/s, "
                    f"p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms, server busy {run.server_busy:.0%}, "
                    f"other load {run.other_load:.0%} ({state})",
                    file=sys.stderr,
                    flush=True,
                )
    report = markdown(summaries, info, args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_atomically(RESULTS / "latest.md", report)
    write_atomically(RESULTS / "latest.json", raw_results(summaries, info, args, request))
    print(report)
    return {"PASS": 0, "FAIL": 1}.get(verdict(summaries)[0], 2)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("bench: interrupted, servers stopped", file=sys.stderr)
        sys.exit(130)
