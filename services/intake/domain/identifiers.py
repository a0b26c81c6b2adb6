"""Italian identifiers a counter operator types in: codice fiscale, POD, PDR, phone numbers.

Pure functions: each ``check_*`` returns ``None`` when the value is valid, else the Italian reason,
so both the HTTP schemas and the CSV import report the same words.
"""

from __future__ import annotations

import re
import unicodedata

# Letters that replace digits in a codice fiscale under omocodia (0→L … 9→V).
OMOCODIA = "LMNPQRSTUV"
# Positions (0-based) that hold digits in a codice fiscale, possibly replaced under omocodia.
DIGIT_POSITIONS = (6, 7, 9, 10, 12, 13, 14)
MONTHS = "ABCDEHLMPRST"

# Values of a character in an odd (1st, 3rd, …) position for the check character.
_ODD_DIGITS = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21]
_ODD_LETTERS = [
    1,
    0,
    5,
    7,
    9,
    13,
    15,
    17,
    19,
    21,
    2,
    4,
    18,
    20,
    11,
    3,
    6,
    8,
    12,
    14,
    16,
    10,
    22,
    25,
]
_ODD_LETTERS += [24, 23]
_ODD = {
    **dict(zip("0123456789", _ODD_DIGITS, strict=True)),
    **dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", _ODD_LETTERS, strict=True)),
}
# Values of a character in an even position: digits are themselves, letters A=0 … Z=25.
_EVEN = {
    c: (int(c) if c.isdigit() else ord(c) - ord("A"))
    for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
}

_FISCAL_SHAPE = re.compile(
    r"^[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$"
)
_POD = re.compile(r"^IT[0-9]{3}E[0-9]{8}$")
_PDR = re.compile(r"^[0-9]{14}$")
_PHONE = re.compile(r"^\+?[0-9]{6,15}$")


def normalize_fiscal_code(value: str) -> str:
    """Upper case, without spaces."""
    return "".join(value.split()).upper()


def fiscal_check_character(first15: str) -> str:
    """The check character of the first 15 characters of a codice fiscale."""
    total = sum(_ODD[c] if i % 2 == 0 else _EVEN[c] for i, c in enumerate(first15))
    return chr(ord("A") + total % 26)


def check_fiscal_code(value: str) -> str | None:
    """Why ``value`` is not a valid codice fiscale (format, omocodia, date, check), or None."""
    code = normalize_fiscal_code(value)
    if len(code) != 16:
        return "Il codice fiscale deve avere 16 caratteri."
    if not _FISCAL_SHAPE.match(code):
        return "Formato del codice fiscale non valido."
    digits = "".join(
        str(OMOCODIA.index(code[i])) if code[i] in OMOCODIA else code[i] for i in DIGIT_POSITIONS
    )
    if code[8] not in MONTHS:
        return "Mese di nascita non valido nel codice fiscale."
    day = int(digits[2:4])
    if not (1 <= day <= 31 or 41 <= day <= 71):
        return "Giorno di nascita non valido nel codice fiscale."
    if fiscal_check_character(code[:15]) != code[15]:
        return "Carattere di controllo del codice fiscale errato."
    return None


def is_valid_fiscal_code(value: str) -> bool:
    """Whether ``value`` is a valid codice fiscale."""
    return check_fiscal_code(value) is None


def normalize_pod(value: str) -> str:
    """Upper case, without spaces."""
    return "".join(value.split()).upper()


def check_pod(value: str) -> str | None:
    """Why ``value`` is not a POD (IT + 3 digits + E + 8 digits), or None."""
    if not _POD.match(normalize_pod(value)):
        return "POD non valido: formato IT + 3 cifre + E + 8 cifre (14 caratteri)."
    return None


def check_pdr(value: str) -> str | None:
    """Why ``value`` is not a PDR (14 digits), or None."""
    if not _PDR.match("".join(value.split())):
        return "PDR non valido: deve avere 14 cifre."
    return None


def normalize_phone(value: str) -> str:
    """Digits and a leading ``+`` only (spaces, dots, dashes and slashes dropped)."""
    return re.sub(r"[\s./-]", "", value)


def check_phone(value: str) -> str | None:
    """Why ``value`` is not a phone number, or None."""
    if not _PHONE.match(normalize_phone(value)):
        return "Numero di telefono non valido."
    return None


def search_key(*parts: str | None) -> str:
    """Lower case words without accents, for prefix search by name (``Nicolò`` → ``nicolo``)."""
    text = " ".join(p for p in parts if p)
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(plain.lower().split())
