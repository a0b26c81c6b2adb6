"""Timing policies: quiet hours, retry backoff, the custodians' daily digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietHours:
    """A nightly window (local time) in which tenants get no SMS; e.g. 21:00-08:00 Europe/Rome."""

    start: time
    end: time
    tz: ZoneInfo

    @classmethod
    def parse(cls, window: str, tz: str) -> QuietHours:
        """From ``"HH:MM-HH:MM"`` and an IANA time zone; ``ValueError`` when malformed."""
        try:
            start, end = (time.fromisoformat(part.strip()) for part in window.split("-"))
        except ValueError:
            raise ValueError("formato HH:MM-HH:MM") from None
        return cls(start, end, ZoneInfo(tz))

    def quiet(self, at: datetime) -> bool:
        """Whether ``at`` falls in the quiet window."""
        local = at.astimezone(self.tz).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def release(self, at: datetime) -> datetime:
        """``at`` if it is outside the window, else when the window ends (in UTC)."""
        if not self.quiet(at):
            return at
        local = at.astimezone(self.tz)
        end = datetime.combine(local.date(), self.end, tzinfo=self.tz)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=self.tz)
        return end.astimezone(UTC)


def backoff(attempt: int, base_s: float, max_s: float) -> timedelta:
    """Wait before retry number ``attempt`` (1, 2, …): base, 2·base, 4·base … capped."""
    return timedelta(seconds=min(base_s * 2 ** max(attempt - 1, 0), max_s))


def next_digest_at(now: datetime, at: time, tz: ZoneInfo) -> datetime:
    """The next daily digest time strictly after ``now`` (in UTC)."""
    local = now.astimezone(tz)
    due = datetime.combine(local.date(), at, tzinfo=tz)
    if due <= local:
        due = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=tz)
    return due.astimezone(UTC)
