"""`make bench`: start the system on this machine, generate load, print a markdown table.

Every figure stands next to a ceiling measured in the same run, as a ratio:

1. intake: cases opened per second and latency at 50/s, 200/s and the maximum, against a bare
   Flask + gunicorn endpoint that does one insert into the same store with the same worker settings
   (intake alone, as the bare endpoint; and, measured first, its maximum with casework and
   notifications following each case);
2. end to end: from intake's 201 to the case file stored in casework and the custode's
   notification recorded, at 50 cases per second;
3. catch-up: a backlog of events consumed per second by one casework worker, against Kafka's own
   consumer performance tool on the same topic and against the store's raw insert rate;
4. queries at scale: N generated cases and 0.3 N tenants loaded straight into the store, then the
   p50/p95/p99 of every list, filter and search endpoint of intake and casework against the same
   query sent with pymongo, and each query's explain plan (see ``bench.queries``);
5. memory: resident memory of each process idle, and its peak while each load runs.

Each phase runs on a system of its own (own database and topic prefix, own ports), so no backlog
of one phase drains into the next one's measurements. All traffic goes to 127.0.0.1; every loop is
bounded in count and time. Kafka and the store are those of KAFKA_BOOTSTRAP_SERVERS and
MONGODB_URI (``make bench`` starts them when unset, through deploy/test.sh).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymongo
import requests
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from bench import memory, queries, workload
from bench.load import Result, closed_loop, open_loop
from bench.memory import PeakSampler
from deploy.system import SERVICES, System
from shared.crypto import generate_key
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
    """``a`` as a percentage of ``b`` ("n/a" when either is missing)."""
    if not b or a != a or b != b:  # NaN: nothing was measured
        return "n/a"
    return f"{a / b:.0%}"


def met(ok: bool) -> str:
    return "met" if ok else "**missed**"


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


# The processes that follow each opened case: stopped while intake is measured alone.
FOLLOWERS = [f"{s}-{kind}" for s in ("casework", "notifications") for kind in ("api", "worker")]


def caught_up(
    env: dict[str, str], services: list[str], topic: str, deadline_s: float = 120
) -> bool:
    """Wait until the consumer groups of ``services`` have committed the end of ``topic`` (of
    the phase's prefix), or ``deadline_s``; whether they did."""
    prefix = env["SPORTELLO_TOPIC_PREFIX"]
    name = f"{prefix}.{topic}"
    admin = KafkaAdminClient(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"])
    consumer = KafkaConsumer(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"])
    try:
        parts = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or []]
        end = consumer.end_offsets(parts)
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            committed = [admin.list_consumer_group_offsets(f"{prefix}.{s}") for s in services]
            behind = [tp for c in committed for tp in parts if end[tp] and not _at(c, tp, end[tp])]
            if not behind:
                return True
            time.sleep(0.2)  # the polling interval of the groups' offsets
        print(f"bench: {services} still behind on {name} after {deadline_s:.0f} s", file=sys.stderr)
        return False
    finally:
        admin.close()
        consumer.close()


def _at(committed: dict[TopicPartition, Any], tp: TopicPartition, end: int) -> bool:
    """Whether a group's committed offsets reach ``end`` on ``tp``."""
    offset = committed.get(tp)
    return offset is not None and offset.offset >= end


def max_duration_s(quick: bool) -> float:
    """How long each closed-loop maximum of intake (and of the bare endpoint) runs."""
    return 20 * (0.25 if quick else 1.0)


def open_cases_max(system: System, ctx: workload.Context, duration_s: float) -> Result:
    """As many cases as 16 clients open in ``duration_s`` (closed loop)."""
    intake = system.url("intake")
    return closed_loop(
        lambda s, i: workload.open_case(s, intake, ctx), clients=16, duration_s=duration_s
    )


def intake_rows(
    system: System, bare_url: str, ctx: workload.Context, quick: bool, followed: Result
) -> list[Row]:
    """Benchmark 1: intake against the bare ceiling at 50/s, 200/s and the maximum.

    Intake runs alone (its API and its worker, which publishes its events), as the bare endpoint
    does; ``followed`` is the maximum measured before, with casework and notifications following
    each case on the same two cores, shown against the same ceiling.
    """
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
    duration = max_duration_s(quick)
    r = open_cases_max(system, ctx, duration)
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
            f"target ≥ 50 %; intake's API and worker only; statuses {r.statuses}",
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
    rows.append(
        Row(
            "intake max (16 clients), casework and notifications following: throughput",
            f"{followed.throughput:.0f}/s",
            f"{b.throughput:.0f}/s",
            ratio(followed.throughput, b.throughput),
            f"measured first, the whole system on the same two cores; p99 "
            f"{fmt_ms(followed.percentile(99))}; statuses {followed.statuses}",
        )
    )
    return rows


def end_to_end_rows(
    system: System, env: dict[str, str], ctx: workload.Context, count: int, tuning: str
) -> list[Row]:
    """Benchmark 2: 201 at intake → case file in casework and notification recorded.

    Runs on a system of its own (fresh topics and databases), so no backlog of the intake phase
    is still draining when the clock starts.
    """
    intake = system.url("intake")
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
    notified: dict[str, float] = {}

    def poll_case_files() -> None:
        # The case file has no "stored at" of its own: it is seen by polling, every 10 ms.
        while True:
            pending = pending_files()
            if pending:
                for doc in case_files.find({"_id": {"$in": pending}}, {"_id": 1}):
                    seen_case_file[doc["_id"]] = time.time()
            if stop.is_set() and (not pending_files() or time.monotonic() > deadline[0]):
                return
            time.sleep(0.01)  # the polling interval

    def pending_files() -> list[str]:
        return [c for c in list(done_at) if c not in seen_case_file]

    stop, deadline = threading.Event(), [float("inf")]
    poller = threading.Thread(target=poll_case_files, daemon=True)
    poller.start()
    result: Result = open_loop(request, 50, count)
    # Drain with a condition: every case file seen and every notification recorded, or 120 s.
    deadline[0] = time.monotonic() + 120
    stop.set()
    while time.monotonic() < deadline[0]:
        waiting = [c for c in done_at if c not in notified]
        for doc in notifications.find(
            {"case_id": {"$in": waiting}}, {"case_id": 1, "created_at": 1}
        ):
            at = doc["created_at"].replace(tzinfo=UTC).timestamp()
            notified[doc["case_id"]] = min(at, notified.get(doc["case_id"], at))
        if not pending_files() and len(notified) == len(done_at):
            break
        time.sleep(0.1)
    poller.join(timeout=5)
    # The emails really went out (to the phase's SMTP sink): wait for them too, up to 60 s more.
    mine = {"case_id": {"$in": list(done_at)}, "status": "consegnata"}
    sent_by = time.monotonic() + 60
    while (delivered := notifications.count_documents(mine)) < len(done_at):
        if time.monotonic() > sent_by:
            break
        time.sleep(0.5)  # the polling interval of the count
    on_kafka = published_at(env, f"{env['SPORTELLO_TOPIC_PREFIX']}.intake", set(done_at))
    latencies = [
        max(seen_case_file[c], notified[c]) - t201
        for c, t201 in done_at.items()
        if c in seen_case_file and c in notified
    ]
    client.close()
    e2e = Result(latencies_s=latencies)
    missing = len(done_at) - len(latencies)
    # Each of the two ends apart: which one holds the other back.
    stages = {
        stage: Result(latencies_s=[at - done_at[c] for c, at in seen.items()])
        for stage, seen in (
            ("case file in casework", seen_case_file),
            ("custode's notification", notified),
        )
    }
    # Where the time goes: the intake's relay (201 → case.opened on Kafka), then each consumer
    # (on Kafka → its effect stored).
    hops = {
        hop: Result(latencies_s=[later[c] - earlier[c] for c in later if c in earlier])
        for hop, earlier, later in (
            ("201 → case.opened on Kafka (intake relay)", done_at, on_kafka),
            ("on Kafka → case file seen (casework)", on_kafka, seen_case_file),
            ("on Kafka → notification recorded (notifications)", on_kafka, notified),
        )
    }
    return (
        [
            Row(
                f"end to end @ 50/s: p{p}",
                fmt_ms(e2e.percentile(p)),
                "500 ms (target p99)",
                ratio(500, e2e.percentile(p)),
                f"{len(latencies)}/{len(done_at)} cases complete ({missing} not in 120 s); {tuning}"
                if p == 50
                else ("target p99 < 500 ms: " + met(e2e.percentile(99) < 500) if p == 99 else ""),
            )
            for p in (50, 95, 99)
        ]
        + [
            Row(
                f"end to end @ 50/s, {stage} only: p50 / p99",
                f"{fmt_ms(measured.percentile(50))} / {fmt_ms(measured.percentile(99))}",
                "",
                "",
                "from the 201"
                + (
                    f"; {delivered}/{len(done_at)} emails delivered to the SMTP sink within 60 s"
                    if stage == "custode's notification"
                    else ""
                ),
            )
            for stage, measured in stages.items()
            if measured.latencies_s
        ]
        + [
            Row(
                f"end to end @ 50/s, {hop}: p50 / p99",
                f"{fmt_ms(measured.percentile(50))} / {fmt_ms(measured.percentile(99))}",
                "",
                "",
                f"{len(measured.latencies_s)}/{len(done_at)} cases; the record's timestamp is"
                " set by the relay's producer as it sends (before its acknowledgement)",
            )
            for hop, measured in hops.items()
        ]
        + [
            Row(
                "intake @ 50/s during e2e: p99",
                fmt_ms(result.percentile(99)),
                "",
                "",
                f"{result.ok}/{count} ok, statuses {result.statuses}",
            )
        ]
    )


def published_at(env: dict[str, str], topic: str, keys: set[str]) -> dict[str, float]:
    """When each record keyed by one of ``keys`` was produced to ``topic`` (its timestamp, in
    seconds): the first record of each key, read from the beginning of the topic."""
    consumer = KafkaConsumer(
        bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], enable_auto_commit=False
    )
    try:
        deadline = time.monotonic() + 60
        while not (partitions := consumer.partitions_for_topic(topic)):
            if time.monotonic() > deadline:
                return {}
            time.sleep(0.1)  # the polling interval of the topic's metadata
        parts = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        found: dict[str, float] = {}
        while any(consumer.position(tp) < end[tp] for tp in parts):
            if time.monotonic() > deadline:
                break
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    key = r.key.decode() if r.key else ""
                    if key in keys and key not in found:
                        found[key] = r.timestamp / 1000
        return found
    finally:
        consumer.close()


def catch_up_rows(
    env: dict[str, str],
    run_dir: Path,
    prefix: str,
    events: int,
    peaks: dict[str, dict[str, float]],
) -> list[Row]:
    """Benchmark 3: a backlog consumed by one casework worker vs Kafka's tool vs raw inserts."""
    cenv = {
        **env,
        "SPORTELLO_DB_PREFIX": prefix,
        "SPORTELLO_TOPIC_PREFIX": prefix,
        "KAFKA_PARTITIONS": "6",
        "FIELD_ENCRYPTION_KEYS": generate_key(),  # the worker refuses to start without keys
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
    with PeakSampler(lambda: running(system)) as peak:
        while time.monotonic() < deadline and committed(bootstrap, group, topic) < events:
            if system.pid("casework-worker") is None:
                log = system.log_dir / "casework-worker.log"
                raise SystemExit(f"bench: the catch-up worker stopped; see {log}")
            time.sleep(0.5)  # the polling interval of the committed offsets
    peaks["catch-up"] = peak.max
    elapsed = time.perf_counter() - started
    consumed = committed(bootstrap, group, topic)
    system.stop()
    worker_rate = consumed / elapsed

    kafka_rate = kafka_consumer_perf(bootstrap, topic, events)
    raw_rate = raw_insert_rate(env["MONGODB_URI"], f"{prefix}_raw", 5000)
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


def raw_insert_rate(uri: str, database: str, count: int) -> float:
    """Documents per second that one thread inserts with insert_one (the store's raw rate)."""
    client = pymongo.MongoClient(uri)
    collection = client[database]["docs"]
    collection.drop()
    docs = [workload.case_file_like(i) for i in range(count)]
    started = time.perf_counter()
    for doc in docs:
        collection.insert_one(doc)
    rate = count / (time.perf_counter() - started)
    client.drop_database(database)
    client.close()
    return rate


# --- queries at scale ---------------------------------------------------------------------------


def query_rows(
    system: System,
    env: dict[str, str],
    cases: int,
    repeats: int,
    budget_s: float,
    idle: dict[str, dict[str, float]],
    peaks: dict[str, dict[str, float]],
) -> tuple[list[Row], list[str]]:
    """Benchmark 4: load ``cases`` cases and ``0.3 × cases`` tenants, then time every list.

    Returns the rows and the explain-plan table (one line per query).
    """
    tenants = int(cases * 0.3)
    started = time.perf_counter()
    scale, rate = queries.load(env, cases, tenants)
    load_s = time.perf_counter() - started
    urls = {s: system.url(s) for s in ("intake", "casework")}
    idle[f"queries at {cases}"] = memory.snapshot(running(system))
    with PeakSampler(lambda: running(system)) as peak:
        measured = queries.measure(
            env["MONGODB_URI"],
            env["SPORTELLO_DB_PREFIX"],
            urls,
            scale,
            repeats,
            budget_s,
            headers=workload.token_headers(env),
        )
    peaks[f"queries at {cases}"] = peak.max
    rows = [
        Row(
            f"loading {cases} cases + {cases} case files + {tenants} tenants, with claims",
            f"{rate:.0f} docs/s",
            "",
            "",
            f"insert_many of {queries.BATCH}, {load_s:.0f} s",
        )
    ]
    plans = [
        "| query | matches | filter pushdown | sort pushdown | limit pushdown | index used "
        "| SQLite plan |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for m in measured:
        http99, store99 = ok_p99(m.http), ok_p99(m.store)
        rows.append(
            Row(
                f"{m.query.name} (`{m.query.path.split('?')[0]}`): p99",
                fmt_ms(http99) if http99 == http99 else f"> {budget_s:.0f} s (timed out)",
                f"{fmt_ms(store99)} (pymongo)"
                if store99 == store99
                else f"> {budget_s:.0f} s (pymongo, timed out)",
                ratio(store99, http99),
                f"p50 {fmt_ms(m.http.percentile(50))} / {fmt_ms(m.store.percentile(50))}, "
                f"p95 {fmt_ms(m.http.percentile(95))} / {fmt_ms(m.store.percentile(95))}; "
                f"{len(m.http.latencies_s)} samples; statuses {m.http.statuses}; "
                f"target p99 < 50 ms: {met(http99 < 50)}",
            )
        )
        p = m.plan
        detail = ", ".join(json.loads(p["plan"]).get("Plan", [])) if p["plan"] else ""
        plans.append(
            f"| {m.query.name} | {m.total} | {p['filter']} | {p['sort']} | {p['limit']} "
            f"| {'yes' if p['index'] else '**no**'} | `{detail or p['plan'][:120]}` |"
        )
    return rows, plans


def ok_p99(result: Result) -> float:
    """The p99 of the calls, NaN when any call failed or timed out (the p99 is then unknown)."""
    if any(status != 200 for status in result.statuses):
        return float("nan")
    return result.percentile(99)


# --- memory -------------------------------------------------------------------------------------


def running(system: System) -> dict[str, int]:
    """The pid of each running process of ``system``."""
    return {name: pid for name, pid in system.status().items() if pid}


def memory_rows(idle: dict[str, dict[str, float]], peaks: dict[str, dict[str, float]]) -> list[Row]:
    """Each process's peak during each load phase, next to the same process idle before it."""
    rows = []
    for name in sorted({n for p in peaks.values() for n in p}):
        for phase, peak in peaks.items():
            base = idle.get(phase, {}).get(name, 0.0)
            if name in peak:
                rows.append(
                    Row(
                        f"memory: {name}, peak during {phase}",
                        f"{peak[name]:.0f} MiB",
                        f"{base:.0f} MiB idle" if base else "",
                        ratio(peak[name], base) if base else "",
                        "RSS of the process and its children (gunicorn workers), /proc",
                    )
                )
    return rows


# --- phases -------------------------------------------------------------------------------------


def isolated_env(prefix: str) -> dict[str, str]:
    """The settings that give a benchmark a world of its own: its database and topic prefix,
    throw-away keys (for throw-away data; the load signs its admin token with the token key)."""
    return {
        "SPORTELLO_DB_PREFIX": prefix,
        "SPORTELLO_TOPIC_PREFIX": prefix,
        "LOG_LEVEL": "WARNING",
        "FIELD_ENCRYPTION_KEYS": generate_key(),
        "AUTH_JWT_KEYS": f"bench:{secrets.token_urlsafe(32)}",
    }


class Phase:
    """A system of its own for one benchmark: own database and topic prefix, own ports."""

    def __init__(self, name: str, run_id: str, extra_env: dict[str, str] | None = None) -> None:
        self.prefix = f"{run_id}{name}"
        self.run_dir = ROOT / ".run" / "bench" / self.prefix
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.smtp_port = free_port()
        self.smtp: subprocess.Popen | None = None
        self.env = {
            "KAFKA_BOOTSTRAP_SERVERS": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
            "MONGODB_URI": os.environ["MONGODB_URI"],
            **isolated_env(self.prefix),
            **{f"{s.upper()}_PORT": str(free_port()) for s in SERVICES},
            # The custodi's emails go to an SMTP server that accepts and drops them (``start``),
            # so the sender does its real work: without one, every email fails and waits to be
            # tried again.
            "NOTIFICATIONS_SMTP_PORT": str(self.smtp_port),
            **(extra_env or {}),
        }
        self.system = System(self.run_dir, {**os.environ, **self.env})

    def start(self, only: list[str] | None = None) -> None:
        """Start the processes (those of the three services, or ``only``) and wait for their APIs.

        The web app is not started: it serves people, not the benchmarks.
        """
        print(f"bench: {self.prefix}: starting ({self.run_dir})", file=sys.stderr, flush=True)
        only = only or [f"{s}-{kind}" for s in SERVICES for kind in ("api", "worker")]
        if "notifications-worker" in only:
            self.smtp = start_smtp_sink(self.smtp_port, self.run_dir)
        self.system.start(only=only)
        apis = [s for s in SERVICES if f"{s}-api" in only]
        deadline = time.monotonic() + 90
        for service in apis:
            while not ready(self.system.url(service)):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{service} not ready (logs in {self.run_dir})")
                time.sleep(0.2)  # the polling interval of /readyz

    def stop(self) -> None:
        """Stop every process this phase started."""
        self.system.stop()
        if self.smtp is not None:
            self.smtp.terminate()
            self.smtp.wait(timeout=20)


def start_smtp_sink(port: int, run_dir: Path) -> subprocess.Popen:
    """An SMTP server on ``port`` that accepts every email and keeps none (aiosmtpd's ``Sink``),
    in a process of its own; returns once it answers."""
    log = open(run_dir / "smtp-sink.log", "w")  # noqa: SIM115 - owned by the child
    argv = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
    sink = subprocess.Popen(
        [*argv, "-c", "aiosmtpd.handlers.Sink"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return sink
        if sink.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"SMTP sink did not start (log in {run_dir / 'smtp-sink.log'})")
        time.sleep(0.1)  # the polling interval of the port


def report(rows: list[Row]) -> list[Row]:
    """Print a phase's rows on stderr as soon as it ends (a long run shows its progress)."""
    for r in rows:
        print(
            f"bench: | {r.what} | {r.figure} | {r.ceiling} | {r.ratio} | {r.note} |",
            file=sys.stderr,
        )
    sys.stderr.flush()
    return rows


def ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the tables."""
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--quick", action="store_true", help="shorter runs, smaller scale")
    parser.add_argument("--catchup-events", type=int, default=None, help="default 100000")
    parser.add_argument("--cases", type=int, default=None, help="queries: default 1000000")
    parser.add_argument("--query-repeats", type=int, default=None, help="samples per query")
    parser.add_argument(
        "--query-budget-s", type=float, default=None, help="max seconds per query and call"
    )
    parser.add_argument("--e2e-cases", type=int, default=None, help="default 1000")
    parser.add_argument("--fetch-max-wait-ms", type=int, default=50)
    parser.add_argument("--linger-ms", type=int, default=2)
    parser.add_argument("--outbox-poll-ms", type=int, default=50)
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["intake", "e2e", "catchup", "queries"]
    )
    args = parser.parse_args(argv)
    quick = args.quick
    catchup_events = args.catchup_events or (10_000 if quick else 100_000)
    cases = args.cases or (20_000 if quick else 1_000_000)
    repeats = args.query_repeats or (5 if quick else 50)
    query_budget_s = args.query_budget_s or (30 if quick else 120)
    e2e_cases = args.e2e_cases or (250 if quick else 1000)

    run_id = f"bench{uuid.uuid4().hex[:6]}"
    tuning_env = {
        "KAFKA_FETCH_MAX_WAIT_MS": str(args.fetch_max_wait_ms),
        "KAFKA_LINGER_MS": str(args.linger_ms),
        "OUTBOX_POLL_MS": str(args.outbox_poll_ms),
    }
    tuning = (
        f"fetch_max_wait {args.fetch_max_wait_ms} ms, linger {args.linger_ms} ms, "
        f"outbox poll {args.outbox_poll_ms} ms"
    )
    rows: list[Row] = []
    plans: list[str] = []
    idle: dict[str, dict[str, float]] = {}  # per phase: each process before the load
    peaks: dict[str, dict[str, float]] = {}
    prefixes: list[str] = []
    print(f"bench: run {run_id}", file=sys.stderr)

    if "intake" not in args.skip:
        phase = Phase("in", run_id, tuning_env)
        prefixes.append(phase.prefix)
        bare = None
        try:
            phase.start()
            bare_env = {
                **os.environ,
                **phase.env,
                "BARE_DB": f"{phase.prefix}_bare",
                "PYTHONPATH": str(ROOT),
            }
            bare, bare_url = start_bare(bare_env, free_port(), phase.run_dir)
            ctx = workload.prepare(
                phase.system.url("intake"),
                tenants=600 if quick else 3000,
                headers=workload.token_headers(phase.env),
            )
            # The followers first consume the tenants just registered: measured after that.
            caught_up(phase.env, ["casework", "notifications"], "intake")
            idle["intake"] = memory.snapshot(running(phase.system))
            # First the whole system (casework and notifications follow each case), then
            # intake alone, as the bare endpoint runs: the followers' backlog does not drain
            # into its figures (intake's own worker still publishes what intake wrote).
            with PeakSampler(lambda: running(phase.system)) as followed_peak:
                followed = open_cases_max(phase.system, ctx, max_duration_s(quick))
            phase.system.stop(only=FOLLOWERS)  # between two samplers: none reads a pid file going
            with PeakSampler(lambda: running(phase.system)) as peak:
                rows += report(intake_rows(phase.system, bare_url, ctx, quick, followed))
            peaks["intake"] = memory.merge_max(followed_peak.max, peak.max)
        finally:
            phase.stop()
            if bare:
                bare.terminate()
                bare.wait(timeout=20)

    if "e2e" not in args.skip:
        phase = Phase("e2e", run_id, tuning_env)
        prefixes.append(phase.prefix)
        try:
            phase.start()
            # One open case per tenant and need: enough tenants for the cases to open.
            ctx = workload.prepare(
                phase.system.url("intake"),
                tenants=e2e_cases // 6 + 1,
                headers=workload.token_headers(phase.env),
            )
            idle["end to end"] = memory.snapshot(running(phase.system))
            with PeakSampler(lambda: running(phase.system)) as peak:
                rows += report(end_to_end_rows(phase.system, phase.env, ctx, e2e_cases, tuning))
            peaks["end to end"] = peak.max
        finally:
            phase.stop()

    if "queries" not in args.skip:
        phase = Phase("q", run_id)
        prefixes.append(phase.prefix)
        try:
            # Only the two APIs: they create the indexes at start, and no worker scans the load.
            phase.start(only=["intake-api", "casework-api"])
            query_table, plans = query_rows(
                phase.system, phase.env, cases, repeats, query_budget_s, idle, peaks
            )
            rows += report(query_table)
        finally:
            phase.stop()

    if "catchup" not in args.skip:
        env = {k: os.environ[k] for k in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI")}
        env["LOG_LEVEL"] = "WARNING"  # as in the other phases: no log line per event
        prefix = f"{run_id}cu"
        prefixes.append(prefix)
        run_dir = ROOT / ".run" / "bench" / prefix
        rows += report(catch_up_rows(env, run_dir, prefix, catchup_events, peaks))

    rows += memory_rows(idle, peaks)
    print("\n| benchmark | figure | ceiling | ratio | notes |\n| --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r.what} | {r.figure} | {r.ceiling} | {r.ratio} | {r.note} |")
    if plans:
        print(f"\nExplain plans at {cases} cases (FerretDB: pushdown flags and the SQLite plan):\n")
        print("\n".join(plans))
    print(
        f"\nmeasured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores; "
        "load generator, services, Kafka and FerretDB share the machine"
    )
    cleanup(os.environ["MONGODB_URI"], prefixes)
    return 0


def cleanup(uri: str, prefixes: list[str]) -> None:
    """Drop the databases of this run's phases (never anybody else's)."""
    client = pymongo.MongoClient(uri)
    for name in client.list_database_names():
        if name.startswith(tuple(f"{p}_" for p in prefixes)):
            client.drop_database(name)
    client.close()


if __name__ == "__main__":
    sys.exit(main())
