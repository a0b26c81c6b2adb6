"""A worker started while the broker is unreachable waits for it (no crash loop) and still stops
promptly on SIGTERM."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from deploy.system import System
from tests.e2e.conftest import free_port
from tests.support import wait_for


def test_a_worker_waiting_for_the_broker_stops_on_sigterm(environ, tmp_path: Path) -> None:
    env = {**os.environ, **environ, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    system = System(tmp_path / "run", env)
    system.start(only=["casework-worker"])
    try:
        log = system.log_dir / "casework-worker.log"
        # It keeps trying, every few seconds (each try is bounded, so a stop request is seen).
        wait_for(
            lambda: log.exists() and log.read_text().count("Kafka not ready") >= 2,
            timeout_s=20,
            what="the worker retrying Kafka",
        )
        assert system.pid("casework-worker"), "the worker must wait, not exit"
        system.signal("casework-worker", signal.SIGTERM)
        wait_for(lambda: system.pid("casework-worker") is None, timeout_s=10, what="exit")
    finally:
        system.stop(timeout_s=5)
