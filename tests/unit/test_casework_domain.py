"""casework's pure domain: both state machines, working days, energy figures, rules, deadlines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.casework.adapters.codec import from_doc, to_doc
from services.casework.domain import energy
from services.casework.domain.assessment import (
    RULESET_VERSION,
    Classification,
    Evidence,
    IseeBand,
    propose,
)
from services.casework.domain.model import (
    CASE_TRANSITIONS,
    REFERRAL_TRANSITIONS,
    CaseFile,
    CaseState,
    OutcomeKind,
    ReferralState,
)
from services.casework.domain.paths import UnknownCategory, make_path
from services.casework.domain.workdays import add_working_days, is_working_day
from shared.domain import Conflict, DomainError, NotFound
from shared.events.casework import DISCONNECTION_DEADLINE_APPROACHING
from shared.events.registry import validate_data
from tests.unit.test_envelope import case_opened_data

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)  # a Monday
AMAT = make_path("amat", "AMAT", 5, ["anagrafica", "bollette", "consumi"])
WELFARE = make_path("welfare", "Welfare", 10, ["anagrafica", "bisogni", "storia_sociale"])


def new_case(**overrides: object) -> CaseFile:
    data = case_opened_data(**overrides)
    data["opened_at"] = NOW
    bills = [
        {
            "supplier": "Enel",
            "commodity": "luce",
            "period_start": date(2026, 9, 1),
            "period_end": date(2026, 10, 31),
            "amount_cents": 18_000,
            "arrears_cents": 9_000,
            "consumption": 420.0,
            "unit": "kWh",
        }
    ]
    data.setdefault("bills", bills)
    data["hardship_signals"] = ["perdita_lavoro"]
    return CaseFile.from_intake("evt_1", data)


def case_in(state: CaseState) -> CaseFile:
    """A case brought to ``state`` through allowed transitions."""
    case = new_case()
    route = {
        CaseState.OPEN: [],
        CaseState.ASSESSING: [CaseState.ASSESSING],
        CaseState.IN_CHARGE: [CaseState.ASSESSING, CaseState.IN_CHARGE],
        CaseState.SUSPENDED: [CaseState.ASSESSING, CaseState.SUSPENDED],
        CaseState.CLOSED: [CaseState.ASSESSING, CaseState.CLOSED],
        CaseState.ARCHIVED: [CaseState.ARCHIVED],
    }[state]
    for step in route:
        case.transition(step, "op", NOW, "percorso di test", outcome="risolto")
    case.events.clear()
    return case


# --- case state machine -------------------------------------------------------------------------

ALL_CASE_PAIRS = [(a, b) for a in CaseState for b in CaseState]


@pytest.mark.parametrize(
    ("start", "target"), [p for p in ALL_CASE_PAIRS if p[1] in CASE_TRANSITIONS[p[0]]]
)
def test_every_allowed_case_transition_is_recorded_and_announced(start, target) -> None:
    case = case_in(start)
    case.transition(target, "op.rossi", NOW, "motivo", outcome="bonus ottenuto")
    assert case.state == target
    last = case.history[-1]
    assert (last.from_state, last.to_state, last.actor, last.at, last.reason) == (
        start.value,
        target.value,
        "op.rossi",
        NOW,
        "motivo",
    )
    kinds = [e.kind for e in case.events]
    assert kinds[0] == "case.state_changed"
    assert case.events[0].data["from_state"] == start.value
    assert case.events[0].data["to_state"] == target.value
    assert ("case.closed" in kinds) == (target == CaseState.CLOSED)


@pytest.mark.parametrize(
    ("start", "target"), [p for p in ALL_CASE_PAIRS if p[1] not in CASE_TRANSITIONS[p[0]]]
)
def test_every_forbidden_case_transition_names_current_and_allowed_states(start, target) -> None:
    case = case_in(start)
    with pytest.raises(Conflict) as err:
        case.transition(target, "op", NOW, outcome="x")
    assert err.value.details["current_state"] == start.value
    assert err.value.details["allowed"] == [s.value for s in CASE_TRANSITIONS[start]]
    assert start.value in err.value.message
    assert case.state == start and not case.events


def test_closing_needs_an_outcome() -> None:
    case = case_in(CaseState.IN_CHARGE)
    with pytest.raises(DomainError) as err:
        case.transition(CaseState.CLOSED, "op", NOW, outcome=" ")
    assert err.value.code == "outcome_required"
    assert case.state == CaseState.IN_CHARGE


@pytest.mark.parametrize("target", [CaseState.CLOSED, CaseState.ARCHIVED])
def test_a_case_cannot_end_while_a_referral_is_open(target) -> None:
    case = case_in(CaseState.SUSPENDED)
    ref = case.propose_referral(AMAT, "bollette", "op", NOW)
    with pytest.raises(Conflict) as err:
        case.transition(target, "op", NOW, outcome="x")
    assert err.value.code == "open_referrals"
    case.cancel_referral(ref.id, "non serve", "op", NOW)
    case.transition(target, "op", NOW, outcome="x")
    assert case.state == target


def test_a_terminal_case_refuses_every_change() -> None:
    case = case_in(CaseState.CLOSED)
    with pytest.raises(Conflict):
        case.add_note("x", "op", NOW)
    with pytest.raises(Conflict):
        case.propose_referral(AMAT, "x", "op", NOW)


# --- referral state machine ---------------------------------------------------------------------


def referral_in(state: ReferralState) -> tuple[CaseFile, str]:
    case = case_in(CaseState.IN_CHARGE)
    ref = case.propose_referral(AMAT, "lettura bollette", "op", NOW)
    steps = {
        ReferralState.PROPOSED: [],
        ReferralState.SENT: ["send"],
        ReferralState.ACCEPTED: ["send", "accept"],
        ReferralState.DECLINED: ["send", "decline"],
        ReferralState.COMPLETED: ["send", "accept", "complete"],
        ReferralState.CANCELLED: ["cancel"],
    }[state]
    for step in steps:
        move(case, ref.id, step)
    case.events.clear()
    return case, ref.id


def move(case: CaseFile, ref_id: str, step: str) -> None:
    {
        "send": lambda: case.send_referral(ref_id, AMAT, "op", NOW),
        "accept": lambda: case.accept_referral(ref_id, "amat.verdi", NOW),
        "decline": lambda: case.decline_referral(ref_id, "fuori competenza", "amat.verdi", NOW),
        "complete": lambda: case.complete_referral(
            ref_id, "cambio fornitore", "Hai un'offerta più economica.", "amat.verdi", NOW
        ),
        "cancel": lambda: case.cancel_referral(ref_id, "ritirato", "op", NOW),
    }[step]()


STEP_TO = {
    ReferralState.SENT: "send",
    ReferralState.ACCEPTED: "accept",
    ReferralState.DECLINED: "decline",
    ReferralState.COMPLETED: "complete",
    ReferralState.CANCELLED: "cancel",
}
EVENT_OF = {
    ReferralState.SENT: "sent",
    ReferralState.ACCEPTED: "accepted",
    ReferralState.DECLINED: "declined",
    ReferralState.COMPLETED: "completed",
    ReferralState.CANCELLED: "cancelled",
}
REF_PAIRS = [(a, b) for a in ReferralState for b in STEP_TO]


@pytest.mark.parametrize(
    ("start", "target"), [p for p in REF_PAIRS if p[1] in REFERRAL_TRANSITIONS[p[0]]]
)
def test_every_allowed_referral_transition(start, target) -> None:
    case, ref_id = referral_in(start)
    move(case, ref_id, STEP_TO[target])
    ref = case.referral(ref_id)
    assert ref.state == target
    assert (ref.history[-1].from_state, ref.history[-1].to_state) == (start.value, target.value)
    event = case.events[-1]
    assert event.kind == f"referral.{EVENT_OF[target]}"
    assert event.data["path"] == "amat" and event.data["referral_id"] == ref_id
    assert event.data["case_id"] == case.id and event.data["at"] == NOW


@pytest.mark.parametrize(
    ("start", "target"), [p for p in REF_PAIRS if p[1] not in REFERRAL_TRANSITIONS[p[0]]]
)
def test_every_forbidden_referral_transition(start, target) -> None:
    case, ref_id = referral_in(start)
    with pytest.raises(Conflict) as err:
        move(case, ref_id, STEP_TO[target])
    assert err.value.details["current_state"] == start.value
    assert err.value.details["allowed"] == [s.value for s in REFERRAL_TRANSITIONS[start]]
    assert case.referral(ref_id).state == start and not case.events


def test_completion_carries_outcome_and_plain_text_and_feeds_measured_outcomes() -> None:
    case, ref_id = referral_in(ReferralState.ACCEPTED)
    case.complete_referral(
        ref_id,
        "cambio fornitore",
        "Da gennaio paghi meno la luce.",
        "amat",
        NOW,
        [(OutcomeKind.SUPPLIER_SAVING, 12_000, "offerta PLACET")],
    )
    data = case.events[-1].data
    assert data["outcome"] == "cambio fornitore"
    assert data["outcome_for_tenant"] == "Da gennaio paghi meno la luce."
    assert [(o.kind, o.value, o.path) for o in case.outcomes] == [
        (OutcomeKind.SUPPLIER_SAVING, 12_000, "amat")
    ]


def test_declining_needs_a_reason_and_an_unknown_referral_is_not_found() -> None:
    case, ref_id = referral_in(ReferralState.SENT)
    with pytest.raises(DomainError):
        case.decline_referral(ref_id, "  ", "amat", NOW)
    with pytest.raises(NotFound):
        case.accept_referral("ref_nope", "amat", NOW)


def test_a_referral_shares_only_what_its_path_needs_and_the_case_records_it() -> None:
    case = case_in(CaseState.IN_CHARGE)
    case.add_note("Separazione recente, figli minori.", "op", NOW)
    ref = case.propose_referral(AMAT, "bollette alte", "op", NOW)
    case.send_referral(ref.id, AMAT, "op", NOW, recipient="amat.sportello")
    shared = case.referral(ref.id).shared
    assert shared["bills"][0]["supplier"] == "Enel"
    assert "notes" not in shared and "hardship_signals" not in shared and "needs" not in shared
    assert case.disclosures[-1].recipient == "amat.sportello"
    assert case.disclosures[-1].categories == ["anagrafica", "bollette", "consumi"]
    welfare = case.propose_referral(WELFARE, "sostegno", "op", NOW)
    case.send_referral(welfare.id, WELFARE, "op", NOW)
    assert case.referral(welfare.id).shared["notes"] == ["Separazione recente, figli minori."]


# --- deadlines ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (date(2026, 11, 23), 5, date(2026, 11, 30)),  # Mon + 5 → next Mon (weekend skipped)
        (date(2026, 11, 27), 1, date(2026, 11, 30)),  # Fri + 1 → Mon
        (date(2026, 12, 4), 1, date(2026, 12, 9)),  # Fri: Sat, Sun, 7 Sant'Ambrogio, 8 Immacolata
        (date(2026, 12, 4), 0, date(2026, 12, 4)),
        (date(2026, 12, 23), 2, date(2026, 12, 28)),  # 24 counts; 25 Christmas, 26-27 weekend
        (date(2026, 4, 2), 2, date(2026, 4, 7)),  # Thu: Fri 3, Easter Monday 6 skipped
        (date(2026, 12, 31), 1, date(2027, 1, 4)),  # New Year's Day, weekend
        (date(2029, 4, 24), 1, date(2029, 4, 26)),  # 25 April 2029 is a Wednesday
        (date(2026, 5, 29), 1, date(2026, 6, 1)),
        (date(2026, 6, 1), 1, date(2026, 6, 3)),  # 2 June Festa della Repubblica
        (date(2026, 8, 14), 1, date(2026, 8, 17)),  # 15 August
    ],
)
def test_deadlines_count_working_days_in_milan(start, days, due) -> None:
    assert add_working_days(start, days) == due


def test_sant_ambrogio_is_a_holiday_in_milan_every_year() -> None:
    for year in (2025, 2026, 2027, 2030):
        assert not is_working_day(date(year, 12, 7)) or date(year, 12, 7).weekday() >= 5
    assert not is_working_day(date(2026, 12, 7))  # a Monday
    assert is_working_day(date(2026, 12, 9))


def test_a_sent_referral_is_due_in_its_paths_working_days() -> None:
    case, ref_id = referral_in(ReferralState.SENT)
    assert case.referral(ref_id).due_date == date(2026, 11, 30)
    assert case.events == []


def test_an_overdue_referral_is_announced_once_per_breach_and_again_after_reassignment() -> None:
    case, ref_id = referral_in(ReferralState.SENT)
    assert case.detect_overdue(date(2026, 11, 30), "sistema", NOW) == []  # due day: still in time
    first = case.detect_overdue(date(2026, 12, 1), "sistema", NOW)
    assert [r.id for r in first] == [ref_id]
    assert case.events[-1].kind == "referral.overdue" and case.events[-1].data["breach"] == 1
    assert case.detect_overdue(date(2026, 12, 2), "sistema", NOW) == []
    assert case.unannounced_due is None and case.next_due == date(2026, 11, 30)
    later = NOW + timedelta(days=9)  # Wed 2 Dec
    case.reassign_referral(ref_id, AMAT, "amat.bianchi", "coord", later)
    # Thu 3, Fri 4, (Mon 7 Sant'Ambrogio, Tue 8 Immacolata), Wed 9, Thu 10, Fri 11.
    assert case.referral(ref_id).due_date == date(2026, 12, 11)
    assert case.unannounced_due == date(2026, 12, 11)
    assert case.detect_overdue(date(2026, 12, 11), "sistema", later) == []
    assert len(case.detect_overdue(date(2026, 12, 12), "sistema", later)) == 1
    assert case.events[-1].data["breach"] == 2
    case.accept_referral(ref_id, "amat", later)
    assert case.detect_overdue(date(2027, 1, 30), "sistema", later) == []


def test_only_a_sent_referral_can_be_reassigned() -> None:
    case, ref_id = referral_in(ReferralState.ACCEPTED)
    with pytest.raises(Conflict):
        case.reassign_referral(ref_id, AMAT, "x", "coord", NOW)


def test_an_approaching_disconnection_escalates_once_per_threshold() -> None:
    case = new_case(disconnection_date=date(2026, 12, 10))
    assert case.disconnection_alert_from([10, 3, 1]) == date(2026, 11, 30)
    assert not case.check_disconnection(date(2026, 11, 29), [10, 3, 1], "sistema", NOW)
    assert case.check_disconnection(date(2026, 11, 30), [10, 3, 1], "sistema", NOW)
    assert case.urgent and case.events[-1].data["days_left"] == 10
    assert not case.check_disconnection(date(2026, 12, 1), [10, 3, 1], "sistema", NOW)
    assert case.disconnection_alert_from([10, 3, 1]) == date(2026, 12, 7)
    assert case.check_disconnection(date(2026, 12, 9), [10, 3, 1], "sistema", NOW)  # 1 day left
    assert case.disconnection_alerts == [1, 3, 10]
    assert case.disconnection_alert_from([10, 3, 1]) is None
    assert len(case.events) == 2


def test_a_disconnection_alert_names_the_paths_holding_an_open_referral() -> None:
    case = new_case(disconnection_date=date(2026, 12, 10))
    casa = make_path("casa", "Casa", 15, ["anagrafica", "morosita"])
    acqua = make_path("acqua", "Acqua", 7, ["anagrafica", "bollette"])  # a configured path
    sent = case.propose_referral(AMAT, "bollette", "op", NOW)
    case.send_referral(sent.id, AMAT, "op", NOW)
    taken = case.propose_referral(acqua, "bonus idrico", "op", NOW)
    case.send_referral(taken.id, acqua, "op", NOW)
    case.accept_referral(taken.id, "acqua.rossi", NOW)
    again = case.propose_referral(AMAT, "seconda lettura", "op", NOW)  # AMAT twice: named once
    case.send_referral(again.id, AMAT, "op", NOW)
    declined = case.propose_referral(WELFARE, "contributo", "op", NOW)
    case.send_referral(declined.id, WELFARE, "op", NOW)
    case.decline_referral(declined.id, "fuori competenza", "welfare.neri", NOW)
    case.propose_referral(casa, "alloggio", "op", NOW)  # proposed, not sent: no team has it
    case.events.clear()
    assert case.check_disconnection(date(2026, 11, 30), [10, 3, 1], "sistema", NOW)
    [alert] = case.events
    assert alert.kind == "case.disconnection_deadline_approaching"
    assert alert.data["paths"] == ["acqua", "amat"]
    # Without referrals the list is empty, and it is in the contract (v1, defaults to none).
    alone = new_case(disconnection_date=date(2026, 12, 10))
    alone.check_disconnection(date(2026, 11, 30), [10, 3, 1], "sistema", NOW)
    assert alone.events[-1].data["paths"] == []
    older = {"case_id": "c", "actor": "sistema", "at": "2026-11-30T08:00:00+00:00",
             "disconnection_date": "2026-12-10", "days_left": 10}  # fmt: skip
    assert validate_data(DISCONNECTION_DEADLINE_APPROACHING, older)["paths"] == []


# --- energy -------------------------------------------------------------------------------------


def test_appliance_kwh_and_cost_per_year() -> None:
    assert energy.kwh_per_year(2000, 1) == 730.0
    assert energy.kwh_per_year(150, 24) == 1314.0
    assert energy.kwh_per_year(8, 0.5) == 1.46
    assert energy.cost_cents_per_year(730.0, 30) == 21_900
    assert energy.cost_cents_per_year(1.46, 27.5) == 40  # 40.15 → 40
    costs = energy.appliance_costs(
        [
            energy.ApplianceMeasurement("frigorifero", 150, 24),
            energy.ApplianceMeasurement("stufetta", 2000, 1),
        ],
        30,
    )
    assert [(c.name, c.kwh_per_year, c.cost_cents_per_year) for c in costs] == [
        ("frigorifero", 1314.0, 39_420),
        ("stufetta", 730.0, 21_900),
    ]


def test_the_visit_summary_lists_the_largest_savings_first() -> None:
    case = case_in(CaseState.IN_CHARGE)
    visit = case.record_visit(
        NOW,
        [energy.RoomReading("camera", 16.5, 72, mould=True), energy.RoomReading("cucina", 20, 50)],
        [
            energy.ApplianceMeasurement("frigorifero", 150, 24),
            energy.ApplianceMeasurement("stufetta", 2000, 1),
        ],
        [
            energy.Recommendation("sostituire il frigorifero (classe A)", "frigorifero", 50),
            energy.Recommendation("usare la stufetta metà del tempo", "stufetta", 50),
            energy.Recommendation("arieggiare la camera ogni mattina"),
        ],
        30,
        "op",
        NOW,
    )
    assert [(s.appliance, s.cents_per_year) for s in visit.largest_savings] == [
        ("frigorifero", 19_710),
        ("stufetta", 10_950),
    ]
    assert visit.potential_savings_cents_per_year == 30_660
    assert visit.findings == [
        "camera: temperatura bassa (16.5 °C)",
        "camera: umidità alta (72%)",
        "camera: muffa",
    ]
    assert case.events[-1].kind == "home_visit.recorded"
    assert case.events[-1].data["potential_savings_cents_per_year"] == 30_660


def test_a_recommendation_about_an_unmeasured_appliance_is_refused() -> None:
    case = case_in(CaseState.IN_CHARGE)
    with pytest.raises(DomainError):
        case.record_visit(NOW, [], [], [energy.Recommendation("x", "lavatrice", 10)], 30, "op", NOW)


def readings(*values: tuple[str, int, float]) -> list[energy.MeterReading]:
    return [
        energy.MeterReading(f"r{i}", c, date(2026, 1, 1) + timedelta(days=d), v)
        for i, (c, d, v) in enumerate(values)
    ]


def test_consumption_per_period_and_anomalies_beyond_the_configured_share() -> None:
    periods = energy.consumption_periods(
        readings(
            ("luce", 0, 1000),
            ("luce", 30, 1300),  # 10/day
            ("luce", 60, 1630),  # 11/day: +10%, fine
            ("luce", 90, 2080),  # 15/day: +36% over 11/day → anomaly at 30%
            ("gas", 0, 500),
            ("gas", 30, 560),
        ),
        0.3,
    )
    luce = [p for p in periods if p.commodity == "luce"]
    assert [(p.consumption, p.per_day) for p in luce] == [(300, 10), (330, 11), (450, 15)]
    assert [p.anomaly is not None for p in luce] == [False, False, True]
    assert "+36%" in luce[2].anomaly
    gas = [p for p in periods if p.commodity == "gas"]
    assert [(p.start, p.end, p.consumption, p.anomaly) for p in gas] == [
        (date(2026, 1, 1), date(2026, 1, 31), 60, None)
    ]
    # The same jump is not an anomaly with a looser threshold.
    loose = energy.consumption_periods(
        readings(("luce", 0, 0), ("luce", 10, 100), ("luce", 20, 230)), 0.5
    )
    assert [p.anomaly for p in loose] == [None, None]


def test_a_reading_lower_than_the_previous_one_is_flagged() -> None:
    periods = energy.consumption_periods(readings(("luce", 0, 1000), ("luce", 30, 900)), 0.3)
    assert periods[0].consumption == -100 and "inferiore" in periods[0].anomaly


def test_diary_entries_need_a_complete_reading_or_a_note() -> None:
    case = case_in(CaseState.IN_CHARGE)
    with pytest.raises(DomainError):
        case.add_diary_entry(date(2026, 1, 1), "op", NOW, commodity="luce")
    with pytest.raises(DomainError):
        case.add_diary_entry(date(2026, 1, 1), "op", NOW)
    case.add_diary_entry(date(2026, 1, 1), "op", NOW, "luce", 100.0)
    case.add_diary_entry(date(2026, 2, 1), "op", NOW, "luce", 162.0, "stufetta accesa")
    assert [(p.consumption, p.per_day) for p in case.consumption(0.3)] == [(62, 2)]


# --- assessment ---------------------------------------------------------------------------------


def test_the_rule_set_proposes_with_reasons_and_its_version() -> None:
    poverty = propose(
        Evidence(
            income_cents_per_year=900_000,
            energy_spend_cents_per_year=120_000,
            isee_band=IseeBand.UP_TO_9530,
        )
    )
    assert poverty.classification == Classification.POVERTY
    assert poverty.ruleset_version == RULESET_VERSION
    assert any("13.3%" in r for r in poverty.reasons)
    precarity = propose(
        Evidence(
            arrears_cents=40_000, hardship_signals=["perdita_lavoro"], isee_band=IseeBand.UP_TO_9530
        )
    )
    assert precarity.classification == Classification.PRECARITY
    assert any("perdita_lavoro" in r for r in precarity.reasons)
    fine = propose(Evidence(income_cents_per_year=3_000_000, energy_spend_cents_per_year=150_000))
    assert fine.classification == Classification.NOT_VULNERABLE


def test_an_assessment_keeps_history_and_the_proposal_beside_the_decision() -> None:
    case = case_in(CaseState.ASSESSING)
    first = case.assess(Classification.PRECARITY, Evidence(), "op.rossi", NOW)
    assert first.proposed_classification == Classification.PRECARITY  # arrears from the bill
    assert first.evidence.arrears_cents == 9_000
    second = case.assess(
        Classification.POVERTY,
        Evidence(isee_band=IseeBand.UP_TO_9530),
        "op.bianchi",
        NOW,
        "rivisto",
    )
    assert [a.id for a in case.assessments] == [first.id, second.id]
    assert case.classification == Classification.POVERTY
    assert case.events[-1].data["proposed_classification"] == second.proposed_classification.value


# --- configuration and storage shape ------------------------------------------------------------


def test_a_path_naming_an_unknown_data_category_is_refused() -> None:
    with pytest.raises(UnknownCategory):
        make_path("sindacato", "Sindacato", 5, ["anagrafica", "tutto"])


def test_a_full_case_file_survives_the_store_codec() -> None:
    case, ref_id = referral_in(ReferralState.ACCEPTED)
    case.assess(Classification.PRECARITY, Evidence(isee_band=IseeBand.UP_TO_15000), "op", NOW)
    case.record_visit(
        NOW,
        [energy.RoomReading("sala", 19, 55)],
        [energy.ApplianceMeasurement("tv", 100, 4)],
        [energy.Recommendation("spegnere lo standby", "tv", 10)],
        30,
        "op",
        NOW,
    )
    case.add_diary_entry(date(2026, 11, 1), "op", NOW, "gas", 1234.5)
    case.add_task("chiamare AMAT", date(2026, 12, 1), "op", NOW)
    case.add_outcome(OutcomeKind.BONUS_SOCIALE, 15_000, "op", NOW, ref_id)
    case.events.clear()
    doc = to_doc(case)
    assert doc["referrals"][0]["due_date"] == "2026-11-30"
    assert from_doc(CaseFile, doc) == case


def test_lasting_signs_with_a_low_isee_propose_poverty_and_temporary_ones_precarity() -> None:
    lasting = Evidence(isee_band=IseeBand.UP_TO_15000, hardship_signals=["casa_fredda"])
    assert propose(lasting).classification == Classification.POVERTY
    both = Evidence(
        isee_band=IseeBand.UP_TO_15000, hardship_signals=["casa_fredda", "perdita_lavoro"]
    )
    assert propose(both).classification == Classification.PRECARITY
    rich = Evidence(isee_band=IseeBand.ABOVE_30000, hardship_signals=["casa_fredda"])
    assert propose(rich).classification == Classification.PRECARITY


def test_paths_come_from_configuration_and_a_bad_file_names_the_variable(tmp_path) -> None:
    from services.casework.config import load_settings
    from shared.config import ConfigError

    settings = load_settings({})
    assert settings.extra["paths"]["amat"].response_working_days == 5
    assert "storia_sociale" not in settings.extra["paths"]["amat"].shares
    extra = tmp_path / "paths.json"
    extra.write_text(
        '{"sindacato": {"label": "Sindacato inquilini", "response_working_days": 3,'
        ' "shares": ["anagrafica", "bisogni"]}}'
    )
    custom = load_settings({"CASEWORK_PATHS_FILE": str(extra)})
    # The file adds to the built-in paths: it does not replace them.
    assert list(custom.extra["paths"]) == ["welfare", "casa", "amat", "sindacato"]
    assert custom.extra["paths"]["sindacato"].response_working_days == 3
    for bad in (
        '{"xy": {"response_working_days": 3, "shares": ["tutto"]}}',  # unknown category
        '{"Acqua-Milano": {"response_working_days": 3, "shares": ["bollette"]}}',  # bad name
        '{"acqua": {"shares": ["bollette"]}}',  # a new path needs its deadline
        '["acqua"]',
    ):
        extra.write_text(bad)
        with pytest.raises(ConfigError, match="CASEWORK_PATHS_FILE"):
            load_settings({"CASEWORK_PATHS_FILE": str(extra)})
    with pytest.raises(ConfigError, match="CASEWORK_DISCONNECTION_ALERT_DAYS"):
        load_settings({"CASEWORK_DISCONNECTION_ALERT_DAYS": "dieci"})


def test_a_paths_file_overrides_a_built_in_path_field_by_field(tmp_path) -> None:
    from services.casework.config import load_settings

    extra = tmp_path / "paths.json"
    extra.write_text('{"casa": {"response_working_days": 20}}')
    paths = load_settings({"CASEWORK_PATHS_FILE": str(extra)}).extra["paths"]
    assert list(paths) == ["welfare", "casa", "amat"]
    assert paths["casa"].response_working_days == 20
    assert paths["casa"].label == "Comune di Milano — Direzione Casa"  # the rest is kept
    assert "morosita" in paths["casa"].shares


def test_a_bill_ending_before_it_starts_is_refused_when_the_case_file_opens() -> None:
    bill = {
        "supplier": "Fornitore",
        "commodity": "luce",
        "amount_cents": 100,
        "period_start": date(2026, 5, 1),
        "period_end": date(2026, 1, 31),
    }
    with pytest.raises(DomainError) as err:
        new_case(bills=[bill])
    assert err.value.code == "invalid_bill_period"
