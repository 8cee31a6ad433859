"""A real `redis-server` (Debian's package) on a free loopback port, for the tests of tasks kept in Redis.

Without the executable the tests are skipped, except in CI (`$CI` set), where they must run: `.ci/run`
installs it. Nothing is saved to disk (`--save ''`, no append-only file): a restart comes back empty,
as a Redis that lost its data would.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Protocol

import redis

from tests.support import free_loopback_port, skip_or_fail

# How long a starting redis-server may take to answer: generous, for a loaded CI machine.
_START_SECONDS = 30


def redis_server_executable() -> str:
    """The path of redis-server; skips the test without it (fails it in CI)."""
    path = shutil.which("redis-server")
    if path is None:
        skip_or_fail(
            "needs Debian's redis-server",
            "CI must run the Redis tests (.ci/run installs it)",
            "apt-get install redis-server",
        )
    return path


class RedisServer:
    """`start()`, `stop()`, and `start()` again on the same port: a Redis that goes away and comes back.

    As a context manager, it is stopped on the way out (started or not).
    """

    def __init__(self, executable: str, directory: Path) -> None:
        self.executable = executable
        self.directory = directory
        self.port = free_loopback_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        command = [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with (self.directory / "redis.log").open("ab") as log:
            self._process = subprocess.Popen(
                [*command, "--dir", str(self.directory)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + _START_SECONDS
        with redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1) as client:
            while True:
                try:
                    client.ping()
                    return self
                except redis.ConnectionError:
                    if self._process.poll() is not None or time.monotonic() > deadline:
                        self.stop()  # past the deadline it may still be running: no orphan
                        log_text = (self.directory / "redis.log").read_text(errors="replace")
                        raise RuntimeError(f"redis-server did not start:\n{log_text}") from None
                    time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


class _Closing(Protocol):
    async def aclose(self) -> None: ...


def run_and_close(test: Callable[[], Awaitable[None]], *closing: _Closing) -> None:
    """Run `test` in an event loop of its own, then close each of `closing`, in order, in that loop.

    redis-py's asyncio connections belong to the loop that opened them, so a unit test runs in one.
    """

    async def run() -> None:
        try:
            await test()
        finally:
            for each in closing:
                await each.aclose()

    asyncio.run(run())
