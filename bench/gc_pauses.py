"""The garbage collector's pauses in an API process, without and with ``gc.freeze``.

An API worker holds some 100,000 objects it built at start (modules, the app, its schemas).
Python's full collection walks all of them: unfrozen, every few hundred requests one request
pays for that walk. ``shared.gunicorn_base.post_worker_init`` freezes them once the app is built.
This loads a few thousand cases and case files as ``make bench`` does (``bench.queries.load``),
then serves casework's list of case files (pages of 50) in this process through the app, first
unfrozen, then frozen, timing each request and each collection (``gc.callbacks``):

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19292 MONGODB_URI=mongodb://127.0.0.1:27020/ \\
        .venv/bin/python -m bench.gc_pauses --requests 1500

The process also ran the loader (its data is gone by the first collection: the frozen count is
what stays, about as many as an API worker holds); it collects before it freezes, as the
workers do. Nothing is produced to or consumed from Kafka (``/readyz`` looks at the broker);
the databases it loads are dropped at the end.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import queries, workload
from bench.id_range import percentile
from bench.run import cleanup, isolated_env

HEADER = (
    "| gc | requests | p50 ms | p99 ms | max ms | full collections | longest ms | total ms |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


@dataclass
class Pauses:
    """The collections seen, by generation: how long each took, in ms."""

    by_generation: dict[int, list[float]] = field(default_factory=lambda: {0: [], 1: [], 2: []})
    _started: float = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            elapsed = (time.perf_counter() - self._started) * 1000
            self.by_generation[info["generation"]].append(elapsed)


def serve(call: Callable[[], int], requests: int) -> tuple[list[float], Pauses]:
    """``requests`` calls, each timed in ms, and the collections they caused."""
    pauses = Pauses()
    gc.callbacks.append(pauses)
    try:
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            status = call()
            times.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise SystemExit(f"bench: the list answered {status}")
    finally:
        gc.callbacks.remove(pauses)
    return times, pauses


def row(label: str, times: list[float], pauses: Pauses) -> str:
    full = pauses.by_generation[2]
    return (
        f"| {label} | {len(times)} | {percentile(times, 50):.1f} | {percentile(times, 99):.1f} | "
        f"{max(times):.1f} | {len(full)} | {max(full, default=0):.1f} | {sum(full):.0f} |"
    )


def main(argv: list[str] | None = None) -> int:
    """Load, serve unfrozen then frozen, print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=1500)
    args = parser.parse_args(argv)

    prefix = f"gcp{uuid.uuid4().hex[:6]}"
    env = {**os.environ, **isolated_env(prefix)}
    os.environ.update(env)
    # After the environment: the app reads its settings from it.
    from services.casework.entrypoints.app import create_app

    client = create_app().test_client()
    headers = workload.token_headers(env)
    try:
        client.get("/readyz")  # the API creates its indexes before the load
        queries.load(env, args.cases, max(3, args.cases * 3 // 10))

        def page() -> int:
            return client.get("/api/v1/case-files", headers=headers).status_code

        for _ in range(20):  # warm-up: caches, connections
            page()
        gc.collect()
        print(HEADER)
        print(row("unfrozen", *serve(page, args.requests)), flush=True)
        gc.collect()
        gc.freeze()
        print(row(f"frozen ({gc.get_freeze_count():,} objects)", *serve(page, args.requests)))
        gc.unfreeze()
    finally:
        cleanup(env["MONGODB_URI"], [prefix])
    return 0


if __name__ == "__main__":
    sys.exit(main())
