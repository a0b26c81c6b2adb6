"""Request schemas every service's API shares: strict bodies and bounded paging."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from shared import id_lists

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
# The headers of a list read from its entries: the total, or, for a list longer than the
# counting cap (``shared.id_lists.COUNT_CAP``), the cap it is over (``total_headers``).
CAPPED_TOTAL_HEADERS = {
    "X-Total-Count": {
        "description": (
            "Quanti elementi corrispondono ai filtri (tutte le pagine). Manca quando sono più "
            "di quanti se ne contano: allora c'è X-Total-Count-Over."
        ),
        "schema": {"type": "integer"},
    },
    "X-Total-Count-Over": {
        "description": (
            "Solo quando gli elementi non sono stati contati tutti: sono più di questo numero."
        ),
        "schema": {"type": "integer"},
    },
}


def total_headers(total: int | None) -> dict[str, str]:
    """The headers of a page whose list holds ``total`` items (None: more than
    ``shared.id_lists.COUNT_CAP``, not counted further): ``X-Total-Count``, or
    ``X-Total-Count-Over`` with the cap. The total is then left out, as GitLab's API leaves
    its totals out past 10,000, so that no client reads the cap as the total."""
    if total is None:
        return {"X-Total-Count-Over": str(id_lists.COUNT_CAP)}
    return {"X-Total-Count": str(total)}
