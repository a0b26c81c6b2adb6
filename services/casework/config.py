"""casework's configuration: the shared settings, read for this service."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from services.casework.domain.paths import ReferralPath, make_path
from shared import auth, crypto
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


# The built-in paths (Welfare, Casa, AMAT); CASEWORK_PATHS_FILE adds to them.
BUILTIN_PATHS_FILE = Path(__file__).resolve().parent / "paths.json"


def _read_paths_spec(path: Path) -> dict[str, dict]:
    spec = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(spec, dict):
        raise ValueError("deve essere un oggetto JSON {nome: {...}}")
    for name, definition in spec.items():
        if not auth.PATH_NAME.fullmatch(name):
            # The name travels in tokens and URLs: the form they accept (shared.auth).
            raise ValueError(f"nome di percorso non valido: {name!r} (minuscole, cifre e '_')")
        if not isinstance(definition, dict):
            raise ValueError(f"percorso {name}: deve essere un oggetto")
    return spec


def load_paths(raw: str) -> dict[str, ReferralPath]:
    """The referral paths: the built-in ones, plus those of the JSON file ``raw`` (relative to the
    repository root; ``-``: none).

    The file *adds* paths, and overrides a built-in one field by field when it names it (e.g.
    only Casa's ``response_working_days``): configuring a new path never drops Welfare, Casa or
    AMAT by accident.
    """
    path = BUILTIN_PATHS_FILE
    try:
        spec = _read_paths_spec(path)
        if raw != "-":
            path = Path(raw) if Path(raw).is_absolute() else ROOT / raw
            for name, definition in _read_paths_spec(path).items():
                spec[name] = {**spec.get(name, {}), **definition}
        return {name: _path(name, p) for name, p in spec.items()}
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"file dei percorsi non valido ({path}): {exc!s}") from None


def _path(name: str, p: dict) -> ReferralPath:
    missing = [k for k in ("response_working_days", "shares") if k not in p]
    if missing:
        raise ValueError(f"percorso {name}: manca {', '.join(missing)}")
    return make_path(name, p.get("label", name), int(p["response_working_days"]), list(p["shares"]))


# casework's own environment variables (listed in the README's configuration table).
EXTRA_VARIABLES: tuple[Variable, ...] = (
    Variable(
        "CASEWORK_PATHS_FILE",
        "-",
        load_paths,
        "Referral paths (JSON) added to the built-in Welfare, Casa and AMAT"
        " (`services/casework/paths.json`), or overriding one of them field by field: label,"
        " response deadline in working days, data shared. `-`: the built-in three only.",
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
