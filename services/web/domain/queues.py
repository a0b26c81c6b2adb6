"""Work queues as people read them: a referral team's inbox, a custode's inbox, counts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass
class TeamInbox:
    """A path's referrals in the buckets its team works through."""

    new: list[dict[str, Any]] = field(default_factory=list)
    in_progress: list[dict[str, Any]] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def overdue_count(self) -> int:
        """How many new referrals are past their response deadline."""
        return sum(1 for r in self.new if r["overdue"])


def _day(value: Any) -> date | None:
    if not value:
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def team_inbox(
    items: list[tuple[dict[str, Any], dict[str, Any]]], path: str, today: date
) -> TeamInbox:
    """Sort ``(case_file, referral)`` pairs of ``path`` into new (overdue first), in progress and
    closed; proposals not yet sent and cancelled referrals are not the team's business."""
    inbox = TeamInbox()
    for case_file, referral in items:
        if referral.get("path") != path:
            continue
        due = _day(referral.get("due_date"))
        row = {
            "case": case_file,
            "referral": referral,
            "due_date": due,
            "overdue": referral.get("state") == "inviata" and due is not None and due < today,
        }
        state = referral.get("state")
        if state == "inviata":
            inbox.new.append(row)
        elif state == "presa_in_carico":
            inbox.in_progress.append(row)
        elif state in {"completata", "rifiutata"}:
            inbox.closed.append(row)
    # Overdue first, then the nearest deadline.
    inbox.new.sort(key=lambda r: (not r["overdue"], r["due_date"] or date.max))
    inbox.in_progress.sort(key=lambda r: r["due_date"] or date.max)
    return inbox


def unread_first(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A custode's messages: unread first, each group newest first."""
    newest_first = sorted(messages, key=lambda m: str(m.get("created_at") or ""), reverse=True)
    return [m for m in newest_first if not m.get("read_at")] + [
        m for m in newest_first if m.get("read_at")
    ]


def count_by(items: list[dict[str, Any]], key: str) -> dict[str, int]:
    """How many items have each value of ``key`` (missing values count as ``—``)."""
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[str(item.get(key) or "—")] += 1
    return dict(sorted(counts.items()))
