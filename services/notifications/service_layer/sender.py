"""The sender loop: claims due messages, sends them, records the result.

Exactly one message per (event, rule, recipient, channel): the intent is recorded before sending
(``take`` sets ``in_invio`` with a lease and counts the attempt), the result after (guarded by
that attempt). A sender killed between the two leaves the message ``in_invio``; when the lease
expires another sender takes it again. SMS carry the notification id as the provider's
idempotency key, and emails a stable Message-ID, so even a send whose result was not recorded is
not delivered twice by a provider that honours them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from datetime import datetime

from services.notifications.adapters.channels import PermanentFailure, TemporaryFailure
from services.notifications.adapters.templates import RenderError
from services.notifications.domain.model import (
    Channel,
    Notification,
    Recipient,
    RecipientKind,
    Status,
)
from services.notifications.domain.policy import backoff
from services.notifications.service_layer.handlers import (
    DIGEST_TEMPLATE,
    Dependencies,
    custodian_tasks,
)

log = logging.getLogger(__name__)

# Messages taken and recorded together: enough that a busy sender pays a few round trips per
# batch, not per message; few enough that a batch is soon sent (a message taken is no longer
# pending: a cancellation or an erasure that comes meanwhile no longer stops it).
BATCH = 20
# After a wake-up, the sender waits this long before it looks, so that the messages the
# consumer records in the meantime go in the same batch (50 a second make batches of about
# five). The message's delivery waits that much longer; its recording does not.
GATHER_S = 0.1


class Sender:
    """Delivers due notifications until stopped."""

    def __init__(
        self, deps: Dependencies, stop_event: threading.Event | None = None, poll_s: float = 0.2
    ) -> None:
        assert deps.policy is not None
        self.deps = deps
        self.policy = deps.policy
        self.stop_event = stop_event or threading.Event()
        self.poll_s = poll_s
        self.sent = 0
        self._wake = threading.Event()

    def wake(self) -> None:
        """Look for due messages now (a new one was recorded, or the worker is stopping).

        Between wake-ups the sender polls only every ``poll_s``: on FerretDB each look for due
        messages reads the whole collection, so an idle sender should look rarely.
        """
        self._wake.set()

    def run(self) -> None:
        """Send until the stop event is set; an outage pauses the loop, never ends it."""
        wait = self.poll_s
        log.info("sender started")
        queued = False
        while not self.stop_event.is_set():
            try:
                if not queued:  # messages stored before the send queue existed
                    added = self.deps.notifications.requeue_pending()
                    queued = True
                    if added:
                        log.info("pending messages queued", extra={"count": added})
                worked = self.run_once()
                wait = self.poll_s
            except Exception as exc:  # noqa: BLE001 - the store may be down: wait, then go on
                log.warning("sender paused: %s", exc)
                worked = 0
                wait = min(max(wait * 2, 0.5), 5.0)
            if not worked:
                if self._wake.wait(wait):
                    # Woken by a new message: the next ones of the same burst join its batch.
                    self.stop_event.wait(GATHER_S)
                self._wake.clear()
        log.info("sender stopped")

    def run_once(self, limit: int = 100) -> int:
        """Deliver the messages due now (at most ``limit``); returns how many were handled.

        The due messages are read, taken and recorded in batches of up to ``BATCH``
        (``take_all``, ``record_delivered_all``): a few round trips per batch instead of five
        per message. Entries that could not be taken (another sender took them, or their
        message is still on its way) are passed over by the next read of the round, so they
        hold up neither the messages due after them nor a second sender.
        """
        handled = 0
        repo = self.deps.notifications
        passed: list[str] = []
        while handled < limit and len(passed) < limit and not self.stop_event.is_set():
            now = self.deps.clock()
            batch = repo.due(now, min(BATCH, limit - handled), passed)
            if not batch:
                break
            taken = repo.take_all(batch, now, self.policy.lease)
            ids = {n.id for n in taken}
            passed += [e["_id"] for e in batch if e["_id"] not in ids]
            self.send_batch(taken)
            handled += len(taken)
        return handled

    def send_batch(self, taken: list[Notification]) -> None:
        """Send messages taken together; their deliveries are recorded together at the end.

        The batch is sent within a third of the lease that holds it, so that its results are
        recorded while the lease still holds (a sender whose lease expired records nothing,
        and another would send the message again). Messages left when that time is up (slow
        channels) are not sent: they are taken again when their lease expires. What was
        delivered is recorded even when a later message's send or record fails.
        """
        accepted: list[tuple[Notification, datetime, str]] = []
        deadline = time.monotonic() + self.policy.lease.total_seconds() / 3
        try:
            for i, n in enumerate(taken):
                if time.monotonic() > deadline:
                    log.warning(
                        "batch out of time: %d messages wait for their lease", len(taken) - i
                    )
                    break
                self.deliver(n, accepted)
        finally:
            for notification_id in sorted(self.deps.notifications.record_delivered_all(accepted)):
                self.sent += 1
                log.info("notification delivered", extra={"notification_id": notification_id})

    def deliver(
        self, n: Notification, accepted: list[tuple[Notification, datetime, str]] | None = None
    ) -> None:
        """Send one claimed notification and record what happened.

        With ``accepted``, a message the channel accepted is added to it (with the time and
        the channel's detail) for the caller to record with its batch; every other outcome is
        recorded at once.
        """
        repo = self.deps.notifications
        if n.recipient.kind == RecipientKind.TENANT:
            reason = self._unreachable(n)
            if reason:
                # Consent withdrawn (or contact gone) since the message was planned.
                if repo.record_not_sent(n, self.deps.clock(), reason):
                    self.fall_back(replace(n, reason=reason))
                return
        try:
            if n.template == DIGEST_TEMPLATE:
                n = self._render_digest(n)
            detail = self.deps.channels[n.channel.value].send(n)
        except TemporaryFailure as exc:
            now = self.deps.clock()
            if n.attempts >= self.policy.max_attempts:
                reason = f"tentativi esauriti ({n.attempts}): {exc}"
                if repo.record_failed(n, now, reason):
                    self.fall_back(replace(n, reason=reason))
                return
            due = now + backoff(n.attempts, self.policy.retry_base_s, self.policy.retry_max_s)
            if n.channel == Channel.SMS and n.recipient.kind == RecipientKind.TENANT:
                due = self.policy.quiet.release(due)
            repo.record_retry(n, now, due, str(exc))
            log.info("temporary failure, retry at %s", due, extra={"notification_id": n.id})
            return
        except (PermanentFailure, RenderError) as exc:
            if repo.record_failed(n, self.deps.clock(), str(exc)):
                self.fall_back(replace(n, reason=str(exc)))
            return
        now = self.deps.clock()
        if accepted is not None and n.template != DIGEST_TEMPLATE:
            accepted.append((n, now, detail))
            return
        if repo.record_delivered(n, now, detail):
            self.sent += 1
            if n.template == DIGEST_TEMPLATE:
                repo.settle_digest_items(n.id, now)
            log.info("notification delivered", extra={"notification_id": n.id})

    def _unreachable(self, n: Notification) -> str | None:
        tenant = self.deps.tenants.get(n.recipient.ref or "")
        if tenant is None:
            return "inquilino non noto al servizio notifiche"
        usable, reasons = tenant.reachable([n.channel.value])
        return None if usable else "; ".join(reasons)

    def _render_digest(self, n: Notification) -> Notification:
        assert self.deps.renderer is not None
        items = sorted(n.context.get("items") or [], key=lambda i: i.get("at", ""))
        rendered = self.deps.renderer.render(
            DIGEST_TEMPLATE, "it", {"recipient_name": n.recipient.name, "items": items}
        )
        context = {**n.context, "sms": rendered.sms}
        return replace(
            n, subject=rendered.subject, text=rendered.text, html=rendered.html, context=context
        )

    def fall_back(self, n: Notification) -> None:
        """A tenant not reached on ``n.channel``: the next consented channel, else a custodian."""
        if n.recipient.kind != RecipientKind.TENANT or n.task:
            return
        now = self.deps.clock()
        tenant = self.deps.tenants.get(n.recipient.ref or "")
        usable = tenant.reachable(n.fallbacks)[0] if tenant else []
        if tenant and usable:
            channel = usable[0]
            recipient = Recipient(
                RecipientKind.TENANT, n.recipient.name, tenant.address(channel), tenant.tenant_id
            )
            due = self.policy.quiet.release(now) if channel == Channel.SMS else now
            self.deps.notifications.add_once(
                _fresh(n, recipient, Channel(channel), usable[1:], due, now)
            )
            return
        rule = next((r for r in self.deps.rules if r.id == n.rule), None)
        if rule is None or rule.custodian_task:
            for task in custodian_tasks(n, self.deps, now):
                self.deps.notifications.add_once(task)


def _fresh(
    n: Notification,
    recipient: Recipient,
    channel: Channel,
    fallbacks: list[str],
    due: datetime,
    now: datetime,
) -> Notification:
    return replace(
        n,
        id=Notification.key(n.event_id, n.rule, recipient, channel.value),
        recipient=recipient,
        channel=channel,
        fallbacks=fallbacks,
        status=Status.CREATED,
        reason=f"dopo {n.channel.value}: {n.reason}",
        due_at=due,
        created_at=now,
        attempts=0,
        history=[],
    )
