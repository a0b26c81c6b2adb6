"""casework's and notifications' handlers on the real store: a redelivered event has no effect."""

from __future__ import annotations

from services.casework.adapters.documents import CaseFileDoc
from services.casework.bootstrap import bootstrap as casework_bootstrap
from services.casework.service_layer.handlers import EVENT_HANDLERS as CASEWORK
from services.notifications.adapters.documents import NotificationDoc
from services.notifications.bootstrap import bootstrap as notifications_bootstrap
from services.notifications.service_layer.handlers import EVENT_HANDLERS as NOTIFICATIONS
from shared import mongo
from shared.events import decode, encode, make_event
from shared.events.intake import CASE_OPENED
from shared.kafka import dispatcher
from tests.unit.test_envelope import case_opened_data


def test_the_same_case_opened_twice_opens_one_case_file_and_one_notification(settings_for):
    event = decode(encode(make_event(CASE_OPENED, "case_1", case_opened_data())))
    casework = dispatcher(CASEWORK, casework_bootstrap(settings_for("casework")))
    notify = dispatcher(NOTIFICATIONS, notifications_bootstrap(settings_for("notifications")))
    try:
        for _ in range(3):
            casework(event, [])
            notify(event, [])
        assert CaseFileDoc.objects.count() == 1
        case_file = CaseFileDoc.objects.get(id="case_1")
        assert case_file.state == "aperto"
        assert case_file.building.municipio == 7
        assert NotificationDoc.objects.count() == 1
        assert NotificationDoc.objects.first().recipient.kind == "custode_sociale"
    finally:
        mongo.disconnect("casework")
        mongo.disconnect("notifications")
