"""Fast unit tests of `mock_server.validation.BearerAuth`: the codes of docs/contract.md (Authentication), no server."""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt
import pytest

from mock_server.core.callers import token_digest
from mock_server.core.errors import BusinessCode, KlingError
from mock_server.validation import BearerAuth


def refusal(auth: BearerAuth, header: str | None) -> KlingError:
    with pytest.raises(KlingError) as caught:
        auth.authenticate(header)
    return caught.value


@pytest.mark.parametrize("header", [None, "", "   ", "\t"], ids=["absent", "empty", "spaces", "tab"])
def test_missing_is_1001(header: str | None) -> None:
    error = refusal(BearerAuth(), header)
    assert error.code == BusinessCode.AUTH_MISSING
    assert error.message.startswith("Authorization:")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Token abc",
        "Basic dXNlcjpwYXNzd29yZA==",
        "abc",
        "Bearer a b",
        "Bearer\tabc",
        "BearerX abc",
    ],
)
def test_malformed_is_1002(header: str) -> None:
    error = refusal(BearerAuth(), header)
    assert error.code == BusinessCode.AUTH_MALFORMED
    assert error.message == "Authorization: must be 'Bearer <token>'"


@pytest.mark.parametrize(
    "header", ["Bearer abc", "bearer abc", "BEARER abc", "  Bearer   abc  ", "Bearer " + "t" * 10_000]
)
def test_any_non_empty_token_is_accepted_by_default(header: str) -> None:
    """The scheme is case-insensitive (RFC 9110), surrounding whitespace is not part of the token."""
    auth = BearerAuth()
    assert not auth.checks_keys
    token = header.strip().split()[-1]
    assert auth.authenticate(header) == token_digest(token)


def test_the_caller_is_known_by_a_digest_not_the_token() -> None:
    auth = BearerAuth()
    first, second = auth.authenticate("Bearer key-one"), auth.authenticate("Bearer key-two")
    assert first != second
    assert "key-one" not in first
    assert auth.authenticate("Bearer key-one") == first


def test_with_keys_only_those_are_accepted() -> None:
    auth = BearerAuth(["key-one", "key-two"])
    assert auth.checks_keys
    assert auth.authenticate("Bearer key-two") == token_digest("key-two")
    error = refusal(auth, "Bearer key-three")
    assert error.code == BusinessCode.AUTH_FAILED
    assert "key-three" not in error.message


def test_with_keys_missing_and_malformed_keep_their_codes() -> None:
    """1001 and 1002 are about the header's shape, checked before the key."""
    auth = BearerAuth(["key-one"])
    assert refusal(auth, None).code == BusinessCode.AUTH_MISSING
    assert refusal(auth, "Token key-one").code == BusinessCode.AUTH_MALFORMED


def test_empty_keys_are_ignored() -> None:
    """An empty configured key must not turn key checking on (nor be a key anyone could send)."""
    assert not BearerAuth([""]).checks_keys
    assert BearerAuth(["", "k"]).checks_keys


@pytest.mark.parametrize("header", ["Token sk-live-secret", "Bearer sk-live-secret extra", "Bearer sk-live-secret"])
def test_messages_never_echo_the_token(header: str) -> None:
    error = refusal(BearerAuth(["another-key"]), header)
    assert "sk-live-secret" not in error.message


# --- Kling's JWTs (docs/contract.md, Authentication: 1000 bad signature or unknown access key, 1003 nbf, 1004 exp) ---

# 64 bytes: long enough for HS512 too, which PyJWT otherwise warns about.
ACCESS_KEY, SECRET_KEY = "ak-unit-test", "sk-unit-test-" + "s" * 51
JWT_AUTH = BearerAuth(["static-key"], {ACCESS_KEY: SECRET_KEY})


def signed(secret: str = SECRET_KEY, algorithm: str = "HS256", **claims: object) -> str:
    now = int(time.time())
    payload = {"iss": ACCESS_KEY, "exp": now + 1800, "nbf": now - 5, **claims}
    return jwt.encode({key: value for key, value in payload.items() if value is not None}, secret, algorithm=algorithm)


def test_a_valid_jwt_is_its_access_keys_caller() -> None:
    assert JWT_AUTH.authenticate(f"Bearer {signed()}") == token_digest(ACCESS_KEY)
    # Every token of the same access key is the same caller: tasks belong to the access key.
    assert JWT_AUTH.authenticate(f"Bearer {signed(exp=int(time.time()) + 60)}") == token_digest(ACCESS_KEY)


def test_static_keys_still_work_beside_key_pairs() -> None:
    assert JWT_AUTH.authenticate("Bearer static-key") == token_digest("static-key")


@pytest.mark.parametrize(
    ("token", "code", "rule"),
    [
        (lambda: signed(exp=int(time.time()) - 1), BusinessCode.TOKEN_EXPIRED, "auth-expired"),
        (lambda: signed(nbf=int(time.time()) + 60), BusinessCode.TOKEN_NOT_YET_VALID, "auth-not-yet-valid"),
        (lambda: signed(secret="another-secret-of-32-bytes-or-more!"), BusinessCode.AUTH_FAILED, "auth-rejected"),
        (lambda: signed(iss="unknown-access-key"), BusinessCode.AUTH_FAILED, "auth-rejected"),
        (lambda: signed(exp=None), BusinessCode.AUTH_FAILED, "auth-rejected"),
        (lambda: signed(iss=None), BusinessCode.AUTH_FAILED, "auth-rejected"),
        (lambda: jwt.PyJWS().encode(b'{"iss": 42, "exp": 9999999999}', SECRET_KEY), 1000, "auth-rejected"),
        (lambda: signed(algorithm="HS512"), BusinessCode.AUTH_FAILED, "auth-rejected"),
        (lambda: jwt.encode({"iss": ACCESS_KEY, "exp": 2**40}, None, algorithm="none"), 1000, "auth-rejected"),
        (lambda: "not.a.jwt", BusinessCode.AUTH_FAILED, "auth-rejected"),
        (lambda: "eyJhbGciOiJIUzI1NiJ9.W10.sig", BusinessCode.AUTH_FAILED, "auth-rejected"),
    ],
    ids=[
        "expired",
        "not-yet-valid",
        "wrong-signature",
        "unknown-access-key",
        "no-exp",
        "no-iss",
        "iss-not-a-string",
        "another-algorithm",
        "alg-none",
        "not-a-jwt",
        "payload-not-an-object",
    ],
)
def test_jwt_refusals_carry_the_contracts_codes(token: Callable[[], str], code: int, rule: str) -> None:
    error = refusal(JWT_AUTH, f"Bearer {token()}")
    assert (error.code, error.rule.name, error.path) == (code, rule, "header.Authorization")
    assert error.message.startswith("Authorization: ")
    assert SECRET_KEY not in error.message


def test_a_bad_signature_is_judged_before_the_times() -> None:
    """An expired token with a wrong signature says nothing about its times to whoever forged it."""
    forged = signed(secret="another-secret-of-32-bytes-or-more!", exp=int(time.time()) - 1)
    assert refusal(JWT_AUTH, f"Bearer {forged}").code == BusinessCode.AUTH_FAILED


@pytest.mark.parametrize(
    ("claims", "named"),
    [
        ({"aud": "another-service"}, "aud"),
        ({"aud": ["a", "b"]}, "aud"),
        ({"exp": "tomorrow"}, "the JWT's exp is not an integer"),
        ({"exp": [1]}, "the JWT's exp is not an integer"),
        ({"exp": {"at": 1}}, "the JWT's exp is not an integer"),
        ({"nbf": "yesterday"}, "the JWT's nbf is not an integer"),
        ({"nbf": None, "iat": "now"}, "the JWT's iat is not an integer"),
        # Both broken: PyJWT reads nbf first, and so does the message.
        ({"exp": "later", "nbf": "earlier"}, "the JWT's nbf is not an integer"),
    ],
    ids=["aud", "aud-list", "exp-string", "exp-list", "exp-object", "nbf-string", "iat-string", "both"],
)
def test_a_bad_claim_is_1000_and_named_not_called_a_bad_signature(claims: dict[str, object], named: str) -> None:
    """A signed token with a claim the mock cannot accept: still 1000, but the message says which claim."""
    token = signed(**claims)
    error = refusal(JWT_AUTH, f"Bearer {token}")
    assert (error.code, error.rule.name) == (BusinessCode.AUTH_FAILED, "auth-rejected")
    assert named in error.message
    assert "signature" not in error.message
    assert token not in error.message and SECRET_KEY not in error.message


def test_an_infinite_exp_is_named_not_a_crash() -> None:
    """JSON as Python reads it allows `Infinity`, which no `int()` takes: a 401, not a 500."""
    token = jwt.PyJWS().encode(b'{"iss": "%s", "exp": Infinity}' % ACCESS_KEY.encode(), SECRET_KEY)
    error = refusal(JWT_AUTH, f"Bearer {token}")
    assert error.code == BusinessCode.AUTH_FAILED
    assert "the JWT's exp is not an integer" in error.message


def test_a_numeric_string_exp_is_read_as_pyjwt_reads_it() -> None:
    """PyJWT takes `"1800000000"` for an integer; the mock neither refuses it nor calls it unreadable."""
    token = signed(exp=str(int(time.time()) + 600))
    assert JWT_AUTH.authenticate(f"Bearer {token}") == token_digest(ACCESS_KEY)


def test_a_forged_token_with_a_bad_claim_hears_only_of_its_signature() -> None:
    """The signature is judged first: a forger learns nothing of which claims the mock would refuse."""
    forged = signed(secret="another-secret-of-32-bytes-or-more!", exp="tomorrow", aud="x")
    error = refusal(JWT_AUTH, f"Bearer {forged}")
    assert error.code == BusinessCode.AUTH_FAILED
    assert "signature does not verify" in error.message
    assert "exp" not in error.message.replace("expired", "")
