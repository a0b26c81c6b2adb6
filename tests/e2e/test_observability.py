"""One request followed across the three services: correlation id, W3C trace, metrics."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from deploy.system import System
from shared.kafka import header
from tests.e2e.test_case_opened_flow import open_case
from tests.support import read_topic, wait_for


def log_lines(system: System, process: str) -> list[dict]:
    path = system.log_dir / f"{process}.log"
    lines = []
    for raw in Path(path).read_text().splitlines():
        if raw.startswith("{"):
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                continue
    return lines


def lines_with(system: System, process: str, **fields: str) -> list[dict]:
    return [
        line
        for line in log_lines(system, process)
        if all(line.get(k) == v for k, v in fields.items())
    ]


def test_a_correlation_id_and_a_trace_travel_from_intake_to_notifications(
    system: System, apis, environ
) -> None:
    correlation_id = f"corr-{uuid.uuid4().hex}"
    trace_id = uuid.uuid4().hex
    apis["intake"].session.headers.update(
        {"X-Correlation-ID": correlation_id, "traceparent": f"00-{trace_id}-{'1' * 16}-01"}
    )
    case_id = open_case(apis["intake"])

    # intake: its access log names the correlation id of the request that opened the case.
    wait_for(
        lambda: lines_with(system, "intake-api", correlation_id=correlation_id),
        what="intake log line",
    )
    # The event on Kafka carries both, in headers.
    records = read_topic(
        environ["KAFKA_BOOTSTRAP_SERVERS"],
        f"{environ['SPORTELLO_TOPIC_PREFIX']}.intake",
        lambda rs: any(r.key == case_id.encode() for r in rs),
    )
    record = next(r for r in records if r.key == case_id.encode())
    assert header(record.headers, "correlation_id") == correlation_id
    assert header(record.headers, "traceparent").split("-")[1] == trace_id

    # casework and notifications log their work under the same correlation id and trace.
    for process in ("casework-worker", "notifications-worker"):
        found = wait_for(
            lambda process=process: lines_with(
                system, process, correlation_id=correlation_id, trace_id=trace_id
            ),
            what=f"{process} log line with the request's correlation id and trace id",
        )
        assert found


def test_every_api_serves_prometheus_metrics_including_its_worker(system: System, apis) -> None:
    case_id = open_case(apis["intake"])
    wait_for(
        lambda: apis["notifications"]
        .get("/api/v1/notifications", params={"case_id": case_id})
        .json(),
        what="notification recorded",
    )

    def metric_present(service: str, text: str) -> bool:
        response = apis[service].get("/metrics")
        return response.status_code == 200 and text in response.text

    wait_for(
        lambda: metric_present("intake", 'sportello_events_produced_total{service="intake"'),
        what="intake relay figures in intake's /metrics",
    )
    wait_for(
        lambda: metric_present("casework", 'sportello_events_consumed_total{service="casework"'),
        what="casework consumer figures",
    )
    wait_for(lambda: metric_present("notifications", "sportello_consumer_lag"), what="consumer lag")
    assert metric_present("intake", "sportello_http_request_duration_seconds_bucket")
    assert metric_present("intake", "sportello_outbox_backlog")
