"""Which event types exist and the schema of each one's ``data``.

The registry is the single list of contracts between services. Each producing service's module
(``shared.events.intake`` …) registers its types here at import; a consumer decodes an event with
``decode`` and gets either a validated ``Event`` or a ``PoisonEvent`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

from marshmallow import EXCLUDE, Schema, ValidationError

from shared.events.envelope import Event, PoisonEvent, decode_envelope, event_type


class EventData(Schema):
    """Base of every event data schema: unknown fields are dropped (forward compatible)."""

    class Meta:
        unknown = EXCLUDE


@dataclass(frozen=True)
class EventContract:
    """One versioned event type: who publishes it, and the schema of its data."""

    type: str
    producer: str
    schema: type[EventData]
    description: str

    @cached_property
    def checker(self) -> EventData:
        """One instance of ``schema`` per contract: instantiating a schema copies all its fields,
        and every event made or consumed is checked (marshmallow 4 schemas hold no per-load
        state)."""
        return self.schema()


_CONTRACTS: dict[str, EventContract] = {}


def register(
    producer: str, name: str, schema: type[EventData], description: str, version: int = 1
) -> str:
    """Declare an event type; returns its full type string."""
    full = event_type(name, version)
    if full in _CONTRACTS:
        raise ValueError(f"event type registered twice: {full}")
    _CONTRACTS[full] = EventContract(full, producer, schema, description)
    return full


def contract(type_: str) -> EventContract:
    """The contract of ``type_``; ``PoisonEvent`` when nobody declared it."""
    try:
        return _CONTRACTS[type_]
    except KeyError:
        raise PoisonEvent(f"tipo di evento sconosciuto: {type_}") from None


def contracts() -> list[EventContract]:
    """Every declared event type, sorted (the event catalogue)."""
    return sorted(_CONTRACTS.values(), key=lambda c: c.type)


def validate_data(type_: str, data: dict) -> dict:
    """``data`` loaded through the schema of ``type_`` (raises ``PoisonEvent``)."""
    try:
        return contract(type_).checker.load(data)
    except ValidationError as exc:
        raise PoisonEvent(f"dati non validi per {type_}: {exc.messages}") from None


def decode(raw: bytes | None) -> Event:
    """Envelope and data, both validated. Raises ``PoisonEvent`` with the reason."""
    event = decode_envelope(raw)
    return replace(event, data=validate_data(event.type, event.data))


def make_event(type_: str, subject: str, data: dict) -> Event:
    """A new event of a declared type; ``data`` is checked against its schema before it leaves."""
    c = contract(type_)
    try:
        errors = c.checker.validate(data)
    except ValidationError as exc:  # pragma: no cover - validate() reports, it does not raise
        errors = exc.messages
    if errors:
        raise ValueError(f"event {type_} does not match its schema: {errors}")
    return Event(type=type_, source=f"/sportello/{c.producer}", subject=subject, data=data)
