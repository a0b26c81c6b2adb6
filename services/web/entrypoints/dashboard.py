"""The coordinator's dashboard: cases per path, state and building; time to first response per
path; overdue referrals — as charts, each with its table.

casework computes the sums over every case file (``GET /reports/dashboard``): the page makes one
call for them and one for the overdue referrals.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from services.web.domain.charts import bars
from services.web.domain.queues import count_by
from services.web.entrypoints.common import attempt, clients, requires

blp = Blueprint("dashboard", __name__, url_prefix="/coordinamento")


def _floats(values: dict[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in values.items()}


@blp.get("")
@requires("coordinatore")
def overview() -> Any:
    """Volumes, waiting times and overdue referrals."""
    api = clients().casework
    report = attempt(api.dashboard, None) or {}
    overdue = attempt(api.overdue_referrals, [])
    buildings = {b["name"]: b["cases"] for b in report.get("cases_by_building", [])}
    response = report.get("first_response_hours", {})
    overdue_by_path = count_by(overdue, "path")
    return render_template(
        "dashboard.html",
        report=report,
        total_cases=report.get("total_cases"),
        by_state=bars(_floats(report.get("cases_by_state", {}))),
        by_path=bars(_floats(report.get("cases_by_path", {}))),
        by_building=bars(_floats(buildings)),
        response=bars({p: float(r["mean"]) for p, r in response.items()}),
        response_median=bars({p: float(r["median"]) for p, r in response.items()}),
        first_response=response,
        overdue_bars=bars(_floats(overdue_by_path), set(overdue_by_path)),
        overdue=overdue,
        referrals_by_path=report.get("referrals_by_path", {}),
    )
