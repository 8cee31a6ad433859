"""What a mock is started with, in one place, and checked in one place (`Settings.problem`).

`kling-mock serve` builds `Settings` from its flags and environment, `create_app` takes them as they are;
both refuse what `problem` names, so a combination that cannot work is refused the same way wherever it
comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .core.environment import ADMIN_TOKEN_ENV
from .core.urls import is_loopback_host
from .journal import DEFAULT_JOURNAL_SIZE
from .spec import DIALECTS, SpecProblem, dialect_spec, views
from .storage import DEFAULT_KEY_PREFIX, DEFAULT_MAX_TASKS, MEMORY, store_url_problem

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


class SettingsError(ValueError):
    """Settings that cannot work together; the message names the flags, never a secret."""


@dataclass(frozen=True)
class Settings:
    # The dialect identify-face speaks on every path; None: each path its own (docs/contract.md, "Which dialect
    # answers where").
    dialect: str | None = None
    # A spec of one's own to answer by, on every path (it must speak `dialect`, when one is given).
    spec_path: Path | None = None
    # Where results are downloaded from, when clients reach the mock by another address than the one they send
    # (a proxy, a container's port mapping): its scheme, host and port replace theirs in every URL an answer holds.
    public_url: str | None = None
    # Accept whatever the contract allows: the kit's own decisions (`x-kling-decision` in the spec) off.
    relax_decisions: bool = False
    # Where it listens (`kling-mock serve` only; an app built with `create_app` is served by its caller).
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    keys: tuple[str, ...] = ()
    # Kling's access key → secret key pairs: the mock then accepts HS256 JWTs signed with them.
    key_pairs: tuple[tuple[str, str], ...] = ()
    # Milliseconds per lifecycle step; 0 advances a task at each poll.
    tick_ms: int = 1000
    # The same seed and the same requests give the same ids and results.
    seed: int | None = None
    # Hosts callbacks may go to besides loopback ones.
    callback_allow_hosts: tuple[str, ...] = ()
    # At most this many tasks in memory or Redis; past it the oldest finished ones go first.
    max_tasks: int = DEFAULT_MAX_TASKS
    # Where state lives: `memory`, `sqlite:///FILE` (survives a restart) or `redis://HOST:PORT/DB` (shared by
    # every worker and mock given it: tasks, the journal, scenarios and rate limits).
    store: str = MEMORY
    # What this mock's keys start with in a Redis, so that several mocks can share one.
    store_prefix: str = DEFAULT_KEY_PREFIX
    # Processes serving it (`kling-mock serve` only).
    workers: int = 1
    # Recent requests kept with their verdicts; 0 keeps none.
    journal_size: int = DEFAULT_JOURNAL_SIZE
    # Serve the admin API under /__admin; with `admin_token`, only to who presents it.
    admin: bool = False
    admin_token: str | None = None
    # Scenarios played from the start (a `--scenarios` file's list).
    scenarios: tuple[dict[str, Any], ...] = ()
    log_level: str = "info"

    @property
    def shared(self) -> bool:
        """Whether the state is in a Redis other processes may share."""
        return self.store.partition(":")[0] in ("redis", "rediss", "unix")

    def views(self) -> dict[str, Path]:
        """The spec each path prefix answers by."""
        return views(self.dialect, self.spec_path)

    def problem(self) -> str | None:
        """What cannot work in these settings, if anything."""
        store_problem = store_url_problem(self.store)
        if store_problem is not None:
            return store_problem
        if self.dialect is not None and self.dialect not in DIALECTS:
            return f"--dialect must be one of {', '.join(sorted(DIALECTS))}"
        if self.spec_path is not None:
            try:
                dialect_spec(self.dialect, self.spec_path)
            except SpecProblem as exc:
                return str(exc)
        if self.public_url is not None and not _is_base_url(self.public_url):
            return "--public-url must be an http(s) URL with a host and nothing after its path, e.g. http://mock:8000"
        persistent = self.store != MEMORY
        if self.seed is not None and self.shared:
            # Every process given the seed would draw the same ids, and so would the next start.
            return "--seed and --store do not mix: seeded mocks would repeat each other's task ids"
        if self.seed is not None and persistent:
            # A seeded mock draws the same ids at each start: they would collide with the tasks kept.
            return "--seed and --state do not mix: a seeded mock repeats its task ids"
        if self.workers > 1 and not self.shared:
            if persistent:
                return "--workers above 1 cannot share --state's SQLite file: use --store redis://HOST:PORT/DB"
            return (
                "--workers above 1 needs --store redis://HOST:PORT/DB: with tasks in memory each worker would "
                "hold its own, and a task created through one would be unknown to the next"
            )
        admin = admin_problem(self.admin, self.host, self.admin_token, self.journal_size)
        if admin is not None:
            return admin
        if len(self.key_pairs) != len(dict(self.key_pairs)) or not all(all(pair) for pair in self.key_pairs):
            return "each --access-key needs its --secret-key, in the same order, neither empty"
        return None

    def check(self) -> None:
        """Raise `SettingsError` naming what cannot work."""
        problem = self.problem()
        if problem is not None:
            raise SettingsError(problem)


def admin_problem(admin: bool, host: str, admin_token: str | None, journal_size: int) -> str | None:
    """What is wrong with a server's admin API as asked for (the mock's, the proxy's), if anything."""
    if admin and not is_loopback_host(host) and not admin_token:
        return f"--admin on {host}, beyond loopback, needs --admin-token (or ${ADMIN_TOKEN_ENV})"
    if admin and not journal_size:
        return "--admin needs a journal: --journal-size must be 1 or more"
    return None


def _is_base_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not (parts.query or parts.fragment)
