"""The web app's pure logic: identities, form errors, queues, chart geometry."""

from __future__ import annotations

from datetime import date

import pytest

from services.web.domain.charts import bars, diary_columns
from services.web.domain.forms import (
    appointment_body,
    case_body,
    field_messages,
    flatten_errors,
    tenant_body,
)
from services.web.domain.identity import Identity, IdentityError, make_identity
from services.web.domain.queues import (
    team_inbox,
    unread_first,
)


def test_each_role_lands_on_its_own_home() -> None:
    homes = {
        make_identity("op.rossi", "operatore", {"counter_id": "ctr_1"}).home,
        make_identity("amat.bianchi", "percorso", {"path": "amat"}).home,
        make_identity("custode.verdi", "custode", {"custodian": "Custodia Saint Bon"}).home,
        make_identity("coord.neri", "coordinatore", {}).home,
    }
    assert homes == {"counter.day", "team.inbox", "custode.inbox", "dashboard.overview"}


def test_an_identity_keeps_only_its_roles_scope_and_survives_the_session() -> None:
    who = make_identity("Op.Rossi", "percorso", {"path": "amat", "counter_id": "ctr_1"})
    assert (who.username, who.path, who.counter_id) == ("op.rossi", "amat", "")
    assert Identity.from_session(who.to_session()) == who
    # A path added by casework's configuration signs in like a built-in one.
    assert make_identity("acqua.rossi", "percorso", {"path": "acqua"}).principal().path == "acqua"


@pytest.mark.parametrize(
    ("username", "role", "scope", "field"),
    [
        ("x", "operatore", {"counter_id": "c"}, "username"),
        ("op.rossi", "capo", {}, "role"),
        ("op.rossi", "operatore", {}, "counter_id"),
        ("op.rossi", "custode", {"path": "amat"}, "custodian"),
        ("acqua.rossi", "percorso", {"path": "Acqua!"}, "path"),
    ],
)
def test_a_wrong_sign_in_names_its_field(username, role, scope, field) -> None:
    with pytest.raises(IdentityError) as refused:
        make_identity(username, role, scope)
    assert refused.value.field == field


def test_a_tampered_or_missing_session_is_nobody() -> None:
    assert Identity.from_session(None) is None
    assert Identity.from_session({"username": "op", "role": "re"}) is None


def test_nested_api_errors_land_on_the_form_fields() -> None:
    errors = {"needs": {"0": ["Scelta non valida."]}, "bills": {"0": {"pod": ["POD non valido."]}}}
    assert flatten_errors(errors) == {
        "needs.0": ["Scelta non valida."],
        "bills.0.pod": ["POD non valido."],
    }
    shown = field_messages(errors, {"needs", "description"})
    assert shown == {"needs": ["Scelta non valida."], "_form": ["bills.0.pod: POD non valido."]}


def test_the_case_form_becomes_intakes_body() -> None:
    body = case_body(
        {"tenant_id": ["ten_1"], "needs": ["morosita", ""], "disconnection_date": [""]},
        "ctr_1",
        "op.rossi",
    )
    assert body == {
        "tenant_id": "ten_1",
        "counter_id": "ctr_1",
        "channel": "sportello",
        "needs": ["morosita"],
        "description": "",
        "disconnection_date": None,
        "hardship_kind": "da_valutare",
        "isee_band": None,
        "receives_bonus_sociale": None,
        "bills": [],
        "opened_by": "op.rossi",
    }


def test_a_home_visit_takes_its_own_time_and_no_counter() -> None:
    form = {
        "kind": ["sopralluogo"],
        "tenant_id": ["ten_1"],
        "starts_at": ["2026-11-24T14:00:00+01:00"],
        "visit_at": ["2026-11-25T10:00"],
    }
    body = appointment_body(form, "ctr_1", "op")
    assert body["starts_at"] == "2026-11-25T10:00" and "counter_id" not in body
    meeting = appointment_body({**form, "kind": ["incontro"]}, "ctr_1", "op")
    assert meeting["starts_at"] == "2026-11-24T14:00:00+01:00"
    assert meeting["counter_id"] == "ctr_1"


def test_the_tenant_form_records_the_consents_given() -> None:
    body = tenant_body(
        {"fiscal_code": ["bnclra70c41f205i"], "consent_sms": ["on"], "phone": [""]}, "op"
    )
    assert body["fiscal_code"] == "BNCLRA70C41F205I"
    assert body["phone"] is None
    assert body["consents"] == [{"channel": "sms", "granted": True, "recorded_by": "op"}]


def referral(rid: str, state: str, due: str | None, path: str = "amat") -> dict:
    return {"id": rid, "path": path, "state": state, "due_date": due}


def test_the_team_inbox_puts_overdue_referrals_first_and_ignores_other_paths() -> None:
    case = {"id": "cas_1"}
    items = [
        (case, referral("r1", "inviata", "2026-11-30")),
        (case, referral("r2", "inviata", "2026-11-20")),
        (case, referral("r3", "presa_in_carico", "2026-11-25")),
        (case, referral("r4", "completata", None)),
        (case, referral("r5", "proposta", None)),
        (case, referral("r6", "inviata", "2026-11-01", path="casa")),
    ]
    inbox = team_inbox(items, "amat", date(2026, 11, 22))
    assert [r["referral"]["id"] for r in inbox.new] == ["r2", "r1"]
    assert [r["overdue"] for r in inbox.new] == [True, False]
    assert inbox.overdue_count == 1
    assert [r["referral"]["id"] for r in inbox.in_progress] == ["r3"]
    assert [r["referral"]["id"] for r in inbox.closed] == ["r4"]


def test_the_custodes_unread_messages_come_first() -> None:
    messages = [
        {"id": "a", "created_at": "2026-11-20T10:00:00+00:00", "read_at": None},
        {"id": "b", "created_at": "2026-11-21T10:00:00+00:00", "read_at": "2026-11-21T11:00"},
        {"id": "c", "created_at": "2026-11-19T10:00:00+00:00", "read_at": None},
    ]
    assert [m["id"] for m in unread_first(messages)] == ["a", "c", "b"]


def test_bars_scale_to_the_largest_value_and_survive_zeros() -> None:
    drawn = bars({"aperto": 4, "chiuso": 1}, highlight={"chiuso"})
    assert [(b.label, b.share, b.highlight) for b in drawn] == [
        ("aperto", 1.0, False),
        ("chiuso", 0.25, True),
    ]
    assert [b.share for b in bars({"a": 0})] == [0.0]
    assert bars({}) == []


def test_diary_columns_scale_each_commodity_on_its_own() -> None:
    periods = [
        {"commodity": "luce", "start": "2026-10-01", "end": "2026-10-31", "per_day": 10},
        {"commodity": "luce", "start": "2026-11-01", "end": "2026-11-30", "per_day": 5},
        {
            "commodity": "gas",
            "start": "2026-10-01",
            "end": "2026-10-31",
            "per_day": 2,
            "anomaly": "consumo alto",
        },
    ]
    columns = diary_columns(periods, width=300, height=100)
    assert [c.height for c in columns] == [100, 50, 100]
    assert [c.x for c in columns] == [0, 100, 200]
    assert [c.unit for c in columns] == ["kWh", "kWh", "Smc"]
    assert columns[2].anomaly == "consumo alto"
    assert diary_columns([]) == []


def test_amounts_in_euro_become_cents() -> None:
    from services.web.domain.forms import euro_cents

    assert euro_cents("184,50") == 18_450
    assert euro_cents("1.234,56 €") == 123_456
    assert euro_cents("90") == 9_000
    assert euro_cents("12.5") == 1_250
    assert euro_cents("dieci") == "dieci"  # intake says it is not a number
    assert euro_cents("NaN") == "NaN"


def test_bills_skip_empty_ones_and_map_intakes_fields_to_the_inputs() -> None:
    from services.web.domain.forms import bills_body

    form = {
        "bill-0-commodity": ["luce"],
        "bill-3-commodity": ["gas"],
        "bill-3-supplier": ["A2A"],
        "bill-3-meter": ["0088 1234 5678 90"],
        "bill-3-consumption": ["95,5"],
    }
    bills, aliases = bills_body(form)
    assert bills == [
        {
            "commodity": "gas",
            "offer": None,
            "supplier": "A2A",
            "pdr": "00881234567890",
            "consumption": 95.5,
            "unit": "Smc",
        }
    ]
    assert aliases["bills.0.pdr"] == aliases["bills.0.pod"] == "bill-3-meter"
    assert aliases["bills.0.amount_cents"] == "bill-3-amount"
    body = case_body({"receives_bonus_sociale": ["si"], "isee_band": [""]}, "c", "op")
    assert (body["receives_bonus_sociale"], body["isee_band"], body["bills"]) == (True, None, [])


def test_a_custodes_token_names_the_buildings_it_looks_after() -> None:
    who = make_identity(
        "custode.verdi", "custode", {"custodian": "Custodia Saint Bon"}, buildings=("bld_1",)
    )
    assert who.principal().buildings == ("bld_1",)
    assert Identity.from_session(who.to_session()) == who
    # Only a custode keeps buildings.
    operator = make_identity("op.rossi", "operatore", {"counter_id": "c1"}, buildings=("bld_1",))
    assert operator.principal().buildings == ()
