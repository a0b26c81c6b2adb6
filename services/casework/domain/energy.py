"""Energy computations: home-visit appliances and comfort, the energy diary's periods and anomalies.

Pure functions over plain data. Money is integer euro cents; energy is kWh (electricity) or
Smc (gas).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import pairwise

DAYS_PER_YEAR = 365

# Comfort thresholds a home visit flags (indoor, heating season).
MIN_COMFORT_TEMPERATURE_C = 18.0
MAX_COMFORT_TEMPERATURE_C = 27.0
MAX_COMFORT_HUMIDITY_PCT = 65.0
MIN_COMFORT_HUMIDITY_PCT = 30.0


@dataclass(frozen=True)
class RoomReading:
    """Comfort conditions measured in one room."""

    room: str
    temperature_c: float
    humidity_pct: float
    mould: bool = False
    draughts: bool = False


@dataclass(frozen=True)
class ApplianceMeasurement:
    """An appliance measured at a home visit."""

    name: str
    power_w: float
    hours_per_day: float


@dataclass(frozen=True)
class Recommendation:
    """Advice left after a visit; ``reduction_pct`` of ``appliance``'s cost it could save."""

    text: str
    appliance: str | None = None
    reduction_pct: float = 0.0


@dataclass(frozen=True)
class ApplianceCost:
    """An appliance's yearly consumption and cost."""

    name: str
    kwh_per_year: float
    cost_cents_per_year: int


@dataclass(frozen=True)
class Saving:
    """A possible saving, from a recommendation."""

    text: str
    appliance: str | None
    kwh_per_year: float
    cents_per_year: int


def kwh_per_year(power_w: float, hours_per_day: float) -> float:
    """Energy per year of a device drawing ``power_w`` for ``hours_per_day`` every day."""
    return round(power_w * hours_per_day * DAYS_PER_YEAR / 1000, 2)


def cost_cents_per_year(kwh: float, price_cents_per_kwh: float) -> int:
    """Cost per year in cents of ``kwh`` at ``price_cents_per_kwh`` (rounded half up)."""
    return int(kwh * price_cents_per_kwh + 0.5)


def appliance_costs(
    appliances: list[ApplianceMeasurement], price_cents_per_kwh: float
) -> list[ApplianceCost]:
    """Yearly kWh and cost of each appliance, largest cost first."""
    costs = []
    for a in appliances:
        kwh = kwh_per_year(a.power_w, a.hours_per_day)
        costs.append(ApplianceCost(a.name, kwh, cost_cents_per_year(kwh, price_cents_per_kwh)))
    return sorted(costs, key=lambda c: c.cost_cents_per_year, reverse=True)


def savings(
    appliances: list[ApplianceMeasurement],
    recommendations: list[Recommendation],
    price_cents_per_kwh: float,
    top: int = 3,
) -> list[Saving]:
    """The largest possible savings: each recommendation's share of its appliance's cost."""
    by_name = {c.name: c for c in appliance_costs(appliances, price_cents_per_kwh)}
    result = []
    for r in recommendations:
        cost = by_name.get(r.appliance or "")
        if cost is None or r.reduction_pct <= 0:
            continue
        kwh = round(cost.kwh_per_year * r.reduction_pct / 100, 2)
        result.append(
            Saving(r.text, r.appliance, kwh, cost_cents_per_year(kwh, price_cents_per_kwh))
        )
    return sorted(result, key=lambda s: s.cents_per_year, reverse=True)[:top]


def comfort_findings(rooms: list[RoomReading]) -> list[str]:
    """What a visit found wrong with comfort, in Italian, one line per problem."""
    findings = []
    for r in rooms:
        if r.temperature_c < MIN_COMFORT_TEMPERATURE_C:
            findings.append(f"{r.room}: temperatura bassa ({r.temperature_c:g} °C)")
        elif r.temperature_c > MAX_COMFORT_TEMPERATURE_C:
            findings.append(f"{r.room}: temperatura alta ({r.temperature_c:g} °C)")
        if r.humidity_pct > MAX_COMFORT_HUMIDITY_PCT:
            findings.append(f"{r.room}: umidità alta ({r.humidity_pct:g}%)")
        elif r.humidity_pct < MIN_COMFORT_HUMIDITY_PCT:
            findings.append(f"{r.room}: umidità bassa ({r.humidity_pct:g}%)")
        if r.mould:
            findings.append(f"{r.room}: muffa")
        if r.draughts:
            findings.append(f"{r.room}: spifferi")
    return findings


@dataclass(frozen=True)
class MeterReading:
    """A dated meter reading in the energy diary (``luce`` in kWh, ``gas`` in Smc)."""

    id: str
    commodity: str
    read_on: date
    value: float


@dataclass(frozen=True)
class Period:
    """Consumption between two consecutive readings of the same meter."""

    commodity: str
    start: date
    end: date
    consumption: float
    per_day: float
    anomaly: str | None = None


def consumption_periods(readings: list[MeterReading], anomaly_share: float) -> list[Period]:
    """Consumption per period, per commodity, with anomalies flagged.

    An anomaly is a daily consumption more than ``anomaly_share`` (e.g. 0.3 = +30%) above the
    previous period of the same meter, or a reading lower than the one before (meter replaced or
    misread). Periods are ordered by commodity, then date.
    """
    periods: list[Period] = []
    for commodity in sorted({r.commodity for r in readings}):
        series = sorted((r for r in readings if r.commodity == commodity), key=lambda r: r.read_on)
        previous: Period | None = None
        for before, after in pairwise(series):
            days = (after.read_on - before.read_on).days
            if days <= 0:
                continue  # two readings on the same day: no period between them
            used = round(after.value - before.value, 3)
            per_day = round(used / days, 3)
            anomaly = None
            if used < 0:
                anomaly = "lettura inferiore alla precedente (contatore sostituito o errore)"
            elif previous is not None and previous.per_day > 0:
                increase = per_day / previous.per_day - 1
                if increase > anomaly_share:
                    anomaly = (
                        f"consumo giornaliero +{increase * 100:.0f}% rispetto al periodo precedente"
                    )
            period = Period(commodity, before.read_on, after.read_on, used, per_day, anomaly)
            periods.append(period)
            if used >= 0:
                previous = period
    return periods
