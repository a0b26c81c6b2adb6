"""The coordinator's dashboard: cases per path, state and building; time to first response per
path; overdue referrals — as charts, each with its table."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from services.web.domain.charts import bars
from services.web.domain.queues import count_by, mean_first_response_by_path
from services.web.entrypoints.common import attempt, clients, requires

blp = Blueprint("dashboard", __name__, url_prefix="/coordinamento")

# Referrals are read case by case: the most recent case files are enough for the waiting times.
RESPONSE_SAMPLE = 50


@blp.get("")
@requires("coordinatore")
def overview() -> Any:
    """Volumes, waiting times and overdue referrals."""
    api = clients().casework
    counts = attempt(api.counts, None)
    case_files = attempt(api.case_files, [])
    overdue = attempt(api.overdue_referrals, [])
    referrals: list[dict[str, Any]] = []
    for case_file in case_files[:RESPONSE_SAMPLE]:
        referrals.extend(attempt(lambda c=case_file: api.section(c["id"], "referrals"), []))
    by_building = count_by(
        [{"building": (c.get("building") or {}).get("name")} for c in case_files], "building"
    )
    per_path: dict[str, float] = {}
    if counts:
        per_path = {
            path: float(sum(states.values()))
            for path, states in sorted(counts.get("referrals_by_path", {}).items())
        }
    overdue_by_path = count_by(overdue, "path")
    return render_template(
        "dashboard.html",
        counts=counts,
        total_cases=len(case_files),
        by_state=bars({k: float(v) for k, v in (counts or {}).get("cases_by_state", {}).items()}),
        by_path=bars(per_path),
        by_building=bars({k: float(v) for k, v in by_building.items()}),
        response=bars(mean_first_response_by_path(referrals)),
        overdue_bars=bars({k: float(v) for k, v in overdue_by_path.items()}, set(overdue_by_path)),
        overdue=overdue,
        referrals_by_path=(counts or {}).get("referrals_by_path", {}),
    )
