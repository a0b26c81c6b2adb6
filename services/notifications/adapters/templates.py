"""Jinja2 templates: one file per template and language, with blocks for each channel.

``templates/<lang>/<name>.j2`` defines the blocks ``subject`` (email subject and inbox title),
``text`` (email text and inbox body), ``html`` (email HTML, autoescaped) and ``sms``. A template
missing in the tenant's language falls back to Italian; a template missing in Italian, a missing
block or a missing field (``StrictUndefined``) is a ``RenderError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    Undefined,
)

from services.notifications.domain import sms

DEFAULT_LANGUAGE = "it"
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
MONTHS_IT = [
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
]


class RenderError(ValueError):
    """A message cannot be rendered: unknown template, missing block or missing field."""


@dataclass(frozen=True)
class Rendered:
    """A message in every form a channel may need."""

    language: str
    subject: str
    text: str
    html: str
    sms: str
    sms_segments: int
    sms_encoding: str


def days_left_it(days: int) -> str:
    """How many days are left, in Italian: «è oggi», «manca 1 giorno», «mancano 3 giorni»."""
    if days <= 0:
        return "è oggi"
    return "manca 1 giorno" if days == 1 else f"mancano {days} giorni"


class Renderer:
    """Renders templates in the recipient's language (Italian fallback), SMS capped."""

    def __init__(self, tz: ZoneInfo, max_sms_segments: int, root: Path = TEMPLATES_DIR) -> None:
        self.root = root
        self.max_sms_segments = max_sms_segments
        self.env = Environment(
            loader=FileSystemLoader(str(root)),
            undefined=StrictUndefined,
            # Text, subject and SMS must not be HTML-escaped; every html block opens
            # ``{% autoescape true %}`` itself (a unit test checks it escapes).
            autoescape=False,  # noqa: S701
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["giorno"] = lambda v: _day(v, tz)
        self.env.filters["data"] = lambda v: _numeric(v, tz)
        self.env.filters["ora"] = lambda v: _local(v, tz).strftime("%H:%M")
        self.env.filters["giorni_mancanti"] = days_left_it

    def languages(self) -> list[str]:
        """Languages with at least one template."""
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def exists(self, name: str) -> bool:
        """Whether ``name`` has an Italian template."""
        return (self.root / DEFAULT_LANGUAGE / f"{name}.j2").is_file()

    def render(self, name: str, language: str | None, context: dict[str, Any]) -> Rendered:
        """Every form of message ``name`` for ``context``."""
        lang = language if language and (self.root / language / f"{name}.j2").is_file() else None
        lang = lang or DEFAULT_LANGUAGE
        try:
            template = self.env.get_template(f"{lang}/{name}.j2")
            parts = {}
            for block in ("subject", "text", "html", "sms"):
                if block not in template.blocks:
                    raise RenderError(f"modello {lang}/{name}: blocco '{block}' mancante")
                ctx = template.new_context(dict(context))
                parts[block] = "".join(template.blocks[block](ctx)).strip()
        except TemplateNotFound:
            raise RenderError(f"modello sconosciuto: {name}") from None
        except TemplateError as exc:
            raise RenderError(f"modello {lang}/{name} non compilabile: {exc}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise RenderError(f"modello {lang}/{name}: dati non validi ({exc})") from None
        short = sms.fit(parts["sms"], self.max_sms_segments)
        return Rendered(
            language=lang,
            subject=" ".join(parts["subject"].split()),
            text=parts["text"],
            html=parts["html"],
            sms=short.text,
            sms_segments=short.segments,
            sms_encoding=short.encoding,
        )


def _defined(value: Any) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()  # names the missing field
    return value


def _local(value: Any, tz: ZoneInfo) -> datetime:
    value = _defined(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise ValueError(f"non è una data e ora: {value!r}")
    return value.astimezone(tz)


def _day(value: Any, tz: ZoneInfo) -> str:
    value = _defined(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(tz).date()
    if not isinstance(value, date):
        raise ValueError(f"non è una data: {value!r}")
    return f"{value.day} {MONTHS_IT[value.month - 1]} {value.year}"


def _numeric(value: Any, tz: ZoneInfo) -> str:
    text = _day(value, tz)
    day, month, year = text.split(" ")
    return f"{int(day):02d}/{MONTHS_IT.index(month) + 1:02d}/{year}"
