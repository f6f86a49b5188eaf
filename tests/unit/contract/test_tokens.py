from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

from kirin_api.contract.tokens import (
    LEEWAY_SECONDS,
    MAX_TOKEN_LENGTH,
    TokenError,
    TokenProblem,
    check_token,
    looks_like_jwt,
    read_token,
)

ACCESS_KEY = "ak_0123456789abcdef0123456789abcdef"
SECRET_KEY = "sk_the-secret-key-of-this-pair-0123456789"
OTHER_SECRET_KEY = "sk_another-secret-key-of-another-pair-0123"
NOW = 1_763_700_000.0


def kling_token(
    claims: dict[str, Any] | None = None,
    secret: str = SECRET_KEY,
    now: float = NOW,
    algorithm: str = "HS256",
) -> str:
    """A token exactly as Kling's clients sign one (30 minutes, nbf 5 s back)."""
    payload = {"iss": ACCESS_KEY, "exp": int(now) + 1800, "nbf": int(now) - 5}
    if claims is not None:
        payload = claims
    return jwt.encode(payload, secret, headers={"alg": algorithm, "typ": "JWT"})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def part(value: object) -> str:
    return b64(json.dumps(value).encode("utf-8"))


HS256_HEADER = part({"alg": "HS256", "typ": "JWT"})


def assert_problem(token: str, problem: TokenProblem, now: float = NOW) -> None:
    with pytest.raises(TokenError) as refused:
        check_token(read_token(token), SECRET_KEY, now)
    assert refused.value.problem is problem


def assert_malformed(token: str) -> None:
    with pytest.raises(TokenError) as refused:
        read_token(token)
    assert refused.value.problem is TokenProblem.MALFORMED


# --- accepted ------------------------------------------------------------------------------


def test_a_token_signed_like_a_kling_client_is_read_and_accepted() -> None:
    token = read_token(kling_token())
    assert token.issuer == ACCESS_KEY
    assert token.claims["exp"] == int(NOW) + 1800
    check_token(token, SECRET_KEY, NOW)


def test_the_header_pyjwt_writes_is_hs256_jwt() -> None:
    header = jwt.get_unverified_header(kling_token())
    assert header == {"alg": "HS256", "typ": "JWT"}


# --- signature -------------------------------------------------------------------------------


def test_a_token_signed_with_another_secret_is_a_signature_problem() -> None:
    assert_problem(kling_token(secret=OTHER_SECRET_KEY), TokenProblem.SIGNATURE)


def test_claims_re_encoded_with_another_issuer_keep_no_valid_signature() -> None:
    header, _, signature = kling_token().split(".")
    forged = part({"iss": "ak_someone_else", "exp": int(NOW) + 1800, "nbf": int(NOW) - 5})
    token = read_token(f"{header}.{forged}.{signature}")
    assert token.issuer == "ak_someone_else"
    with pytest.raises(TokenError) as refused:
        check_token(token, SECRET_KEY, NOW)
    assert refused.value.problem is TokenProblem.SIGNATURE


# --- times -----------------------------------------------------------------------------------


def test_a_token_expired_beyond_the_leeway_is_expired() -> None:
    token = kling_token({"iss": ACCESS_KEY, "exp": NOW - LEEWAY_SECONDS - 1})
    assert_problem(token, TokenProblem.EXPIRED)


def test_a_token_expired_within_the_leeway_is_accepted() -> None:
    token = kling_token({"iss": ACCESS_KEY, "exp": NOW - LEEWAY_SECONDS + 1})
    check_token(read_token(token), SECRET_KEY, NOW)


def test_a_token_whose_nbf_is_beyond_the_leeway_is_not_yet_valid() -> None:
    token = kling_token({"iss": ACCESS_KEY, "exp": NOW + 1800, "nbf": NOW + LEEWAY_SECONDS + 1})
    assert_problem(token, TokenProblem.NOT_YET_VALID)


def test_a_token_whose_nbf_is_within_the_leeway_is_accepted() -> None:
    token = kling_token({"iss": ACCESS_KEY, "exp": NOW + 1800, "nbf": NOW + LEEWAY_SECONDS - 1})
    check_token(read_token(token), SECRET_KEY, NOW)


def test_a_token_without_exp_is_read_but_malformed_at_check_time() -> None:
    token = read_token(kling_token({"iss": ACCESS_KEY, "nbf": NOW - 5}))
    with pytest.raises(TokenError) as refused:
        check_token(token, SECRET_KEY, NOW)
    assert refused.value.problem is TokenProblem.MALFORMED


# --- algorithms ------------------------------------------------------------------------------


def test_alg_none_is_malformed() -> None:
    claims = part({"iss": ACCESS_KEY, "exp": NOW + 1800})
    assert_malformed(f"{part({'alg': 'none', 'typ': 'JWT'})}.{claims}.")


def test_hs512_is_malformed() -> None:
    token = kling_token(secret=SECRET_KEY * 2, algorithm="HS512")
    assert jwt.get_unverified_header(token)["alg"] == "HS512"
    assert_malformed(token)


def test_an_rs256_header_is_malformed() -> None:
    claims = part({"iss": ACCESS_KEY, "exp": NOW + 1800})
    assert_malformed(f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{claims}.{b64(b'x' * 256)}")


# --- shape -----------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", "eyJ.eyJ"])
def test_a_token_not_of_three_parts_is_malformed(token: str) -> None:
    assert_malformed(token)


@pytest.mark.parametrize("claims", ["abcde", "!!!*", "a"])
def test_parts_that_are_not_base64url_are_malformed(claims: str) -> None:
    assert_malformed(f"{HS256_HEADER}.{claims}.{b64(b'sig')}")


def test_parts_that_are_not_json_are_malformed() -> None:
    assert_malformed(f"{HS256_HEADER}.{b64(b'not json')}.{b64(b'sig')}")


def test_claims_that_are_not_an_object_are_malformed() -> None:
    assert_malformed(f"{HS256_HEADER}.{part([ACCESS_KEY])}.{b64(b'sig')}")


def test_a_header_that_is_not_an_object_is_malformed() -> None:
    assert_malformed(f"{part('HS256')}.{part({'iss': ACCESS_KEY})}.{b64(b'sig')}")


def test_a_token_without_iss_is_malformed() -> None:
    assert_malformed(kling_token({"exp": NOW + 1800, "nbf": NOW - 5}))


def test_an_empty_iss_is_malformed() -> None:
    assert_malformed(kling_token({"iss": "", "exp": NOW + 1800}))


def test_a_non_numeric_exp_is_malformed() -> None:
    assert_malformed(kling_token({"iss": ACCESS_KEY, "exp": str(int(NOW) + 1800)}))


def test_a_boolean_exp_is_malformed() -> None:
    claims = part({"iss": ACCESS_KEY, "exp": True})
    assert_malformed(f"{HS256_HEADER}.{claims}.{b64(b'sig')}")


def test_a_non_numeric_nbf_is_malformed() -> None:
    assert_malformed(kling_token({"iss": ACCESS_KEY, "exp": NOW + 1800, "nbf": "now"}))


@pytest.mark.parametrize("exp", [float("nan"), float("inf")])
def test_a_non_finite_exp_is_malformed(exp: float) -> None:
    assert_malformed(kling_token({"iss": ACCESS_KEY, "exp": exp}))


def test_an_overlong_token_is_malformed() -> None:
    token = kling_token({"iss": ACCESS_KEY, "exp": NOW + 1800, "pad": "x" * MAX_TOKEN_LENGTH})
    assert len(token) > MAX_TOKEN_LENGTH
    assert_malformed(token)


def test_a_token_error_carries_its_message() -> None:
    with pytest.raises(TokenError) as refused:
        read_token("abc")
    assert refused.value.message
    assert str(refused.value) == refused.value.message


# --- looks_like_jwt --------------------------------------------------------------------------


def test_a_kling_token_looks_like_a_jwt() -> None:
    assert looks_like_jwt(kling_token())


@pytest.mark.parametrize(
    "token", ["kirin_sk_0123456789abcdef", "eyJabc.def", "abc.def.ghi", "eyJ.a.b.c"]
)
def test_other_strings_do_not_look_like_a_jwt(token: str) -> None:
    assert not looks_like_jwt(token)
