"""HTTP load on loopback: open-loop at a fixed arrival rate, or closed-loop at full speed.

Latency is measured from the moment a request was *scheduled*, not sent, so a slow server cannot
hide its queueing (no coordinated omission). Every loop is bounded in count and time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests


@dataclass
class Result:
    """What a load run measured."""

    latencies_s: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    elapsed_s: float = 0.0
    bodies: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if 200 <= s < 300)

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s else 0.0

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile latency in milliseconds."""
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000


Request = Callable[[requests.Session, int], requests.Response]

_local = threading.local()


def _session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def _record(
    result: Result,
    lock: threading.Lock,
    started: float,
    response: requests.Response | None,
    keep_body: bool,
) -> None:
    latency = time.perf_counter() - started
    with lock:
        if response is None:
            result.errors += 1
            return
        result.latencies_s.append(latency)
        result.statuses[response.status_code] = result.statuses.get(response.status_code, 0) + 1
        if keep_body and response.status_code < 300:
            result.bodies.append(response.json())


def open_loop(
    request: Request, rate: float, count: int, threads: int = 32, keep_bodies: bool = False
) -> Result:
    """Send ``count`` requests at ``rate``/s (as scheduled), up to ``threads`` in flight."""
    result, lock = Result(), threading.Lock()
    start = time.perf_counter()

    def one(i: int) -> None:
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            response = request(_session(), i)
        except requests.RequestException:
            response = None
        _record(result, lock, scheduled, response, keep_bodies)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(count)))
    result.elapsed_s = time.perf_counter() - start
    return result


def closed_loop(
    request: Request,
    clients: int,
    duration_s: float,
    max_requests: int = 100_000,
    keep_bodies: bool = False,
) -> Result:
    """``clients`` loops sending back to back for ``duration_s`` (the maximum rate)."""
    result, lock = Result(), threading.Lock()
    counter = iter(range(max_requests))
    start = time.perf_counter()
    deadline = start + duration_s

    def client() -> None:
        while time.perf_counter() < deadline:
            try:
                i = next(counter)
            except StopIteration:
                return
            sent = time.perf_counter()
            try:
                response = request(_session(), i)
            except requests.RequestException:
                response = None
            _record(result, lock, sent, response, keep_bodies)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        for _ in range(clients):
            pool.submit(client)
    result.elapsed_s = time.perf_counter() - start
    return result
