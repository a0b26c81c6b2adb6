"""notifications' domain: who must be told what about an event.

Pure Python. A ``Notification`` is one message to one recipient on one channel; its id is derived
from (event, recipient, channel), which is what makes "exactly one message" enforceable by the
store's unique key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class RecipientKind(StrEnum):
    """Who a notification is for."""

    CUSTODIAN = "custode_sociale"
    TENANT = "inquilino"
    PATH_TEAM = "team_percorso"
    OPERATOR = "operatore"
    COORDINATOR = "coordinatore"


class Status(StrEnum):
    """Delivery status of a notification."""

    CREATED = "creata"


@dataclass(frozen=True)
class Recipient:
    """A person or team to notify, and where."""

    kind: RecipientKind
    name: str
    address: str | None  # email address, phone number or inbox id, by channel


@dataclass
class Notification:
    """One message to one recipient on one channel, caused by one event."""

    id: str
    event_id: str
    event_type: str
    case_id: str
    recipient: Recipient
    channel: str
    template: str
    created_at: datetime
    status: Status = Status.CREATED
    context: dict = field(default_factory=dict)

    @staticmethod
    def key(event_id: str, recipient: Recipient, channel: str) -> str:
        """The deterministic id of the message (event, recipient, channel)."""
        raw = f"{event_id}|{recipient.kind}|{recipient.name}|{recipient.address}|{channel}"
        return "ntf_" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def custodians_of_new_case(
    event_id: str, event_type: str, data: dict, now: datetime
) -> list[Notification]:
    """A new case in a building is announced to each of its custodi sociali."""
    notifications = []
    for custodian in data["building"].get("custodians", []):
        channel = custodian.get("channel") or "email"
        address = custodian.get("phone") if channel == "sms" else custodian.get("email")
        recipient = Recipient(RecipientKind.CUSTODIAN, custodian["name"], address)
        notifications.append(
            Notification(
                id=Notification.key(event_id, recipient, channel),
                event_id=event_id,
                event_type=event_type,
                case_id=data["case_id"],
                recipient=recipient,
                channel=channel,
                template="caso_aperto_custode",
                created_at=now,
                context={"building": data["building"]["name"], "urgent": data.get("urgent")},
            )
        )
    return notifications
