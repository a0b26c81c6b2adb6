"""Start and stop the whole Sportello system on this machine: three APIs and three workers.

    python -m deploy.system run     # infrastructure + services + demo data; Ctrl-C stops all
    python -m deploy.system start   # services only, in the background
    python -m deploy.system stop    # stop what start/run started
    python -m deploy.system status

The end-to-end tests use ``System`` directly, with their own prefixes and ports.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("intake", "casework", "notifications")
DEFAULT_PORTS = {"intake": 8001, "casework": 8002, "notifications": 8003}


@dataclass(frozen=True)
class Process:
    """One process of the system: its name and command line."""

    name: str
    argv: list[str]


def processes(python: str = sys.executable) -> list[Process]:
    """Every process of the system: an API under gunicorn and a worker per service."""
    procs = []
    for service in SERVICES:
        gunicorn_conf = str(ROOT / "services" / service / "gunicorn_conf.py")
        procs.append(Process(f"{service}-api", [python, "-m", "gunicorn", "-c", gunicorn_conf]))
        procs.append(
            Process(f"{service}-worker", [python, "-m", f"services.{service}.entrypoints.worker"])
        )
    # The web app: pages for people, calling the three APIs over HTTP (no worker, no store).
    web_conf = str(ROOT / "services" / "web" / "gunicorn_conf.py")
    procs.append(Process("web-api", [python, "-m", "gunicorn", "-c", web_conf]))
    return procs


DEV_KEY_FILE = "auth-dev.key"


def dev_auth_env(run_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """In development (``SPORTELLO_ENV=dev``) without ``AUTH_JWT_KEYS``: a random token key kept
    in the run directory (mode 0600), the same for every process and every run of that directory.
    Elsewhere nothing: keys must come from the environment."""
    if environ.get("SPORTELLO_ENV") != "dev" or environ.get("AUTH_JWT_KEYS", "").strip():
        return {}
    path = run_dir / DEV_KEY_FILE
    if not path.exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return {"AUTH_JWT_KEYS": f"dev:{path.read_text().strip()}", "AUTH_JWT_SIGNING_KID": "dev"}


@dataclass
class System:
    """The running system: processes started from ``run_dir`` with ``env``."""

    run_dir: Path
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def pid_dir(self) -> Path:
        return self.run_dir / "pids"

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    def port(self, service: str) -> int:
        """The HTTP port of ``service``'s API."""
        return int(self.env.get(f"{service.upper()}_PORT", DEFAULT_PORTS[service]))

    def url(self, service: str) -> str:
        """The base URL of ``service``'s API."""
        return f"http://127.0.0.1:{self.port(service)}"

    def start(self, only: list[str] | None = None) -> None:
        """Start every process not already running (or only those named)."""
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**self.env, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        if not any(self.pid(p.name) for p in processes()):
            # Fresh start: figures of processes from an earlier run must not be summed in.
            shutil.rmtree(self.run_dir / "metrics", ignore_errors=True)
        for proc in processes():
            if only and proc.name not in only:
                continue
            if self.pid(proc.name):
                continue
            # The API's and the worker's metrics meet in one directory per service.
            metrics_dir = self.run_dir / "metrics" / proc.name.rsplit("-", 1)[0]
            metrics_dir.mkdir(parents=True, exist_ok=True)
            env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
            # Static membership: a restarted worker takes its partitions back without a rebalance.
            env["KAFKA_GROUP_INSTANCE_ID"] = f"{proc.name}-1"
            log = open(self.log_dir / f"{proc.name}.log", "ab")  # noqa: SIM115 - owned by child
            child = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
                proc.argv,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
            (self.pid_dir / f"{proc.name}.pid").write_text(str(child.pid))

    def pid(self, name: str) -> int | None:
        """The pid of process ``name`` if it is alive."""
        path = self.pid_dir / f"{name}.pid"
        if not path.exists():
            return None
        pid = int(path.read_text())
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return _reap(pid)

    def signal(self, name: str, sig: signal.Signals) -> None:
        """Send ``sig`` to process ``name`` (tests use SIGKILL to prove the guarantees)."""
        pid = self.pid(name)
        if pid:
            os.kill(pid, sig)

    def stop(self, only: list[str] | None = None, timeout_s: float = 30) -> None:
        """SIGTERM every process (or those named), SIGKILL what is still alive at the deadline.

        Each process leads its own process group (``start_new_session``): the group is what is
        waited for and, at the deadline, killed, so no gunicorn worker outlives its arbiter.
        """
        names = [p.name for p in processes() if not only or p.name in only]
        pids = {n: self.pid(n) for n in names}
        for pid in filter(None, pids.values()):
            _try_kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for name, pid in pids.items():
            while pid and (_alive(pid) or _group_alive(pid)):
                if time.monotonic() > deadline:
                    _try_killpg(pid, signal.SIGKILL)
                time.sleep(0.1)
            (self.pid_dir / f"{name}.pid").unlink(missing_ok=True)

    def busy_ports(self) -> list[str]:
        """The API ports (as ``VARIABLE=port``) something else already listens on."""
        wanted = {f"{s.upper()}_PORT": self.port(s) for s in SERVICES}
        wanted["WEB_PORT"] = int(self.env.get("WEB_PORT", 8000))
        return [f"{var}={port}" for var, port in wanted.items() if _listening(port)]

    def wait_ready(self, timeout_s: float = 60) -> None:
        """Wait until every API answers ``/readyz`` with 200 (raises on timeout)."""
        deadline = time.monotonic() + timeout_s
        pending = list(SERVICES)
        while pending:
            service = pending[0]
            if _get_status(f"{self.url(service)}/readyz") == 200:
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{service} non è pronto dopo {timeout_s:.0f}s (log in {self.log_dir})"
                )
            time.sleep(0.2)

    @property
    def supervisor_file(self) -> Path:
        return self.run_dir / "supervisor.pid"

    def supervisor_pid(self) -> int | None:
        """The pid of a foreground ``run`` supervising this system, if alive."""
        try:
            pid = int(self.supervisor_file.read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def status(self) -> dict[str, int | None]:
        """Each process's pid, or None when it is not running."""
        return {p.name: self.pid(p.name) for p in processes()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return _reap(pid) is not None


def _reap(pid: int) -> int | None:
    """Collect a child that has exited (our own children would otherwise linger as zombies)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return pid  # not our child: kill(0) said it is alive
    return None if done else pid


def _try_kill(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _try_killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is left (a leader's children outlive it)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _get_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local http only
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _supervise(system: System) -> None:
    """Keep the system up until SIGINT/SIGTERM; restart a process that died, at most every 5 s."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    last_restart: dict[str, float] = {}
    while not stop.wait(1):
        for name, pid in system.status().items():
            if pid is None and time.monotonic() - last_restart.get(name, 0) > 5:
                print(f"sportello: {name} si è fermato, lo riavvio (log in {system.log_dir})")
                last_restart[name] = time.monotonic()
                system.start(only=[name])


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m deploy.system")
    parser.add_argument("command", choices=["run", "start", "stop", "status"])
    parser.add_argument(
        "--run-dir", default=os.environ.get("SPORTELLO_RUN_DIR", str(ROOT / ".run" / "dev"))
    )
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir)
    system = System(run_dir, {**os.environ, **dev_auth_env(run_dir, os.environ)})
    if args.command == "status":
        for name, pid in system.status().items():
            print(f"{name:24} {f'attivo (pid {pid})' if pid else 'fermo'}")
        return 0
    if args.command == "stop":
        # A foreground `run` supervises the processes: stop it first, or it would restart them.
        supervisor = system.supervisor_pid()
        if supervisor:
            _try_kill(supervisor, signal.SIGTERM)
            deadline = time.monotonic() + 60
            while _alive(supervisor) and time.monotonic() < deadline:
                time.sleep(0.2)
        system.stop()
        print("sportello: servizi fermati")
        return 0
    if not any(system.status().values()) and (busy := system.busy_ports()):
        print(
            "sportello: porte già occupate da un altro programma: "
            f"{', '.join(busy)}. Liberale o scegli altre porte con queste variabili.",
            file=sys.stderr,
        )
        return 1
    system.start()
    try:
        system.wait_ready()
    except TimeoutError as exc:
        print(f"sportello: {exc}", file=sys.stderr)
        system.stop()
        return 1
    if args.command == "start":
        return 0
    subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "services.intake.entrypoints.cli", "seed-demo"],
        check=False,
        cwd=ROOT,
    )
    print("\nSportello è pronto:")
    print(f"  web app        http://127.0.0.1:{system.env.get('WEB_PORT', 8000)}/   (Italiano)")
    for service in SERVICES:
        print(f"  {service:14} {system.url(service)}/docs   (API: {system.url(service)}/api/v1)")
    print(f"  log            {system.log_dir}")
    print("Ctrl-C (o `make stop` da un altro terminale) ferma tutto.\n", flush=True)
    system.supervisor_file.write_text(str(os.getpid()))
    try:
        _supervise(system)
    finally:
        system.stop()
        system.supervisor_file.unlink(missing_ok=True)
        print("sportello: servizi fermati")
    return 0


if __name__ == "__main__":
    sys.exit(main())
