"""Event contracts: the CloudEvents envelope and the versioned schema of every event type."""

from shared.events import intake  # noqa: F401  (registers intake's contracts)
from shared.events.envelope import Event, PoisonEvent, encode, event_type
from shared.events.registry import EventData, contract, contracts, decode, make_event

__all__ = [
    "Event",
    "EventData",
    "PoisonEvent",
    "contract",
    "contracts",
    "decode",
    "encode",
    "event_type",
    "make_event",
]
