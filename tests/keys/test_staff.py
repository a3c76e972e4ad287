"""Staff accounts (Argon2id), their server-side sessions and CSRF tokens, and the throttling of failed sign-ins."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import Session

from keys import agencies as ag
from keys import signin_throttle as th
from keys import staff as st
from keys import staff_sessions as ss
from keys.bootstrap import City
from tests.keys.conftest import NOW

PASSWORD = "correct-horse-42"


@pytest.fixture
def agency(session: Session) -> ag.Agency:
    a = ag.create_agency(session, name="UBND Quận 1", roles=["documents"], now=NOW, agency_id="ubnd-q1")
    session.commit()
    return a


@pytest.fixture
def clerk(session: Session, agency: ag.Agency) -> st.StaffAccount:
    row = st.create_staff(session, agency_id=agency.id, username="An.Nguyen", role="clerk", password=PASSWORD, now=NOW)
    session.commit()
    return row


# --------------------------------------------------------------------------------------------------------- accounts
def test_password_is_stored_as_an_argon2id_hash(clerk: st.StaffAccount) -> None:
    assert clerk.password_hash.startswith("$argon2id$")
    assert PASSWORD not in clerk.password_hash
    assert clerk.username == "an.nguyen"  # usernames are case-insensitive, stored lowercase


def test_right_password_signs_in_whatever_the_username_case(session: Session, clerk: st.StaffAccount) -> None:
    assert st.check_password(session, "AN.NGUYEN", PASSWORD).id == clerk.id


@pytest.mark.parametrize(
    ("username", "password"),
    [("an.nguyen", "wrong-password-1"), ("nobody.here", PASSWORD), ("an.nguyen", ""), ("", PASSWORD)],
    ids=["wrong-password", "unknown-user", "empty-password", "empty-user"],
)
def test_wrong_credentials_fail_alike(session: Session, clerk: st.StaffAccount, username: str, password: str) -> None:
    with pytest.raises(st.SignInFailed) as caught:
        st.check_password(session, username, password)
    assert caught.value.message == "the username or password is wrong"
    assert caught.value.http_status == 401


def test_disabled_account_cannot_sign_in(session: Session, clerk: st.StaffAccount) -> None:
    st.disable_staff(session, clerk.username, NOW)
    with pytest.raises(st.SignInFailed):
        st.check_password(session, clerk.username, PASSWORD)


def test_account_of_a_disabled_agency_cannot_sign_in(session: Session, clerk: st.StaffAccount) -> None:
    ag.disable_agency(session, clerk.agency_id, NOW)
    with pytest.raises(st.SignInFailed):
        st.check_password(session, clerk.username, PASSWORD)


def test_reset_password_replaces_the_old_one(session: Session, clerk: st.StaffAccount) -> None:
    st.reset_password(session, clerk.username, "a-new-password-9", NOW + timedelta(hours=1))
    with pytest.raises(st.SignInFailed):
        st.check_password(session, clerk.username, PASSWORD)
    assert st.check_password(session, clerk.username, "a-new-password-9").id == clerk.id


def test_duplicate_username_is_refused(session: Session, clerk: st.StaffAccount) -> None:
    with pytest.raises(st.StaffExists):
        st.create_staff(
            session, agency_id=clerk.agency_id, username="an.nguyen", role="manager", password=PASSWORD, now=NOW
        )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"username": "a b"}, "username"),
        ({"username": "x"}, "username"),
        ({"role": "admin"}, "role"),
        ({"password": "short"}, "password"),
        ({"password": "aaaaaaaaaaaa"}, "password"),
        ({"password": " padded-password "}, "password"),
        ({"password": "x" * (st.MAX_PASSWORD + 1)}, "password"),
    ],
    ids=["space", "too-short-name", "unknown-role", "short", "one-letter", "padded", "too-long"],
)
def test_invalid_staff_fields_name_the_field(
    session: Session, agency: ag.Agency, fields: dict[str, str], field: str
) -> None:
    args = {"username": "binh.tran", "role": "clerk", "password": PASSWORD, **fields}
    with pytest.raises(st.StaffInputInvalid) as caught:
        st.create_staff(session, agency_id=agency.id, now=NOW, **args)
    assert caught.value.field == field
    assert caught.value.to_dict()["code"] == "STAFF_INPUT_INVALID"


def test_unknown_agency_is_refused(session: Session) -> None:
    with pytest.raises(ag.AgencyNotFound):
        st.create_staff(session, agency_id="nope", username="binh.tran", role="clerk", password=PASSWORD, now=NOW)


def test_staff_principal_has_its_agencys_document_roles_never_admin(session: Session, clerk: st.StaffAccount) -> None:
    principal = st.staff_principal(session, clerk)
    assert principal.agency_id == "ubnd-q1"
    assert principal.roles == {"documents:issue", "documents:revoke"}
    assert principal.api_key_id == "staff:an.nguyen"


def test_list_staff_by_agency(session: Session, clerk: st.StaffAccount) -> None:
    ag.create_agency(session, name="UBND Quận 3", roles=["documents"], now=NOW, agency_id="ubnd-q3")
    st.create_staff(session, agency_id="ubnd-q3", username="chi.le", role="manager", password=PASSWORD, now=NOW)
    assert [s.username for s in st.list_staff(session, "ubnd-q1")] == ["an.nguyen"]
    assert [s.username for s in st.list_staff(session)] == ["an.nguyen", "chi.le"]


def test_demo_city_writes_staff_to_dev_credentials(city: City, session: Session) -> None:
    creds = json.loads((city.data_dir / "dev-credentials.json").read_text(encoding="utf-8"))
    by_id = {a["id"]: a for a in creds["agencies"]}
    documents = by_id["ubnd-hcm"]["staff"]
    assert [(s["username"], s["role"]) for s in documents] == [
        ("canbo.ubnd-hcm", "clerk"),
        ("lanhdao.ubnd-hcm", "manager"),
    ]
    assert [s["role"] for s in by_id["ca-hcm"]["staff"]] == ["clerk"]
    for s in documents:  # each written password signs in as that account
        assert st.check_password(session, s["username"], s["password"]).agency_id == "ubnd-hcm"


# --------------------------------------------------------------------------------------------------------- sessions
def test_session_cookie_token_is_not_stored(session: Session, clerk: st.StaffAccount) -> None:
    opened = ss.open_session(session, clerk, NOW, address="10.0.0.7", user_agent="test")
    assert opened.token not in opened.row.id
    assert opened.token not in repr(opened)
    row, account = ss.resume_session(session, opened.token, NOW + timedelta(minutes=5))
    assert (row.id, account.id) == (opened.row.id, clerk.id)


def test_session_ends_after_idle_time(session: Session, clerk: st.StaffAccount) -> None:
    opened = ss.open_session(session, clerk, NOW)
    with pytest.raises(ss.SessionInvalid):
        ss.resume_session(session, opened.token, NOW + ss.IDLE + timedelta(seconds=1))
    with pytest.raises(ss.SessionInvalid):  # and is gone, not just refused once
        ss.resume_session(session, opened.token, NOW)


def test_activity_keeps_a_session_but_not_past_its_absolute_expiry(session: Session, clerk: st.StaffAccount) -> None:
    opened = ss.open_session(session, clerk, NOW)
    at = NOW
    while at + ss.IDLE / 2 < NOW + ss.ABSOLUTE:
        at += ss.IDLE / 2
        ss.resume_session(session, opened.token, at)
    with pytest.raises(ss.SessionInvalid):
        ss.resume_session(session, opened.token, NOW + ss.ABSOLUTE + timedelta(seconds=1))


def test_password_reset_ends_earlier_sessions(session: Session, clerk: st.StaffAccount) -> None:
    opened = ss.open_session(session, clerk, NOW)
    st.reset_password(session, clerk.username, "a-new-password-9", NOW + timedelta(minutes=1))
    with pytest.raises(ss.SessionInvalid):
        ss.resume_session(session, opened.token, NOW + timedelta(minutes=2))


def test_disabling_an_account_ends_its_sessions(session: Session, clerk: st.StaffAccount) -> None:
    opened = ss.open_session(session, clerk, NOW)
    st.disable_staff(session, clerk.username, NOW)
    with pytest.raises(ss.SessionInvalid):
        ss.resume_session(session, opened.token, NOW + timedelta(minutes=1))


def test_sign_out_deletes_the_session(session: Session, clerk: st.StaffAccount) -> None:
    opened = ss.open_session(session, clerk, NOW)
    ss.close_session(session, opened.token)
    with pytest.raises(ss.SessionInvalid):
        ss.resume_session(session, opened.token, NOW)


@pytest.mark.parametrize("token", [None, "", "x" * 500, "not-a-session"])
def test_unknown_session_tokens_are_refused(session: Session, token: str | None) -> None:
    with pytest.raises(ss.SessionInvalid):
        ss.resume_session(session, token, NOW)


def test_purge_removes_only_expired_sessions(session: Session, clerk: st.StaffAccount) -> None:
    old = ss.open_session(session, clerk, NOW - ss.IDLE * 2)
    fresh = ss.open_session(session, clerk, NOW)
    assert ss.purge_sessions(session, NOW) == 1
    assert session.get(ss.StaffSession, fresh.row.id) is not None
    assert session.get(ss.StaffSession, old.row.id) is None


def test_csrf_token_must_match_the_session(session: Session, clerk: st.StaffAccount) -> None:
    one = ss.open_session(session, clerk, NOW)
    other = ss.open_session(session, clerk, NOW)
    ss.check_csrf(one.row, one.row.csrf_token)
    for wrong in (None, "", other.row.csrf_token, one.row.csrf_token + "x"):
        with pytest.raises(ss.CsrfInvalid) as caught:
            ss.check_csrf(one.row, wrong)
        assert caught.value.http_status == 403


# --------------------------------------------------------------------------------------------------------- throttle
def _fail(session: Session, keys: list[tuple[str, th.ThrottlePolicy]], times: int, at: object = NOW) -> None:
    for _ in range(times):
        th.record_failure(session, keys, at)  # type: ignore[arg-type]


def test_repeated_wrong_passwords_are_slowed_then_refused(session: Session) -> None:
    keys = th.throttle_keys("an.nguyen", "")
    policy = th.ACCOUNT_POLICY
    _fail(session, keys, policy.free)
    with pytest.raises(th.SignInThrottled) as slowed:  # slowed: wait a second after the free failures
        th.check_signin_allowed(session, keys, NOW)
    assert (slowed.value.retry_after, slowed.value.locked) == (1, False)
    th.check_signin_allowed(session, keys, NOW + timedelta(seconds=1))  # the wait is over
    _fail(session, keys, policy.lock_after - policy.free)
    with pytest.raises(th.SignInThrottled) as locked:
        th.check_signin_allowed(session, keys, NOW + timedelta(minutes=5))
    assert locked.value.locked
    assert locked.value.http_headers() == {"Retry-After": str(10 * 60)}
    assert locked.value.http_status == 429
    th.check_signin_allowed(session, keys, NOW + policy.lockout)  # refused for a while, not for ever


def test_throttled_per_address_across_usernames(session: Session) -> None:
    policy = th.ADDRESS_POLICY
    for i in range(policy.lock_after):
        th.record_failure(session, th.throttle_keys(f"user{i}", "203.0.113.9"), NOW)
    with pytest.raises(th.SignInThrottled):
        th.check_signin_allowed(session, th.throttle_keys("fresh.name", "203.0.113.9"), NOW)
    th.check_signin_allowed(session, th.throttle_keys("fresh.name", "198.51.100.1"), NOW)


def test_success_clears_the_account_count_not_the_address(session: Session) -> None:
    keys = th.throttle_keys("an.nguyen", "203.0.113.9")
    _fail(session, keys, th.ACCOUNT_POLICY.free)
    th.clear_failures(session, "an.nguyen")
    assert session.get(th.SignInFailures, "user:an.nguyen") is None
    assert session.get(th.SignInFailures, "addr:203.0.113.9").failures == th.ACCOUNT_POLICY.free  # type: ignore[union-attr]


def test_old_failures_are_forgotten_after_the_window(session: Session) -> None:
    keys = th.throttle_keys("an.nguyen", "")
    _fail(session, keys, th.ACCOUNT_POLICY.lock_after - 1)
    later = NOW + th.ACCOUNT_POLICY.window + timedelta(seconds=1)
    th.record_failure(session, keys, later)
    assert session.get(th.SignInFailures, "user:an.nguyen").failures == 1  # type: ignore[union-attr]
    th.check_signin_allowed(session, keys, later)
