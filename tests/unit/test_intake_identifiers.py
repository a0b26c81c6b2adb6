"""Codice fiscale, POD, PDR and phone checks: pure functions, no infrastructure."""

from __future__ import annotations

import pytest

from services.intake.domain.identifiers import (
    check_fiscal_code,
    check_pdr,
    check_phone,
    check_pod,
    fiscal_check_character,
    search_key,
)


@pytest.mark.parametrize(
    "code",
    [
        "RSSMRA85T10A562S",  # Mario Rossi
        "rssmra85t10a562s",  # lower case is accepted and normalised
        "RSSMRA85T10A56NH",  # omocodia: the last digit of the comune code replaced (2 → N)
        "RSSMRA85T10A5RNS",  # omocodia twice (6 → R, 2 → N)
        "BNCLRA70C41F205I",  # a woman: day of birth + 40
        "RSS MRA 85T10 A562S",  # spaces as typed at the counter
    ],
)
def test_valid_fiscal_codes_pass(code: str) -> None:
    assert check_fiscal_code(code) is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("RSSMRA85T10A562", "16 caratteri"),
        ("RSSMRA85T10A562SS", "16 caratteri"),
        ("RSSMRA85T10A562T", "Carattere di controllo"),
        ("RSSMRA85T10A56NS", "Carattere di controllo"),  # omocodic letter changes the check
        ("RSSMRA85Z10A562S", "Mese"),  # Z is not a month letter
        ("RSSMRA85T32A562S", "Giorno"),  # day 32
        ("RSSMRA85T00A562S", "Giorno"),
        ("RSSMRA85TA0A562S", "Formato"),  # A is not an omocodia letter
        ("1SSMRA85T10A562S", "Formato"),
        ("RSSMRA85T10A562!", "Formato"),
    ],
)
def test_invalid_fiscal_codes_say_why(code: str, reason: str) -> None:
    problem = check_fiscal_code(code)
    assert problem is not None and reason in problem


def test_the_check_character_follows_the_official_tables() -> None:
    assert fiscal_check_character("RSSMRA85T10A562") == "S"
    assert fiscal_check_character("BNCLRA70C41F205") == "I"


@pytest.mark.parametrize("pod", ["IT001E12345678", "it001e12345678", "IT 001 E 12345678"])
def test_valid_pods(pod: str) -> None:
    assert check_pod(pod) is None


@pytest.mark.parametrize(
    "pod", ["IT001E1234567", "IT001X12345678", "FR001E12345678", "IT0010E12345678", ""]
)
def test_invalid_pods(pod: str) -> None:
    assert "POD non valido" in (check_pod(pod) or "")


def test_pdr_is_fourteen_digits() -> None:
    assert check_pdr("12345678901234") is None
    assert check_pdr("1234567890123") is not None
    assert check_pdr("1234567890123A") is not None


@pytest.mark.parametrize("phone", ["+39 333 1234567", "02-1234567", "3331234567", "02/123.4567"])
def test_valid_phones(phone: str) -> None:
    assert check_phone(phone) is None


@pytest.mark.parametrize("phone", ["12345", "+39 abc", "++39333123456", "1" * 16])
def test_invalid_phones(phone: str) -> None:
    assert check_phone(phone) == "Numero di telefono non valido."


def test_search_key_drops_accents_and_case() -> None:
    assert search_key("Nicolò", "  D'Agostino ") == "nicolo d'agostino"
    assert search_key("Rossi", None) == "rossi"
