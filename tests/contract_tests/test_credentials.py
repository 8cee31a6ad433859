"""Unit tests of the suite's credentials: which source wins, JWT claims, renewal, and what is secret."""

from __future__ import annotations

import jwt
import pytest

from contract_tests.credentials import RENEW_BEFORE_S, TOKEN_LIFETIME_S, Credentials, CredentialsMissing
from mock_server.core.callers import token_digest
from mock_server.validation import BearerAuth

AK, SK = "ak-test-access", "sk-test-secret-0123456789-0123456789"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_key_pair_signs_hs256_jwts_kling_accepts() -> None:
    clock = Clock(1_800_000_000.0)
    credentials = Credentials(access_key=AK, secret_key=SK, clock=clock)
    token = credentials.token()
    claims = jwt.decode(token, SK, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False})
    assert claims["iss"] == AK
    assert claims["nbf"] <= clock.now < claims["exp"] == clock.now + TOKEN_LIFETIME_S
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_the_mock_accepts_them_and_the_access_key_owns_the_tasks() -> None:
    credentials = Credentials(access_key=AK, secret_key=SK)
    auth = BearerAuth(key_pairs={AK: SK})
    assert auth.authenticate(f"Bearer {credentials.token()}") == token_digest(AK)


def test_a_token_is_kept_then_renewed_before_it_expires() -> None:
    clock = Clock(1_800_000_000.0)
    credentials = Credentials(access_key=AK, secret_key=SK, clock=clock)
    first = credentials.token()
    clock.now += TOKEN_LIFETIME_S - RENEW_BEFORE_S - 1
    assert credentials.token() == first
    clock.now += 2
    renewed = credentials.token()
    assert renewed != first
    # Both were issued, so both are blanked from every output.
    assert {first, renewed} <= set(credentials.placeholders())


def test_a_static_key_is_sent_as_is() -> None:
    assert Credentials(api_key="static-key").token() == "static-key"


def test_the_environment_prefers_the_key_pair() -> None:
    env = {"KLING_API_KEY": "static", "KLING_ACCESS_KEY": AK, "KLING_SECRET_KEY": SK, "KLING_API_KEY_2": "second"}
    credentials = Credentials.from_env(env)
    assert (credentials.access_key, credentials.api_key, credentials.second_api_key) == (AK, "", "second")
    assert AK not in credentials.kind and SK not in credentials.kind


@pytest.mark.parametrize(
    "env", [{}, {"KLING_ACCESS_KEY": AK}, {"KLING_SECRET_KEY": SK}], ids=["nothing", "no-secret", "no-access-key"]
)
def test_missing_credentials_name_the_variables_not_the_values(env: dict[str, str]) -> None:
    with pytest.raises(CredentialsMissing) as caught:
        Credentials.from_env(env)
    assert "KLING_" in str(caught.value)
    assert AK not in str(caught.value) and SK not in str(caught.value)


def test_placeholders_cover_every_secret_with_its_variable() -> None:
    credentials = Credentials(access_key=AK, secret_key=SK, second_api_key="second-key")
    token = credentials.token()
    assert credentials.placeholders() == {
        AK: "$KLING_ACCESS_KEY",
        SK: "$KLING_SECRET_KEY",
        "second-key": "$KLING_API_KEY_2",
        token: "$KLING_TOKEN",
    }
