"""casework's API on the real store: the whole case file, from intake's event to closing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from services.casework.adapters.documents import CaseFileDoc, CaseFileVersionDoc
from services.casework.entrypoints.app import create_app
from services.casework.service_layer.handlers import EVENT_HANDLERS
from shared import mongo, privacy
from shared.events import decode, encode, make_event
from shared.events.intake import CASE_OPENED, TENANT_ERASURE_REQUESTED
from shared.kafka import dispatcher
from shared.outbox import event_text
from shared.privacy import ANONYMOUS
from tests.support import authorize_app, bearer_headers
from tests.unit.test_envelope import case_opened_data

BILL = {
    "supplier": "Enel Energia",
    "commodity": "luce",
    "period_start": "2026-09-01",
    "period_end": "2026-10-31",
    "consumption": 420.0,
    "unit": "kWh",
    "amount_cents": 18_000,
    "arrears_cents": 9_000,
}


@pytest.fixture
def app_and_client(settings_for) -> Iterator[tuple]:
    app = authorize_app(create_app(settings_for("casework")))
    yield app, app.test_client()
    mongo.disconnect("casework")


@pytest.fixture
def client(app_and_client) -> FlaskClient:
    return app_and_client[1]


def deliver_case_opened(app, case_id: str, **overrides: object) -> None:
    """intake's case.opened, as the worker's consumer would apply it (twice: redelivery)."""
    data = case_opened_data(case_id=case_id, bills=[BILL], **overrides)
    event = decode(encode(make_event(CASE_OPENED, case_id, data)))
    handle = dispatcher(EVENT_HANDLERS, app.extensions["sportello.bus"].deps)
    handle(event, [])
    handle(event, [])


def outbox_records(case_id: str) -> list[dict]:
    """The events this case's writes handed to the relay (no relay runs here), in order."""
    versions = CaseFileVersionDoc._get_collection().find({"case_id": case_id}).sort("version", 1)
    return [r for v in versions for r in v["outbox"]]


def outbox_types(case_id: str) -> list[str]:
    return [r["type"].split("sportello.casework.")[1] for r in outbox_records(case_id)]


def outbox_data(case_id: str, suffix: str) -> list[dict]:
    return [
        json.loads(event_text(r, "casework"))["data"]
        for r in outbox_records(case_id)
        if r["type"].endswith(suffix)
    ]


def post(client: FlaskClient, url: str, body: dict, status: int = 200) -> dict:
    response = client.post(url, json=body)
    assert response.status_code == status, response.json
    return response.json


def test_redelivery_opens_one_case_file_with_only_what_casework_needs(app_and_client) -> None:
    app, client = app_and_client
    deliver_case_opened(app, "case_a", hardship_signals=["perdita_lavoro"], isee_band="fino_9530")
    assert CaseFileDoc.objects.count() == 1
    body = client.get("/api/v1/case-files/case_a").json
    assert body["state"] == "aperto"
    assert body["allowed_next_states"] == ["in_valutazione", "archiviato"]
    assert body["bills"][0]["arrears_cents"] == 9_000
    assert body["hardship_signals"] == ["perdita_lavoro"]
    assert "custodians" not in json.dumps(body)  # contacts stay with notifications
    assert outbox_types("case_a") == []


def test_the_full_lifecycle_with_a_referral_to_amat(app_and_client) -> None:
    app, client = app_and_client
    deliver_case_opened(app, "case_b")
    base = "/api/v1/case-files/case_b"
    post(client, f"{base}/transitions", {"to_state": "in_valutazione", "actor": "op.rossi"})
    proposal = post(client, f"{base}/assessment-proposal", {"evidence": {"isee_band": "fino_9530"}})
    assert proposal["classification"] == "precarieta_energetica"  # arrears from the bill
    assert proposal["ruleset_version"] and proposal["reasons"]
    assessed = post(
        client,
        f"{base}/assessments",
        {"classification": "poverta_energetica", "actor": "op.rossi", "evidence": {}},
        201,
    )
    assert assessed["proposed_classification"] == "precarieta_energetica"
    post(client, f"{base}/transitions", {"to_state": "in_carico", "actor": "op.rossi"})
    ref = post(
        client,
        f"{base}/referrals",
        {"path": "amat", "reason": "Lettura bollette e confronto offerte", "actor": "op.rossi"},
        201,
    )
    assert ref["state"] == "proposta"
    sent = post(
        client,
        f"{base}/referrals/{ref['id']}/send",
        {"actor": "op.rossi", "recipient": "AMAT Sportello Aiuto Energia"},
    )
    assert sent["state"] == "inviata" and sent["due_date"]
    assert set(sent["shared"]) <= {
        "case_id",
        "tenant_id",
        "building",
        "counter_id",
        "bills",
        "readings",
        "appliances",
    }
    assert "needs" not in sent["shared"] and "notes" not in sent["shared"]
    disclosures = client.get(f"{base}/disclosures").json
    assert disclosures[0]["recipient"] == "AMAT Sportello Aiuto Energia"

    # A case cannot close while a referral is open: 409 in the error shape.
    refused = client.post(
        f"{base}/transitions", json={"to_state": "chiuso", "actor": "op", "outcome": "fatto"}
    )
    assert refused.status_code == 409
    assert refused.json["code"] == "open_referrals"

    post(client, f"{base}/referrals/{ref['id']}/accept", {"actor": "amat.verdi"})
    done = post(
        client,
        f"{base}/referrals/{ref['id']}/complete",
        {
            "actor": "amat.verdi",
            "outcome": "Cambio fornitore a offerta PLACET",
            "outcome_for_tenant": "Hai un nuovo contratto luce: risparmi circa 120 euro l'anno.",
            "measured": [{"kind": "risparmio_fornitore", "value": 12000}],
        },
    )
    assert done["state"] == "completata"
    closed = post(
        client,
        f"{base}/transitions",
        {"to_state": "chiuso", "actor": "op.rossi", "outcome": "Bolletta ridotta", "reason": "ok"},
    )
    assert closed["state"] == "chiuso" and closed["outcome"] == "Bolletta ridotta"

    assert outbox_types("case_b") == [
        "case.state_changed.v1",
        "case.assessed.v1",
        "case.state_changed.v1",
        "referral.sent.v1",
        "referral.accepted.v1",
        "referral.completed.v1",
        "case.state_changed.v1",
        "case.closed.v1",
    ]
    completed = outbox_data("case_b", "referral.completed.v1")[0]
    assert completed["path"] == "amat" and completed["actor"] == "amat.verdi"
    assert completed["outcome_for_tenant"].startswith("Hai un nuovo contratto")
    timeline = client.get(f"{base}/timeline").json
    assert [t["at"] for t in timeline] == sorted(t["at"] for t in timeline)
    assert {"stato", "valutazione", "invio", "condivisione", "esito_misurato"} <= {
        t["kind"] for t in timeline
    }
    assert client.get(f"{base}/assessments").json[0]["classification"] == "poverta_energetica"
    report = client.get("/api/v1/reports/outcomes", query_string={"group_by": "path"}).json
    assert report == [
        {
            "path": "amat",
            "kind": "risparmio_fornitore",
            "unit": "centesimi/anno",
            "total": 12000.0,
            "count": 1,
        }
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to_state": "chiuso", "actor": "op"}, "outcome"),
        ({"to_state": "volato", "actor": "op"}, "to_state"),
        ({"to_state": "in_valutazione"}, "actor"),
        ({"to_state": "in_valutazione", "actor": "op", "extra": 1}, "extra"),
    ],
)
def test_bad_transitions_get_precise_422s(app_and_client, body, field) -> None:
    app, client = app_and_client
    deliver_case_opened(app, "case_c")
    response = client.post("/api/v1/case-files/case_c/transitions", json=body)
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert field in response.json["errors"]["json"]


def test_a_forbidden_transition_answers_409_naming_current_and_allowed_states(
    app_and_client,
) -> None:
    app, client = app_and_client
    deliver_case_opened(app, "case_d")
    response = client.post(
        "/api/v1/case-files/case_d/transitions", json={"to_state": "in_carico", "actor": "op"}
    )
    assert response.status_code == 409
    assert response.json["code"] == "forbidden_transition"
    assert response.json["details"]["current_state"] == "aperto"
    assert response.json["details"]["allowed"] == ["in_valutazione", "archiviato"]
    assert "aperto" in response.json["message"]


def test_unknown_case_path_and_referral_are_404s_and_bad_json_is_400(client) -> None:
    missing = client.get("/api/v1/case-files/nope")
    assert missing.status_code == 404 and missing.json["code"] == "not_found"
    not_json = client.post(
        "/api/v1/case-files/nope/notes", data="{", content_type="application/json"
    )
    assert not_json.status_code == 400


def test_an_unknown_path_is_refused_and_configured_paths_are_listed(app_and_client) -> None:
    app, client = app_and_client
    deliver_case_opened(app, "case_e")
    response = client.post(
        "/api/v1/case-files/case_e/referrals",
        json={"path": "sindacato", "reason": "prova invio", "actor": "op"},
    )
    assert response.status_code == 404 and response.json["code"] == "unknown_path"
    listed = {p["name"]: p for p in client.get("/api/v1/referral-paths").json}
    assert set(listed) == {"welfare", "casa", "amat"}
    assert "storia_sociale" not in listed["amat"]["shares"]


def test_home_visit_diary_notes_tasks_and_outcomes(app_and_client) -> None:
    app, client = app_and_client
    deliver_case_opened(app, "case_f", counter_id="cnt_saintbon")
    base = "/api/v1/case-files/case_f"
    visit = post(
        client,
        f"{base}/home-visits",
        {
            "visited_at": datetime(2026, 11, 20, 10, tzinfo=UTC).isoformat(),
            "actor": "op.bianchi",
            "rooms": [{"room": "camera", "temperature_c": 16, "humidity_pct": 75, "mould": True}],
            "appliances": [
                {"name": "stufetta", "power_w": 2000, "hours_per_day": 2},
                {"name": "frigorifero", "power_w": 150, "hours_per_day": 24},
            ],
            "recommendations": [
                {
                    "text": "Sostituire la stufetta elettrica",
                    "appliance": "stufetta",
                    "reduction_pct": 60,
                },
                {
                    "text": "Sbrinare il frigorifero",
                    "appliance": "frigorifero",
                    "reduction_pct": 10,
                },
            ],
        },
        201,
    )
    # 2000 W × 2 h × 365 = 1460 kWh → 43,800 cents at 30 c/kWh; 60% = 26,280.
    assert visit["appliance_costs"][0] == {
        "name": "stufetta",
        "kwh_per_year": 1460.0,
        "cost_cents_per_year": 43800,
    }
    assert visit["largest_savings"][0]["cents_per_year"] == 26280
    assert visit["potential_savings_cents_per_year"] == 26280 + 3942
    assert "camera: muffa" in visit["findings"]
    bad_visit = client.post(
        f"{base}/home-visits",
        json={
            "visited_at": "2026-11-20T10:00:00",
            "actor": "op",
            "appliances": [{"name": "tv", "power_w": -1, "hours_per_day": 30}],
        },
    )
    assert bad_visit.status_code == 422
    assert set(bad_visit.json["errors"]["json"]) == {"visited_at", "appliances"}

    for read_on, value in (("2026-09-01", 1000), ("2026-10-01", 1300), ("2026-11-01", 1800)):
        post(
            client,
            f"{base}/diary",
            {"read_on": read_on, "commodity": "luce", "value": value, "actor": "op"},
            201,
        )
    post(client, f"{base}/diary", {"read_on": "2026-11-02", "note": "stufetta", "actor": "op"}, 201)
    diary = client.get(f"{base}/diary").json
    assert [p["consumption"] for p in diary["periods"]] == [300, 500]
    assert diary["periods"][1]["anomaly"] is not None and diary["periods"][0]["anomaly"] is None
    incomplete = client.post(
        f"{base}/diary", json={"read_on": "2026-11-03", "commodity": "gas", "actor": "op"}
    )
    assert incomplete.status_code == 422 and incomplete.json["code"] == "incomplete_reading"

    post(client, f"{base}/notes", {"text": "Tenant chiede rateizzazione.", "actor": "op"}, 201)
    task = post(
        client,
        f"{base}/tasks",
        {"title": "Chiamare il fornitore", "due_date": "2026-12-01", "actor": "op"},
        201,
    )
    post(client, f"{base}/tasks/{task['id']}/complete", {"actor": "op"})
    again = client.post(f"{base}/tasks/{task['id']}/complete", json={"actor": "op"})
    assert again.status_code == 409
    post(client, f"{base}/outcomes", {"kind": "bonus_sociale", "value": 15000, "actor": "op"}, 201)
    by_counter = client.get("/api/v1/reports/outcomes", query_string={"group_by": "counter"}).json
    assert by_counter == [
        {
            "counter": "cnt_saintbon",
            "kind": "bonus_sociale",
            "unit": "centesimi/anno",
            "total": 15000.0,
            "count": 1,
        }
    ]
    kinds = [t["kind"] for t in client.get(f"{base}/timeline").json]
    assert {"sopralluogo", "diario", "nota", "attivita", "attivita_completata"} <= set(kinds)
    assert outbox_types("case_f") == ["home_visit.recorded.v1"]


def test_work_queues_filter_paginate_and_count(app_and_client) -> None:
    app, client = app_and_client
    for i in range(5):
        deliver_case_opened(app, f"case_q{i}", counter_id="cnt_1" if i % 2 else "cnt_2")
    post(
        client,
        "/api/v1/case-files/case_q1/transitions",
        {"to_state": "in_valutazione", "actor": "op"},
    )
    client.put("/api/v1/case-files/case_q1/assignee", json={"assignee": "op.rossi", "actor": "c"})
    ref = post(
        client,
        "/api/v1/case-files/case_q3/referrals",
        {"path": "welfare", "reason": "sostegno economico", "actor": "op"},
        201,
    )
    page = client.get("/api/v1/case-files", query_string={"limit": 2, "offset": 0})
    assert len(page.json) == 2 and page.headers["X-Total-Count"] == "5"
    mine = client.get("/api/v1/case-files", query_string={"assignee": "op.rossi"}).json
    assert [c["id"] for c in mine] == ["case_q1"]
    client.put("/api/v1/case-files/case_q4/assignee", json={"assignee": "test-admin", "actor": "c"})
    # «I miei casi» from the token: the caller (sub test-admin) names nobody.
    mine = client.get("/api/v1/case-files", query_string={"mine": "true"}).json
    assert [c["id"] for c in mine] == ["case_q4"]
    both = client.get("/api/v1/case-files", query_string={"mine": "true", "assignee": "x"})
    assert both.status_code == 422 and "mine" in both.json["errors"]["query"], both.json
    by_counter = client.get("/api/v1/case-files", query_string={"counter_id": "cnt_1"})
    assert by_counter.headers["X-Total-Count"] == "2"
    by_path = client.get("/api/v1/case-files", query_string={"path": "welfare"}).json
    assert [c["id"] for c in by_path] == ["case_q3"]
    by_state = client.get("/api/v1/case-files", query_string={"state": "in_valutazione"}).json
    assert [c["id"] for c in by_state] == ["case_q1"]
    counts = client.get("/api/v1/queues/counts").json
    assert counts["cases_by_state"] == {"aperto": 4, "in_valutazione": 1}
    assert counts["referrals_by_path"] == {"welfare": {"proposta": 1}}
    assert ref["id"]
    for query, field in (({"limit": 0}, "limit"), ({"colour": "red"}, "colour")):
        bad = client.get("/api/v1/case-files", query_string=query)
        assert bad.status_code == 422 and field in bad.json["errors"]["query"], bad.json


def test_overdue_queue_lists_referrals_past_their_deadline(app_and_client) -> None:
    app, client = app_and_client
    deliver_case_opened(app, "case_o")
    deps = app.extensions["sportello.bus"].deps
    real_clock = deps.clock
    deps.clock = lambda: datetime(2026, 12, 4, 9, tzinfo=UTC)  # a Friday before Sant'Ambrogio
    try:
        base = "/api/v1/case-files/case_o"
        ref = post(
            client,
            f"{base}/referrals",
            {"path": "amat", "reason": "bollette alte", "actor": "op"},
            201,
        )
        sent = post(client, f"{base}/referrals/{ref['id']}/send", {"actor": "op"})
        # 5 working days: 9, 10, 11, 14, 15 December (7 Sant'Ambrogio, 8 Immacolata skipped).
        assert sent["due_date"] == "2026-12-15"
        assert client.get("/api/v1/queues/overdue-referrals").json == []
        deps.clock = lambda: datetime(2026, 12, 15, 18, tzinfo=UTC)
        assert client.get("/api/v1/queues/overdue-referrals").json == []  # due day: in time
        deps.clock = lambda: datetime(2026, 12, 16, 9, tzinfo=UTC)
        overdue = client.get("/api/v1/queues/overdue-referrals").json
        assert [(o["case_id"], o["due_date"]) for o in overdue] == [("case_o", "2026-12-15")]
        flagged = client.get("/api/v1/case-files", query_string={"overdue": "true"}).json
        assert [c["id"] for c in flagged] == ["case_o"]
    finally:
        deps.clock = real_clock


def test_a_path_caseworker_acts_only_on_referrals_of_its_own_path(app_and_client, environ) -> None:
    app, client = app_and_client
    deliver_case_opened(app, "case_scope")
    base = "/api/v1/case-files/case_scope"
    ref = post(
        client, f"{base}/referrals", {"path": "amat", "reason": "Bollette", "actor": "a"}, 201
    )
    post(client, f"{base}/referrals/{ref['id']}/send", {"actor": "a", "recipient": "AMAT"})
    url = f"{base}/referrals/{ref['id']}"

    def as_path(path: str) -> dict[str, str]:
        return bearer_headers(environ, "path_caseworker", path=path)

    for path, status in (("welfare", 403), ("amat", 200)):
        got = client.get(url, headers=as_path(path))
        assert got.status_code == status, got.json
        accepted = client.post(f"{url}/accept", json={"actor": "x"}, headers=as_path(path))
        assert accepted.status_code == status, accepted.json
        if status == 403:
            assert accepted.json["code"] == "vietato"
            # The case has no referral to welfare: refused by the case file's scope already.
            assert "tuo percorso" in accepted.json["message"]


def test_a_case_opened_while_its_tenant_is_being_erased_is_erased_too(
    app_and_client, monkeypatch
) -> None:
    app = app_and_client[0]
    deps = app.extensions["sportello.bus"].deps
    handle = dispatcher(EVENT_HANDLERS, deps)
    deliver_case_opened(app, "case_first", tenant_id="ten_gone")
    late = case_opened_data(case_id="case_late", tenant_id="ten_gone")
    listed = deps.case_files.ids_of_tenant

    def list_then_open(tenant_id: str) -> list[str]:
        found = listed(tenant_id)
        # Meanwhile a worker on another partition opens a case for the tenant.
        handle(decode(encode(make_event(CASE_OPENED, "case_late", late))), [])
        return found

    monkeypatch.setattr(deps.case_files, "ids_of_tenant", list_then_open)
    erasure = {
        "erasure_id": "era_1",
        "tenant_id": "ten_gone",
        "requested_by": "admin",
        "requested_at": datetime(2026, 11, 3, tzinfo=UTC).isoformat(),
    }
    handle(decode(encode(make_event(TENANT_ERASURE_REQUESTED, "ten_gone", erasure))), [])
    for case_id in ("case_first", "case_late"):
        case_file = deps.case_files.get(case_id)
        assert case_file.anonymised_at is not None and case_file.tenant_id == ANONYMOUS, case_id
    record = privacy.erased(deps.case_files.collection.database, "ten_gone")
    assert privacy.finished(record) and record["records"] == 1  # the one it found itself
