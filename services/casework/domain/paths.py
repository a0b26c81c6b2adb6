"""Referral paths (Welfare, Casa, AMAT, and any added by configuration) as data.

Each path has a response deadline in working days and the categories of case data it may see
(minimisation: AMAT gets bills and consumption, not the social history).
"""

from __future__ import annotations

from dataclasses import dataclass

# Every category of case data a referral can share.
DATA_CATEGORIES = (
    "anagrafica",  # tenant id, building, counter
    "bisogni",  # needs declared at intake, description
    "bollette",  # energy bills
    "consumi",  # energy diary and measured appliance consumption
    "morosita",  # arrears and disconnection date
    "valutazione",  # assessment classification and evidence
    "storia_sociale",  # notes, hardship signals, other referrals
    "sopralluoghi",  # home-visit comfort findings and recommendations
)


@dataclass(frozen=True)
class ReferralPath:
    """A team a case can be referred to."""

    name: str
    label: str
    response_working_days: int
    shares: tuple[str, ...]


class UnknownCategory(ValueError):
    """A configured path names a data category that does not exist."""


def make_path(name: str, label: str, response_working_days: int, shares: list[str]) -> ReferralPath:
    """A validated path definition."""
    unknown = sorted(set(shares) - set(DATA_CATEGORIES))
    if unknown:
        raise UnknownCategory(f"path {name}: unknown data categories {unknown}")
    if response_working_days < 0:
        raise ValueError(f"path {name}: response_working_days must be >= 0")
    return ReferralPath(name, label, response_working_days, tuple(shares))
