"""Event contracts: the CloudEvents envelope and the versioned schema of every event type."""

# Importing each producer's module registers its contracts.
from shared.events import casework, intake, notifications  # noqa: F401
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
