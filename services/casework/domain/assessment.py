"""The assessment rule set: proposes a classification with its reasons; a person decides.

Versioned: every proposal records ``RULESET_VERSION``, so a past decision can be explained with the
rules that were in force. Change the rules → change the version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

RULESET_VERSION = "2026.1"

# Share of income spent on energy above which a household is considered burdened (a common
# threshold in the energy-poverty literature).
ENERGY_SHARE_THRESHOLD = 0.10


class Classification(StrEnum):
    """The outcome of an assessment."""

    PRECARITY = "precarieta_energetica"
    POVERTY = "poverta_energetica"
    NOT_VULNERABLE = "non_vulnerabile"


class IseeBand(StrEnum):
    """ISEE bands used by the bonus sociale and the Comune's measures."""

    UP_TO_9530 = "fino_9530"
    UP_TO_15000 = "9530_15000"
    UP_TO_20000 = "15000_20000"
    UP_TO_30000 = "20000_30000"
    ABOVE_30000 = "oltre_30000"
    UNKNOWN = "non_disponibile"


# Bands within the bonus sociale's reach (9,530 €, 20,000 € for large families).
LOW_ISEE_BANDS = (IseeBand.UP_TO_9530, IseeBand.UP_TO_15000, IseeBand.UP_TO_20000)


# Temporary events that make a difficulty "precarietà" rather than lasting "povertà".
TEMPORARY_HARDSHIPS = {"perdita_lavoro", "malattia", "separazione", "lutto", "calo_reddito"}
# Signs of a lasting condition.
LASTING_HARDSHIPS = {"morosita_ripetute", "casa_fredda", "rinuncia_riscaldamento"}


@dataclass(frozen=True)
class Evidence:
    """What an assessment is based on (money in cents per year)."""

    income_cents_per_year: int | None = None
    energy_spend_cents_per_year: int | None = None
    arrears_cents: int = 0
    disconnection_risk: bool = False
    isee_band: IseeBand | None = None
    hardship_signals: list[str] = field(default_factory=list)
    home_visit_findings: list[str] = field(default_factory=list)
    indicators: list[str] = field(default_factory=list)

    @property
    def energy_share(self) -> float | None:
        """Share of income spent on energy, when both are known."""
        if not self.income_cents_per_year or self.energy_spend_cents_per_year is None:
            return None
        return self.energy_spend_cents_per_year / self.income_cents_per_year


@dataclass(frozen=True)
class Proposal:
    """What the rule set proposes, why, and under which version."""

    classification: Classification
    reasons: list[str]
    ruleset_version: str = RULESET_VERSION


def propose(evidence: Evidence) -> Proposal:
    """Apply the rule set to ``evidence``."""
    reasons: list[str] = []
    share = evidence.energy_share
    burdened = share is not None and share >= ENERGY_SHARE_THRESHOLD
    if share is not None:
        comparison = "≥" if burdened else "<"
        reasons.append(
            f"quota del reddito spesa in energia {share * 100:.1f}% "
            f"({comparison} {ENERGY_SHARE_THRESHOLD * 100:.0f}%)"
        )
    low_isee = evidence.isee_band in LOW_ISEE_BANDS
    if evidence.isee_band is not None:
        reasons.append(f"fascia ISEE {evidence.isee_band.value}" + (" (bassa)" if low_isee else ""))
    paying_trouble = evidence.arrears_cents > 0 or evidence.disconnection_risk
    if evidence.arrears_cents > 0:
        reasons.append(f"morosità di {evidence.arrears_cents / 100:.2f} €")
    if evidence.disconnection_risk:
        reasons.append("rischio di distacco della fornitura")
    temporary = sorted(TEMPORARY_HARDSHIPS & set(evidence.hardship_signals))
    if temporary:
        reasons.append("evento temporaneo: " + ", ".join(temporary))
    lasting = sorted(LASTING_HARDSHIPS & set(evidence.hardship_signals))
    if lasting:
        reasons.append("segnali di condizione persistente: " + ", ".join(lasting))
    poor_dwelling = bool(evidence.home_visit_findings)
    if poor_dwelling:
        reasons.append(f"sopralluogo: {len(evidence.home_visit_findings)} criticità di comfort")

    # Lasting inability: low ISEE together with a heavy energy burden, a cold/damp home or
    # lasting signs, and no temporary event explaining it.
    if low_isee and (burdened or poor_dwelling or lasting) and not temporary:
        reasons.append(
            "regola P1: ISEE basso con onere energetico, abitazione critica o segnali persistenti"
            " → povertà"
        )
        return Proposal(Classification.POVERTY, reasons)
    if paying_trouble or burdened or temporary or lasting:
        reasons.append(
            "regola R1: difficoltà di pagamento, onere energetico o evento temporaneo → precarietà"
        )
        return Proposal(Classification.PRECARITY, reasons)
    reasons.append("regola N1: nessun indicatore di vulnerabilità energetica")
    return Proposal(Classification.NOT_VULNERABLE, reasons)
