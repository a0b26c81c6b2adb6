"""casework end to end: a referral left past its deadline is announced exactly once.

The casework worker's deadline scan runs with its clock 30 days ahead
(``CASEWORK_SCAN_CLOCK_OFFSET_DAYS``), so a referral sent now is already past AMAT's five
working days for the scan, and the test does not wait days.
"""

from __future__ import annotations

import pytest

from deploy.system import System
from tests.e2e.conftest import Api
from tests.e2e.test_casework_flow import casework_events, ok, open_case
from tests.support import wait_for


@pytest.fixture
def environ(environ: dict[str, str]) -> dict[str, str]:
    return {
        **environ,
        "CASEWORK_SCAN_CLOCK_OFFSET_DAYS": "30",
        "CASEWORK_SCAN_INTERVAL_S": "0.3",
    }


def send_to_amat(cw: Api, case_id: str) -> str:
    base = f"/api/v1/case-files/{case_id}"
    wait_for(lambda: cw.get(base).status_code == 200, what="case file at casework")
    ref = ok(
        cw.post(
            f"{base}/referrals",
            json={"path": "amat", "reason": "Bollette arretrate da leggere", "actor": "op"},
        ),
        201,
    )
    ok(cw.post(f"{base}/referrals/{ref['id']}/send", json={"actor": "op"}))
    return ref["id"]


def overdue_of(environ: dict, case_id: str) -> list:
    return [
        e
        for e in casework_events(environ, case_id, "referral.overdue")
        if e.type.endswith("referral.overdue.v1")
    ]


def test_a_referral_past_its_deadline_produces_exactly_one_overdue_event(
    system: System, apis: dict[str, Api], environ: dict
) -> None:
    cw = apis["casework"]
    first_case = open_case(apis["intake"], 10)
    first_ref = send_to_amat(cw, first_case)
    first = overdue_of(environ, first_case)

    # Later scan rounds happened: two more cases sent afterwards were announced in turn.
    for n in (11, 12):
        later_case = open_case(apis["intake"], n)
        send_to_amat(cw, later_case)
        assert len(overdue_of(environ, later_case)) == 1

    again = overdue_of(environ, first_case)
    assert [e.id for e in again] == [e.id for e in first]
    assert len(again) == 1
    (event,) = again
    assert event.data["referral_id"] == first_ref
    assert event.data["breach"] == 1 and event.data["path"] == "amat"
    referral = ok(cw.get(f"/api/v1/case-files/{first_case}/referrals/{first_ref}"))
    assert referral["breaches"] == 1 and referral["state"] == "inviata"
