"""Commands the notifications API hands to the bus."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MarkRead:
    """A staff member read a message of their inbox."""

    recipient: str
    notification_id: str


@dataclass(frozen=True)
class SetCustodianPreference:
    """A custode sociale chose immediate messages or a daily digest."""

    custodian: str
    mode: str  # "immediato" or "riepilogo"
    actor: str
