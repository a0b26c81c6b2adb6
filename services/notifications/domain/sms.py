"""SMS length: GSM-7 or UCS-2 encoding, segments counted, text capped to a number of segments."""

from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38 basic character set, and the extension table (each costs two septets).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsText:
    """A text ready for an SMS: its encoding and how many segments it takes."""

    text: str
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def is_gsm7(text: str) -> bool:
    """Whether every character is in the GSM-7 alphabet (basic or extension)."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text)


def measure(text: str) -> SmsText:
    """Encoding, length units and segments of ``text``."""
    if is_gsm7(text):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    segments = 1 if units <= single else -(-units // multi)
    return SmsText(text, encoding, units, segments)


def fit(text: str, max_segments: int) -> SmsText:
    """``text`` as it is if it fits ``max_segments``, else cut at a word and ended with '...'."""
    text = " ".join(text.split())
    measured = measure(text)
    if measured.segments <= max_segments:
        return measured
    words = text.split(" ")
    while words:
        words.pop()
        candidate = measure(" ".join(words).rstrip(" ,.;:") + "...")
        if candidate.segments <= max_segments:
            return candidate
    return measure(text[: max_segments * 60])
