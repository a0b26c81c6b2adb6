from __future__ import annotations

from services.notifications.domain.model import Notification, Recipient, RecipientKind


def test_the_same_event_rule_recipient_and_channel_give_the_same_id() -> None:
    tenant = Recipient(RecipientKind.TENANT, "Mario Rossi", "+39333", "ten_1")
    moved = Recipient(RecipientKind.TENANT, "Mario Rossi", "+39444", "ten_1")
    first = Notification.key("evt_1", "r", tenant, "sms")
    assert first == Notification.key("evt_1", "r", tenant, "sms")
    # A changed phone number must not turn a redelivered event into a second message.
    assert first == Notification.key("evt_1", "r", moved, "sms")
    assert first != Notification.key("evt_2", "r", tenant, "sms")
    assert first != Notification.key("evt_1", "r", tenant, "email")
    assert first != Notification.key("evt_1", "other", tenant, "sms")


def test_custodians_without_a_reference_are_told_apart_by_name_and_address() -> None:
    a = Recipient(RecipientKind.CUSTODIAN, "Maria", "maria@example.org")
    b = Recipient(RecipientKind.CUSTODIAN, "Gino", "gino@example.org")
    assert Notification.key("e", "r", a, "email") != Notification.key("e", "r", b, "email")
