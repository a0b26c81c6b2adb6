from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.intake.domain.model import Case, CaseOpened, Channel, Need
from shared.domain import DomainError

NOW = datetime(2026, 11, 2, 10, tzinfo=UTC)


def open_case(**overrides: object) -> Case:
    args: dict = dict(
        tenant_id="ten_1",
        building_id="bld_1",
        counter_id=None,
        channel=Channel.COUNTER,
        needs=[Need.BILL_READING],
        description="",
        disconnection_date=None,
        urgent=False,
        opened_by="op",
        now=NOW,
    )
    args.update(overrides)
    return Case.open(**args)


def test_opening_a_case_records_the_event() -> None:
    case = open_case()
    assert case.events == [CaseOpened(case.id)]
    assert case.id.startswith("case_")
    assert not case.urgent


def test_a_disconnection_notice_makes_the_case_urgent() -> None:
    case = open_case(disconnection_date=date(2026, 12, 1))
    assert case.urgent


def test_needs_are_required_and_deduplicated() -> None:
    with pytest.raises(DomainError):
        open_case(needs=[])
    assert open_case(needs=[Need.ARREARS, Need.ARREARS]).needs == [Need.ARREARS]
