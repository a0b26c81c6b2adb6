"""notifications' domain: who must be told what about an event, and the life of one message.

Pure Python. A ``Notification`` is one message to one recipient on one channel; its id is derived
from (event, rule, recipient, channel), which is what makes "exactly one message" enforceable by
the store's unique key.
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


class Channel(StrEnum):
    """Where a message goes."""

    EMAIL = "email"
    SMS = "sms"
    INBOX = "inbox"  # the staff's in-app inbox


class Status(StrEnum):
    """Delivery status of a notification (its history records every change)."""

    CREATED = "creata"  # intent recorded, waiting for its due time
    SENDING = "in_invio"  # claimed by a sender (with a lease)
    DELIVERED = "consegnata"
    RETRY = "da_riprovare"  # temporary failure, retried at ``due_at`` (exponential backoff)
    FAILED = "fallita"  # permanent failure
    NOT_SENT = "non_inviata"  # never sent: no consent, no address (the reason is recorded)
    CANCELLED = "annullata"  # e.g. the reminder of a cancelled appointment
    IN_DIGEST = "in_riepilogo"  # held for a custodian's daily digest


PENDING = (Status.CREATED, Status.RETRY)


@dataclass(frozen=True)
class Recipient:
    """A person or team to notify, and where."""

    kind: RecipientKind
    name: str  # display name, or the staff's inbox id
    address: str | None  # email address, phone number or inbox id, by channel
    ref: str | None = None  # tenant id, path, operator id: what the recipient is in the system


@dataclass(frozen=True)
class HistoryEntry:
    """One status change of a notification."""

    status: Status
    at: datetime
    detail: str = ""


@dataclass
class Notification:
    """One message to one recipient on one channel, caused by one event and one rule."""

    id: str
    event_id: str
    event_type: str
    rule: str
    case_id: str | None
    recipient: Recipient
    channel: Channel
    template: str
    created_at: datetime
    due_at: datetime
    status: Status = Status.CREATED
    language: str = "it"
    subject: str = ""
    text: str = ""
    html: str = ""
    reason: str | None = None
    attempts: int = 0
    fallbacks: list[str] = field(default_factory=list)
    appointment_id: str | None = None
    building_id: str | None = None
    digest_id: str | None = None
    task: bool = False
    read_at: datetime | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    context: dict = field(default_factory=dict)

    @staticmethod
    def key(event_id: str, rule: str, recipient: Recipient, channel: str) -> str:
        """The deterministic id of the message (event, rule, recipient, channel)."""
        # A known identity (tenant id, custodian, path) beats a changeable address.
        who = recipient.ref or f"{recipient.name}|{recipient.address}"
        raw = f"{event_id}|{rule}|{recipient.kind}|{who}|{channel}"
        return "ntf_" + hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Consent:
    """A tenant's latest recorded decision for one channel."""

    channel: str
    granted: bool
    recorded_by: str
    recorded_at: datetime


@dataclass
class Tenant:
    """What notifications knows about a tenant (read model built from intake's events)."""

    tenant_id: str
    version: int
    building_id: str | None
    first_name: str
    last_name: str
    apartment: str | None = None
    phone: str | None = None
    email: str | None = None
    preferred_language: str = "it"
    consents: dict[str, Consent] = field(default_factory=dict)

    def address(self, channel: str) -> str | None:
        """Where this tenant is reached on ``channel``."""
        return {"sms": self.phone, "email": self.email}.get(channel)

    def reachable(self, channels: list[str]) -> tuple[list[str], list[str]]:
        """The channels, in order, on which the tenant may be messaged, and why the others not."""
        usable: list[str] = []
        reasons: list[str] = []
        for ch in channels:
            consent = self.consents.get(ch)
            if consent is None:
                reasons.append(f"{ch}: nessun consenso registrato")
            elif not consent.granted:
                reasons.append(f"{ch}: consenso revocato ({consent.recorded_at:%Y-%m-%d})")
            elif not self.address(ch):
                reasons.append(f"{ch}: recapito mancante")
            else:
                usable.append(ch)
        return usable, reasons


@dataclass(frozen=True)
class Custodian:
    """A custode sociale of a building and how they want to be told."""

    name: str
    channel: str
    email: str | None = None
    phone: str | None = None

    def address(self) -> str | None:
        """Their address on their own channel (the inbox id is their name)."""
        return {"email": self.email, "sms": self.phone}.get(self.channel, self.name)

    def recipient(self) -> Recipient:
        """As a notification recipient."""
        return Recipient(RecipientKind.CUSTODIAN, self.name, self.address(), self.name)
