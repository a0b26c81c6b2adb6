"""The coordinators' dashboard, computed over every case file.

Pure: it reads plain rows (a case file's state, building and its referrals' path, state, sending
time and history), the projection the repository asks of the store. FerretDB pushes down almost
no aggregation, so the store only projects these few fields and the sums are made here.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from statistics import mean, median
from typing import Any

from services.casework.domain.model import ReferralState

# A referral's first answer from its path's team: taking it, declining it (or completing at once).
ANSWERED = {
    ReferralState.ACCEPTED.value,
    ReferralState.DECLINED.value,
    ReferralState.COMPLETED.value,
}
SENT = ReferralState.SENT.value


def _aware(moment: datetime) -> datetime:
    # The store gives back naive UTC datetimes; the domain's are aware.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def first_response_hours(referral: dict[str, Any]) -> float | None:
    """Hours from sending a referral to its team's first answer (None: not sent or unanswered).

    A referral sent again (reassigned) counts from its first sending: the tenant waited since then.
    """
    history = referral.get("history") or []
    sent = [step["at"] for step in history if step.get("to_state") == SENT and step.get("at")]
    start = sent[0] if sent else referral.get("sent_at")
    if not isinstance(start, datetime):
        return None
    for step in history:
        if step.get("to_state") in ANSWERED and isinstance(step.get("at"), datetime):
            seconds = (_aware(step["at"]) - _aware(start)).total_seconds()
            return max(seconds / 3600, 0.0)
    return None


def dashboard(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Cases per state, per path and per building; referrals per path and state; time to first
    response per path (mean and median hours, over the referrals answered so far)."""
    by_state: dict[str, int] = defaultdict(int)
    by_path: dict[str, int] = defaultdict(int)
    buildings: dict[str, dict[str, Any]] = {}
    referrals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    hours: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        by_state[str(row.get("state"))] += 1
        building = row.get("building") or {}
        key = str(building.get("id") or "—")
        entry = buildings.setdefault(
            key, {"building_id": key, "name": building.get("name") or key, "cases": 0}
        )
        entry["cases"] += 1
        paths = set()
        for referral in row.get("referrals") or []:
            path = str(referral.get("path"))
            referrals[path][str(referral.get("state"))] += 1
            if referral.get("state") != ReferralState.PROPOSED.value:
                paths.add(path)  # a proposal not sent is not yet the path's case
            answered = first_response_hours(referral)
            if answered is not None:
                hours[path].append(answered)
        for path in paths:
            by_path[path] += 1
    return {
        "total_cases": len(rows),
        "cases_by_state": dict(sorted(by_state.items())),
        "cases_by_path": dict(sorted(by_path.items())),
        "cases_by_building": sorted(buildings.values(), key=lambda b: (-b["cases"], b["name"])),
        "referrals_by_path": {p: dict(sorted(s.items())) for p, s in sorted(referrals.items())},
        "first_response_hours": {
            path: {"answered": len(values), "mean": mean(values), "median": median(values)}
            for path, values in sorted(hours.items())
        },
    }
