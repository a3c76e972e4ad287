"""Issue 15, timing of API-key checks: an unknown key id and a known id with a wrong secret are told apart neither by
the answer nor by the work done.

The answer: status, code, body and every header but the date and the request id are byte-identical (and the same
for a revoked key). The work: proven structurally, not by a stopwatch. ``keys.agencies.authenticate`` is wrapped
with counting wrappers around the real functions (the secret's hash, the constant-time compare, the database
lookup); both failures run each exactly once, the compare over inputs of the same length (``compare_digest`` costs
what its length costs). A statistical timing test on a shared 2-core machine would be either flaky or blind, so
there is none. Staff sign-in has the same property for an unknown username against a wrong password (one Argon2
verify each, the unknown name against a dummy hash).
"""

from __future__ import annotations

import hmac
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from keys import agencies as ag
from keys import staff as staff_module
from keys.errors import Unauthenticated
from keys.staff import SignInFailed, check_password
from tests.security._hostile import STAFF_PASSWORD, World, build_world

pytestmark = pytest.mark.attack

#: Headers that differ between any two answers (the time, the request's own id).
PER_REQUEST = {"date", "x-request-id"}
ROUTE = ("POST", "/v1/citizens")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with build_world(tmp_path_factory.mktemp("timing"), chain=False) as w:
        yield w


def _answer(r: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = sorted((k.lower(), v) for k, v in r.headers.items() if k.lower() not in PER_REQUEST)
    return r.status_code, r.content, headers


def _wrong_secret(key: str) -> str:
    prefix, key_id, secret = key.split("_", 2)
    other = secrets.token_urlsafe(32)
    assert other != secret and len(other) == len(secret)
    return f"{prefix}_{key_id}_{other}"


def _unknown_id(key: str) -> str:
    prefix, key_id, secret = key.split("_", 2)
    other = secrets.token_hex(8)
    assert other != key_id
    return f"{prefix}_{other}_{secret}"


def _post(w: World, key: str) -> httpx.Response:
    r: httpx.Response = w.client.post(ROUTE[1], json={}, headers={"Authorization": f"Bearer {key}"})
    return r


class Calls:
    """Counting wrappers around the real functions ``authenticate`` uses (the behaviour is untouched)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count: Counter[str] = Counter()
        self.compared_lengths: list[tuple[int, int]] = []
        real_hash, real_get = ag._hash, Session.get

        def counted_hash(secret: str) -> str:
            self.count["hash"] += 1
            return real_hash(secret)

        def counted_compare(a: Any, b: Any) -> bool:
            self.count["compare"] += 1
            self.compared_lengths.append((len(a), len(b)))
            return hmac.compare_digest(a, b)

        def counted_get(session: Session, entity: Any, ident: Any, **kwargs: Any) -> Any:
            self.count[f"get:{getattr(entity, '__tablename__', entity)}"] += 1
            return real_get(session, entity, ident, **kwargs)

        monkeypatch.setattr(ag, "_hash", counted_hash)
        monkeypatch.setattr(ag, "hmac", SimpleNamespace(compare_digest=counted_compare))
        monkeypatch.setattr(Session, "get", counted_get)

    def during(self, call: Callable[[], Any]) -> tuple[Counter[str], list[tuple[int, int]]]:
        self.count.clear()
        self.compared_lengths.clear()
        call()
        return Counter(self.count), list(self.compared_lengths)


def test_unknown_key_id_and_wrong_secret_get_byte_identical_answers(world: World) -> None:
    key = world.keys["ca-hcm"]
    revoked = world.key_for("revoked", "ca-hcm", ["identity:issue"], revoke=True)
    answers = [_answer(_post(world, k)) for k in (_unknown_id(key), _wrong_secret(key), _wrong_secret(key))]
    answers.append(_answer(_post(world, _wrong_secret(revoked))))
    answers.append(_answer(_post(world, revoked)))
    assert answers[0][0] == 401 and b'"UNAUTHENTICATED"' in answers[0][1], answers[0]
    assert all(a == answers[0] for a in answers), answers
    assert _post(world, key).status_code not in (401, 403)  # the control: the real key gets in


def test_unknown_key_id_costs_the_same_hash_and_compare_as_a_wrong_secret(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = Calls(monkeypatch)
    key = world.keys["ca-hcm"]
    unknown, unknown_lengths = calls.during(lambda: _post(world, _unknown_id(key)))
    wrong, wrong_lengths = calls.during(lambda: _post(world, _wrong_secret(key)))
    right, _ = calls.during(lambda: _post(world, key))
    assert unknown["hash"] == wrong["hash"] == 1, (unknown, wrong)
    assert unknown["compare"] == wrong["compare"] == 1, (unknown, wrong)
    assert unknown["get:keys_api_keys"] == wrong["get:keys_api_keys"] == 1, (unknown, wrong)
    assert unknown_lengths == wrong_lengths == [(64, 64)]  # the dummy digest is as long as a real one
    assert unknown == wrong  # the same calls, the same number of times, down to the database lookups
    assert right["hash"] == 1 and right["get:keys_agencies"] == 1  # the wrappers see the success path too


def test_unknown_key_id_and_wrong_secret_are_the_same_failure_in_authenticate(world: World) -> None:
    key = world.keys["ca-hcm"]
    messages = set()
    with Session(world.engine) as session:
        for candidate in (_unknown_id(key), _wrong_secret(key)):
            with pytest.raises(Unauthenticated) as info:
                ag.authenticate(session, candidate)
            messages.add((info.value.code, info.value.message, info.value.http_status))
    assert len(messages) == 1, messages


def test_unknown_username_costs_the_same_password_verify_as_a_wrong_password(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []
    real = staff_module._HASHER

    class CountingHasher:  # the real hasher (its attributes are read-only), each verify counted
        def verify(self, hash_: str, password: str) -> bool:
            verified.append(hash_.split("$")[3] if hash_.count("$") >= 4 else hash_)  # the Argon2 parameters
            return bool(real.verify(hash_, password))

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    monkeypatch.setattr(staff_module, "_HASHER", CountingHasher())
    outcomes = []
    with Session(world.engine) as session:
        for username, password in (("nobody.here", STAFF_PASSWORD), ("clerk.ubnd", STAFF_PASSWORD + "x"), ("", "")):
            verified.clear()
            with pytest.raises(SignInFailed) as info:
                check_password(session, username, password)
            outcomes.append((info.value.code, info.value.message, list(verified)))
        verified.clear()
        assert check_password(session, "clerk.ubnd", STAFF_PASSWORD).username == "clerk.ubnd"  # the control
        assert len(verified) == 1
    first = outcomes[0]
    assert len(first[2]) == 1, outcomes  # exactly one verify, at the same Argon2 parameters, whoever is asked
    assert all(o == first for o in outcomes), outcomes
