"""Notifications in MongoDB."""

from __future__ import annotations

from mongoengine import NotUniqueError

from services.notifications.adapters.documents import NotificationDoc, RecipientDoc
from services.notifications.domain.model import Notification, Recipient, RecipientKind, Status


class NotificationRepository:
    """Notifications keyed by (event, recipient, channel)."""

    def add_once(self, n: Notification) -> bool:
        """Record the intent to send ``n`` unless it is recorded already."""
        doc = NotificationDoc(
            id=n.id,
            event_id=n.event_id,
            event_type=n.event_type,
            case_id=n.case_id,
            recipient=RecipientDoc(
                kind=n.recipient.kind.value, name=n.recipient.name, address=n.recipient.address
            ),
            channel=n.channel,
            template=n.template,
            status=n.status.value,
            context=n.context,
            created_at=n.created_at,
        )
        try:
            doc.save(force_insert=True)
        except NotUniqueError:
            return False
        return True

    def list(
        self,
        case_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Notification]:
        """Notifications, newest first, filtered by case and status."""
        filters = {k: v for k, v in {"case_id": case_id, "status": status}.items() if v}
        docs = NotificationDoc.objects(**filters).exclude("outbox").order_by("-created_at")
        return [_notification(d) for d in docs.skip(offset).limit(limit)]


def _notification(doc: NotificationDoc) -> Notification:
    r = doc.recipient
    return Notification(
        id=doc.id,
        event_id=doc.event_id,
        event_type=doc.event_type,
        case_id=doc.case_id,
        recipient=Recipient(RecipientKind(r.kind), r.name, r.address),
        channel=doc.channel,
        template=doc.template,
        created_at=doc.created_at,
        status=Status(doc.status),
        context=dict(doc.context or {}),
    )
