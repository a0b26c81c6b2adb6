"""The event envelope: CloudEvents 1.0 in structured JSON mode.

An event crosses Kafka as one JSON object (``id``, ``source``, ``type``, ``specversion``, ``time``,
``subject``, ``datacontenttype``, ``data``). ``type`` carries the version (``...case.opened.v1``);
``data`` is validated against the schema registered for that type. Unknown attributes and unknown
data fields are ignored, so producers can add fields without breaking consumers.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

SPEC_VERSION = "1.0"
TYPE_PREFIX = "it.mm.sportello."


class PoisonEvent(Exception):
    """An event that can never be applied: bad JSON, unknown type or version, invalid data."""


@dataclass(frozen=True)
class Event:
    """One CloudEvent. ``data`` is the validated payload of ``type``."""

    type: str
    source: str
    subject: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    specversion: str = SPEC_VERSION
    datacontenttype: str = "application/json"


class EnvelopeSchema(Schema):
    """The CloudEvents attributes Sportello reads; other attributes are ignored."""

    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    source = fields.String(required=True, validate=validate.Length(min=1, max=200))
    type = fields.String(required=True, validate=validate.Length(min=1, max=200))
    specversion = fields.String(required=True, validate=validate.Equal(SPEC_VERSION))
    time = fields.AwareDateTime(required=True, default_timezone=UTC)
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    datacontenttype = fields.String(
        load_default="application/json", validate=validate.Equal("application/json")
    )
    data = fields.Dict(required=True)


_envelope_schema = EnvelopeSchema()


def event_type(name: str, version: int = 1) -> str:
    """The full, versioned type of an event, e.g. ``it.mm.sportello.intake.case.opened.v1``."""
    return f"{TYPE_PREFIX}{name}.v{version}"


def encode(event: Event) -> bytes:
    """The event as structured-mode CloudEvents JSON."""
    return json.dumps(
        {
            "id": event.id,
            "source": event.source,
            "type": event.type,
            "specversion": event.specversion,
            "time": event.time.isoformat(),
            "subject": event.subject,
            "datacontenttype": event.datacontenttype,
            "data": event.data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def decode_envelope(raw: bytes | None) -> Event:
    """Parse the envelope only (``data`` not yet checked). Raises ``PoisonEvent``."""
    if raw is None:
        raise PoisonEvent("messaggio vuoto (tombstone)")
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoisonEvent(f"JSON non valido: {exc}") from None
    if not isinstance(doc, dict):
        raise PoisonEvent("l'evento non è un oggetto JSON")
    try:
        attrs = _envelope_schema.load(doc)
    except ValidationError as exc:
        raise PoisonEvent(f"envelope CloudEvents non valido: {exc.messages}") from None
    return Event(**attrs)
