"""The shared vectors: every binding gives exactly these answers."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

import pytest

from whatsgate_auth import (
    AuthError,
    InsufficientScope,
    InvalidToken,
    Keyring,
    MissingToken,
    Principal,
    TokenRecord,
)

from conftest import case_headers, case_keyring, case_principal


def vector_record(vector: dict[str, Any], name: str = "vector") -> TokenRecord:
    return TokenRecord.from_dict(
        {
            "format": 1,
            "id": vector["id"],
            "account": "acct_vectors",
            "name": name,
            "verifier": vector["verifier"],
            "created_at": 1_700_000_000,
            "last_used_at": None,
        }
    )


def test_vectors_are_present(token_vectors: dict[str, Any], header_cases: dict[str, Any]) -> None:
    assert len(token_vectors["valid"]) >= 1
    assert len(token_vectors["invalid"]) >= 1
    assert len(header_cases["cases"]) >= 1


def test_verifier_is_sha256_of_tag_id_secret(token_vectors: dict[str, Any]) -> None:
    tag = token_vectors["verifier_tag"].encode("ascii")
    for v in token_vectors["valid"]:
        digest = hashlib.sha256(tag + bytes.fromhex(v["id"]) + bytes.fromhex(v["secret"])).hexdigest()
        assert digest == v["verifier"]


def test_valid_tokens_verify(token_vectors: dict[str, Any]) -> None:
    keyring = Keyring()
    for i, v in enumerate(token_vectors["valid"]):
        keyring.add(vector_record(v, f"vector {i}"))
    for v in token_vectors["valid"]:
        principal = keyring.verify(v["token"])
        assert principal.token_id == v["id"]
        assert principal.account == "acct_vectors"
        assert keyring.verify(v["token"].encode("ascii")).token_id == v["id"]
        assert keyring.verify_access_token(v["token"]).token_id == v["id"]
        assert keyring.verify_authorization("Bearer " + v["token"]).token_id == v["id"]


def test_invalid_tokens_are_refused(token_vectors: dict[str, Any]) -> None:
    keyring = Keyring([vector_record(v, f"vector {i}") for i, v in enumerate(token_vectors["valid"])])
    # Positive control: the keyring does accept the token the invalid ones are made from.
    assert keyring.verify(token_vectors["valid"][0]["token"]).token_id == token_vectors["valid"][0]["id"]
    for v in token_vectors["invalid"]:
        token: str = v["token"]
        with pytest.raises(InvalidToken) as caught:
            keyring.verify(token)
        assert caught.value.status_code == 403, v["why"]
        assert caught.value.body == b'{"message": "invalid Access-Token"}'
        with pytest.raises(InvalidToken):
            keyring.verify(token.encode("utf-8"))
        # As a header value: trimmed, and empty means missing.
        if token.strip(" \t"):
            if token != token.strip(" \t") and keyring_accepts(keyring, token.strip(" \t")):
                assert keyring.verify_access_token(token).token_id == token_vectors["valid"][0]["id"]
            else:
                with pytest.raises(InvalidToken):
                    keyring.verify_access_token(token)
        else:
            with pytest.raises(MissingToken):
                keyring.verify_access_token(token)


def keyring_accepts(keyring: Keyring, token: str) -> bool:
    try:
        keyring.verify(token)
    except InvalidToken:
        return False
    return True


def test_header_cases_through_authenticate(header_cases: dict[str, Any]) -> None:
    keyring = case_keyring(header_cases)
    now = int(header_cases["now"])
    for case in header_cases["cases"]:
        need = case.get("required_scope")
        check_case(
            case, lambda: keyring.authenticate(case_headers(case), case["profile"], required_scope=need, now=now)
        )
        # Header names and values given as str (latin-1, as WSGI holds them) answer alike.
        as_str = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in case_headers(case)]
        check_case(case, lambda: keyring.authenticate(as_str, case["profile"], required_scope=need, now=now))
        as_lists = [[n, v] for n, v in case_headers(case)]
        check_case(case, lambda: keyring.authenticate(as_lists, case["profile"], required_scope=need, now=now))  # type: ignore[arg-type]
        if case.get("lone_surrogates"):
            # The corpus's rule: the str with lone surrogates answers as its bytes.
            text = [(n.decode("latin-1"), v.decode("utf-8", "surrogatepass")) for n, v in case_headers(case)]
            assert any(not v.isascii() for _, v in text)
            check_case(case, lambda: keyring.authenticate(text, case["profile"], required_scope=need, now=now))


def test_the_corpus_has_every_verdict_of_records_v2(header_cases: dict[str, Any]) -> None:
    """The runners above meet each new verdict (a corpus without them would let them pass untested)."""
    cases = header_cases["cases"]
    assert {c["expect"] for c in cases} == {"ok", "missing", "invalid", "insufficient_scope"}
    assert {c["profile"] for c in cases if c["expect"] == "insufficient_scope"} == {"rest", "mcp"}
    assert any(c["expect"] == "ok" and c.get("required_scope") for c in cases)
    assert any("scopes" in c.get("principal", {}) for c in cases if c["expect"] == "ok")
    formats = {r["format"] for r in header_cases["records"]}
    assert formats == {1, 2}
    assert any(r.get("disabled") for r in header_cases["records"])
    assert any("expires_at" in r for r in header_cases["records"])


def test_lone_surrogate_cases_are_in_the_corpus(header_cases: dict[str, Any]) -> None:
    flagged = [c for c in header_cases["cases"] if c.get("lone_surrogates")]
    assert {c["profile"] for c in flagged} == {"rest", "mcp"}
    assert all(c["expect"] == "invalid" for c in flagged)


def test_header_cases_through_verify_methods(header_cases: dict[str, Any]) -> None:
    """Cases with at most one header, all of the profile's name: the one-value methods."""
    keyring = case_keyring(header_cases)
    now = int(header_cases["now"])
    token_header = {"rest": b"access-token", "mcp": b"authorization"}
    checked = 0
    for case in header_cases["cases"]:
        headers = case_headers(case)
        if len(headers) > 1 or any(n.lower() != token_header[case["profile"]] for n, _ in headers):
            continue
        value: bytes | None = headers[0][1] if headers else None
        verify = keyring.verify_access_token if case["profile"] == "rest" else keyring.verify_authorization

        def method(value: bytes | str | None, now: int | None = None) -> Principal:
            # The fast path's shapes, then the scope check on the principal.
            principal = verify(value) if now is None else verify(value, now=now)
            if case.get("required_scope"):
                principal.require_scope(case["required_scope"], case["profile"])
            return principal

        check_case(case, lambda: method(value, now=now))
        if value is not None:
            text = value.decode("latin-1")
            check_case(case, lambda: method(text, now=now))
            if case.get("lone_surrogates"):
                surrogates = value.decode("utf-8", "surrogatepass")
                check_case(case, lambda: method(surrogates))  # the fast path's shape
                check_case(case, lambda: method(surrogates, now=now))
        checked += 1
    assert checked >= len(header_cases["cases"]) // 2


def check_case(case: dict[str, Any], run: Any) -> None:
    name = case["name"]
    if case["expect"] == "ok":
        principal = run()
        assert case_principal(principal) == case["principal"], name
        if "required_scope" in case:
            assert principal.has_scope(case["required_scope"]), name
        return
    expected_type = {"missing": MissingToken, "invalid": InvalidToken, "insufficient_scope": InsufficientScope}[
        case["expect"]
    ]
    with pytest.raises(AuthError) as caught:
        run()
    error = caught.value
    assert type(error) is expected_type, name
    if isinstance(error, InsufficientScope):
        assert error.scope == case["required_scope"], name
    assert error.status_code == case["status"], name
    assert error.body == case["body"].encode("utf-8"), name
    challenge = [v for k, v in error.headers if k.lower() == "www-authenticate"]
    assert challenge == ([] if case["www_authenticate"] is None else [case["www_authenticate"]]), name
    assert ("Content-Type", "application/json") in error.headers, name


def at(secs: int) -> datetime:
    return datetime.fromtimestamp(secs, timezone.utc)


def test_records_round_trip_through_to_dict(header_cases: dict[str, Any]) -> None:
    for raw in header_cases["records"]:
        record = TokenRecord.from_dict(raw)
        assert record.to_dict() == raw
        assert record.id == raw["id"]
        assert record.account == raw["account"]
        assert record.name == raw["name"]
        assert record.created_at == at(raw["created_at"])
        assert record.last_used_at == (None if raw["last_used_at"] is None else at(raw["last_used_at"]))
        assert record.rollover_until == (at(raw["rollover"]["until"]) if "rollover" in raw else None)
        assert record.scopes == (None if "scopes" not in raw else tuple(raw["scopes"]))
        assert record.expires_at == (at(raw["expires_at"]) if "expires_at" in raw else None)
        assert record.disabled == raw.get("disabled", False)
        assert record.description == raw.get("description")
        assert record.is_active(now=header_cases["now"]) == (
            not raw.get("disabled", False) and raw.get("expires_at", header_cases["now"] + 1) > header_cases["now"]
        )
