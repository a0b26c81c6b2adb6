from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.events import PoisonEvent, contracts, decode, encode, make_event
from shared.events.intake import CASE_OPENED


def case_opened_data(**overrides: object) -> dict:
    data = {
        "case_id": "case_1",
        "tenant_id": "ten_1",
        "counter_id": None,
        "building": {
            "id": "bld_1",
            "name": "Saint Bon",
            "address": "via Saint Bon 6",
            "municipio": 7,
            "custodians": [{"name": "Maria", "email": "m@example.org"}],
        },
        "channel": "sportello",
        "needs": ["lettura_bollette"],
        "opened_by": "op",
        "opened_at": datetime(2026, 11, 2, 10, tzinfo=UTC).isoformat(),
    }
    data.update(overrides)
    return data


def test_an_event_survives_the_round_trip_as_structured_cloudevents_json() -> None:
    event = make_event(CASE_OPENED, "case_1", case_opened_data())
    raw = json.loads(encode(event))
    assert raw["specversion"] == "1.0"
    assert raw["type"] == "it.mm.sportello.intake.case.opened.v1"
    assert raw["source"] == "/sportello/intake"
    assert raw["subject"] == "case_1"
    assert raw["datacontenttype"] == "application/json"
    decoded = decode(encode(event))
    assert decoded.id == event.id
    assert decoded.data["building"]["municipio"] == 7


def test_unknown_attributes_and_fields_are_ignored_so_producers_can_add_fields() -> None:
    raw = json.loads(encode(make_event(CASE_OPENED, "case_1", case_opened_data())))
    raw["traceparent"] = "00-abc"
    raw["data"]["added_later"] = "x"
    decoded = decode(json.dumps(raw).encode())
    assert "added_later" not in decoded.data


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "JSON non valido"),
        (b"[1, 2]", "non è un oggetto"),
        (None, "tombstone"),
        (b'{"id": "1"}', "envelope"),
    ],
)
def test_malformed_messages_are_poison(raw: bytes | None, reason: str) -> None:
    with pytest.raises(PoisonEvent, match=reason):
        decode(raw)


def test_an_unknown_type_or_version_is_poison() -> None:
    raw = json.loads(encode(make_event(CASE_OPENED, "case_1", case_opened_data())))
    raw["type"] = raw["type"].replace(".v1", ".v9")
    with pytest.raises(PoisonEvent, match="sconosciuto"):
        decode(json.dumps(raw).encode())


def test_data_that_fails_its_schema_is_poison() -> None:
    raw = json.loads(encode(make_event(CASE_OPENED, "case_1", case_opened_data())))
    del raw["data"]["tenant_id"]
    with pytest.raises(PoisonEvent, match="tenant_id"):
        decode(json.dumps(raw).encode())


def test_a_producer_cannot_emit_data_that_breaks_its_contract() -> None:
    with pytest.raises(ValueError, match="schema"):
        make_event(CASE_OPENED, "case_1", case_opened_data(needs="not a list"))


def test_every_contract_is_versioned_and_described() -> None:
    for c in contracts():
        assert c.type.rsplit(".", 1)[-1].startswith("v")
        assert c.description
