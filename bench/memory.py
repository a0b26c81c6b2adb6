"""Resident memory of the system's processes: sampled idle, and the maximum while load runs.

psutil is not a dependency of the project, so memory is read from ``/proc`` (Linux): each
process's ``VmRSS`` plus that of all its descendants (gunicorn's workers are children of the
arbiter, so an API's figure is the arbiter and its workers together).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:  # the process ended between listing and reading
        pass
    return 0


def _children_map() -> dict[int, list[int]]:
    """Parent pid → child pids, for every process in /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may contain spaces and parentheses: split after its end.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    return parents


def descendants(pid: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """Every descendant of ``pid`` (children, grandchildren, …), read from /proc."""
    children = _children_map() if children is None else children
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def rss_mib(pid: int, children: dict[int, list[int]] | None = None) -> float:
    """Resident memory of ``pid`` and all its descendants, in MiB."""
    return sum(_rss_kib(p) for p in [pid, *descendants(pid, children)]) / 1024


def snapshot(pids: dict[str, int]) -> dict[str, float]:
    """The resident memory of each named process tree now, in MiB."""
    children = _children_map()  # one pass over /proc for all the trees
    return {name: rss_mib(pid, children) for name, pid in pids.items()}


class PeakSampler:
    """A thread that samples every process's memory while load runs and keeps the maximum.

    Use as a context manager around the load: ``with PeakSampler(pids) as peak: …``, then read
    ``peak.max``. Sampling stops as soon as the block ends; at most one sample is in flight.
    """

    def __init__(self, pids: Callable[[], dict[str, int]], interval_s: float = 0.5) -> None:
        self._pids = pids
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self.max: dict[str, float] = {}
        self.samples = 0

    def _sample(self) -> None:
        for name, mib in snapshot(self._pids()).items():
            self.max[name] = max(mib, self.max.get(name, 0.0))
        self.samples += 1

    def _run(self) -> None:
        while True:
            self._sample()
            # Event.wait is the pacing of the sampler, not a synchronisation with the system.
            if self._stop.wait(self._interval_s):
                return

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def merge_max(*peaks: dict[str, float]) -> dict[str, float]:
    """The per-process maximum over several samplers."""
    out: dict[str, float] = {}
    for peak in peaks:
        for name, mib in peak.items():
            out[name] = max(mib, out.get(name, 0.0))
    return out
