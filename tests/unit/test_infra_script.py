"""deploy/infra.sh says what is wrong in one line instead of a stack trace, and does nothing to
servers it does not own. Each case stops before anything is started or downloaded."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "infra.sh"


def infra(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI")
    }
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={**base, "SPORTELLO_RUN_DIR": str(tmp_path / "run"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_missing_tool_is_named(tmp_path: Path) -> None:
    # An empty cache and a PATH with bash and coreutils but no Go: the build cannot start.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "cat", "sed", "sha256sum", "cut", "dirname", "mkdir"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    result = infra(
        tmp_path, "install", "mongo", PATH=str(bin_dir), SPORTELLO_CACHE=str(tmp_path / "c")
    )
    assert result.returncode == 1
    assert "infra: ERRORE: 'go' non trovato" in result.stderr
    assert "Traceback" not in result.stderr and "line " not in result.stderr


def test_a_taken_port_is_named_with_its_variable(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = infra(tmp_path, "start", "mongo", SPORTELLO_MONGO_PORT=str(port))
    assert result.returncode == 1
    assert f"la porta {port} è occupata" in result.stderr
    assert "SPORTELLO_MONGO_PORT" in result.stderr


def test_external_servers_are_neither_started_nor_stopped(tmp_path: Path) -> None:
    external = {"KAFKA_BOOTSTRAP_SERVERS": "kafka.example:9092", "MONGODB_URI": "mongodb://db/"}
    started = infra(tmp_path, "start", **external)
    stopped = infra(tmp_path, "stop", **external)
    assert started.returncode == stopped.returncode == 0
    assert "non avvio nulla" in started.stdout
    assert "Kafka esterno" in stopped.stdout and "MongoDB esterno" in stopped.stdout
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").rglob("*.pid"))


def test_an_unknown_store_sync_mode_is_named_before_anything_starts(tmp_path: Path) -> None:
    result = infra(tmp_path, "start", "mongo", SPORTELLO_FERRETDB_SYNC="sometimes")
    assert result.returncode == 1
    assert "SPORTELLO_FERRETDB_SYNC deve essere 'normal' o 'full', non 'sometimes'" in result.stderr
    assert not (tmp_path / "run").exists()
