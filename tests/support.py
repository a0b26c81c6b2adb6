"""Helpers the tests share: waiting for a condition with a deadline, reading a topic."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kafka import KafkaConsumer, TopicPartition

from shared import id_lists
from shared.auth import Principal, mint
from shared.config import Settings

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T], timeout_s: float = 20, interval_s: float = 0.05, what: str = ""
) -> T:
    """Poll ``condition`` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval_s)  # polling interval of a deadline-bound wait, not synchronisation
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what or condition}: {last!r}")


def read_topic(
    bootstrap: str, topic: str, until: Callable[[list], bool], timeout_s: float = 20
) -> list:
    """Every record of ``topic`` from the start, read until ``until(records)`` holds."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
    )
    try:
        partitions = wait_for(
            lambda: consumer.partitions_for_topic(topic), timeout_s, what=f"topic {topic}"
        )
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records: list = []

        def more() -> bool:
            for batch in consumer.poll(timeout_ms=100).values():
                records.extend(batch)
            return until(records)

        wait_for(more, timeout_s, interval_s=0, what=f"records on {topic}")
        return records
    finally:
        consumer.close()


def wait_for_count(
    count: Callable[[], int],
    target: int,
    stall_s: float = 90,
    max_s: float = 900,
    what: str = "",
    every_s: float = 0.5,
) -> int:
    """Wait until ``count()`` reaches ``target``; fail if it stops growing for ``stall_s``.

    For backlogs whose drain time depends on the machine: a slow but steady drain passes, a
    drain that stalls (something lost or stuck) fails with how far it got. ``every_s`` spaces
    the polls of a count that is itself costly (FerretDB scans a whole collection for it).
    """
    deadline = time.monotonic() + max_s
    best, best_at = -1, time.monotonic()
    while True:
        current = count()
        if current >= target:
            return current
        now = time.monotonic()
        if current > best:
            best, best_at = current, now
        if now - best_at > stall_s or now > deadline:
            raise AssertionError(
                f"{what or 'count'}: {current}/{target}, no progress for {now - best_at:.0f}s"
            )
        time.sleep(every_s)  # polling interval of a deadline-bound wait


def mint_token(environ: Mapping[str, str], role: str = "admin", **scope: Any) -> str:
    """A valid token for ``role`` signed with the keys in ``environ`` (sub: ``test-<role>``)."""
    sub = scope.pop("sub", f"test-{role}")
    return mint(Settings.from_env("intake", environ), Principal(sub=sub, role=role, **scope))


def bearer_headers(environ: Mapping[str, str], role: str = "admin", **scope: Any) -> dict[str, str]:
    """The ``Authorization`` header of a token for ``role``."""
    return {"Authorization": f"Bearer {mint_token(environ, role, **scope)}"}


def authorize(client: Any, environ: Mapping[str, str], role: str = "admin", **scope: Any) -> Any:
    """Make every request of a Flask test ``client`` carry a token for ``role``."""
    client.environ_base["HTTP_AUTHORIZATION"] = bearer_headers(environ, role, **scope)[
        "Authorization"
    ]
    return client


def authorize_app(app: Any, role: str = "admin", **scope: Any) -> Any:
    """Make every ``app.test_client()`` send a token for ``role`` (signed with the app's keys)."""
    from flask.testing import FlaskClient

    settings = app.extensions["sportello.settings"]
    token = mint(settings, Principal(sub=f"test-{role}", role=role, **scope))

    class AuthorizedClient(FlaskClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"

    app.test_client_class = AuthorizedClient
    return app


def total_of(headers: Mapping[str, str], total: int) -> bool:
    """Check a page's total headers against the list's ``total``, as the APIs report it past
    the counting cap (``shared.id_lists.COUNT_CAP``, read now: a test may lower it). Returns
    whether the total was counted."""
    cap = id_lists.COUNT_CAP
    if total > cap:
        assert "X-Total-Count" not in headers, dict(headers)
        assert headers["X-Total-Count-Over"] == str(cap), dict(headers)
        return False
    assert headers["X-Total-Count"] == str(total), dict(headers)
    assert "X-Total-Count-Over" not in headers, dict(headers)
    return True
