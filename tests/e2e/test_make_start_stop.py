"""The two commands' promise for the services: after ``make run`` every API is ready and the URLs
are printed, after ``make stop`` no process of the system is left; a taken port is named.

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
from tests.support import wait_for

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


def ready(system: System) -> bool:
    for service in SERVICES:
        try:
            if requests.get(f"{system.url(service)}/readyz", timeout=5).status_code != 200:
                return False
        except requests.RequestException:  # not listening yet, or too busy starting to answer
            return False
    return True


def test_make_run_serves_readyz_on_every_api_and_make_stop_leaves_nothing(
    make_env: dict[str, str], tmp_path: Path
) -> None:
    system = System(Path(make_env["SPORTELLO_RUN_DIR"]), make_env)
    output = tmp_path / "make-run.out"
    with output.open("w") as out:
        # `make run` stays in the foreground, supervising; `make stop` from elsewhere ends it.
        run = subprocess.Popen(
            ["make", "--no-print-directory", "run"], cwd=ROOT, env=make_env, stdout=out, stderr=out
        )
    try:
        wait_for(lambda: ready(system) or run.poll() is not None, timeout_s=150, what="readyz")
        assert run.poll() is None, output.read_text()
        printed = wait_for(
            lambda: "Sportello è pronto" in output.read_text() and output.read_text(),
            timeout_s=60,
            what="the URLs printed",
        )
        for service in SERVICES:
            assert f"{system.url(service)}/docs" in printed
        pids = {name: pid for name, pid in system.status().items() if pid}
        expected = {f"{s}-{kind}" for s in SERVICES for kind in ("api", "worker")} | {"web-api"}
        assert set(pids) == expected
        # gunicorn's arbiter forks its workers into its own group: they are what must not linger.
        assert len(group_members(pids["intake-api"])) == 3, "arbiter and two workers expected"
    finally:
        stopped = make("stop", make_env)
        try:
            run.wait(timeout=90)
        finally:
            if run.poll() is None:
                run.kill()
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert run.returncode == 0, output.read_text()
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


def test_make_start_from_a_fresh_shell_loads_the_demo_data_and_make_stop_ends_everything(
    make_env: dict[str, str],
) -> None:
    # A fresh shell sets none of the keys the suite uses: `make start`, like `make run`, must
    # fall back to the development ones for every step, the demo data included.
    env = {
        k: v
        for k, v in make_env.items()
        if k
        not in ("FIELD_ENCRYPTION_KEYS", "AUTH_JWT_KEYS", "AUTH_JWT_SIGNING_KID", "SPORTELLO_ENV")
    }
    system = System(Path(env["SPORTELLO_RUN_DIR"]), env)
    try:
        started = make("start", env)
        assert started.returncode == 0, started.stdout + started.stderr
        assert "Traceback" not in started.stderr, started.stderr
        assert "dati demo: " in started.stdout, started.stdout
        wait_for(lambda: ready(system), timeout_s=150, what="readyz")
    finally:
        stopped = make("stop", env)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not any(system.status().values())
