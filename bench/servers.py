"""The servers measured: each started fresh on loopback, pinned to the server CPU, and always stopped.

Startup time runs from the spawn to the first good answer to the documented request (polled every
few milliseconds), so it counts the interpreter, the imports, the spec's loading and the socket.
Peak RSS is the kernel's high-water mark (VmHWM in /proc/PID/status) of the server and any process
it forked, read just before it is stopped.

A target that keeps its state in Redis gets a `redis-server` of its own for each round (`redis_serving`),
started fresh on loopback, pinned to the server's CPU, saving nothing to disk, and always stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import workload

STARTUP_TIMEOUT_S = 60.0
POLL_S = 0.005
HOST = "127.0.0.1"
PORT_FIELD = "{port}"
# In a Redis target's command: the URL of the redis-server started for its round.
STORE_FIELD = "{store}"
REDIS_START_TIMEOUT_S = 30.0


class ServerError(RuntimeError):
    """A server did not start, answered wrongly, or died during its run."""


@dataclass(frozen=True)
class Target:
    """One row of the table: a server command (`{port}` stands for a free port) and the request measured on it.

    `role` is "ceiling" (the bare endpoint every ratio is taken against), "mock" or "peer" (Prism);
    `workload` is "create" (the documented POST) or "query" (GET of a task created before the run).
    `uvloop` asks that the server run on uvloop and httptools, as the ceiling does, for a like-for-like ratio.
    `redis`: the server keeps its state in a redis-server started for each round (`{store}` stands for its URL);
    `workers` is how many processes serve it (`--workers`).
    """

    name: str
    argv: tuple[str, ...]
    note: str
    role: str
    workload: str = "create"
    uvloop: bool = False
    stdout: Path = Path(os.devnull)
    redis: bool = False
    workers: int = 1


@dataclass
class Server:
    name: str
    pid: int
    base_url: str
    startup_s: float


def free_port() -> int:
    """A port nothing listens on now (the kernel's pick). Another process could take it before the server
    does; `serving` then starts again on another one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def environment() -> dict[str, str]:
    """Ours minus PYTHONUNBUFFERED, so that the servers' stdout is buffered, Python's default.

    Some shells and images set it; an unbuffered stdout changes what the mock's access log costs.
    """
    return {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}


@contextlib.contextmanager
def serving(
    target: Target,
    request: workload.Request,
    cwd: Path,
    workdir: Path,
    cpu: int,
    attempts: int = 3,
    fields: dict[str, str] | None = None,
) -> Iterator[Server]:
    """Start `target` pinned to `cpu`; yield it once it answers `request` well; always stop it.

    `fields`: what else stands in its command (`{store}`), besides the port.
    """
    stderr_path = workdir / f"{target.name}.stderr"
    for attempt in range(1, attempts + 1):
        port = free_port()
        argv = [part.replace(PORT_FIELD, str(port)) for part in target.argv]
        for field, value in (fields or {}).items():
            argv = [part.replace(field, value) for part in argv]
        with stderr_path.open("w") as stderr, target.stdout.open("ab") as stdout:
            started = time.perf_counter()
            # A session of its own: Ctrl-C reaches only us, and we stop the server (and its children) below.
            process = subprocess.Popen(
                ["taskset", "-c", str(cpu), *argv],
                cwd=cwd,
                env=environment(),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        try:
            base_url = f"http://{HOST}:{port}"
            startup = first_good_answer(target, process, base_url, request, started, stderr_path)
            if startup is None:
                if attempt < attempts:
                    continue  # the port was taken meanwhile: again, on another
                raise ServerError(f"{target.name} could not listen:\n{stderr_path.read_text()[-2000:]}")
            yield Server(target.name, process.pid, base_url, startup)
            if process.poll() is not None:
                raise ServerError(f"{target.name} died during the run:\n{stderr_path.read_text()[-2000:]}")
            return
        finally:
            stop(process)


def first_good_answer(
    target: Target,
    process: subprocess.Popen[bytes],
    base_url: str,
    request: workload.Request,
    started: float,
    stderr_path: Path,
) -> float | None:
    """Seconds from the spawn to the first good answer; None when the server exited because its port was taken."""
    deadline = started + STARTUP_TIMEOUT_S
    while True:
        if process.poll() is not None:
            log = stderr_path.read_text()
            if "in use" in log.lower() or "EADDRINUSE" in log:
                return None
            raise ServerError(f"{target.name} exited ({process.returncode}) before answering:\n{log[-2000:]}")
        try:
            status, answer = workload.send(base_url, request, timeout=STARTUP_TIMEOUT_S)
        except OSError:
            status, answer = 0, None
        if status:
            if workload.is_good(status, answer, kling_envelope=True):
                return time.perf_counter() - started
            raise ServerError(f"{target.name} answered the documented request with {status}: {answer!r:.500}")
        if time.perf_counter() > deadline:
            raise ServerError(f"{target.name} did not answer within {STARTUP_TIMEOUT_S:.0f} s")
        time.sleep(POLL_S)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (uvicorn's graceful stop), then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def check_runtime(server: Server) -> None:
    """A Python server must run on uvloop and httptools, as the ceiling does, or the ratio is not like for like.

    Checked after a first answer: uvicorn loads its HTTP protocol lazily, so only then is httptools mapped (with
    workers, in the one that answered: each library must be mapped in some process of the server's).
    """
    maps = ""
    for member in process_tree(server.pid):
        with contextlib.suppress(OSError):
            maps += Path(f"/proc/{member}/maps").read_text()
    missing = [name for name in ("uvloop", "httptools") if f"/{name}/" not in maps]
    if missing:
        raise ServerError(f"{server.name} is not running on {', '.join(missing)}")


def process_tree(pid: int) -> list[int]:
    """`pid` and every process descending from it, from /proc's parent links."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                parents[int(entry.name)] = int(fields[1])
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def status_kb(pid: int, field: str) -> int:
    """A `kB` field of /proc/PID/status (VmHWM, VmRSS), 0 when the process is gone or has none."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def peak_rss_bytes(pid: int) -> int:
    """The RSS high-water mark of the server and its children (summed: an upper bound when they peak apart)."""
    return 1024 * sum(status_kb(member, "VmHWM") for member in process_tree(pid))


@dataclass
class Redis:
    url: str
    pid: int


def find_redis() -> tuple[str | None, str]:
    """redis-server's path, or a note saying why the Redis rows are not measured."""
    found = shutil.which("redis-server")
    if found is None:
        return None, "Redis rows not measured: redis-server is not installed (`apt-get install redis-server`)"
    return found, ""


def redis_version(executable: str) -> str:
    """`7.0.15`-like, from `redis-server --version`."""
    shown = subprocess.run([executable, "--version"], capture_output=True, text=True, check=False).stdout
    return next((part[2:] for part in shown.split() if part.startswith("v=")), "unknown")


@contextlib.contextmanager
def redis_serving(executable: str, workdir: Path, cpu: int) -> Iterator[Redis]:
    """A fresh redis-server on a free loopback port, pinned to `cpu`, keeping nothing on disk; always stopped."""
    port = free_port()
    command = ["taskset", "-c", str(cpu), executable, "--port", str(port), "--bind", HOST]
    command += ["--save", "", "--appendonly", "no", "--dir", str(workdir)]
    log_path = workdir / "redis.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.perf_counter() + REDIS_START_TIMEOUT_S
        while not _pongs(port):
            if process.poll() is not None or time.perf_counter() > deadline:
                raise ServerError(f"redis-server did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(POLL_S)
        yield Redis(f"redis://{HOST}:{port}/0", process.pid)
    finally:
        stop(process)


def _pongs(port: int) -> bool:
    """Whether a Redis answers PING on `port` (RESP, on a plain socket: no client library needed)."""
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False
