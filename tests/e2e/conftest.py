"""The whole system as real processes: three gunicorn APIs and three workers, isolated per test."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from deploy.system import SERVICES, System
from tests.support import bearer_headers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """HTTP access to one running service."""

    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers.update(headers or {})

    def get(self, path: str, **kw) -> requests.Response:
        return self.session.get(self.base + path, timeout=10, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.session.post(self.base + path, timeout=10, **kw)


@pytest.fixture
def system(environ: dict[str, str], tmp_path: Path) -> Iterator[System]:
    env = dict(environ)
    env.update({f"{s.upper()}_PORT": str(free_port()) for s in SERVICES})
    env["GUNICORN_WORKERS"] = "1"
    # The web app runs too (deploy/system.py): its own free port and a session key.
    env.update({"WEB_PORT": str(free_port()), "WEB_SECRET_KEY": "e2e-test-key"})
    import os

    running = System(tmp_path / "run", {**os.environ, **env})
    running.start()
    try:
        running.wait_ready(timeout_s=60)
        yield running
    finally:
        running.stop(timeout_s=20)
        for log in sorted((tmp_path / "run" / "logs").glob("*.log")):
            # Kept next to the test's tmp dir; printed only when a test fails (pytest -rA shows it).
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")


@pytest.fixture
def apis(system: System, environ: dict[str, str]) -> dict[str, Api]:
    """Each running API, called with an admin token signed with the test's keys."""
    headers = bearer_headers(environ)
    return {s: Api(system.url(s), headers) for s in SERVICES}
