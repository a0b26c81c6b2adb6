"""`make bench`: start the system on this machine, generate load, print a markdown table.

Every figure stands next to a ceiling measured in the same run, as a ratio:

1. intake: cases opened per second and latency at 50/s, 200/s and the maximum, against a bare
   Flask + gunicorn endpoint that does one insert into the same store with the same worker settings;
2. end to end: from intake's 201 to the case file stored in casework and the custode's
   notification recorded, at 50 cases per second;
3. catch-up: a backlog of events consumed per second by one casework worker, against Kafka's own
   consumer performance tool on the same topic and against the store's raw insert rate;
4. memory: resident memory of each process, idle and under load.

All traffic goes to 127.0.0.1; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pymongo
import requests
from kafka import KafkaConsumer, TopicPartition

from bench import workload
from bench.load import Result, closed_loop, open_loop
from deploy.system import SERVICES, System
from shared.events import encode
from shared.kafka import EventProducer, ensure_topics

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    """One line of the results table."""

    what: str
    figure: str
    ceiling: str
    ratio: str
    note: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fmt_ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.0%}" if b else "n/a"


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (gunicorn workers), in MiB."""
    total = 0
    for p in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def start_bare(env: dict[str, str], port: int, run_dir: Path) -> tuple[subprocess.Popen, str]:
    """The bare ceiling app under gunicorn, with the intake API's worker settings."""
    log = open(run_dir / "bare.log", "ab")  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "shared" / "gunicorn_base.py"),
            "-b",
            f"127.0.0.1:{port}",
            "bench.bare_app:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.post(f"http://127.0.0.1:{port}/bare", json={}, timeout=1)
            return proc, f"http://127.0.0.1:{port}"
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError("bare app did not start")


def intake_rows(system: System, bare_url: str, ctx: workload.Context, quick: bool) -> list[Row]:
    """Benchmark 1: intake against the bare ceiling at 50/s, 200/s and the maximum."""
    rows = []
    intake = system.url("intake")
    scale = 0.25 if quick else 1.0
    for rate in (50, 200):
        count = int(rate * 20 * scale)
        r = open_loop(lambda s, i: workload.open_case(s, intake, ctx), rate, count)
        b = open_loop(
            lambda s, i: s.post(f"{bare_url}/bare", json=workload.bare_body(i), timeout=10),
            rate,
            count,
        )
        rows.append(
            Row(
                f"intake @ {rate}/s: throughput",
                f"{r.throughput:.0f}/s",
                f"{b.throughput:.0f}/s",
                ratio(r.throughput, b.throughput),
                f"{r.ok}/{count} ok, statuses {r.statuses}",
            )
        )
        for p in (50, 95, 99):
            rows.append(
                Row(
                    f"intake @ {rate}/s: p{p}",
                    fmt_ms(r.percentile(p)),
                    fmt_ms(b.percentile(p)),
                    ratio(b.percentile(p), r.percentile(p)),
                    "ceiling ÷ figure",
                )
            )
    duration = 20 * scale
    r = closed_loop(
        lambda s, i: workload.open_case(s, intake, ctx), clients=16, duration_s=duration
    )
    b = closed_loop(
        lambda s, i: s.post(f"{bare_url}/bare", json=workload.bare_body(i), timeout=10),
        clients=16,
        duration_s=duration,
    )
    rows.append(
        Row(
            "intake max (16 clients): throughput",
            f"{r.throughput:.0f}/s",
            f"{b.throughput:.0f}/s",
            ratio(r.throughput, b.throughput),
            f"target ≥ 50 %; statuses {r.statuses}",
        )
    )
    for p in (50, 95, 99):
        rows.append(
            Row(
                f"intake max: p{p}",
                fmt_ms(r.percentile(p)),
                fmt_ms(b.percentile(p)),
                ratio(b.percentile(p), r.percentile(p)),
                "ceiling ÷ figure",
            )
        )
    return rows


def end_to_end_rows(
    system: System, env: dict[str, str], ctx: workload.Context, quick: bool
) -> list[Row]:
    """Benchmark 2: 201 at intake → case file in casework and notification recorded."""
    intake = system.url("intake")
    count = 250 if quick else 1000
    done_at: dict[str, float] = {}

    def request(s: requests.Session, i: int) -> requests.Response:
        response = workload.open_case(s, intake, ctx)
        if response.status_code == 201:
            done_at[response.json()["id"]] = time.time()
        return response

    client = pymongo.MongoClient(env["MONGODB_URI"])
    prefix = env["SPORTELLO_DB_PREFIX"]
    case_files = client[f"{prefix}_casework"]["case_files"]
    notifications = client[f"{prefix}_notifications"]["notifications"]
    seen_case_file: dict[str, float] = {}

    result: Result = open_loop(request, 50, count)
    deadline = time.monotonic() + 120
    pending = set(done_at)
    while pending and time.monotonic() < deadline:
        for doc in case_files.find({"_id": {"$in": list(pending)}}, {"_id": 1}):
            seen_case_file[doc["_id"]] = time.time()
            pending.discard(doc["_id"])
        time.sleep(0.01)
    latencies = []
    notified: dict[str, float] = {}
    for doc in notifications.find(
        {"case_id": {"$in": list(done_at)}}, {"case_id": 1, "created_at": 1}
    ):
        at = doc["created_at"].replace(tzinfo=UTC).timestamp()
        notified[doc["case_id"]] = min(at, notified.get(doc["case_id"], at))
    for case_id, t201 in done_at.items():
        if case_id in seen_case_file and case_id in notified:
            latencies.append(max(seen_case_file[case_id], notified[case_id]) - t201)
    client.close()
    e2e = Result(latencies_s=latencies)
    missing = len(done_at) - len(latencies)
    return [
        Row(
            f"end to end @ 50/s: p{p}",
            fmt_ms(e2e.percentile(p)),
            "500 ms (target p99)",
            ratio(500, e2e.percentile(p)),
            f"{len(latencies)} cases, {missing} not complete; case file polled every 10 ms"
            if p == 50
            else "",
        )
        for p in (50, 95, 99)
    ] + [Row("intake @ 50/s during e2e: p99", fmt_ms(result.percentile(99)), "", "")]


def catch_up_rows(env: dict[str, str], run_dir: Path, events: int) -> list[Row]:
    """Benchmark 3: a backlog consumed by one casework worker vs Kafka's tool vs raw inserts."""
    prefix = f"catchup{uuid.uuid4().hex[:6]}"
    cenv = {
        **env,
        "SPORTELLO_DB_PREFIX": prefix,
        "SPORTELLO_TOPIC_PREFIX": prefix,
        "KAFKA_PARTITIONS": "6",
    }
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    topic = f"{prefix}.intake"
    ensure_topics(bootstrap, [topic], 6)
    producer = EventProducer(bootstrap, linger_ms=20)
    batch: list = []
    for i in range(events):
        event = workload.case_opened_event(i)
        batch.append((topic, event.subject, encode(event), []))
        if len(batch) == 5000:
            producer.send_many(batch, timeout_s=120)
            batch = []
    if batch:
        producer.send_many(batch, timeout_s=120)
    producer.close()

    system = System(run_dir / "catchup", {**os.environ, **cenv})
    started = time.perf_counter()
    system.start(only=["casework-worker"])
    group = f"{prefix}.casework"
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline and committed(bootstrap, group, topic) < events:
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    consumed = committed(bootstrap, group, topic)
    system.stop()
    worker_rate = consumed / elapsed

    kafka_rate = kafka_consumer_perf(bootstrap, topic, events)
    raw_rate = raw_insert_rate(env["MONGODB_URI"], 5000)
    return [
        Row(
            f"catch-up: {events} events, 1 casework worker",
            f"{worker_rate:.0f}/s",
            f"{kafka_rate:.0f}/s (Kafka ConsumerPerformance)",
            ratio(worker_rate, kafka_rate),
            "target ≥ 30 %; includes worker start-up",
        ),
        Row(
            "catch-up vs the store's raw insert rate",
            f"{worker_rate:.0f}/s",
            f"{raw_rate:.0f}/s (pymongo insert_one, 1 thread)",
            ratio(worker_rate, raw_rate),
        ),
    ]


def committed(bootstrap: str, group: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        return sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in parts)
    finally:
        consumer.close()


def kafka_consumer_perf(bootstrap: str, topic: str, messages: int) -> float:
    """Kafka's own ConsumerPerformance tool (from the cached Kafka jars) on the same topic."""
    cache = Path(os.environ.get("SPORTELLO_CACHE", Path.home() / ".cache" / "sportello"))
    libs = next(cache.glob("kafka-*/libs"))
    out = subprocess.run(
        [
            "java",
            "-Xmx512m",
            "-cp",
            f"{libs}/*",
            "org.apache.kafka.tools.ConsumerPerformance",
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--messages",
            str(messages),
            "--group",
            f"perf-{uuid.uuid4().hex[:6]}",
            "--hide-header",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    # start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, ...
    line = [ln for ln in out.stdout.splitlines() if re.match(r"^\d{4}-", ln)][-1]
    return float(line.split(",")[5])


def raw_insert_rate(uri: str, count: int) -> float:
    client = pymongo.MongoClient(uri)
    collection = client["bench_raw"]["docs"]
    collection.drop()
    docs = [workload.case_file_like(i) for i in range(count)]
    started = time.perf_counter()
    for doc in docs:
        collection.insert_one(doc)
    rate = count / (time.perf_counter() - started)
    client.drop_database("bench_raw")
    client.close()
    return rate


def memory_rows(system: System, idle: dict[str, float], loaded: dict[str, float]) -> list[Row]:
    return [
        Row(
            f"memory: {name}",
            f"{loaded.get(name, 0):.0f} MiB under load",
            f"{idle[name]:.0f} MiB idle",
            ratio(loaded.get(name, 0), idle[name]),
        )
        for name in idle
    ]


def memory(system: System) -> dict[str, float]:
    return {name: rss_mb(pid) for name, pid in system.status().items() if pid}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--quick", action="store_true", help="shorter runs (smoke test)")
    parser.add_argument("--catchup-events", type=int, default=100_000)
    parser.add_argument("--skip", nargs="*", default=[], choices=["intake", "e2e", "catchup"])
    args = parser.parse_args(argv)

    prefix = f"bench{uuid.uuid4().hex[:6]}"
    run_dir = ROOT / ".run" / "bench" / prefix
    run_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        "MONGODB_URI": os.environ["MONGODB_URI"],
        "SPORTELLO_DB_PREFIX": prefix,
        "SPORTELLO_TOPIC_PREFIX": prefix,
        "LOG_LEVEL": "WARNING",
        # A throwaway token key for this run: the load signs its admin token with it.
        "AUTH_JWT_KEYS": f"bench:{secrets.token_urlsafe(32)}",
        **{f"{s.upper()}_PORT": str(free_port()) for s in SERVICES},
    }
    system = System(run_dir, {**os.environ, **env})
    bare_env = {**os.environ, **env, "BARE_DB": f"{prefix}_bare", "PYTHONPATH": str(ROOT)}
    rows: list[Row] = []
    bare = None
    print(f"bench: system in {run_dir} (prefix {prefix})", file=sys.stderr)
    try:
        system.start()
        system.wait_ready()
        bare, bare_url = start_bare(bare_env, free_port(), run_dir)
        ctx = workload.prepare(
            system.url("intake"),
            tenants=3000 if not args.quick else 600,
            headers=workload.token_headers(env),
        )
        idle = memory(system)
        if "intake" not in args.skip:
            rows += intake_rows(system, bare_url, ctx, args.quick)
        loaded = memory(system)
        if "e2e" not in args.skip:
            rows += end_to_end_rows(system, env, ctx, args.quick)
        rows += memory_rows(system, idle, loaded)
    finally:
        system.stop()
        if bare:
            bare.terminate()
            bare.wait(timeout=20)
    if "catchup" not in args.skip:
        rows += catch_up_rows(env, run_dir, args.catchup_events)
    print("\n| benchmark | figure | ceiling | ratio | notes |\n| --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r.what} | {r.figure} | {r.ceiling} | {r.ratio} | {r.note} |")
    print(
        f"\nmeasured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores; "
        "load generator, services, Kafka and FerretDB share the machine"
    )
    cleanup(env, prefix)
    return 0


def cleanup(env: dict[str, str], prefix: str) -> None:
    client = pymongo.MongoClient(env["MONGODB_URI"])
    for name in client.list_database_names():
        if name.startswith(("bench", "catchup")):
            client.drop_database(name)
    client.close()


if __name__ == "__main__":
    sys.exit(main())
