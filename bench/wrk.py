"""The load generator: wrk, installed from Debian when missing, run once per measurement.

wrk calls the Lua `done()` once at the end; it prints one JSON line from there, so that nothing
depends on wrk's human-readable output. A run with any socket error, timeout or non-2xx/3xx answer
is invalid, never "fast".
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Longer than any answer a server under test gives at 32 connections (Prism's p99 approaches 1 s), so that
# a timeout means a stuck server, not a slow one.
TIMEOUT_S = 10
_JSON_LINE = re.compile(r"^BENCH_JSON (\{.*\})$", re.MULTILINE)
ERROR_KINDS = ("connect", "read", "write", "status", "timeout")
_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us":%.0f,"requests":%.0f,"bytes":%.0f,"connect":%.0f,"read":%.0f,'
    .. '"write":%.0f,"status":%.0f,"timeout":%.0f,"p50_us":%.1f,"p99_us":%.1f,"mean_us":%.1f,"max_us":%.1f}\\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
"""


class WrkError(RuntimeError):
    """wrk is missing and cannot be installed, or a run failed to report."""


@dataclass
class WrkRun:
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


def ensure_wrk() -> str:
    """wrk's path, installing Debian's package when missing (as root, as on the project's machines)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise WrkError("wrk is missing and we are not root: install it with `apt-get install -y wrk`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=False).returncode != 0:
        # A fresh machine has no package lists yet.
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=True)
        subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=True)
    found = shutil.which("wrk")
    if not found:
        raise WrkError("apt-get installed wrk but it is not on PATH")
    return found


def version(wrk: str) -> str:
    """`wrk 4.1.0`-like, or "wrk (unknown version)"."""
    shown = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False).stdout
    return shown.split("[")[0].strip() or "wrk (unknown version)"


def lua_string(text: str) -> str:
    """A Lua string literal of ASCII text (JSON, a token): only backslashes and quotes need escaping."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_script(method: str, body: bytes | None, token: str) -> str:
    """The request wrk repeats, and the `done()` that reports its numbers as one JSON line."""
    lines = [f"wrk.method = {lua_string(method)}", f'wrk.headers["Authorization"] = {lua_string("Bearer " + token)}']
    if body is not None:
        lines += [f"wrk.body = {lua_string(body.decode('ascii'))}", 'wrk.headers["Content-Type"] = "application/json"']
    return "\n".join(lines) + "\n" + _DONE


def parse_output(stdout: str) -> WrkRun:
    """The numbers `done()` printed; WrkError when it printed none."""
    match = _JSON_LINE.search(stdout)
    if not match:
        raise WrkError(f"wrk printed no result line:\n{stdout[-2000:]}")
    raw = json.loads(match.group(1))
    seconds = raw["duration_us"] / 1e6
    return WrkRun(
        requests_per_s=raw["requests"] / seconds if seconds > 0 else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        mean_ms=raw["mean_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        requests=int(raw["requests"]),
        duration_s=seconds,
        errors={kind: int(raw[kind]) for kind in ERROR_KINDS},
    )


def run(wrk: str, url: str, script: Path, duration: int, connections: int, cpu: int) -> WrkRun:
    """One bounded wrk run (`-d`) on `cpu`: 1 thread, `connections` connections."""
    command = ["taskset", "-c", str(cpu), wrk, "-t1", f"-c{connections}", f"-d{duration}s", f"--timeout={TIMEOUT_S}s"]
    command += ["--latency", "-s", str(script), url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=False)
    if done.returncode != 0:
        raise WrkError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return parse_output(done.stdout)
