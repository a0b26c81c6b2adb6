"""FerretDB's SQLite durability setting, measured: single inserts per second with
``SPORTELLO_FERRETDB_SYNC=full`` (an fsync per commit) and ``normal`` (the default).

    .venv/bin/python -m bench.store_sync [--docs 3000] [--rounds 2]

Each round starts a throw-away FerretDB per mode through ``deploy/infra.sh`` on a free port
(alternating the modes, so a busy moment of the machine does not favour one) and times one
thread's ``insert_one`` of case-file-like documents, as the catch-up benchmark's raw rate does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.run import free_port, raw_insert_rate

ROOT = Path(__file__).resolve().parents[1]
MODES = ("full", "normal")


def _infra(command: str, run_dir: str, port: int, mode: str) -> None:
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI")
        },
        "SPORTELLO_RUN_DIR": run_dir,
        "SPORTELLO_MONGO_PORT": str(port),
        "SPORTELLO_FERRETDB_SYNC": mode,
    }
    subprocess.run(
        [str(ROOT / "deploy" / "infra.sh"), command, "mongo"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def measure(mode: str, docs: int) -> float:
    """Inserts per second into a fresh FerretDB started with ``mode``."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"sync-{mode}-") as run_dir:
        _infra("start", run_dir, port, mode)
        try:
            return raw_insert_rate(f"mongodb://127.0.0.1:{port}/", "store_sync", docs)
        finally:
            _infra("stop", run_dir, port, mode)


def main(argv: list[str] | None = None) -> int:
    """Print one markdown table: each mode's rates per round and the ratio of the best."""
    parser = argparse.ArgumentParser(prog="python -m bench.store_sync")
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            rates[mode].append(measure(mode, args.docs))
            print(f"bench: {mode} {rates[mode][-1]:.0f}/s", file=sys.stderr)
    print("| SPORTELLO_FERRETDB_SYNC | insert_one per second (each round) | best |")
    print("| --- | --- | --- |")
    for mode in MODES:
        each = ", ".join(f"{r:.0f}" for r in rates[mode])
        print(f"| `{mode}` | {each} | {max(rates[mode]):.0f}/s |")
    print(f"\n{args.docs} documents per round, one thread, {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
