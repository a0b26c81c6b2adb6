"""Sportello's shared contracts and plumbing.

Everything every service needs once: configuration, logging, the MongoDB connection, the event
envelope and the event schemas (the contracts between services), Kafka producer and consumer loop,
the embedded outbox and its relay, and the Flask plumbing (error shape, health checks).
Nothing in here knows about one service's domain.
"""

from shared import i18n

# marshmallow resolves a field's messages when the field is created (at schema class definition),
# so the Italian messages must be in place before any schema module is imported. No I/O happens.
i18n.install()
