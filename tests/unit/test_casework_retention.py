"""Retention in the domain: what an anonymised case file keeps, and when it is due."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.casework.adapters.codec import from_doc, to_doc
from services.casework.domain.model import ANONYMOUS, CaseFile, CaseState, ReferralState
from shared.domain import Conflict
from tests.unit.test_casework_domain import NOW, case_in, new_case, referral_in

KEEP = timedelta(days=30)


def test_a_closed_case_is_due_after_the_period_and_only_once() -> None:
    case = case_in(CaseState.CLOSED)
    assert case.closed_at == NOW
    assert not case.retention_expired(NOW + timedelta(days=29), KEEP)
    assert case.retention_expired(NOW + KEEP, KEEP)
    case.anonymise("sistema", NOW + KEEP)
    assert not case.retention_expired(NOW + timedelta(days=400), KEEP)
    assert [e.kind for e in case.events] == ["case.anonymised"]
    case.anonymise("sistema", NOW + timedelta(days=400))  # a second pass changes nothing
    assert len(case.events) == 1 and case.anonymised_at == NOW + KEEP


def test_an_archived_case_is_due_too_and_an_open_one_never() -> None:
    assert case_in(CaseState.ARCHIVED).retention_expired(NOW + KEEP, KEEP)
    for state in (CaseState.OPEN, CaseState.ASSESSING, CaseState.SUSPENDED):
        case = case_in(state)
        assert case.closed_at is None
        assert not case.retention_expired(NOW + timedelta(days=999), KEEP)
        with pytest.raises(Conflict):
            case.anonymise("sistema", NOW)


def test_anonymising_keeps_statistics_and_removes_the_person() -> None:
    case = new_case(description="Malattia e debiti", isee_band="fino_9530")
    case.add_note("Separazione in corso", "op", NOW)
    case.transition(CaseState.ASSESSING, "op", NOW, "colloquio fissato")
    case.transition(CaseState.CLOSED, "op", NOW, "concluso", outcome="Bonus ottenuto per Mario")
    case.anonymise("sistema", NOW + KEEP)
    assert case.tenant_id == ANONYMOUS and case.outcome == ANONYMOUS
    assert case.description == "" and case.notes == [] and case.bills == []
    assert case.hardship_signals == [] and case.isee_band is None
    assert all(t.reason == "" for t in case.history)
    assert "Malattia" not in repr(case) and "Mario" not in repr(case)
    # What stays: building, needs, channel, dates, states.
    assert case.building.municipio == 7 and case.needs == ["lettura_bollette"]
    assert [t.to_state for t in case.history][-1] == "chiuso" and case.opened_at == NOW
    # It is stored and read back like any case file.
    assert from_doc(CaseFile, {**to_doc(case)}).anonymised_at == NOW + KEEP


def test_erasure_ends_a_case_in_charge_cancels_its_referrals_and_anonymises_it() -> None:
    case, ref_id = referral_in(ReferralState.ACCEPTED)  # in charge: not archivable by hand
    case.erase("sistema", NOW)
    assert case.state == CaseState.ARCHIVED and case.anonymised_at == NOW
    assert case.referral(ref_id).state == ReferralState.CANCELLED
    assert [e.kind for e in case.events] == [
        "referral.cancelled",
        "case.state_changed",
        "case.anonymised",
    ]
    assert case.tenant_id == ANONYMOUS and case.description == ""
    case.erase("sistema", NOW + KEEP)  # a redelivered request changes nothing
    assert len(case.events) == 3


def test_erasure_of_a_closed_case_only_anonymises_it() -> None:
    case = case_in(CaseState.CLOSED)
    case.events.clear()
    case.erase("sistema", NOW)
    assert case.state == CaseState.CLOSED
    assert [e.kind for e in case.events] == ["case.anonymised"]
