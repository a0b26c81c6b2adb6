"""casework's configuration: the shared settings, read for this service."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from services.casework.domain.paths import ReferralPath, make_path
from shared import crypto
from shared.config import Settings, Variable

SERVICE = "casework"
ROOT = Path(__file__).resolve().parents[2]


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0 or value == float("inf"):
        raise ValueError("deve essere un numero maggiore o uguale a zero")
    return value


def _positive_float(raw: str) -> float:
    value = _non_negative_float(raw)
    if value == 0:
        raise ValueError("deve essere un numero positivo")
    return value


def _int(raw: str) -> int:
    return int(raw)


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("deve essere un intero positivo")
    return value


def _days_list(raw: str) -> list[int]:
    days = sorted({int(x) for x in raw.split(",") if x.strip()}, reverse=True)
    if not days or days[-1] < 0:
        raise ValueError("elenco di giorni (interi >= 0) separati da virgole")
    return days


def load_paths(raw: str) -> dict[str, ReferralPath]:
    """The referral paths defined in the JSON file ``raw`` (relative to the repository root)."""
    path = Path(raw)
    if not path.is_absolute():
        path = ROOT / path
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
        return {
            name: make_path(
                name, p.get("label", name), int(p["response_working_days"]), list(p["shares"])
            )
            for name, p in spec.items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"file dei percorsi non valido ({path}): {exc}") from None


# casework's own environment variables (listed in the README's configuration table).
EXTRA_VARIABLES: tuple[Variable, ...] = (
    Variable(
        "CASEWORK_PATHS_FILE",
        "services/casework/paths.json",
        load_paths,
        "Referral paths (JSON): response deadline in working days and data shared, per path.",
        "paths",
    ),
    Variable(
        "CASEWORK_ENERGY_PRICE_CENTS_PER_KWH",
        "30",
        _positive_float,
        "Electricity price used to cost appliances measured at home visits (cents/kWh).",
        "energy_price_cents_per_kwh",
    ),
    Variable(
        "CASEWORK_ANOMALY_SHARE",
        "0.3",
        _positive_float,
        "Energy diary: a daily consumption this share above the previous period is an anomaly.",
        "anomaly_share",
    ),
    Variable(
        "CASEWORK_DISCONNECTION_ALERT_DAYS",
        "10,3,1",
        _days_list,
        "Days before a disconnection date at which the case is escalated (once each).",
        "disconnection_alert_days",
    ),
    Variable(
        "CASEWORK_SCAN_INTERVAL_S",
        "60",
        _positive_float,
        "How often the worker scans for overdue referrals and approaching disconnections.",
        "scan_interval_s",
    ),
    Variable(
        "CASEWORK_SCAN_CLOCK_OFFSET_DAYS",
        "0",
        _int,
        "Days added to the deadline scan's clock (drills and tests only; 0 in production).",
        "scan_clock_offset_days",
    ),
    Variable(
        "RETENTION_CLOSED_CASE_DAYS",
        "730",
        _positive_int,
        "Days after which a closed or archived case file is anonymised (statistics are kept).",
        "retention_closed_case_days",
    ),
    *crypto.VARIABLES,
)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings of the casework service from the environment."""
    return Settings.from_env(SERVICE, environ, EXTRA_VARIABLES)
