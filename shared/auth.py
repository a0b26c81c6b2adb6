"""Staff authentication: short-lived signed tokens (JWT, HS256) and the roles they carry.

A token names who is calling (``sub``, ``name``), their ``role`` and what the role works on
(``counters`` for operators, ``path`` for path caseworkers, ``buildings`` for custodi). Keys come
from the environment (``AUTH_JWT_KEYS``, by key id); every listed key verifies, the one named by
``AUTH_JWT_SIGNING_KID`` signs. Rotation: add a key, switch the signing kid, drop the old key once
the tokens it signed have expired (``AUTH_TOKEN_TTL_S``).

Every route declares the roles it serves with :func:`allow`; ``shared.web`` refuses a request to a
route that declares none (secure by default). Demo tokens for local use::

    AUTH_DEMO_TOKENS=1 python -m shared.auth mint --role operator --sub demo-operatore --counters c1
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import jwt

from shared.config import ConfigError, JwtKeys, Settings

ALGORITHM = "HS256"
ISSUER = "sportello"
AUDIENCE = "sportello"
LEEWAY_S = 30  # clock skew tolerated between the machine that signs and the one that verifies

ROLES: tuple[str, ...] = ("operator", "path_caseworker", "custode", "coordinator", "admin")
# A referral path's name: the built-in ones (welfare, casa, amat) and any casework's configuration
# adds. Tokens are checked against the form, not a fixed list, so a path added by configuration
# works without a code change; casework (``paths.json``, the API) uses the same pattern.
PATH_NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")

# The attribute a view (or a MethodView method) carries with its allowed roles.
ROLES_ATTR = "__sportello_roles__"
PUBLIC_ATTR = "__sportello_public__"

F = TypeVar("F", bound=Callable[..., Any])


class AuthError(Exception):
    """A request cannot be authenticated (401); ``message`` is Italian, for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Principal:
    """Who is calling, as their verified token says."""

    sub: str
    role: str
    name: str = ""
    counters: tuple[str, ...] = field(default_factory=tuple)
    path: str = ""
    buildings: tuple[str, ...] = field(default_factory=tuple)

    def to_claims(self) -> dict[str, Any]:
        """The identity claims of a token for this principal (scopes only where they apply)."""
        claims: dict[str, Any] = {"sub": self.sub, "name": self.name or self.sub, "role": self.role}
        if self.counters:
            claims["counters"] = list(self.counters)
        if self.path:
            claims["path"] = self.path
        if self.buildings:
            claims["buildings"] = list(self.buildings)
        return claims


def allow(*roles: str) -> Callable[[F], F]:
    """Declare the roles that may call a view (a function or a ``MethodView`` method)."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"ruoli sconosciuti o mancanti: {sorted(unknown)}")

    def mark(view: F) -> F:
        setattr(view, ROLES_ATTR, frozenset(roles))
        return view

    return mark


def public(view: F) -> F:
    """Declare a view that needs no token (health checks, metrics, the API documents)."""
    setattr(view, PUBLIC_ATTR, True)
    return view


def declared_roles(view: Callable[..., Any], method: str) -> frozenset[str] | None:
    """The roles ``view`` serves for ``method``; None when it declares none (so: denied)."""
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        handler = getattr(view_class, method.lower(), None)
        if handler is None and method == "HEAD":
            handler = getattr(view_class, "get", None)
        return getattr(handler, ROLES_ATTR, None) if handler is not None else None
    return getattr(view, ROLES_ATTR, None)


def is_public(view: Callable[..., Any]) -> bool:
    """Whether ``view`` is open without a token."""
    return bool(getattr(view, PUBLIC_ATTR, False))


def signing_key(settings: Settings) -> tuple[str, str]:
    """The ``(kid, secret)`` that signs new tokens."""
    keys: JwtKeys = settings.auth_jwt_keys
    if not keys:
        raise ConfigError("AUTH_JWT_KEYS è vuoto: nessuna chiave per firmare i token")
    kid = settings.auth_jwt_signing_kid
    if kid == "-":
        kid = next(iter(keys))
    if kid not in keys:
        raise ConfigError(f"AUTH_JWT_SIGNING_KID={kid!r} non valido: non è in AUTH_JWT_KEYS")
    return kid, keys[kid]


def mint(
    settings: Settings, principal: Principal, *, ttl_s: int | None = None, now: float | None = None
) -> str:
    """A signed access token for ``principal``, valid ``ttl_s`` seconds (default: the setting)."""
    if principal.role not in ROLES:
        raise ValueError(f"ruolo sconosciuto: {principal.role}")
    if principal.path and not PATH_NAME.fullmatch(principal.path):
        raise ValueError(f"nome di percorso non valido: {principal.path!r}")
    kid, secret = signing_key(settings)
    issued = int(now if now is not None else time.time())
    claims = {
        **principal.to_claims(),
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": issued,
        "exp": issued + (ttl_s if ttl_s is not None else settings.auth_token_ttl_s),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": kid})


def verify(keys: Mapping[str, str], token: str) -> Principal:
    """The principal of a valid token; AuthError (Italian message) for anything else."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise AuthError("Token non valido.") from None
    # Only HS256 with a known key id: no "alg: none", no algorithm confusion.
    if header.get("alg") != ALGORITHM:
        raise AuthError("Token non valido: algoritmo non ammesso.")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keys:
        raise AuthError("Token non valido: chiave sconosciuta o ritirata.")
    try:
        claims = jwt.decode(
            token,
            keys[kid],
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("Token scaduto: accedi di nuovo.") from None
    except jwt.PyJWTError:
        raise AuthError("Token non valido.") from None
    return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    def strings(name: str) -> tuple[str, ...]:
        value = claims.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise AuthError("Token non valido: ambito malformato.")
        return tuple(value)

    role, sub = claims.get("role"), claims.get("sub")
    if role not in ROLES or not isinstance(sub, str) or not sub:
        raise AuthError("Token non valido: ruolo o utente mancante.")
    path = claims.get("path") or ""
    if path and not (isinstance(path, str) and PATH_NAME.fullmatch(path)):
        raise AuthError("Token non valido: nome di percorso malformato.")
    name = claims.get("name")
    return Principal(
        sub=sub,
        role=role,
        name=name if isinstance(name, str) and name else sub,
        counters=strings("counters"),
        path=path,
        buildings=strings("buildings"),
    )


def bearer(header: str | None) -> str:
    """The token in an ``Authorization: Bearer <token>`` header; AuthError when there is none."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Autenticazione richiesta: manca il token (Authorization: Bearer …).")
    return token.strip()


def _path_name(raw: str) -> str:
    if raw and not PATH_NAME.fullmatch(raw):
        raise argparse.ArgumentTypeError(
            f"nome di percorso non valido: {raw!r} (minuscole, cifre e '_', 2-41 caratteri)"
        )
    return raw


def _csv(raw: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (raw or "").split(",") if v.strip())


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """``mint``: print a demo token (only with ``AUTH_DEMO_TOKENS=1``; local use only)."""
    parser = argparse.ArgumentParser(prog="python -m shared.auth", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("mint", help="stampa un token dimostrativo")
    cmd.add_argument("--role", required=True, choices=ROLES)
    cmd.add_argument("--sub", required=True)
    cmd.add_argument("--name", default="")
    cmd.add_argument("--counters", default="", help="id degli sportelli, separati da virgole")
    cmd.add_argument(
        "--path", default="", type=_path_name, help="percorso (welfare, casa, amat o configurato)"
    )
    cmd.add_argument("--buildings", default="", help="id degli edifici, separati da virgole")
    cmd.add_argument("--ttl", type=int, default=None, help="durata in secondi")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env("intake", environ)
        if not settings.auth_demo_tokens:
            print(
                "Token dimostrativi disattivati: imposta AUTH_DEMO_TOKENS=1 (solo in locale).",
                file=sys.stderr,
            )
            return 2
        principal = Principal(
            sub=args.sub,
            role=args.role,
            name=args.name,
            counters=_csv(args.counters),
            path=args.path,
            buildings=_csv(args.buildings),
        )
        print(mint(settings, principal, ttl_s=args.ttl))
    except ConfigError as exc:
        print(f"Configurazione non valida: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
