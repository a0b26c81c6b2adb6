"""Request schemas every service's API shares: strict bodies and bounded paging."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

# Deep pages are a scan whatever the store; the bound also keeps the value inside the 8-byte
# integer the MongoDB wire protocol accepts for ``skip``.
MAX_OFFSET = 100_000
MAX_LIMIT = 200


class StrictSchema(Schema):
    """A request schema that refuses fields it does not know."""

    class Meta:
        unknown = RAISE


class PageQuery(StrictSchema):
    """``limit`` and ``offset`` of a list, both bounded."""

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_LIMIT))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))


# The OpenAPI description of the header every paged list answers with.
TOTAL_COUNT_HEADER = {
    "X-Total-Count": {
        "description": "Quanti elementi corrispondono ai filtri (tutte le pagine).",
        "schema": {"type": "integer"},
    }
}
