"""From rounds to the report: medians, every figure's ratio to the ceiling, the targets, the Markdown.

Pure: nothing here measures, so `tests/bench/test_bench.py` can check it on made-up numbers.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from .noise import Contention
from .wrk import WrkRun

# The targets.
CREATE_SHARE = 0.5  # create >= 0.5 x the ceiling's requests/s
PEER_FACTOR = 3.0  # create >= 3 x Prism's best configuration
QUERY_SHARE = 0.6  # query >= 0.6 x the ceiling's requests/s
# Each row the targets hold, and the share of the ceiling it must keep: the flow's creates as the documented create,
# its query as the query. The download row has no target: it serves a file, not an API call.
SHARES = {
    "create": CREATE_SHARE,
    "query": QUERY_SHARE,
    "identify": CREATE_SHARE,
    "lip-sync create": CREATE_SHARE,
    "lip-sync query": QUERY_SHARE,
}
P99_MS = 5.0  # p99 under 5 ms at 32 connections, create and query
STARTUP_S = 0.5  # spawn to first good answer
BYTES_PER_TASK = 1024  # memory per stored task

# What each column shows, and where its value comes from in a round.
FIGURES = (
    ("requests/s", "requests_per_s", "{:,.0f}"),
    ("p50 (ms)", "p50_ms", "{:.2f}"),
    ("p99 (ms)", "p99_ms", "{:.2f}"),
    ("peak RSS (MB)", "peak_rss_mb", "{:.0f}"),
    ("startup (s)", "startup_s", "{:.3f}"),
)


@dataclass
class Round:
    """One measured run of one target, on a server started for it."""

    run: WrkRun
    contention: Contention
    startup_s: float
    peak_rss_bytes: int

    @property
    def valid(self) -> bool:
        return self.run.valid

    @property
    def noisy(self) -> bool:
        return self.contention.noisy

    @property
    def cpu_us_per_request(self) -> float:
        """CPU time the target's processes spent per request answered: what each answer costs, whatever share of
        the core others left it (which requests/s depends on)."""
        return self.contention.server_busy * self.run.duration_s / self.run.requests * 1e6 if self.run.requests else 0

    def figure(self, key: str) -> float:
        if key == "startup_s":
            return self.startup_s
        if key == "cpu_us_per_request":
            return self.cpu_us_per_request
        if key == "peak_rss_mb":
            return self.peak_rss_bytes / 2**20
        return float(getattr(self.run, key))


@dataclass
class Summary:
    """The rounds of one target (`role`: ceiling, mock, redis or peer); each figure reported is their median.

    `redis` rows are the mock with its state in Redis, served by `workers` processes: they have no target of their
    own, and are set beside the mock's rows (tasks in memory) in a section of their own.
    """

    name: str
    note: str
    role: str
    workload: str
    rounds: list[Round] = field(default_factory=list)
    workers: int = 1

    @property
    def valid(self) -> bool:
        return bool(self.rounds) and all(one.valid for one in self.rounds)

    def median(self, key: str) -> float:
        return float(statistics.median(one.figure(key) for one in self.rounds))

    @property
    def mostly_noisy(self) -> bool:
        """A median is sound while most of its rounds are quiet."""
        return 2 * sum(one.noisy for one in self.rounds) >= len(self.rounds)


@dataclass(frozen=True)
class MemoryResult:
    """The mock's memory store after `tasks` creates: RSS growth, and tracemalloc's count when measured."""

    tasks: int
    rss_bytes: int
    traced_bytes: int | None
    seconds: float

    @property
    def rss_per_task(self) -> float:
        return self.rss_bytes / self.tasks

    @property
    def traced_per_task(self) -> float | None:
        return None if self.traced_bytes is None else self.traced_bytes / self.tasks


@dataclass(frozen=True)
class Goal:
    """One target of the issue: what it asks, what was measured, and whether it is met (None: not measured)."""

    text: str
    measured: str
    met: bool | None
    unreliable: bool = False

    @property
    def verdict(self) -> str:
        shown = {True: "met", False: "**not met**", None: "n/a"}[self.met]
        return shown + (" (noisy)" if self.unreliable and self.met is not None else "")


def by_role(summaries: Sequence[Summary], role: str, workload: str | None = None) -> list[Summary]:
    return [s for s in summaries if s.role == role and (workload is None or s.workload == workload)]


def ratio(summary: Summary, ceiling: Summary | None, key: str) -> float | None:
    if ceiling is None or not (summary.valid and ceiling.valid):
        return None
    base = ceiling.median(key)
    return summary.median(key) / base if base else None


def goals(summaries: Sequence[Summary], memory: Sequence[MemoryResult], peer_note: str | None) -> list[Goal]:
    """The issue's targets, each checked on the medians (and the memory results)."""
    ceilings = by_role(summaries, "ceiling")
    ceiling = ceilings[0] if ceilings else None
    found: list[Goal] = []
    mocks = {s.workload: s for s in by_role(summaries, "mock")}
    for workload, share in SHARES.items():
        mock = mocks.get(workload)
        if mock is None:
            continue
        shown = ratio(mock, ceiling, "requests_per_s")
        noisy = mock.mostly_noisy or (ceiling is not None and ceiling.mostly_noisy)
        found.append(
            Goal(
                f"{workload} requests/s >= {share} x ceiling",
                "invalid" if shown is None else f"{shown:.2f} x",
                None if shown is None else shown >= share,
                noisy,
            )
        )
    create = mocks.get("create")
    peers = [peer for peer in by_role(summaries, "peer") if peer.valid]
    if create is not None:
        if peers and create.valid:
            best = max(peers, key=lambda peer: peer.median("requests_per_s"))
            times = create.median("requests_per_s") / best.median("requests_per_s")
            noisy = create.mostly_noisy or best.mostly_noisy
            met: bool | None = times >= PEER_FACTOR
            found.append(Goal(f"create >= {PEER_FACTOR:g} x Prism's best ({best.name})", f"{times:.1f} x", met, noisy))
        else:
            found.append(Goal(f"create >= {PEER_FACTOR:g} x Prism's best", peer_note or "Prism not measured", None))
    for mock in (mock for mock in mocks.values() if mock.workload in SHARES):
        valid = mock.valid
        p99 = mock.median("p99_ms") if valid else None
        found.append(
            Goal(
                f"{mock.workload} p99 < {P99_MS:g} ms",
                "invalid" if p99 is None else f"{p99:.2f} ms",
                None if p99 is None else p99 < P99_MS,
                mock.mostly_noisy,
            )
        )
    if create is not None and create.rounds:
        startup = create.median("startup_s")
        found.append(Goal(f"mock startup < {STARTUP_S:g} s", f"{startup:.3f} s", startup < STARTUP_S))
    for result in memory:
        found.append(
            Goal(
                f"memory per task < {BYTES_PER_TASK:,} B at {result.tasks:,} tasks (RSS)",
                f"{result.rss_per_task:,.0f} B",
                result.rss_per_task < BYTES_PER_TASK,
            )
        )
    return found


def cell(summary: Summary, ceiling: Summary | None, key: str, template: str) -> str:
    value = template.format(summary.median(key))
    share = ratio(summary, ceiling, key)
    return f"{value} ({share:.2f}x)" if share is not None else value


def results_table(summaries: Sequence[Summary]) -> list[str]:
    """One row per target, each figure followed by its ratio to the ceiling's."""
    ceilings = by_role(summaries, "ceiling")
    ceiling = ceilings[0] if ceilings else None
    header = ["target", *(title for title, _, _ in FIGURES), "rounds, requests/s", "what runs"]
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(FIGURES) + 1) + " --- |"]
    for summary in summaries:
        if not summary.valid:
            errors = sum(sum(one.run.errors.values()) for one in summary.rounds)
            blank = " | ".join("" for _ in FIGURES)
            lines.append(f"| {summary.name} | INVALID ({errors} errors) {blank} | | {summary.note} |")
            continue
        cells = [cell(summary, ceiling, key, template) for _, key, template in FIGURES]
        spread = " / ".join(f"{one.run.requests_per_s:,.0f}{'*' if one.noisy else ''}" for one in summary.rounds)
        lines.append(f"| {summary.name} | {' | '.join(cells)} | {spread} | {summary.note} |")
    return lines


def goals_table(found: Sequence[Goal]) -> list[str]:
    lines = ["| target | measured | verdict |", "| --- | ---: | --- |"]
    lines += [f"| {goal.text} | {goal.measured} | {goal.verdict} |" for goal in found]
    return lines


def memory_table(memory: Sequence[MemoryResult]) -> list[str]:
    lines = [
        "| tasks stored | RSS growth (MB) | bytes per task (RSS) | bytes per task (tracemalloc) | time to store (s) |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in memory:
        traced = result.traced_per_task
        lines.append(
            f"| {result.tasks:,} | {result.rss_bytes / 2**20:,.0f} | {result.rss_per_task:,.0f} "
            f"| {'not measured' if traced is None else f'{traced:,.0f}'} | {result.seconds:.1f} |"
        )
    return lines


def round_spread(summary: Summary) -> float:
    """How far apart the rounds' requests/s are: fastest over slowest, minus one."""
    rates = [one.run.requests_per_s for one in summary.rounds]
    return max(rates) / min(rates) - 1 if rates and min(rates) > 0 else 0.0


def noise_line(summaries: Sequence[Summary]) -> str:
    rounds = [one for summary in summaries for one in summary.rounds]
    if not rounds:
        return "Noise: nothing measured."
    noisy = sum(one.noisy for one in rounds)
    busy = min(one.contention.server_busy for one in rounds)
    other = max(one.contention.other_load for one in rounds)
    spread = max((round_spread(summary) for summary in summaries if summary.valid), default=0.0)
    verdict = f"{noisy} of {len(rounds)} runs noisy (*): rerun on a quieter machine." if noisy else "quiet."
    return (
        f"Noise: the server was busy {busy:.0%} of a run at least; other processes and the hypervisor took up to "
        f"{other:.0%} of a pinned CPU; requests/s of one target varied by up to {spread:.0%} between rounds; " + verdict
    )


def scaling_table(summaries: Sequence[Summary]) -> list[str]:
    """The Redis rows beside the mock's own (tasks in memory): against the ceiling, against the same workload in
    memory, and in CPU time per request (the mock's processes and their Redis)."""
    ceilings = by_role(summaries, "ceiling")
    ceiling = ceilings[0] if ceilings else None
    local = {s.workload: s for s in by_role(summaries, "mock")}
    lines = [
        "| target | workers | requests/s | x ceiling | x tasks in memory | CPU per request (µs) | x tasks in memory "
        "| p50 (ms) | p99 (ms) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for summary in [*local.values(), *by_role(summaries, "redis")]:
        if not summary.valid:
            lines.append(f"| {summary.name} | {summary.workers} | INVALID | | | | | | |")
            continue
        base = local.get(summary.workload)
        shares = [
            ratio(summary, ceiling, "requests_per_s"),
            ratio(summary, base, "requests_per_s"),
            ratio(summary, base, "cpu_us_per_request"),
        ]
        shown = ["n/a" if share is None else f"{share:.2f} x" for share in shares]
        lines.append(
            f"| {summary.name} | {summary.workers} | {summary.median('requests_per_s'):,.0f} | {shown[0]} | "
            f"{shown[1]} | {summary.median('cpu_us_per_request'):,.0f} | {shown[2]} | "
            f"{summary.median('p50_ms'):.2f} | {summary.median('p99_ms'):.2f} |"
        )
    return lines


def scaling_section(summaries: Sequence[Summary], cores: int | None) -> list[str]:
    """What keeping state in Redis costs, and what more workers can and cannot show on this machine."""
    if not by_role(summaries, "redis"):
        return []
    return [
        "## Redis mode: what scaling out costs",
        "",
        f"Cores on this machine: {cores or 'unknown'}. The mock, its workers and the redis-server of its round all "
        "run on the server's CPU; wrk has the other to itself. Every ratio is to the ceiling (one process, one "
        "core) or to the same workload with the tasks in the mock's memory. CPU per request is the CPU time of the "
        "target's processes (the mock, its workers, its redis-server) over the requests answered: what each answer "
        "costs, whatever share of the core the target got. It too grows on a busy machine (caches, the "
        "hypervisor): compare it between the rows of one run.",
        "",
        *scaling_table(summaries),
        "",
        "- Each Redis row pays for its Redis out of the same core: two round trips per request (the scenarios' "
        "version, then the task: a script to create, a GET to query), the journal's batched writes, redis-py's "
        "work in the mock and Redis's own. No target: what this costs depends on where Redis runs, which is the "
        "deployment's choice, not the mock's.",
        "- Two workers on one core (the only layout a 2-core machine leaves once wrk has a core) cannot show what "
        "workers buy: they share the core the one worker had, so they show what a second process costs (context "
        "switches, a second connection pool, answers interleaved), and that the workers answer as one backend "
        "under load. A gain needs a core per worker beyond wrk's and Redis's: 4 cores or more.",
        "",
    ]


def verdict(found: Sequence[Goal], summaries: Sequence[Summary]) -> str:
    """PASS when every target measured is met, FAIL when one is not, INVALID when a run had errors."""
    if not all(summary.valid for summary in summaries):
        return "INVALID"
    return "FAIL" if any(goal.met is False for goal in found) else "PASS"


def markdown(
    summaries: Sequence[Summary],
    memory: Sequence[MemoryResult],
    setup: Sequence[str],
    notes: Sequence[str] = (),
    memory_method: str = "",
    peer_note: str | None = None,
    found: Sequence[Goal] | None = None,
    cores: int | None = None,
) -> str:
    """The whole report: setup lines, the results table, the targets, Redis mode, memory, noise and notes.

    `found`: the targets as `goals(summaries, memory, peer_note)` checks them, when the caller has them already.
    `cores`: the machine's, shown beside the Redis rows.
    """
    if found is None:
        found = goals(summaries, memory, peer_note)
    lines = ["# Benchmark: the mock against a bare Starlette endpoint (the ceiling) and Prism (the peer)", ""]
    lines += [*setup, ""]
    lines += [
        "Each figure is the median of the rounds, followed by its ratio to the ceiling's (requests/s: higher is "
        "better; latency, memory and startup: lower is better).",
        "",
    ]
    lines += [*results_table(summaries), ""]
    lines += [f"## Targets: {verdict(found, summaries)}", "", *goals_table(found), ""]
    lines += scaling_section(summaries, cores)
    if memory:
        lines += ["## Memory per stored task", "", *([memory_method, ""] if memory_method else [])]
        lines += [*memory_table(memory), ""]
    lines += [noise_line(summaries), ""]
    if notes:
        lines += [*(f"- {note}" for note in notes), ""]
    return "\n".join(lines)
