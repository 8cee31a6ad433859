"""Run the mock as a real server in a child process, on a free loopback port.

The contract runner uses it when given no base URL, and so do the tests: both talk HTTP to a
real uvicorn, as users do.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from types import TracebackType

_LISTENING = re.compile(r"kling-mock listening on (http://\S+)")


class MockProcessError(RuntimeError):
    pass


class MockProcess:
    """`with MockProcess("--keys", "k") as mock:` serves at `mock.base_url` until the block ends.

    The server's stdout (its access log) is kept in `access_log`, its stderr in `stderr_lines`.
    `subcommand="proxy"` runs the validation proxy instead (give it `--upstream URL`).
    """

    def __init__(
        self,
        *serve_args: str,
        env: dict[str, str] | None = None,
        module: str = "mock_server",
        startup_timeout: float = 20.0,
        subcommand: str = "serve",
    ) -> None:
        self.command: Sequence[str] = [sys.executable, "-m", module, subcommand, "--port", "0", *serve_args]
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.startup_timeout = startup_timeout
        self.base_url = ""
        self.access_log: list[str] = []
        self.stderr_lines: list[str] = []
        self._process: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._readers: list[threading.Thread] = []

    def start(self) -> MockProcess:
        self._process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env
        )
        self._readers = [
            threading.Thread(target=self._read_stderr, daemon=True),
            threading.Thread(target=self._read_stdout, daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        if not self._ready.wait(self.startup_timeout) or not self.base_url:
            self.stop()
            raise MockProcessError("the mock did not start:\n" + "".join(self.stderr_lines[-20:]))
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop the server (SIGTERM by default) and return its exit status."""
        if self._process is None:
            return 0
        if self._process.poll() is None:
            self._process.send_signal(sig)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for reader in self._readers:  # so that the output is complete once stop() returns
            reader.join(timeout=5)
        return self._process.returncode

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            self.stderr_lines.append(line)
            match = _LISTENING.search(line)
            if match:
                self.base_url = match.group(1)
                self._ready.set()
        self._ready.set()

    def _read_stdout(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self.access_log.append(line)

    def __enter__(self) -> MockProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
