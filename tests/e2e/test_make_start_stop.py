"""The two commands' promise for the services: after ``make start`` every API is ready, after
``make stop`` no process of the system is left; and a taken port is named, not a timeout.

Run through ``make`` itself, against this test's own broker and store (``KAFKA_BOOTSTRAP_SERVERS``
and ``MONGODB_URI`` set, so ``deploy/infra.sh`` starts and stops nothing), on free ports.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from deploy.system import SERVICES, System
from tests.e2e.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def make(target: str, env: dict[str, str], timeout_s: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.fixture
def make_env(environ: dict[str, str], tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, **environ, "SPORTELLO_RUN_DIR": str(tmp_path / "run")}
    env.update({f"{s.upper()}_PORT": str(free_port()) for s in SERVICES})
    env.update({"WEB_PORT": str(free_port()), "GUNICORN_WORKERS": "2"})
    return env


def group_members(pgid: int) -> list[int]:
    """The live processes of process group ``pgid`` (from /proc, zombies excluded)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def test_make_start_serves_readyz_on_every_api_and_make_stop_leaves_nothing(
    make_env: dict[str, str],
) -> None:
    system = System(Path(make_env["SPORTELLO_RUN_DIR"]), make_env)
    started = make("start", make_env)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        for service in SERVICES:
            assert requests.get(f"{system.url(service)}/readyz", timeout=5).status_code == 200
        pids = {name: pid for name, pid in system.status().items() if pid}
        expected = {f"{s}-{kind}" for s in SERVICES for kind in ("api", "worker")} | {"web-api"}
        assert set(pids) == expected
        # gunicorn's arbiter forks its workers into its own group: they are what must not linger.
        assert len(group_members(pids["intake-api"])) == 3, "arbiter and two workers expected"
    finally:
        stopped = make("stop", make_env)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not any(system.status().values())
    leftovers = {name: group_members(pgid) for name, pgid in pids.items()}
    assert not any(leftovers.values()), f"processes left after make stop: {leftovers}"
    for service in SERVICES:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", system.port(service))) != 0, f"{service} listens"


def test_a_taken_api_port_is_named_at_start(make_env: dict[str, str]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        env = {**make_env, "CASEWORK_PORT": str(taken)}
        result = subprocess.run(
            [sys.executable, "-m", "deploy.system", "start"],
            cwd=ROOT,
            env={**env, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"CASEWORK_PORT={taken}" in result.stderr
    assert not any(System(Path(env["SPORTELLO_RUN_DIR"]), env).status().values())
