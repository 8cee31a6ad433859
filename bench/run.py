"""Benchmark the mock's create endpoint against a bare Starlette endpoint, with wrk.

Why a ratio: absolute requests/s depend on the machine; the share of the bare ceiling that the
validating mock keeps does not, much. The target is `validating mock >= 0.35 x bare`.

How: each target runs as its own uvicorn process on 127.0.0.1 pinned to CPU 0, wrk (1 thread) is
pinned to CPU 1. Rounds alternate between targets (bare, mock, mock-quiet, bare, ...) so that the drift
of a shared machine hits all of them alike, and the median of the rounds is reported. Every server is
started fresh for its round and always stopped. A run with any wrk error is invalid, never "fast".

Usage: python bench/run.py [--duration 10] [--warmup 3] [--connections 32] [--rounds 3]
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

    @property
    def valid(self) -> bool:
        return self.requests > 0 and not any(self.errors.values())


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


def documented_request() -> tuple[str, str, bytes]:
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
        "uvicorn 1 worker, uvloop + httptools, no uvicorn access log. "
        f"Body: the spec's `{EXAMPLE}` example, `Authorization: Bearer {TOKEN}`.",
        "",
        "| target | requests/s | p50 (ms) | p99 (ms) | x bare | notes |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for summary in summaries:
        if not summary.valid:
            errors = sum(sum(run.errors.values()) for run in summary.rounds)
            lines.append(f"| {summary.target} | INVALID ({errors} errors) | | | | {summary.note} |")
            continue
        rps = summary.median("requests_per_s")
        share = f"{rps / bare.median('requests_per_s'):.2f}" if bare.valid else "n/a"
        lines.append(
            f"| {summary.target} | {rps:,.0f} | {summary.median('p50_ms'):.2f} | {summary.median('p99_ms'):.2f} "
            f"| {share} | {summary.note} |"
        )
    result, ratio = verdict(summaries)
    shown = f" ({ratio:.2f})" if ratio is not None else ""
    lines += ["", f"Target `validating mock >= {TARGET_RATIO} x bare` (access log on): **{result}**{shown}.", ""]
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
        "--access-log",
        type=Path,
        default=Path(os.devnull),
        help="where the mock's access log goes (default: /dev/null)",
    )
    args = parser.parse_args(argv)
    if min(args.duration, args.connections, args.rounds) < 1 or args.warmup < 0:
        parser.error("--duration, --connections and --rounds must be >= 1, --warmup >= 0")
    return args


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so the `finally` blocks stop the servers."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    if len(os.sched_getaffinity(0)) < 2:
        raise BenchError("needs 2 CPUs: one for the server, one for wrk")
    wrk = ensure_wrk()
    info = machine(wrk)
    # Our own small work (checks, bookkeeping) must not land on the server's CPU.
    os.sched_setaffinity(0, {LOAD_CPU})
    method, path, body = documented_request()
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kling-bench-") as tmp:
        workdir = Path(tmp)
        script = write_lua(workdir, method, body)
        plan = targets(args.access_log)
        summaries = [Summary(target.name, target.note) for target in plan]
        for round_number in range(1, args.rounds + 1):
            for target, summary in zip(plan, summaries, strict=True):
                with serving(target, workdir) as (base_url, pid):
                    check_runtime(target, pid)
                    url = base_url + path
                    check_answer(target, url, method, body)
                    if args.warmup:
                        run_wrk(wrk, url, script, args.warmup, args.connections)
                    run = run_wrk(wrk, url, script, args.duration, args.connections)
                    check_answer(target, url, method, body)
                summary.rounds.append(run)
                state = "ok" if run.valid else f"INVALID {run.errors}"
                print(
                    f"round {round_number}/{args.rounds} {target.name}: {run.requests_per_s:,.0f} req/s, "
                    f"p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms ({state})",
                    file=sys.stderr,
                    flush=True,
                )
    report = markdown(summaries, info, args)
    result, ratio = verdict(summaries)
    raw = {
        "machine": info,
        "settings": {
            **vars(args),
            "access_log": str(args.access_log),
            "server_cpu": SERVER_CPU,
            "load_cpu": LOAD_CPU,
            "target_ratio": TARGET_RATIO,
        },
        "request": {"method": method, "path": path, "body": body.decode(), "example": EXAMPLE},
        "targets": [
            {
                "name": s.target,
                "note": s.note,
                "valid": s.valid,
                "rounds": [{**asdict(r), "valid": r.valid} for r in s.rounds],
            }
            for s in summaries
        ],
        "result": result,
        "ratio": ratio,
    }
    write_atomically(RESULTS / "latest.md", report)
    write_atomically(RESULTS / "latest.json", json.dumps(raw, indent=2) + "\n")
    print(report)
    return {"PASS": 0, "FAIL": 1}.get(result, 2)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("bench: interrupted, servers stopped", file=sys.stderr)
        sys.exit(130)
