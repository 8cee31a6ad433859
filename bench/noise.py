"""Whether a run was disturbed: on a shared machine, other work on the pinned CPUs skews the numbers.

A run is noisy when other processes or the hypervisor took more than NOISY_SHARE of either pinned
CPU, or when the server was busy less than SATURATED of the time (then wrk, not the server, set the
pace). Sampled from /proc before and after the measured run. "The server" is every process of the
target on the server's CPU: with workers, the supervisor and each worker; with Redis, its redis-server too.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

NOISY_SHARE = 0.05
SATURATED = 0.9
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds so far: busy and stolen per pinned CPU (server's, load's), the server's, and ours with wrk's."""

    busy: tuple[float, float]
    steal: tuple[float, float]
    server: float
    ours: float


@dataclass(frozen=True)
class Contention:
    """The server's busy share of the run, and the largest share of a pinned CPU that others took."""

    server_busy: float
    other_load: float

    @property
    def noisy(self) -> bool:
        return self.other_load > NOISY_SHARE or self.server_busy < SATURATED


def sample(pids: Sequence[int], server_cpu: int, load_cpu: int) -> CpuSample:
    """`pids`: the server's processes (the same ones before and after a run)."""
    stat = Path("/proc/stat").read_text().splitlines()
    rows = {row.split()[0]: [int(value) for value in row.split()[1:9]] for row in stat if row.startswith("cpu")}
    cpus = [rows[f"cpu{cpu}"] for cpu in (server_cpu, load_cpu)]
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuSample(
        busy=(_busy(cpus[0]), _busy(cpus[1])),
        steal=(cpus[0][7] / CLOCK_TICKS, cpus[1][7] / CLOCK_TICKS),
        server=sum(_cpu_seconds(pid) for pid in pids),
        ours=own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
    )


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process, 0 once it is gone."""
    try:
        # Fields 14 and 15 of /proc/PID/stat, counted after the parenthesised command name.
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _busy(row: list[int]) -> float:
    """user + nice + system of one /proc/stat CPU row, in seconds."""
    return (row[0] + row[1] + row[2]) / CLOCK_TICKS


def contention(before: CpuSample, after: CpuSample, seconds: float) -> Contention:
    """Everything on the server's CPU that is not the server, and on the load CPU that is not us or wrk."""
    server = after.server - before.server
    others_on_server_cpu = after.busy[0] - before.busy[0] - server
    others_on_load_cpu = after.busy[1] - before.busy[1] - (after.ours - before.ours)
    stolen = [after.steal[cpu] - before.steal[cpu] for cpu in (0, 1)]
    other = max(0.0, others_on_server_cpu + stolen[0], others_on_load_cpu + stolen[1])
    return Contention(server_busy=server / seconds, other_load=other / seconds)
