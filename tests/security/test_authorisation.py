"""Issue 15, authorisation: every route of the app, read from its own route table, is either behind an API key,
behind a staff session, or on an explicit public allow-list; a new route fails
``test_every_route_is_checked_or_allow_listed`` until it joins one of the tables here.

Every API-key route refuses: no key, malformed keys, an unknown key id, a revoked key, a disabled agency's key
(401 ``UNAUTHENTICATED``), a key of the owning agency without the route's role (403 ``FORBIDDEN``), another
agency's key acting on the first agency's resource (403, or 404 where the product hides whether the resource
exists: the table says which), and the admin-only operations with agency keys. Every portal route (``/agency/*``)
refuses: no session, an expired session and a forged cookie (GET: to sign-in; POST: 401 ``SESSION_INVALID``),
CSRF token missing or wrong (403 ``CSRF_INVALID``), another agency's staff (404 as if absent, or 403 for an
agency without the trust role), a clerk where a manager is needed. Every refused request changes no row of any
table (``World.unchanged``). A positive control per route (the owner, with the role) proves each refusal could
have been an acceptance.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from keys.staff_sessions import ABSOLUTE
from tests.security._hostile import CITIZEN, META, World, build_world, route_table

pytestmark = pytest.mark.attack

Kwargs = Callable[[World], dict[str, Any]]


# --------------------------------------------------------------------------------------------------------- tables
#: Routes anyone may call, with why. Everything else must be in API_KEY_ROUTES or STAFF_ROUTES.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): "the API's schema",
    ("GET", "/docs"): "the API's documentation page",
    ("GET", "/static/docs/{name}"): "its assets",
    ("GET", "/metrics"): "Prometheus metrics (no personal data: tests/security/test_privacy*)",
    ("GET", "/healthz"): "probe",
    ("GET", "/readyz"): "probe",
    ("GET", "/v1/trust-list"): "the signed trust list, for every verifier",
    ("GET", "/v1/trust-root"): "the city root key, for first use",
    ("GET", "/.well-known/jwks.json"): "public keys",
    ("GET", "/v1/documents/{document_id}"): "a document's status and proof, for verifiers",
    ("GET", "/v1/documents/{document_id}/qr.png"): "its QR code",
    ("GET", "/v1/documents/{document_id}/qr.svg"): "its QR code",
    ("GET", "/v1/documents/{document_id}/bundle"): "its proof bundle",
    ("GET", "/v1/documents/{document_id}/stamped.pdf"): "its stamped PDF",
    ("POST", "/v1/verify"): "verification is for anyone",
    ("GET", "/v1/messages"): "the verifier's message catalogue",
    ("GET", "/v1/offline-bundle"): "trust list, status lists and roots for offline verifiers",
    ("GET", "/v1/status-lists/{list_id}"): "Token Status Lists are public by design",
    ("GET", "/.well-known/openid-credential-issuer"): "OpenID4VCI metadata",
    ("GET", "/.well-known/oauth-authorization-server"): "OpenID4VCI metadata",
    ("GET", "/.well-known/jwt-vc-issuer/agencies/{agency_id}"): "SD-JWT VC issuer metadata",
    ("GET", "/oid4vci/offers/{offer_id}"): "a credential offer: its id is the capability",
    ("POST", "/oid4vci/token"): "OpenID4VCI token: the pre-authorized code and tx_code are the credential",
    ("POST", "/oid4vci/nonce"): "OpenID4VCI nonce",
    ("POST", "/oid4vci/credential"): "OpenID4VCI credential: the access token is the credential",
    ("GET", "/v1/agencies/{agency_id}/offices"): "the signed register of offices, for verifiers",
    ("POST", "/v1/presentation-requests"): "any relying party may ask a wallet for claims",
    ("GET", "/v1/presentation-requests/{request_id}"): "its unguessable id is the capability",
    ("GET", "/v1/presentation-requests/{request_id}/qr.svg"): "its QR code",
    ("GET", "/oid4vp/requests/{handle}"): "OpenID4VP request object",
    ("POST", "/oid4vp/responses/{handle}"): "OpenID4VP response: the wallet's signed presentation",
    ("GET", "/"): "page",
    ("GET", "/verify"): "page",
    ("GET", "/v"): "page",
    ("GET", "/verify/request"): "page",
    ("GET", "/wallet"): "the citizen's wallet page (keys stay in the browser)",
    ("GET", "/wallet-sw.js"): "its service worker",
    ("GET", "/wallet.webmanifest"): "its manifest",
    ("GET", "/static/vendor/{name:path}"): "vendored scripts",
    ("GET", "/agency/signin"): "the sign-in form (its own double-submit token)",
    ("POST", "/agency/signin"): "sign-in (throttled: tests/web/test_agency_security.py)",
}


@dataclass(frozen=True)
class KeyRoute:
    """An API-key route: the roles that let a key in, the agency whose resource it acts on, a valid request, and
    the keys of other agencies (holding the roles) with their typed refusal."""

    roles: tuple[str, ...]
    owner: str
    request: Kwargs
    cross: dict[str, tuple[int, str]] = field(default_factory=dict)
    owner_key: str = ""  # the positive control's key name (default: the owner's demo key)
    roleless_agency: str = ""  # whose key lacks the role (default: the owner)


def _json(body: dict[str, Any]) -> Kwargs:
    return lambda w: {"json": body}


def _document_form(w: World) -> dict[str, Any]:
    return {"data": {**META, "number": f"{secrets.randbelow(10**6)}/QĐ-UBND"}, "files": {"file": ("d.pdf", b"%PDF")}}


def _batch(w: World) -> dict[str, Any]:
    item = {**META, "number": f"{secrets.randbelow(10**6)}/QĐ-UBND", "file_base64": base64.b64encode(b"b").decode()}
    return {"json": {"documents": [item]}}


OFFICE = {"title": "Phó Chủ tịch", "holder": "Nguyen Van Dung", "from": "2024-01-01"}
DELEGATION = {"form": "TL.", "delegate": "Tran Thi B", "delegate_title": "Chánh Văn phòng", "from": "2024-01-01"}
FORBIDDEN = (403, "FORBIDDEN")

API_KEY_ROUTES: dict[tuple[str, str], KeyRoute] = {
    ("POST", "/v1/documents"): KeyRoute(("documents:issue",), "ubnd-hcm", _document_form),
    ("POST", "/v1/documents:batch"): KeyRoute(("documents:issue",), "ubnd-hcm", _batch),
    ("POST", "/v1/documents/{document_id}/revoke"): KeyRoute(
        ("documents:revoke",), "ubnd-hcm", _json({"reason": "annulled"}), cross={"ubnd-q1": FORBIDDEN}
    ),
    ("POST", "/v1/citizens"): KeyRoute(("identity:issue",), "ca-hcm", _json({**CITIZEN, "cccd": "079303009999"})),
    ("POST", "/v1/citizens/{citizen_id}/credentials"): KeyRoute(
        ("identity:issue",), "ca-hcm", _json({}), cross={"ca-q1": (404, "CITIZEN_NOT_FOUND")}
    ),
    ("POST", "/v1/citizens/{citizen_id}/offers"): KeyRoute(
        ("identity:issue",), "ca-hcm", _json({}), cross={"ca-q1": (404, "CITIZEN_NOT_FOUND")}
    ),
    ("POST", "/v1/credentials/{credential_id}/revoke"): KeyRoute(
        ("identity:revoke", "admin"),
        "ca-hcm",
        _json({}),
        # another identity agency, and an agency admin key of any agency: only the issuer or the city revokes
        cross={"ca-q1": FORBIDDEN, "ubnd-q1": FORBIDDEN},
    ),
    ("GET", "/v1/audit"): KeyRoute(
        ("admin",),
        "tphcm",
        lambda w: {},
        # the city's audit log is the city administrator's: an agency's admin key reads none of it
        cross={"ubnd-q1": FORBIDDEN, "ca-q1": FORBIDDEN},
        owner_key="city_admin",
        roleless_agency="ubnd-hcm",
    ),
    ("POST", "/v1/agencies/{agency_id}/offices"): KeyRoute(
        ("admin",), "ubnd-hcm", _json(OFFICE), cross={"ubnd-q1": FORBIDDEN, "ca-q1": FORBIDDEN}, owner_key="city_admin"
    ),
    ("POST", "/v1/agencies/{agency_id}/offices/{office_id}/end"): KeyRoute(
        ("admin",), "ubnd-hcm", _json({"until": "2024-12-31"}), cross={"ubnd-q1": FORBIDDEN}, owner_key="city_admin"
    ),
    ("POST", "/v1/agencies/{agency_id}/delegations"): KeyRoute(
        ("admin",), "ubnd-hcm", _json(DELEGATION), cross={"ubnd-q1": FORBIDDEN}, owner_key="city_admin"
    ),
    ("POST", "/v1/agencies/{agency_id}/delegations/{delegation_id}/revoke"): KeyRoute(
        ("admin",), "ubnd-hcm", _json({"from": "2024-06-01"}), cross={"ubnd-q1": FORBIDDEN}, owner_key="city_admin"
    ),
}


@dataclass(frozen=True)
class StaffRoute:
    """A portal route: whose page it is, the request, how it carries its CSRF token (``form``, ``header`` or
    ``None`` for a GET), and the other staff who must be refused, with their typed answer."""

    owner: str
    request: Kwargs = lambda w: {}
    csrf: str | None = None
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)


def _form(data: dict[str, str]) -> Kwargs:
    return lambda w: {"data": data}


def _issue_form(w: World) -> dict[str, Any]:
    return {"data": {**META, "number": f"{secrets.randbelow(10**6)}/QĐ-UBND"}, "files": {"file": ("d.pdf", b"%PDF")}}


def _import_chunk(w: World) -> dict[str, Any]:
    fields = {**META, "number": f"{secrets.randbelow(10**6)}/QĐ-UBND"}
    rows = json.dumps([{"row": 2, "fields": fields, "file": "a.pdf"}])
    return {"data": {"rows": rows}, "files": [("files", ("a.pdf", b"%PDF import", "application/pdf"))]}


DOC_ABSENT = (404, "DOC_NOT_FOUND")
CITIZEN_ABSENT = (404, "CITIZEN_NOT_FOUND")
OFFICE_WRITE_REFUSED = {"clerk.ubnd": FORBIDDEN, "clerk.ca": FORBIDDEN}

STAFF_ROUTES: dict[tuple[str, str], StaffRoute] = {
    ("POST", "/agency/signout"): StaffRoute("clerk.ubnd", csrf="form"),
    ("GET", "/agency"): StaffRoute("clerk.ubnd"),
    ("GET", "/agency/documents"): StaffRoute("clerk.ubnd"),
    ("GET", "/agency/documents/status.json"): StaffRoute(
        "clerk.ubnd", lambda w: {"params": {"ids": w.ids["document"]}}
    ),
    ("GET", "/agency/documents/{document_id}"): StaffRoute("clerk.ubnd", refused={"clerk.q1": DOC_ABSENT}),
    ("GET", "/agency/documents/{document_id}/print"): StaffRoute("clerk.ubnd", refused={"clerk.q1": DOC_ABSENT}),
    ("POST", "/agency/documents/{document_id}/revoke"): StaffRoute(
        "clerk.ubnd",
        _form({"reason": "annulled", "confirmed": "yes"}),
        csrf="form",
        refused={"clerk.q1": DOC_ABSENT, "manager.q1": DOC_ABSENT},
    ),
    ("GET", "/agency/issue"): StaffRoute("clerk.ubnd"),
    ("POST", "/agency/issue"): StaffRoute("clerk.ubnd", _issue_form, csrf="form", refused={"clerk.ca": FORBIDDEN}),
    ("POST", "/agency/issue/check"): StaffRoute("clerk.ubnd", _form({"fields": "{}"}), csrf="header"),
    ("GET", "/agency/import"): StaffRoute("clerk.ubnd"),
    ("POST", "/agency/import/chunk"): StaffRoute(
        "clerk.ubnd", _import_chunk, csrf="header", refused={"clerk.ca": FORBIDDEN}
    ),
    ("GET", "/agency/audit"): StaffRoute("manager.ubnd", refused={"clerk.ubnd": FORBIDDEN}),
    ("GET", "/agency/citizens"): StaffRoute("clerk.ca", refused={"clerk.ubnd": FORBIDDEN}),
    ("GET", "/agency/citizens/new"): StaffRoute("clerk.ca", refused={"clerk.ubnd": FORBIDDEN}),
    ("POST", "/agency/citizens/new"): StaffRoute(
        "clerk.ca",
        _form({k: v for k, v in {**CITIZEN, "cccd": "079303008888"}.items()}),
        csrf="form",
        refused={"clerk.ubnd": FORBIDDEN},
    ),
    ("GET", "/agency/citizens/{citizen_id}"): StaffRoute(
        "clerk.ca", refused={"clerk.caq1": CITIZEN_ABSENT, "clerk.ubnd": FORBIDDEN}
    ),
    ("POST", "/agency/citizens/{citizen_id}/offers"): StaffRoute(
        "clerk.ca", csrf="form", refused={"clerk.caq1": CITIZEN_ABSENT, "clerk.ubnd": FORBIDDEN}
    ),
    ("GET", "/agency/offices"): StaffRoute("clerk.ubnd", refused={"clerk.ca": FORBIDDEN}),
    ("POST", "/agency/offices"): StaffRoute(
        "manager.ubnd",
        _form({"title": "Phó Chủ tịch", "holder": "Nguyen Van Dung", "from": "2024-01-01"}),
        csrf="form",
        refused=OFFICE_WRITE_REFUSED,
    ),
    ("POST", "/agency/offices/end"): StaffRoute(
        "manager.ubnd", _form({"office": "o1", "until": "2024-12-31"}), csrf="form", refused=OFFICE_WRITE_REFUSED
    ),
    ("POST", "/agency/offices/delegations"): StaffRoute(
        "manager.ubnd",
        _form({"form": "TL.", "delegate": "Tran Thi B", "delegate_title": "Chánh Văn phòng", "from": "2024-01-01"}),
        csrf="form",
        refused=OFFICE_WRITE_REFUSED,
    ),
    ("POST", "/agency/offices/delegations/revoke"): StaffRoute(
        "manager.ubnd", _form({"delegation": "d1", "from": "2024-06-01"}), csrf="form", refused=OFFICE_WRITE_REFUSED
    ),
}


# --------------------------------------------------------------------------------------------------------- world
@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with build_world(tmp_path_factory.mktemp("authorisation")) as w:
        now = datetime.now(UTC)
        # a disabled agency whose key still exists
        from sqlmodel import Session

        with Session(w.engine) as session:
            gone = w.city.provision_agency(
                session, name="Phường đã giải thể", roles=["documents", "documents:issue"], now=now, agency_id="gone"
            )
            w.city.disable_agency(session, "gone", now)
            session.commit()
        assert gone.api_key is not None
        w.keys["disabled_agency"] = gone.api_key.token
        yield w


def _url(w: World, path: str, owner: str) -> str:
    values = {
        "document_id": w.ids["document"],
        "citizen_id": w.ids["citizen"],
        "credential_id": w.ids["credential"],
        "agency_id": owner,
        "office_id": "o1",
        "delegation_id": "d1",
    }
    return re.sub(r"\{(\w+)(:path)?\}", lambda m: values.get(m.group(1), "x"), path)


# ------------------------------------------------------------------------------------------------ the route table
def test_every_route_is_checked_or_allow_listed(world: World) -> None:
    routes = route_table(world.client.app)  # type: ignore[arg-type]
    tables = set(PUBLIC) | set(API_KEY_ROUTES) | set(STAFF_ROUTES)
    assert not set(PUBLIC) & set(API_KEY_ROUTES) and not set(PUBLIC) & set(STAFF_ROUTES)
    unclassified = routes - tables
    assert not unclassified, f"routes neither checked for authorisation nor allow-listed as public: {unclassified}"
    stale = tables - routes
    assert not stale, f"tables name routes the app no longer has: {stale}"


def test_api_key_routes_are_exactly_those_the_openapi_schema_secures(world: World) -> None:
    schema = world.client.get("/openapi.json").json()
    secured = {(m.upper(), p) for p, ops in schema["paths"].items() for m, op in ops.items() if op.get("security")}
    assert secured == set(API_KEY_ROUTES)
    assert all(p.startswith("/agency") for _, p in STAFF_ROUTES)


def test_public_routes_answer_without_credentials(world: World) -> None:
    # Allow-listed means reachable: none answers 401/403 to a request with no key and no session.
    for method, path in PUBLIC:
        if method != "GET":
            continue
        r = world.client.get(_url(world, path, "ubnd-hcm"))
        assert r.status_code not in (401, 403), (path, r.status_code)


# -------------------------------------------------------------------------------------------------- API keys
def _secret_of(key: str) -> str:
    return key.split("_", 2)[2]


#: Authorization header values that carry no valid key, from a valid one (``{k}``) where useful.
MALFORMED: dict[str, Callable[[str], str]] = {
    "empty": lambda k: "",
    "scheme_only": lambda k: "Bearer",
    "scheme_and_space": lambda k: "Bearer ",
    "basic_scheme": lambda k: "Basic " + base64.b64encode(b"ubnd-hcm:" + k.encode()).decode(),
    "no_scheme": lambda k: k,
    "double_scheme": lambda k: f"Bearer Bearer {k}",
    "trailing_garbage": lambda k: f"Bearer {k} x",
    "wrong_prefix": lambda k: "Bearer xx" + k[2:],
    "id_not_hex": lambda k: "Bearer xk_zzzzzzzzzzzzzzzz_" + _secret_of(k),
    "id_upper_case": lambda k: "Bearer xk_" + k.split("_")[1].upper() + "_" + _secret_of(k),
    "id_short": lambda k: "Bearer xk_" + k.split("_")[1][:15] + "_" + _secret_of(k),
    "no_secret": lambda k: "Bearer " + k.rsplit("_", 1)[0] if k.count("_") == 2 else "Bearer xk_0",
    "wrong_secret": lambda k: "Bearer " + k[:-1] + ("A" if k[-1] != "A" else "B"),
    "secret_prefix": lambda k: "Bearer " + k[:-5],
    "unknown_id": lambda k: f"Bearer xk_{secrets.token_hex(8)}_{_secret_of(k)}",
    "huge": lambda k: "Bearer xk_" + "a" * 16 + "_" + "A" * 8000,
    "sql_in_id": lambda k: "Bearer xk_'OR'1'='1'--_" + _secret_of(k),
}


def _api_cases() -> Iterator[Any]:
    for (method, path), spec in API_KEY_ROUTES.items():
        ident = f"{method} {path}"
        yield pytest.param(method, path, "no_key", id=f"{ident}-no_key")
        yield pytest.param(method, path, "revoked_key", id=f"{ident}-revoked_key")
        yield pytest.param(method, path, "disabled_agency", id=f"{ident}-disabled_agency")
        yield pytest.param(method, path, "without_role", id=f"{ident}-without_role")
        for other in spec.cross:
            yield pytest.param(method, path, f"other_agency:{other}", id=f"{ident}-other_agency:{other}")
        if spec.roles == ("admin",):
            for agency in ("ubnd-hcm", "ca-hcm"):
                yield pytest.param(method, path, f"agency_key:{agency}", id=f"{ident}-agency_key:{agency}")


def _call(w: World, method: str, path: str, spec: KeyRoute, headers: dict[str, str]) -> httpx.Response:
    r: httpx.Response = w.client.request(method, _url(w, path, spec.owner), headers=headers, **spec.request(w))
    return r


def _owner_key(w: World, spec: KeyRoute) -> str:
    return w.keys[spec.owner_key or spec.owner]


def _header(w: World, spec: KeyRoute, case: str) -> tuple[dict[str, str], tuple[int, str]]:
    unauthenticated = (401, "UNAUTHENTICATED")
    owner = spec.owner_key or spec.owner
    if case == "no_key":
        return {}, unauthenticated
    if case == "revoked_key":
        agency = spec.roleless_agency or spec.owner if owner == "city_admin" else spec.owner
        roles = w.api_roles_of(agency) if owner != "city_admin" else ["admin"]
        return {"Authorization": "Bearer " + w.key_for(f"revoked:{agency}", agency, roles, revoke=True)}, (
            unauthenticated
        )
    if case == "disabled_agency":
        return {"Authorization": "Bearer " + w.keys["disabled_agency"]}, unauthenticated
    if case == "without_role":
        agency = spec.roleless_agency or spec.owner
        roles = [r for r in w.api_roles_of(agency) if r not in spec.roles]
        key = w.key_for(f"without:{agency}:{','.join(spec.roles)}", agency, roles)
        return {"Authorization": "Bearer " + key}, FORBIDDEN
    if case.startswith("other_agency:"):
        other = case.split(":", 1)[1]
        return {"Authorization": "Bearer " + w.keys[other]}, spec.cross[other]
    if case.startswith("agency_key:"):
        return {"Authorization": "Bearer " + w.keys[case.split(":", 1)[1]]}, FORBIDDEN
    raise AssertionError(case)


@pytest.mark.parametrize(("method", "path", "case"), list(_api_cases()))
def test_api_key_routes_refuse_without_the_right_key(world: World, method: str, path: str, case: str) -> None:
    spec = API_KEY_ROUTES[(method, path)]
    headers, (status, code) = _header(world, spec, case)
    with world.unchanged() if method != "GET" else nullcontext():
        r = _call(world, method, path, spec, headers)
    assert r.status_code == status, (case, r.status_code, r.text)
    assert r.json()["error"]["code"] == code, r.text
    if status == 401:
        assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), r.headers


@pytest.mark.parametrize(("method", "path"), list(API_KEY_ROUTES))
def test_api_key_routes_refuse_malformed_keys(world: World, method: str, path: str) -> None:
    # Every variant of MALFORMED, on every route (one database snapshot around them all).
    spec = API_KEY_ROUTES[(method, path)]
    valid = world.keys[spec.owner_key or spec.owner]
    with world.unchanged():
        for name, make in MALFORMED.items():
            value = make(valid)
            r = _call(world, method, path, spec, {"Authorization": value} if value else {})
            assert (r.status_code, r.json()["error"]["code"]) == (401, "UNAUTHENTICATED"), (name, r.text)


@pytest.mark.parametrize(("method", "path"), list(API_KEY_ROUTES))
def test_api_key_routes_let_the_owner_in(world: World, method: str, path: str) -> None:
    # The positive control: the same request with the owner's key gets past authentication and authorisation.
    spec = API_KEY_ROUTES[(method, path)]
    r = _call(world, method, path, spec, {"Authorization": "Bearer " + _owner_key(world, spec)})
    assert r.status_code < 500 and r.status_code not in (401, 403), r.text


# ------------------------------------------------------------------------------------------------ staff sessions
def _staff_cases() -> Iterator[Any]:
    for (method, path), spec in STAFF_ROUTES.items():
        ident = f"{method} {path}"
        for case in ("no_session", "expired_session", "forged_cookie"):
            yield pytest.param(method, path, case, id=f"{ident}-{case}")
        if spec.csrf is not None:
            for case in ("csrf_missing", "csrf_wrong", "csrf_of_another_session"):
                yield pytest.param(method, path, case, id=f"{ident}-{case}")
        for staffer in spec.refused:
            yield pytest.param(method, path, f"staff:{staffer}", id=f"{ident}-staff:{staffer}")


def _staff_call(
    w: World, method: str, path: str, spec: StaffRoute, cookie: str | None, csrf: str | None
) -> httpx.Response:
    kwargs = spec.request(w)
    headers: dict[str, str] = {}
    if csrf is not None and spec.csrf == "form":
        kwargs.setdefault("data", {})
        kwargs["data"] = {**kwargs["data"], "csrf_token": csrf}
    elif csrf is not None and spec.csrf == "header":
        headers["X-CSRF-Token"] = csrf
    if method == "POST" and "data" not in kwargs:
        kwargs["data"] = {}
    w.client.cookies.clear()
    if cookie is not None:
        w.client.cookies.set("xacthuc_session", cookie, path="/agency")
    try:
        r: httpx.Response = w.client.request(
            method, _url(w, path, "ubnd-hcm"), headers=headers, follow_redirects=False, **kwargs
        )
        return r
    finally:
        w.client.cookies.clear()


def _error_code(r: httpx.Response) -> str | None:
    if r.headers.get("content-type", "").startswith("application/json"):
        return str(r.json()["error"]["code"])
    match = re.search(r'data-error-code="([A-Z_]+)"', r.text)
    return match.group(1) if match else None


@pytest.mark.parametrize(("method", "path", "case"), list(_staff_cases()))
def test_portal_routes_refuse_without_the_right_session(world: World, method: str, path: str, case: str) -> None:
    spec = STAFF_ROUTES[(method, path)]
    owner = world.sign_in(spec.owner)
    cookie: str | None = owner.cookie
    csrf: str | None = owner.csrf
    expected: tuple[int, str] | None = None  # None: no session
    if case == "no_session":
        cookie = csrf = None
    elif case == "expired_session":
        stale = world.sign_in(spec.owner, age=ABSOLUTE + timedelta(minutes=1))
        cookie, csrf = stale.cookie, stale.csrf
    elif case == "forged_cookie":
        cookie = secrets.token_urlsafe(32)
    elif case == "csrf_missing":
        csrf, expected = None, (403, "CSRF_INVALID")
    elif case == "csrf_wrong":
        csrf, expected = secrets.token_urlsafe(32), (403, "CSRF_INVALID")
    elif case == "csrf_of_another_session":
        csrf, expected = world.sign_in(spec.owner).csrf, (403, "CSRF_INVALID")
    elif case.startswith("staff:"):
        other = world.sign_in(case.split(":", 1)[1])
        cookie, csrf, expected = other.cookie, other.csrf, spec.refused[other.username]
    ignore = {"keys_staff_sessions"} if case == "expired_session" else set()  # the ended session is deleted
    with world.unchanged(ignore=ignore) if method != "GET" else nullcontext():  # rows checked where a route writes
        r = _staff_call(world, method, path, spec, cookie, csrf)
    if expected is None and method == "GET":
        assert r.status_code == 303, r.text
        assert r.headers["location"].startswith("/agency/signin?next=/agency"), r.headers
        return
    status, code = expected or (401, "SESSION_INVALID")
    assert (r.status_code, _error_code(r)) == (status, code), r.text[:2000]


def test_expired_session_is_ended_for_good(world: World) -> None:
    stale = world.sign_in("clerk.ubnd", age=ABSOLUTE + timedelta(minutes=1))
    world.client.cookies.set("xacthuc_session", stale.cookie, path="/agency")
    try:
        assert world.client.get("/agency", follow_redirects=False).status_code == 303
    finally:
        world.client.cookies.clear()
    from sqlmodel import Session, select

    from keys.staff_sessions import StaffSession

    with Session(world.engine) as session:
        assert session.exec(select(StaffSession).where(StaffSession.csrf_token == stale.csrf)).first() is None


def test_portal_status_of_another_agencys_document_is_not_told(world: World) -> None:
    spec = STAFF_ROUTES[("GET", "/agency/documents/status.json")]
    for username, told in (("clerk.ubnd", True), ("clerk.q1", False)):
        s = world.sign_in(username)
        r = _staff_call(world, "GET", "/agency/documents/status.json", spec, s.cookie, None)
        assert r.status_code == 200, r.text
        assert (world.ids["document"] in r.text) is told, (username, r.text)


@pytest.mark.parametrize(("method", "path"), list(STAFF_ROUTES))
def test_portal_routes_let_the_owner_in(world: World, method: str, path: str) -> None:
    spec = STAFF_ROUTES[(method, path)]
    owner = world.sign_in(spec.owner)
    r = _staff_call(world, method, path, spec, owner.cookie, owner.csrf)
    assert r.status_code < 500 and r.status_code not in (401, 403), r.text[:2000]
    if path != "/agency/signout":  # signing out ends at the sign-in page
        assert not r.headers.get("location", "").startswith("/agency/signin"), r.headers
