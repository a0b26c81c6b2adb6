"""The casework API as the web app uses it: case files, referrals, queues."""

from __future__ import annotations

from typing import Any

from services.web.adapters.http import ApiClient

PART = "il fascicolo dei casi e gli invii ai percorsi"


class CaseworkClient(ApiClient):
    """Calls to ``CASEWORK_URL``."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        super().__init__(base_url, PART, timeout_s)

    def case_file(self, case_id: str) -> dict[str, Any]:
        """One case file."""
        return self.get(f"/case-files/{case_id}")

    def case_files(self, **filters: Any) -> list[dict[str, Any]]:
        """Case files (work queue), newest first."""
        params = {"limit": 200, **{k: v for k, v in filters.items() if v is not None}}
        return self.get("/case-files", params)

    def section(self, case_id: str, name: str) -> Any:
        """A part of a case file: timeline, referrals, assessments, home-visits, diary."""
        return self.get(f"/case-files/{case_id}/{name}")

    def referral_paths(self) -> list[dict[str, Any]]:
        """The configured referral paths."""
        return self.get("/referral-paths")

    def propose_and_send(self, case_id: str, path: str, reason: str, actor: str) -> dict[str, Any]:
        """Propose a referral to ``path`` and send it at once."""
        referral = self.post(
            f"/case-files/{case_id}/referrals", {"path": path, "reason": reason, "actor": actor}
        )
        return self.post(f"/case-files/{case_id}/referrals/{referral['id']}/send", {"actor": actor})

    def referral_action(
        self, case_id: str, referral_id: str, action: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """accept, decline (reason), complete (outcome, outcome_for_tenant), cancel."""
        return self.post(f"/case-files/{case_id}/referrals/{referral_id}/{action}", body)

    def add_diary_reading(self, case_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Add a reading to the energy diary."""
        return self.post(f"/case-files/{case_id}/diary", body)

    def dashboard(self) -> dict[str, Any]:
        """casework's dashboard over every case file: cases per state, path and building,
        referrals per path and state, hours to first response per path."""
        return self.get("/reports/dashboard")

    def overdue_referrals(self) -> list[dict[str, Any]]:
        """Referrals past their response deadline."""
        return self.get("/queues/overdue-referrals", {"limit": 200})
