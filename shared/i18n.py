"""Italian messages for marshmallow's validation errors (people read them at the counter).

marshmallow keeps its default messages as class attributes; ``install()`` swaps the English ones
for Italian. It is idempotent and called by every service's application factory.
"""

from __future__ import annotations

import marshmallow
from marshmallow import fields, validate

FIELD_MESSAGES: dict[str, str] = {
    '"{input}" cannot be formatted as a date.': '"{input}" non può essere formattato come data.',
    '"{input}" cannot be formatted as a {obj_type}.': '"{input}" non può essere formattato.',
    "{input!r} cannot be formatted as a timedelta.": "{input!r} non è una durata valida.",
    "Not a valid URL.": "URL non valido.",
    "Not a valid boolean.": "Valore booleano non valido (true o false).",
    "Not a valid date.": "Data non valida (formato AAAA-MM-GG).",
    "Not a valid email address.": "Indirizzo email non valido.",
    "Not a valid integer.": "Numero intero non valido.",
    "Not a valid list.": "Elenco non valido.",
    "Not a valid mapping type.": "Oggetto non valido.",
    "Not a valid number.": "Numero non valido.",
    "Not a valid period of time.": "Durata non valida.",
    "Not a valid string.": "Testo non valido.",
    "Not a valid tuple.": "Tupla non valida.",
    "Not a valid {obj_type}.": "Data e ora non valide (formato ISO 8601).",
    "Not a valid {awareness} {obj_type}.": "Data e ora non valide: indicare il fuso orario.",
    "Not a valid UUID.": "UUID non valido.",
    "Not a valid utf-8 string.": "Testo UTF-8 non valido.",
    "Field may not be null.": "Il campo non può essere nullo.",
    "Missing data for required field.": "Campo obbligatorio.",
    "Special numeric values (nan or infinity) are not permitted.": (
        "Valori NaN o infiniti non ammessi."
    ),
    "Number too large.": "Numero troppo grande.",
    "Invalid type.": "Tipo non valido.",
    "Must be one of: {choices}.": "Deve essere uno tra: {choices}.",
    "Invalid value.": "Valore non valido.",
}

VALIDATOR_MESSAGES: dict[type, dict[str, str]] = {
    validate.Email: {"default_message": "Indirizzo email non valido."},
    validate.Equal: {"default_message": "Deve essere uguale a {other}."},
    validate.Length: {
        "message_min": "Lunghezza minima {min}.",
        "message_max": "Lunghezza massima {max}.",
        "message_all": "La lunghezza deve essere tra {min} e {max}.",
        "message_equal": "La lunghezza deve essere {equal}.",
    },
    validate.NoneOf: {"default_message": "Valore non ammesso."},
    validate.OneOf: {"default_message": "Deve essere uno tra: {choices}."},
    validate.ContainsOnly: {"default_message": "Uno o più valori non sono tra: {choices}."},
    validate.ContainsNoneOf: {"default_message": "Uno o più valori sono tra: {values}."},
    validate.Predicate: {"default_message": "Valore non valido."},
    validate.Range: {
        "message_min": "Deve essere {min_op} {{min}}.",
        "message_max": "Deve essere {max_op} {{max}}.",
        "message_all": "Deve essere {min_op} {{min}} e {max_op} {{max}}.",
        "message_gte": "maggiore o uguale a",
        "message_gt": "maggiore di",
        "message_lte": "minore o uguale a",
        "message_lt": "minore di",
    },
    validate.Regexp: {"default_message": "Formato non valido."},
    validate.URL: {"default_message": "URL non valido."},
}

SCHEMA_MESSAGES = {"type": "Tipo di dato non valido.", "unknown": "Campo non previsto."}


def install() -> None:
    """Replace marshmallow's English default messages with Italian ones."""
    for name in dir(fields):
        cls = getattr(fields, name)
        if isinstance(cls, type) and issubclass(cls, fields.Field):
            own = cls.__dict__.get("default_error_messages")
            if own:
                cls.default_error_messages = {k: FIELD_MESSAGES.get(v, v) for k, v in own.items()}
    for cls, messages in VALIDATOR_MESSAGES.items():
        for attr, text in messages.items():
            setattr(cls, attr, text)
    marshmallow.Schema._default_error_messages = {
        **marshmallow.Schema._default_error_messages,
        **SCHEMA_MESSAGES,
    }
