"""Demo identities: who is using the web app, and the API principal each one acts as.

"Signing in" is choosing a role and what it works on (a counter, a referral path, a building's
custodian); the identity lives in the signed session cookie. Each role has its own home page. The
web app calls the APIs with a short-lived token it signs for the identity (``principal()``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from shared.auth import PATH_NAME, Principal

ROLES: dict[str, str] = {
    "operatore": "Operatore di sportello",
    "percorso": "Operatore di un percorso (AMAT, Welfare, Casa)",
    "custode": "Custode sociale",
    "coordinatore": "Coordinamento Gestione Socialità",
}

# The page each role lands on (Flask endpoint names).
HOME: dict[str, str] = {
    "operatore": "counter.day",
    "percorso": "team.inbox",
    "custode": "custode.inbox",
    "coordinatore": "dashboard.overview",
}

# What each role needs chosen at sign-in, besides a user name.
SCOPE: dict[str, str] = {
    "operatore": "counter_id",
    "percorso": "path",
    "custode": "custodian",
    "coordinatore": "",
}

# The API role of each web role (shared.auth.ROLES).
API_ROLE: dict[str, str] = {
    "operatore": "operator",
    "percorso": "path_caseworker",
    "custode": "custode",
    "coordinatore": "coordinator",
}

# What the pages offer people to do, and the API calls each action makes. A page shows an action
# only to roles the API lets make every one of its calls: so nobody is offered a button the API
# would answer with 403 (tests/integration/test_web_roles.py compares this with the APIs' own
# ``shared.auth.allow`` declarations).
ACTION_CALLS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "open_case": (("intake", "POST", "/api/v1/cases"),),
    "book": (("intake", "POST", "/api/v1/appointments"),),
    "register_tenant": (("intake", "POST", "/api/v1/tenants"),),
    "refer": (
        ("casework", "POST", "/api/v1/case-files/<case_id>/referrals"),
        ("casework", "POST", "/api/v1/case-files/<case_id>/referrals/<referral_id>/send"),
    ),
    "add_reading": (("casework", "POST", "/api/v1/case-files/<case_id>/diary"),),
    "answer_referral": (
        ("casework", "POST", "/api/v1/case-files/<case_id>/referrals/<referral_id>/accept"),
        ("casework", "POST", "/api/v1/case-files/<case_id>/referrals/<referral_id>/decline"),
        ("casework", "POST", "/api/v1/case-files/<case_id>/referrals/<referral_id>/complete"),
    ),
    "mark_read": (("notifications", "POST", "/api/v1/inbox/<recipient>/<notification_id>/read"),),
}

# The API roles that may take each action: the roles every call of ``ACTION_CALLS`` allows.
ACTION_ROLES: dict[str, frozenset[str]] = {
    "open_case": frozenset({"operator", "admin"}),
    "book": frozenset({"operator", "admin"}),
    "register_tenant": frozenset({"operator", "admin"}),
    "refer": frozenset({"operator", "path_caseworker", "admin"}),
    "add_reading": frozenset({"operator", "path_caseworker", "admin"}),
    "answer_referral": frozenset({"path_caseworker", "admin"}),
    "mark_read": frozenset({"operator", "path_caseworker", "custode", "coordinator", "admin"}),
}

# Who the sign-in page is before anyone signs in: it only reads counters, buildings and paths.
SIGN_IN_PRINCIPAL = Principal(sub="web-accesso", role="coordinator", name="Pagina di accesso")

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,59}$")


class IdentityError(ValueError):
    """A sign-in choice that cannot be an identity; ``field`` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Identity:
    """Who is signed in: a user name, a role and what the role works on."""

    username: str
    role: str
    counter_id: str = ""
    path: str = ""
    custodian: str = ""
    # The buildings a custode looks after (the APIs show a custode only these).
    buildings: tuple[str, ...] = ()

    @property
    def role_label(self) -> str:
        """The role in Italian."""
        return ROLES[self.role]

    @property
    def home(self) -> str:
        """The endpoint of this role's home page."""
        return HOME[self.role]

    def can(self, action: str) -> bool:
        """Whether this role may take ``action`` (a key of ``ACTION_ROLES``): pages offer only
        these. Coordinators read everything and take no action."""
        return API_ROLE[self.role] in ACTION_ROLES[action]

    def principal(self) -> Principal:
        """The API principal of this identity, with its scope (counter, path, custodian)."""
        return Principal(
            sub=self.username,
            role=API_ROLE[self.role],
            name=self.custodian or self.username,
            counters=(self.counter_id,) if self.counter_id else (),
            path=self.path,
            buildings=self.buildings,
        )

    def to_session(self) -> dict[str, str]:
        """What the session cookie keeps."""
        return asdict(self)

    @classmethod
    def from_session(cls, data: Any) -> Identity | None:
        """The identity in a session cookie, or None when there is none (or it is not valid)."""
        if not isinstance(data, dict):
            return None
        try:
            return make_identity(
                data.get("username", ""),
                data.get("role", ""),
                {k: data.get(k, "") for k in ("counter_id", "path", "custodian")},
                buildings=tuple(b for b in data.get("buildings") or () if isinstance(b, str)),
            )
        except IdentityError:
            return None


def make_identity(
    username: str, role: str, scope: dict[str, str], buildings: tuple[str, ...] = ()
) -> Identity:
    """An identity from the sign-in form, or IdentityError naming the wrong field.

    ``buildings``: those the chosen custode looks after (kept for a custode only).
    """
    username = (username or "").strip().lower()
    if not USERNAME.match(username):
        raise IdentityError(
            "username",
            "Nome utente non valido: 2-60 caratteri tra lettere minuscole, cifre, '.', '-', '_'.",
        )
    if role not in ROLES:
        raise IdentityError("role", "Scegli un ruolo.")
    needed = SCOPE[role]
    values = {k: (scope.get(k) or "").strip() for k in ("counter_id", "path", "custodian")}
    if needed and not values[needed]:
        what = {
            "counter_id": "lo sportello",
            "path": "il percorso",
            "custodian": "l'edificio di cui sei custode",
        }[needed]
        raise IdentityError(needed, f"Scegli {what}.")
    if needed == "path" and not PATH_NAME.fullmatch(values["path"]):
        # Any well-formed path name (casework may add paths by configuration); a malformed one
        # could not be put in a token.
        raise IdentityError("path", "Percorso non valido.")
    # Only the scope of the chosen role is kept.
    kept = {k: (v if k == needed else "") for k, v in values.items()}
    looked_after = tuple(buildings) if needed == "custodian" else ()
    return Identity(username=username, role=role, buildings=looked_after, **kept)
