"""Row- and field-level scope of casework's callers (the role itself is checked before, by
``shared.web``).

- An **operator** works on the case files opened at the counters of its ``counters`` claim.
- A **path caseworker** works on the case files with a referral to its ``path`` (in any state), and
  sees of each only what its path needs: the case-file fields of the data categories the path is
  configured to receive (``paths.json``, ``shares``, the same categories its referrals' dossiers
  carry), the sections of the file those categories cover, and only its own path's referrals,
  disclosures and outcomes.
- Coordinators and admins see every case file.

A case file out of scope answers 403 (``forbid()``), on every ``/case-files/<id>/...`` route.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from flask import current_app, g, has_request_context

from services.casework.domain.model import CaseFile
from shared.web import forbid, principal

T = TypeVar("T")

# Case-file fields every caller who may read the file sees: the workflow, nothing personal.
WORKFLOW_FIELDS = frozenset(
    {
        "id",
        "state",
        "allowed_next_states",
        "urgent",
        "channel",
        "opened_at",
        "opened_by",
        "assignee",
        "open_referrals",
        "next_due",
        "version",
    }
)

# The case-file fields (CaseFileSchema) each data category of a path reveals.
CATEGORY_FIELDS: dict[str, frozenset[str]] = {
    "anagrafica": frozenset({"tenant_id", "building", "counter_id"}),
    "bisogni": frozenset({"needs", "description"}),
    "bollette": frozenset({"bills"}),
    "consumi": frozenset(),  # the diary and the home visits' appliances: sections
    "morosita": frozenset({"disconnection_date"}),
    "valutazione": frozenset({"classification", "isee_band", "receives_bonus_sociale"}),
    "storia_sociale": frozenset({"hardship_signals", "history", "outcome"}),
    "sopralluoghi": frozenset(),  # the home visits: a section
}

# The sections of a case file (``/case-files/<id>/<section>``) and the categories that open each
# to a path caseworker (any one of them suffices).
SECTION_CATEGORIES: dict[str, frozenset[str]] = {
    "timeline": frozenset({"storia_sociale"}),
    "assessments": frozenset({"valutazione"}),
    "home-visits": frozenset({"sopralluoghi", "consumi"}),
    "diary": frozenset({"consumi"}),
    "notes": frozenset({"storia_sociale"}),
    "tasks": frozenset({"storia_sociale"}),
}

NOT_YOUR_COUNTER = "Fuori dal tuo ambito: il caso è di uno sportello che non è tra i tuoi."
NOT_YOUR_PATH = "Fuori dal tuo ambito: il caso non ha invii al tuo percorso."


def _shares() -> frozenset[str]:
    """The data categories of the calling path caseworker's path (none if not configured)."""
    paths = current_app.extensions["sportello.bus"].deps.paths
    path = paths.get(principal().path)
    return frozenset(path.shares) if path is not None else frozenset()


def list_filters(counter_id: str | None, path: str | None) -> dict[str, Any]:
    """The list filters the caller's scope forces (403 for a filter outside it)."""
    who = principal()
    if who.role == "operator":
        if counter_id and counter_id not in who.counters:
            raise forbid(NOT_YOUR_COUNTER)
        return {"counters": None if counter_id else list(who.counters)}
    if who.role == "path_caseworker":
        if path and path != who.path:
            raise forbid(NOT_YOUR_PATH)
        return {"path": who.path}
    return {}


def check_case_file(case: CaseFile) -> None:
    """403 unless the caller's scope covers ``case``."""
    who = principal()
    if who.role == "operator" and case.counter_id not in who.counters:
        raise forbid(NOT_YOUR_COUNTER)
    if who.role == "path_caseworker" and who.path not in case.referral_paths:
        raise forbid(NOT_YOUR_PATH)


def check_section(section: str) -> None:
    """403 when the caller is a path caseworker whose path does not receive ``section``."""
    if principal().role != "path_caseworker":
        return
    if not SECTION_CATEGORIES[section] & _shares():
        raise forbid("Questa parte del fascicolo non è condivisa con il tuo percorso.")


def own_path_only(items: Iterable[T]) -> list[T]:
    """For a path caseworker, only the items (referrals, disclosures, outcomes, overdue rows)
    of its own path; everyone else gets them all."""
    who = principal()
    if who.role != "path_caseworker":
        return list(items)
    return [i for i in items if _path_of(i) == who.path]


def _path_of(item: Any) -> str | None:
    return item.get("path") if isinstance(item, dict) else getattr(item, "path", None)


def visible_case_fields() -> frozenset[str] | None:
    """The case-file fields the caller may see; None when every field (not a path caseworker).

    Outside a request (or before authentication) nothing is reduced: the projection is about
    who asks, and only requests have someone asking.
    """
    if not has_request_context() or "principal" not in g:
        return None
    if principal().role != "path_caseworker":
        return None
    visible = set(WORKFLOW_FIELDS)
    for category in _shares():
        visible |= CATEGORY_FIELDS.get(category, frozenset())
    return frozenset(visible)


def project(data: dict[str, Any], visible: Sequence[str] | frozenset[str] | None) -> dict[str, Any]:
    """``data`` with only the ``visible`` keys (all of them when ``visible`` is None)."""
    if visible is None:
        return data
    return {k: v for k, v in data.items() if k in visible}
