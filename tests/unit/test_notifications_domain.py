from __future__ import annotations

from datetime import UTC, datetime

from services.notifications.domain.model import RecipientKind, custodians_of_new_case

NOW = datetime(2026, 11, 2, 10, tzinfo=UTC)
DATA = {
    "case_id": "case_1",
    "urgent": False,
    "building": {
        "name": "Saint Bon",
        "custodians": [
            {"name": "Maria", "email": "maria@example.org", "channel": "email"},
            {"name": "Gino", "phone": "+39 333 0000000", "channel": "sms"},
        ],
    },
}


def test_each_custodian_of_the_building_is_told_on_their_channel() -> None:
    notes = custodians_of_new_case("evt_1", "t", DATA, NOW)
    assert [(n.recipient.name, n.channel, n.recipient.address) for n in notes] == [
        ("Maria", "email", "maria@example.org"),
        ("Gino", "sms", "+39 333 0000000"),
    ]
    assert {n.recipient.kind for n in notes} == {RecipientKind.CUSTODIAN}


def test_the_same_event_gives_the_same_notification_ids() -> None:
    first = [n.id for n in custodians_of_new_case("evt_1", "t", DATA, NOW)]
    again = [n.id for n in custodians_of_new_case("evt_1", "t", DATA, NOW)]
    other = [n.id for n in custodians_of_new_case("evt_2", "t", DATA, NOW)]
    assert first == again
    assert len(set(first)) == 2
    assert not set(first) & set(other)
