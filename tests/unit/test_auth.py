"""Access tokens: signing, verification, key rotation, and the demo-token command."""

from __future__ import annotations

import time

import jwt
import pytest

from shared import auth
from shared.auth import AuthError, Principal
from shared.config import ConfigError, Settings

OLD = "old:" + "o" * 40
NEW = "new:" + "n" * 40


def settings(**env: str) -> Settings:
    return Settings.from_env("intake", env)


def keys(raw: str) -> dict[str, str]:
    return settings(AUTH_JWT_KEYS=raw).auth_jwt_keys


OPERATOR = Principal(sub="op.rossi", role="operator", counters=("cnt_1",))


def test_a_token_carries_who_the_role_and_the_scope() -> None:
    token = auth.mint(settings(AUTH_JWT_KEYS=OLD), OPERATOR)
    who = auth.verify(keys(OLD), token)
    assert who == Principal(sub="op.rossi", role="operator", name="op.rossi", counters=("cnt_1",))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == claims["aud"] == "sportello"
    assert claims["exp"] - claims["iat"] == 900
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "kid": "old", "typ": "JWT"}


def test_rotation_old_tokens_stay_valid_while_their_key_is_listed_then_are_refused() -> None:
    before = auth.mint(settings(AUTH_JWT_KEYS=OLD), OPERATOR)
    # Step 1: add the new key and sign with it; the old key still verifies.
    both = settings(AUTH_JWT_KEYS=f"{OLD},{NEW}", AUTH_JWT_SIGNING_KID="new")
    after = auth.mint(both, OPERATOR)
    assert jwt.get_unverified_header(after)["kid"] == "new"
    assert auth.verify(both.auth_jwt_keys, before).sub == "op.rossi"
    assert auth.verify(both.auth_jwt_keys, after).sub == "op.rossi"
    # Step 2, after the token lifetime: drop the old key; its tokens are refused, new ones pass.
    with pytest.raises(AuthError, match="chiave sconosciuta"):
        auth.verify(keys(NEW), before)
    assert auth.verify(keys(NEW), after).sub == "op.rossi"


def test_an_unknown_kid_a_wrong_secret_and_garbage_are_refused() -> None:
    token = auth.mint(settings(AUTH_JWT_KEYS=NEW), OPERATOR)
    with pytest.raises(AuthError, match="chiave sconosciuta"):
        auth.verify(keys(OLD), token)
    forged = auth.mint(settings(AUTH_JWT_KEYS="new:" + "x" * 40), OPERATOR)
    with pytest.raises(AuthError, match="non valido"):
        auth.verify(keys(NEW), forged)
    with pytest.raises(AuthError):
        auth.verify(keys(NEW), "not.a.token")


def test_alg_none_and_other_algorithms_are_refused() -> None:
    claims = {**OPERATOR.to_claims(), "iss": "sportello", "aud": "sportello", "iat": 0,
              "exp": int(time.time()) + 60}  # fmt: skip
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "new"})
    with pytest.raises(AuthError, match="algoritmo"):
        auth.verify(keys(NEW), unsigned)
    hs512 = jwt.encode(claims, "n" * 64, algorithm="HS512", headers={"kid": "new"})
    with pytest.raises(AuthError, match="algoritmo"):
        auth.verify(keys(NEW), hs512)


def test_expiry_allows_thirty_seconds_of_clock_skew_and_no_more() -> None:
    s = settings(AUTH_JWT_KEYS=NEW)
    now = time.time()
    just_expired = auth.mint(s, OPERATOR, ttl_s=60, now=now - 60 - 20)
    assert auth.verify(s.auth_jwt_keys, just_expired).sub == "op.rossi"
    expired = auth.mint(s, OPERATOR, ttl_s=60, now=now - 60 - 40)
    with pytest.raises(AuthError, match="scaduto"):
        auth.verify(s.auth_jwt_keys, expired)


def test_wrong_audience_issuer_role_or_path_is_refused() -> None:
    base = {**OPERATOR.to_claims(), "iss": "sportello", "aud": "sportello",
            "iat": int(time.time()), "exp": int(time.time()) + 60}  # fmt: skip
    bad_paths = ("Banca", "a", "x" * 42, 7, "acqua-milano", "acqua\n", ["amat"])
    malformed_paths = [{"path": p} for p in bad_paths]
    for change in ({"aud": "altro"}, {"iss": "altro"}, {"role": "root"}, *malformed_paths):
        token = jwt.encode({**base, **change}, "n" * 40, algorithm="HS256", headers={"kid": "new"})
        with pytest.raises(AuthError):
            auth.verify(keys(NEW), token)


@pytest.mark.parametrize("path", ["welfare", "amat", "acqua", "sociale_quartiere", "a2a"])
def test_a_path_added_by_configuration_signs_in_like_a_built_in_one(path: str) -> None:
    # casework's CASEWORK_PATHS_FILE adds paths: their caseworkers' tokens must verify.
    who = Principal(sub=f"{path}.rossi", role="path_caseworker", path=path)
    token = auth.mint(settings(AUTH_JWT_KEYS=NEW), who)
    assert auth.verify(keys(NEW), token).path == path


def test_a_malformed_path_is_not_minted(capsys) -> None:
    with pytest.raises(ValueError, match="percorso"):
        bad = Principal(sub="x", role="path_caseworker", path="A!")
        auth.mint(settings(AUTH_JWT_KEYS=NEW), bad)
    env = {"AUTH_JWT_KEYS": NEW, "AUTH_DEMO_TOKENS": "1"}
    argv = ["mint", "--role", "path_caseworker", "--sub", "demo-acqua", "--path"]
    assert auth.main([*argv, "acqua"], env) == 0
    assert auth.verify(keys(NEW), capsys.readouterr().out.strip()).path == "acqua"
    with pytest.raises(SystemExit):
        auth.main([*argv, "Acqua!"], env)
    assert "nome di percorso non valido" in capsys.readouterr().err


def test_the_bearer_header_is_required() -> None:
    assert auth.bearer("Bearer abc") == "abc"
    for header in (None, "", "Basic abc", "Bearer ", "abc"):
        with pytest.raises(AuthError, match="Autenticazione richiesta"):
            auth.bearer(header)


@pytest.mark.parametrize(
    ("raw", "message"),
    [("k1", "kid:segreto"), ("k1:short", "32 caratteri"), (f"{OLD},{OLD}", "ripetuto")],
)
def test_bad_keys_stop_the_process_naming_the_variable(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"AUTH_JWT_KEYS.*{message}"):
        settings(AUTH_JWT_KEYS=raw)


def test_the_signing_kid_must_be_a_listed_key() -> None:
    with pytest.raises(ConfigError, match="AUTH_JWT_SIGNING_KID"):
        settings(AUTH_JWT_KEYS=OLD, AUTH_JWT_SIGNING_KID="new")


def test_secrets_never_show_in_a_repr() -> None:
    s = settings(AUTH_JWT_KEYS=f"{OLD},{NEW}")
    assert "o" * 40 not in repr(s) and "n" * 40 not in repr(s)
    assert "old" in repr(s.auth_jwt_keys)


def test_every_route_must_declare_known_roles() -> None:
    with pytest.raises(ValueError):
        auth.allow("superuser")
    with pytest.raises(ValueError):
        auth.allow()


def test_demo_tokens_are_refused_unless_enabled(capsys) -> None:
    argv = ["mint", "--role", "operator", "--sub", "demo-operatore", "--counters", "c1,c2"]
    assert auth.main(argv, {"AUTH_JWT_KEYS": NEW}) == 2
    assert "AUTH_DEMO_TOKENS=1" in capsys.readouterr().err
    assert auth.main(argv, {"AUTH_JWT_KEYS": NEW, "AUTH_DEMO_TOKENS": "1"}) == 0
    token = capsys.readouterr().out.strip()
    who = auth.verify(keys(NEW), token)
    assert (who.sub, who.role, who.counters) == ("demo-operatore", "operator", ("c1", "c2"))
    # Enabled but without keys: an Italian message, no traceback.
    assert auth.main(argv, {"AUTH_DEMO_TOKENS": "1"}) == 2
    assert "AUTH_JWT_KEYS" in capsys.readouterr().err
